//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package dirlock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
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
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("lock %s: %w", path, ErrHeld)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return &Lock{f: f}, nil
}

// Release drops the lock; safe to call twice.
func (l *Lock) Release() {
	l.once.Do(func() { l.f.Close() }) // closing the file drops the flock
}
