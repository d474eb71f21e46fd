//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package bus

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
)

// dirLock is an exclusive flock on a file in a store folder. nats-server does
// not lock its store folder, and two servers writing the same streams would
// corrupt them. flock locks belong to the open file, so a second server in
// the same process is refused too, and the kernel drops the lock when the
// process dies, so a crash leaves nothing stale.
type dirLock struct {
	once sync.Once
	f    *os.File
}

const lockName = "swarmhost.lock"

func lockDir(dir string) (*dirLock, error) {
	path := filepath.Join(dir, lockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s is %w (lock %s held)", dir, ErrStoreInUse, path)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return &dirLock{f: f}, nil
}

func (l *dirLock) release() {
	l.once.Do(func() { l.f.Close() }) // closing the file drops the flock
}
