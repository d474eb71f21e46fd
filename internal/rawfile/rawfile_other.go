//go:build !linux

package rawfile

import "os"

// ReadFile reads the named file whole: os.ReadFile.
func ReadFile(name string) ([]byte, error) { return os.ReadFile(name) }

// ReadFileIf is ReadFile that first tells admit the file's size and reads
// nothing when admit returns an error, which it returns; a nil admit
// admits every file.
func ReadFileIf(name string, admit func(size int64) error) ([]byte, error) {
	if admit != nil {
		st, err := os.Stat(name)
		if err != nil {
			return nil, err
		}
		if err := admit(st.Size()); err != nil {
			return nil, err
		}
	}
	return os.ReadFile(name)
}
