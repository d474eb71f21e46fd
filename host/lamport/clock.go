package lamport

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/canswarm/swarmhost/internal/atomicfile"
)

// DefaultBlock is how many times a clock reserves with one write.
const DefaultBlock = 1024

// Max is the largest Lamport time (2^53).
const Max = 1 << 53

// Clock is a persistent Lamport clock.
type Clock struct {
	mu       sync.Mutex
	path     string
	block    uint64
	now      uint64 // the last time handed out or observed
	reserved uint64 // every time up to this one may have been handed out
}

type state struct {
	V        int    `json:"v"`
	Reserved uint64 `json:"reserved"`
}

// Open opens (or creates) the clock stored at path. block is the number of
// times reserved per write; 0 means DefaultBlock.
func Open(path string, block uint64) (*Clock, error) {
	if block == 0 {
		block = DefaultBlock
	}
	c := &Clock{path: path, block: block}
	text, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("open lamport clock: %w", err)
	default:
		var s state
		if err := json.Unmarshal(text, &s); err != nil || s.V != 1 {
			return nil, fmt.Errorf("open lamport clock %s: not a clock file (%v); refusing to start from 0, which could reuse times", path, err)
		}
		c.reserved = s.Reserved
		c.now = s.Reserved // everything up to reserved may have been used
	}
	return c, nil
}

// Now returns the current time without advancing it.
func (c *Clock) Now() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Observe merges a received time: L = max(L, t). A time beyond the current
// reservation is persisted before Observe returns, so that a restarted clock
// is never behind a time it had seen.
func (c *Clock) Observe(t uint64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	t = min(t, Max)
	if t <= c.now {
		return nil
	}
	if t > c.reserved {
		if err := c.reserve(t); err != nil {
			return err
		}
	}
	c.now = t
	return nil
}

// Tick advances the clock for a send and returns the new time, persisting a
// new reservation first when the current block is used up.
func (c *Clock) Tick() (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.now >= Max {
		return 0, fmt.Errorf("lamport clock %s: exhausted at 2^53", c.path)
	}
	next := c.now + 1
	if next > c.reserved {
		if err := c.reserve(min(next+c.block-1, Max)); err != nil {
			return 0, err
		}
	}
	c.now = next
	return next, nil
}

func (c *Clock) reserve(upto uint64) error {
	text, err := json.Marshal(state{V: 1, Reserved: upto})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(c.path), 0o755); err != nil {
		return fmt.Errorf("lamport clock: %w", err)
	}
	if err := atomicfile.Write(c.path, text, atomicfile.Options{Perm: 0o644}); err != nil {
		return fmt.Errorf("lamport clock: reserve up to %d: %w", upto, err)
	}
	c.reserved = upto
	return nil
}
