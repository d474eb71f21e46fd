package wasm

// SetDirtyPageTracking turns the kernel's write tracking of recycled
// instances' memory on or off (off: recycling compares the whole memory)
// and returns what it was.
func SetDirtyPageTracking(on bool) bool {
	return !dirtyPagesOff.Swap(!on)
}
