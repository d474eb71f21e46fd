//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package bus

// dirLock is a no-op where flock is unavailable: there, keeping one server
// per store folder is the operator's job.
type dirLock struct{}

func lockDir(string) (*dirLock, error) { return &dirLock{}, nil }

func (*dirLock) release() {}
