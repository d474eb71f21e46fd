package wasm

import (
	"crypto/sha256"
	"encoding/binary"
	"io"

	"github.com/tetratelabs/wazero"
)

// The WASI a plugin sees is a closed world: a wall clock fixed at
// FixedWalltime; a monotonic clock that starts at 1 ms and advances 1 µs on
// every read and by exactly what the plugin asks when it sleeps (so it is a
// function of what the plugin did, never of the machine; Go's runtime refuses
// a clock that reads 0 or never moves); and a random stream that is the same
// for every instance. No arguments, environment, files or sockets.

// FixedWalltime is the wall-clock time every plugin sees: 2026-01-01T00:00:00Z.
const FixedWalltime = 1_767_225_600

// deterministicWASI configures an instance's WASI, with a fresh clock and
// random stream.
func deterministicWASI(cfg wazero.ModuleConfig, stdout, stderr io.Writer) wazero.ModuleConfig {
	return wasiWith(cfg, stdout, stderr, &fakeClock{t: 1_000_000}, &randStream{})
}

// wasiWith configures an instance's WASI with the given clock and random
// stream, whose state is the instance's (an image copies them).
func wasiWith(cfg wazero.ModuleConfig, stdout, stderr io.Writer, clock *fakeClock, rand *randStream) wazero.ModuleConfig {
	return cfg.
		WithStdout(stdout).
		WithStderr(stderr).
		WithWalltime(func() (int64, int32) { return FixedWalltime, 0 }, 1).
		WithNanotime(clock.now, 1).
		WithNanosleep(clock.sleep).
		WithOsyield(func() {}).
		WithRandSource(rand)
}

func (r *randStream) clone() *randStream {
	return &randStream{counter: r.counter, buf: append([]byte(nil), r.buf...)}
}

type fakeClock struct{ t int64 }

func (c *fakeClock) now() int64 {
	c.t += 1000
	return c.t
}

func (c *fakeClock) sleep(ns int64) { c.t += max(ns, 1) }

// randStream is SHA-256 in counter mode over a fixed seed: reproducible
// bytes, uniform enough for hash-map seeds and the like. It is not secret,
// and must not be: a plugin's output has to be reproducible by anyone.
type randStream struct {
	counter uint64
	buf     []byte
}

var randSeed = []byte("CANSWARM-WASI-RANDOM-V1")

func (r *randStream) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(r.buf) == 0 {
			var block [8]byte
			binary.BigEndian.PutUint64(block[:], r.counter)
			r.counter++
			sum := sha256.Sum256(append(append([]byte(nil), randSeed...), block[:]...))
			r.buf = sum[:]
		}
		c := copy(p[n:], r.buf)
		r.buf = r.buf[c:]
		n += c
	}
	return n, nil
}
