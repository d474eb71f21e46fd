// Package parallel runs independent work on every core: For(n, f) calls
// f(0..n-1) on GOMAXPROCS goroutines and returns when all have returned,
// serially for small n; ForLong does so for any n, its calls being long
// (a file each). Start shares the same calls out to fewer goroutines and
// lets a caller that has finished other work Help with the rest, so that
// serial work and parallel work on the same cores finish together (the
// replayer steps its core while signatures are checked). The audit
// trail's reader and checker and the node's rebuild read, decode and check
// lines with it.
package parallel
