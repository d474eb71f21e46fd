package cas

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/internal/atomicfile"
)

// FileStore keeps each blob in its own file, dir/ab/cdef..., where "ab" are
// the first two hex digits of the ref and the file name is the other 62. Two
// levels keep folders small (256 of them, each with 1/256 of the blobs)
// without a deeper tree to walk.
//
// Writes are atomic and durable: a temporary file in the blob's folder is
// written, fsynced, closed and renamed over the final name, then the folder
// is fsynced, so a crash leaves either no blob or the whole blob, never a
// prefix. Blob files are made read-only (0444) so that an accidental edit
// fails loudly; Get still verifies every read because disks do not.
//
// A FileStore is safe for concurrent use, also by several processes sharing
// the folder: the only write is a rename of complete content.
type FileStore struct {
	dir string
}

var _ Store = (*FileStore)(nil)

const (
	dirPerm = 0o750
	// Blobs are written through atomicfile, whose temporary files start
	// with ".tmp-": a blob name is 62 hex digits, so the two can never be
	// confused, and leftovers of a crash are inert.
	blobPerm = 0o444
)

// NewFileStore opens (creating if needed) a file store rooted at dir, the
// CAS folder itself (e.g. DATA/cas).
func NewFileStore(dir string) (*FileStore, error) {
	if dir == "" {
		return nil, errors.New("cas: file store: empty folder name")
	}
	if err := os.MkdirAll(dir, dirPerm); err != nil {
		return nil, fmt.Errorf("cas: file store: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("cas: file store: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("cas: file store: %s is not a folder", dir)
	}
	return &FileStore{dir: dir}, nil
}

// Dir returns the root folder of the store.
func (s *FileStore) Dir() string { return s.dir }

// path returns the blob's folder and file path for a well-formed ref.
func (s *FileStore) path(ref string) (folder, file string, err error) {
	hex, err := digest(ref)
	if err != nil {
		return "", "", err
	}
	folder = filepath.Join(s.dir, hex[:2])
	return folder, filepath.Join(folder, hex[2:]), nil
}

// Put stores data under its ref. An existing blob is read and verified: if
// it is intact Put does nothing, if it is corrupt Put replaces it.
func (s *FileStore) Put(ctx context.Context, data []byte) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("cas: put: %w", err)
	}
	if len(data) > MaxBlobBytes {
		return "", fmt.Errorf("cas: put: %w", tooLarge("blob", int64(len(data))))
	}
	ref := envelope.HashRef(data)
	folder, file, err := s.path(ref)
	if err != nil {
		return "", err
	}
	switch _, err := s.read(file, ref); {
	case err == nil:
		return ref, nil // already stored and intact
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrCorrupt), errors.Is(err, ErrTooLarge):
		// absent, or present but wrong: write it (again)
	default:
		return "", fmt.Errorf("cas: put %s: %w", ref, err)
	}
	if err := s.ensureFolder(folder); err != nil {
		return "", fmt.Errorf("cas: put %s: %w", ref, err)
	}
	if err := atomicfile.Write(file, data, atomicfile.Options{Perm: blobPerm}); err != nil {
		return "", fmt.Errorf("cas: put %s: %w", ref, err)
	}
	return ref, nil
}

// Get returns the blob's bytes after checking that they hash to ref.
func (s *FileStore) Get(ctx context.Context, ref string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("cas: get: %w", err)
	}
	_, file, err := s.path(ref)
	if err != nil {
		return nil, err
	}
	data, err := s.read(file, ref)
	if err != nil {
		return nil, fmt.Errorf("cas: get: %w", err)
	}
	return data, nil
}

// Has reports whether a blob file exists for ref. It does not read it.
func (s *FileStore) Has(ctx context.Context, ref string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("cas: has: %w", err)
	}
	_, file, err := s.path(ref)
	if err != nil {
		return false, err
	}
	switch _, err := os.Stat(file); {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	default:
		return false, fmt.Errorf("cas: has %s: %w", ref, err)
	}
}

// read loads and verifies one blob file. Missing is ErrNotFound, wrong bytes
// ErrCorrupt, a file over the limit ErrTooLarge (it cannot be the blob:
// Put never writes one that big, so it is refused without being loaded).
func (s *FileStore) read(file, ref string) ([]byte, error) {
	f, err := os.Open(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, ref)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s: stored blob is not a regular file", ErrCorrupt, ref)
	}
	if fi.Size() > MaxBlobBytes {
		return nil, fmt.Errorf("%w: %s: %w", ErrCorrupt, ref, tooLarge("stored file", fi.Size()))
	}
	// Read at most one byte past the size Stat reported, so a file growing
	// under us cannot make us read without bound.
	data, err := io.ReadAll(io.LimitReader(f, fi.Size()+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	if err := verify(ref, data); err != nil {
		return nil, err
	}
	return data, nil
}

// ensureFolder creates a blob's folder; a new folder's entry in the root is
// fsynced so that the rename inside it survives a crash.
func (s *FileStore) ensureFolder(folder string) error {
	err := os.Mkdir(folder, dirPerm)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return atomicfile.SyncDir(s.dir)
}
