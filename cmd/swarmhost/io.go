package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// maxInputFile bounds what a command reads from a file or stdin: an
// envelope or payload is far smaller, a CAS blob may be large.
const maxInputFile = 256 << 20

// readInput reads a file, or stdin for "-".
func (e *env) readInput(path string) ([]byte, error) {
	var r io.Reader
	if path == "-" {
		r = e.stdin
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, maxInputFile+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(b) > maxInputFile {
		return nil, fmt.Errorf("read %s: more than %d bytes", path, maxInputFile)
	}
	return b, nil
}

func (e *env) path(parts ...string) string {
	return filepath.Join(append([]string{e.dataDir}, parts...)...)
}
