// Package parallel runs independent work on every core: For(n, f) calls
// f(0..n-1) on GOMAXPROCS goroutines and returns when all have returned,
// serially for small n. The audit trail's reader and checker and the node's
// rebuild decode and check lines with it.
package parallel
