package replay

// SetStreamAbove changes the trail size a replay streams by itself above;
// the returned func restores it.
func SetStreamAbove(n int64) (restore func()) {
	old := streamAbove
	streamAbove = n
	return func() { streamAbove = old }
}
