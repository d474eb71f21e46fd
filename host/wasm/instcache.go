package wasm

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/canswarm/swarmhost/host/wasm/gas"
	"github.com/canswarm/swarmhost/internal/atomicfile"
)

// The instrumented-module cache keeps, beside wazero's compiled code in
// Config.CacheDir, what Load derives from a module's bytes before wazero
// sees them: the instrumented module and whether it can start from an
// image. Instrumenting a Go agent (~4 MB) costs ~100 ms of CPU and
// checking it for images ~35 ms, paid at every node start and every
// replay without the cache.
//
// An entry is named by a hash of everything its content depends on: the
// module's bytes, the instrumentation options (cost table, call depth,
// exported globals) and the running executable's own bytes, so that a
// build with another instrumenter never reads an entry an older one wrote.
// An entry that does not read back whole (a torn write, a stray file) is
// ignored and written again. An entry is trusted as the compiled-code
// cache is: whoever can write the cache folder can change what runs.

// instCacheDir is the sub-folder of Config.CacheDir holding the entries
// (wazero keeps its own in sub-folders named after its version).
const instCacheDir = "swarmhost-instrumented"

// instMagic starts every entry; the number changes with the format.
var instMagic = []byte("swarmhost-instrumented-1\n")

// instEntry is what an entry holds.
type instEntry struct {
	instrumented []byte
	imageErr     string // CheckImage's verdict: "" when the module qualifies
}

// exeDigest hashes the running executable once per process.
var exeDigest = sync.OnceValues(func() ([]byte, error) {
	path, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("the running executable: %w", err)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("the running executable: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, fmt.Errorf("the running executable %s: %w", path, err)
	}
	return h.Sum(nil), nil
})

// instKey names the entry of module under opts, or "" when the executable
// cannot be hashed (the cache is then not used).
func instKey(module []byte, opts gas.Options) string {
	exe, err := exeDigest()
	if err != nil {
		return ""
	}
	costs := opts.Costs
	if costs == nil {
		costs = &gas.V1
	}
	table, err := json.Marshal(costs)
	if err != nil {
		return ""
	}
	h := sha256.New()
	h.Write(instMagic)
	h.Write(exe)
	sum := sha256.Sum256(module)
	h.Write(sum[:])
	var buf [9]byte
	binary.BigEndian.PutUint32(buf[:4], opts.MaxCallDepth)
	if opts.ExportGlobals {
		buf[4] = 1
	}
	binary.BigEndian.PutUint32(buf[5:], uint32(len(table)))
	h.Write(buf[:])
	h.Write(table)
	return hex.EncodeToString(h.Sum(nil))
}

// encode lays an entry out as: magic, the image verdict's length (4 bytes)
// and text, the SHA-256 of the instrumented module, the module.
func (e instEntry) encode() []byte {
	out := make([]byte, 0, len(instMagic)+4+len(e.imageErr)+sha256.Size+len(e.instrumented))
	out = append(out, instMagic...)
	out = binary.BigEndian.AppendUint32(out, uint32(len(e.imageErr)))
	out = append(out, e.imageErr...)
	sum := sha256.Sum256(e.instrumented)
	out = append(out, sum[:]...)
	return append(out, e.instrumented...)
}

// decodeInstEntry reads an entry back, or says why it cannot.
func decodeInstEntry(b []byte) (instEntry, error) {
	rest, ok := bytes.CutPrefix(b, instMagic)
	if !ok {
		return instEntry{}, errors.New("not an entry of this format")
	}
	if len(rest) < 4 {
		return instEntry{}, errors.New("truncated")
	}
	n := binary.BigEndian.Uint32(rest)
	rest = rest[4:]
	if uint64(len(rest)) < uint64(n)+sha256.Size {
		return instEntry{}, errors.New("truncated")
	}
	e := instEntry{imageErr: string(rest[:n])}
	rest = rest[n:]
	want := rest[:sha256.Size]
	e.instrumented = rest[sha256.Size:]
	if sum := sha256.Sum256(e.instrumented); !bytes.Equal(sum[:], want) {
		return instEntry{}, errors.New("the module does not match its digest")
	}
	return e, nil
}

// instrument returns module instrumented under opts and CheckImage's
// verdict on it, from the cache when it holds them, else computed (and
// stored, when the runtime has a cache folder).
func (r *Runtime) instrument(module []byte, opts gas.Options) (instrumented []byte, imageErr error, err error) {
	var path string
	if r.cfg.CacheDir != "" {
		if key := instKey(module, opts); key != "" {
			path = filepath.Join(r.cfg.CacheDir, instCacheDir, key)
			if b, err := os.ReadFile(path); err == nil {
				if e, err := decodeInstEntry(b); err == nil {
					r.instHits.Add(1)
					if e.imageErr != "" {
						imageErr = errors.New(e.imageErr)
					}
					return e.instrumented, imageErr, nil
				}
			}
		}
	}
	if instrumented, err = gas.Instrument(module, opts); err != nil {
		return nil, nil, err
	}
	imageErr = gas.CheckImage(instrumented)
	if path != "" {
		e := instEntry{instrumented: instrumented}
		if imageErr != nil {
			e.imageErr = imageErr.Error()
		}
		// A cache that cannot be written only costs the next load the
		// work again: the load itself goes on.
		if os.MkdirAll(filepath.Dir(path), 0o700) == nil {
			_ = atomicfile.Write(path, e.encode(), atomicfile.Options{SkipDirSync: true})
		}
	}
	return instrumented, imageErr, nil
}
