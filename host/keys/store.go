package keys

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// Store is a folder of named key files.
type Store struct {
	dir  string
	warn func(string)
	mu   sync.Mutex
}

// NewStore opens (creating with mode 0700) a key folder. warn receives
// permission warnings of Load.
func NewStore(dir string, warn func(string)) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("key store %s: %w", dir, err)
	}
	return &Store{dir: dir, warn: warn}, nil
}

var keyName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._-]{0,127}$`)

func (s *Store) path(name string) (string, error) {
	if !keyName.MatchString(name) {
		return "", fmt.Errorf("key name %q: use letters, digits, '.', '_' and '-' (at most 128)", name)
	}
	return filepath.Join(s.dir, name+".json"), nil
}

// Get loads the named key.
func (s *Store) Get(name string) (*Key, error) {
	p, err := s.path(name)
	if err != nil {
		return nil, err
	}
	return Load(p, s.warn)
}

// Ensure loads the named key, creating it on first use.
func (s *Store) Ensure(name string) (*Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.path(name)
	if err != nil {
		return nil, err
	}
	k, err := Load(p, s.warn)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	if k, err = Generate(nil); err != nil {
		return nil, err
	}
	if err := k.Save(p); err != nil {
		return nil, err
	}
	return k, nil
}

// Names lists the stored keys, sorted.
func (s *Store) Names() ([]string, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("key store %s: %w", s.dir, err)
	}
	var names []string
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".json"); ok && keyName.MatchString(n) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names, nil
}
