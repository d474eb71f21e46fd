package rawfile

import (
	"io/fs"
	"syscall"
)

// ReadFile reads the named file whole (see the package comment).
func ReadFile(name string) ([]byte, error) { return ReadFileIf(name, nil) }

// ReadFileIf is ReadFile that first tells admit the file's size (from the
// stat ReadFile makes anyway) and reads nothing when admit returns an
// error, which it returns; a nil admit admits every file.
func ReadFileIf(name string, admit func(size int64) error) ([]byte, error) {
	var fd int
	err := retry(func() (err error) {
		fd, err = syscall.Open(name, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		return err
	})
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if err := retry(func() error { return syscall.Fstat(fd, &st) }); err != nil {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: err}
	}
	if admit != nil {
		if err := admit(st.Size); err != nil {
			return nil, err
		}
	}
	// One byte more than the size, as os.ReadFile: the read that finds
	// the end then needs no larger buffer.
	size := 512
	if st.Mode&syscall.S_IFMT == syscall.S_IFREG && st.Size < 1<<40 {
		size = max(int(st.Size)+1, size)
	}
	data := make([]byte, 0, size)
	for {
		if len(data) == cap(data) {
			data = append(data, 0)[:len(data)]
		}
		var n int
		err := retry(func() (err error) {
			n, err = syscall.Read(fd, data[len(data):cap(data)])
			return err
		})
		if err != nil {
			return nil, &fs.PathError{Op: "read", Path: name, Err: err}
		}
		if n <= 0 {
			return data, nil
		}
		data = data[:len(data)+n]
	}
}

// retry calls f again while it is interrupted by a signal.
func retry(f func() error) error {
	for {
		if err := f(); err != syscall.EINTR {
			return err
		}
	}
}
