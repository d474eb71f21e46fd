package cas_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/cas"
	"github.com/canswarm/swarmhost/host/cas/castest"
)

func TestFileStoreConformance(t *testing.T) {
	castest.Run(t, func(t *testing.T) (cas.Store, func(string)) {
		s := newFileStore(t)
		return s, func(ref string) { flipByte(t, blobPath(s.Dir(), ref)) }
	})
}

func blobPath(dir, ref string) string {
	hex := strings.TrimPrefix(ref, "sha256:")
	return filepath.Join(dir, hex[:2], hex[2:])
}

// flipByte damages a blob file in place, the way a bad disk would.
func flipByte(t *testing.T, path string) {
	t.Helper()
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) == 0 {
		data = []byte{0}
	} else {
		data[len(data)/2] ^= 0x01
	}
	if err := os.WriteFile(path, data, 0o444); err != nil {
		t.Fatal(err)
	}
}

// TestFileLayout: a blob lives at dir/ab/cdef..., read-only, with no
// temporary file left behind, and a second store on the folder sees it.
func TestFileLayout(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cas")
	s, err := cas.NewFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	data := []byte("layout")
	ref, err := s.Put(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	hex := strings.TrimPrefix(ref, "sha256:")
	fi, err := os.Stat(filepath.Join(dir, hex[:2], hex[2:]))
	if err != nil {
		t.Fatalf("blob not at dir/%s/%s: %v", hex[:2], hex[2:], err)
	}
	if fi.Mode().Perm() != 0o444 {
		t.Errorf("blob mode %v, want read-only 0444", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(filepath.Join(dir, hex[:2]))
	if len(entries) != 1 {
		t.Errorf("folder holds %d entries, want the blob alone (no temp files)", len(entries))
	}

	s2, err := cas.NewFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s2.Get(ctx, ref); err != nil || string(got) != "layout" {
		t.Fatalf("reopened store: %q, %v", got, err)
	}
}

// TestFileDamage: every way a stored file can go wrong is reported as
// corrupt, and Put puts it right.
func TestFileDamage(t *testing.T) {
	ctx := context.Background()
	data := []byte("some blob that will be damaged")
	for name, damage := range map[string]func(path string) error{
		"truncated": func(p string) error { return os.Truncate(p, 3) },
		"emptied":   func(p string) error { return os.Truncate(p, 0) },
		"extended": func(p string) error {
			f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			f.Write([]byte("tail"))
			return f.Close()
		},
		"replaced by a folder": func(p string) error {
			if err := os.Remove(p); err != nil {
				return err
			}
			return os.Mkdir(p, 0o755)
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			s, _ := cas.NewFileStore(dir)
			ref, err := s.Put(ctx, data)
			if err != nil {
				t.Fatal(err)
			}
			p := blobPath(dir, ref)
			os.Chmod(p, 0o644)
			if err := damage(p); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Get(ctx, ref); !errors.Is(err, cas.ErrCorrupt) {
				t.Fatalf("Get of a %s blob: %v, want ErrCorrupt", name, err)
			}
			if name == "replaced by a folder" {
				return // Put cannot rename a file over a folder; it must say so
			}
			if _, err := s.Put(ctx, data); err != nil {
				t.Fatalf("repairing Put: %v", err)
			}
			if got, err := s.Get(ctx, ref); err != nil || string(got) != string(data) {
				t.Fatalf("after repair: %q, %v", got, err)
			}
		})
	}
}

func TestNewFileStoreErrors(t *testing.T) {
	if _, err := cas.NewFileStore(""); err == nil {
		t.Error("empty folder name accepted")
	}
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o644)
	if _, err := cas.NewFileStore(file); err == nil {
		t.Error("a regular file accepted as the store folder")
	}
}

// TestFileStoreAbsentFolderIsNotFound: a blob whose two-digit folder does
// not exist yet is simply absent.
func TestFileStoreAbsentFolderIsNotFound(t *testing.T) {
	s, _ := cas.NewFileStore(t.TempDir())
	ref := envelope.HashRef([]byte("nowhere"))
	if ok, err := s.Has(context.Background(), ref); ok || err != nil {
		t.Fatalf("Has = %v, %v", ok, err)
	}
	if _, err := s.Get(context.Background(), ref); !errors.Is(err, cas.ErrNotFound) {
		t.Fatalf("Get = %v, want ErrNotFound", err)
	}
}
