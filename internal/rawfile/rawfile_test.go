package rawfile

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadFileReadsWhatOSReadFileReads(t *testing.T) {
	dir := t.TempDir()
	for _, size := range []int{0, 1, 511, 512, 513, 4096, 1 << 20} {
		name := filepath.Join(dir, "f")
		want := bytes.Repeat([]byte("0123456789abcdef"), size/16+1)[:size]
		if err := os.WriteFile(name, want, 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := ReadFile(name)
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("size %d: read %d bytes, not the file's %d", size, len(got), len(want))
		}
	}
}

func TestReadFileReadsAFileWithoutASize(t *testing.T) {
	// /proc files report size 0 and have content: read to the end all the same.
	want, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc here")
	}
	got, err := ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(got), "Name:") || len(got) < len(want)/2 {
		t.Fatalf("read %q from /proc/self/status", got)
	}
}

func TestReadFileErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing")
	_, err := ReadFile(missing)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a missing file: %v, want fs.ErrNotExist", err)
	}
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe.Path != missing || pe.Op != "open" {
		t.Fatalf("a missing file: %#v, want a PathError of open naming it", err)
	}
	if _, err := ReadFile(dir); err == nil || !errors.As(err, &pe) || pe.Path != dir {
		t.Fatalf("a folder: %v, want a PathError naming it", err)
	}
}
