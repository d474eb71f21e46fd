package agents

import (
	"os"
	"syscall"
)

// sameChangeTime reports whether two descriptions of a file have the same
// status change time (ctime), which no user call sets back.
func sameChangeTime(a, b os.FileInfo) bool {
	sa, ok1 := a.Sys().(*syscall.Stat_t)
	sb, ok2 := b.Sys().(*syscall.Stat_t)
	if !ok1 || !ok2 {
		return false // unknown: read the file again
	}
	return sa.Ctim == sb.Ctim
}
