//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package dirlock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// ErrHeld is part of Lock's error when another holder has the lock.
var ErrHeld = errors.New("held by another process or server")

// Lock is a held lock; Release drops it.
type Lock struct {
	once sync.Once
	f    *os.File
}

// Acquire takes the lock file name in dir (created if missing), or fails at
// once: with ErrHeld when another holder has it.
func Acquire(dir, name string) (*Lock, error) {
	path := filepath.Join(dir, name)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	// A holder for a moment (Held's probe) is waited for, briefly.
	deadline := time.Now().Add(probeWait)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return &Lock{f: f}, nil
		}
		if errors.Is(err, syscall.EWOULDBLOCK) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("lock %s: %w", path, ErrHeld)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
}

// probeWait is how long Acquire waits for a lock held for a moment.
const probeWait = 250 * time.Millisecond

// Held reports whether a process holds the lock file name in dir, without
// taking it for more than a moment (a shared lock, released at once; an
// Acquire meanwhile waits for it). known is false when there is no such
// file (nothing ever locked it there) or the platform has no flock.
func Held(dir, name string) (held, known bool, err error) {
	path := filepath.Join(dir, name)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, false, nil
	}
	if err != nil {
		return false, false, fmt.Errorf("lock %s: %w", path, err)
	}
	defer f.Close() // drops the shared lock, if taken
	switch err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); {
	case err == nil:
		return false, true, nil
	case errors.Is(err, syscall.EWOULDBLOCK):
		return true, true, nil
	default:
		return false, false, fmt.Errorf("lock %s: %w", path, err)
	}
}

// Release drops the lock; safe to call twice.
func (l *Lock) Release() {
	l.once.Do(func() { l.f.Close() }) // closing the file drops the flock
}
