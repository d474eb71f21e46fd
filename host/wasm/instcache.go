package wasm

import (
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/canswarm/swarmhost/abi/envelope"
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
// exported globals) and the running executable's identity (exeDigest), so
// that a build with another instrumenter never reads an entry an older one
// wrote.
// An entry that does not read back whole (a torn write, a stray file) is
// ignored and written again. An entry is trusted as the compiled-code
// cache is: whoever can write the cache folder can change what runs.

// instCacheDir is the sub-folder of Config.CacheDir holding the entries
// (wazero keeps its own in sub-folders named after its version).
const instCacheDir = "swarmhost-instrumented"

// instMagic starts every entry; the number changes with the format.
var instMagic = []byte("swarmhost-instrumented-2\n")

// instEntry is what an entry holds.
type instEntry struct {
	instrumented []byte
	imageErr     string // CheckImage's verdict: "" when the module qualifies
}

// exeDigest identifies the running executable, once per process: by the
// Go build ID its linker wrote into it (a hash of the build's inputs and of
// its output, read from a few hundred bytes of the file) when it has one,
// else by the SHA-256 of its bytes (~40 ms for a 70 MB binary).
var exeDigest = sync.OnceValues(func() ([]byte, error) {
	path, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("the running executable: %w", err)
	}
	if id := goBuildID(path); id != "" {
		sum := sha256.Sum256([]byte("go-build-id\n" + id))
		return sum[:], nil
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

// goBuildID reads the Go build ID note of an ELF executable, or "" when it
// has none (another format, or a build ID removed at link time).
func goBuildID(path string) string {
	f, err := elf.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sec := f.Section(".note.go.buildid")
	if sec == nil || sec.Size > 4096 {
		return ""
	}
	note, err := sec.Data()
	if err != nil || len(note) < 16 {
		return ""
	}
	// namesz, descsz, type (4 = the Go build ID), then the name "Go\0\0"
	// and the ID itself.
	order := f.ByteOrder
	nameSize, descSize, typ := order.Uint32(note), order.Uint32(note[4:]), order.Uint32(note[8:])
	if nameSize != 4 || typ != 4 || string(note[12:16]) != "Go\x00\x00" || uint64(len(note)) < 16+uint64(descSize) {
		return ""
	}
	return string(note[16 : 16+descSize])
}

// moduleSum is a module's SHA-256 and its ref ("sha256:" and hex): one
// hash serves the module's identity and its instrumented form's cache key.
func moduleSum(module []byte) ([sha256.Size]byte, string) {
	sum := sha256.Sum256(module)
	return sum, envelope.RefPrefix + hex.EncodeToString(sum[:])
}

// instKey names the entry of the module whose SHA-256 is moduleSum under
// opts, or "" when the executable cannot be identified (the cache is then
// not used).
func instKey(moduleSum [sha256.Size]byte, opts gas.Options) string {
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
	h.Write(moduleSum[:])
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
// and text, the CRC-32C of the instrumented module (4 bytes), the module.
// The checksum finds damage (a torn or truncated write, a stray edit); it
// is not a defence against whoever can write the folder, which no check
// here could be (see above), and costs a tenth of a SHA-256.
func (e instEntry) encode() []byte {
	out := make([]byte, 0, len(instMagic)+4+len(e.imageErr)+4+len(e.instrumented))
	out = append(out, instMagic...)
	out = binary.BigEndian.AppendUint32(out, uint32(len(e.imageErr)))
	out = append(out, e.imageErr...)
	out = binary.BigEndian.AppendUint32(out, crc32.Checksum(e.instrumented, castagnoli))
	return append(out, e.instrumented...)
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

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
	if uint64(len(rest)) < uint64(n)+4 {
		return instEntry{}, errors.New("truncated")
	}
	e := instEntry{imageErr: string(rest[:n])}
	rest = rest[n:]
	want := binary.BigEndian.Uint32(rest)
	e.instrumented = rest[4:]
	if crc32.Checksum(e.instrumented, castagnoli) != want {
		return instEntry{}, errors.New("the module does not match its checksum")
	}
	return e, nil
}

// instrument returns module instrumented under opts and CheckImage's
// verdict on it, from the cache when it holds them, else computed (and
// stored, when the runtime has a cache folder).
func (r *Runtime) instrument(module []byte, moduleSum [sha256.Size]byte, opts gas.Options) (instrumented []byte, imageErr error, err error) {
	var path string
	if r.cfg.CacheDir != "" {
		if key := instKey(moduleSum, opts); key != "" {
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
