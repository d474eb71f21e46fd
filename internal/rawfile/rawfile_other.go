//go:build !linux

package rawfile

import "os"

// ReadFile reads the named file whole: os.ReadFile.
func ReadFile(name string) ([]byte, error) { return os.ReadFile(name) }
