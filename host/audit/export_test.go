package audit

// StreamEveryThread makes VerifyThread walk every thread file a window of
// lines lines at a time (however small the file), and tells held how many
// lines each window holds; the returned func restores the defaults.
func StreamEveryThread(lines int, held func(int)) (restore func()) {
	above, wl, h := verifyWholeBelow, windowLines, windowHeld
	verifyWholeBelow, windowLines, windowHeld = 0, lines, held
	return func() { verifyWholeBelow, windowLines, windowHeld = above, wl, h }
}

// ThreadsOpened is how many times the trail opened (read back) a thread
// file.
func ThreadsOpened(t *Trail) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.opens
}
