//go:build !linux

package wasm

// SetDirtyPageTracking: there is no write tracking here; recycling always
// compares the whole memory.
func SetDirtyPageTracking(on bool) bool { return false }
