package castest

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/cas"
)

// Opener returns a fresh, empty store and its corrupter.
type Opener func(t *testing.T) (store cas.Store, corrupt func(ref string))

// Run runs the conformance suite against the stores open returns.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		run  func(t *testing.T, s cas.Store, corrupt func(string))
	}{
		{"RoundTrip", testRoundTrip},
		{"IdempotentPut", testIdempotentPut},
		{"Has", testHas},
		{"NotFound", testNotFound},
		{"BadRef", testBadRef},
		{"EmptyBlob", testEmptyBlob},
		{"LargeBlob", testLargeBlob},
		{"TooLarge", testTooLarge},
		{"ConcurrentSamePut", testConcurrentSamePut},
		{"ConcurrentDistinctPuts", testConcurrentDistinctPuts},
		{"CorruptIsAnError", testCorrupt},
		{"PutRepairsCorrupt", testRepair},
		{"CanceledContext", testCanceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, corrupt := open(t)
			tc.run(t, s, corrupt)
		})
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func mustPut(t *testing.T, s cas.Store, data []byte) string {
	t.Helper()
	ref, err := s.Put(ctx(t), data)
	if err != nil {
		t.Fatalf("Put(%d bytes): %v", len(data), err)
	}
	if want := envelope.HashRef(data); ref != want {
		t.Fatalf("Put returned ref %s, want %s", ref, want)
	}
	return ref
}

func mustGet(t *testing.T, s cas.Store, ref string, want []byte) {
	t.Helper()
	got, err := s.Get(ctx(t), ref)
	if err != nil {
		t.Fatalf("Get(%s): %v", ref, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Get(%s) returned %d bytes that differ from the %d put", ref, len(got), len(want))
	}
}

// testRoundTrip: bytes come back as put, and neither the caller's slice nor
// the returned one aliases what the store keeps.
func testRoundTrip(t *testing.T, s cas.Store, _ func(string)) {
	data := []byte(`{"hello":"swarm"}`)
	orig := bytes.Clone(data)
	ref := mustPut(t, s, data)
	data[0] = 'X'
	mustGet(t, s, ref, orig)
	got, _ := s.Get(ctx(t), ref)
	got[0] = 'Y'
	mustGet(t, s, ref, orig)
}

func testIdempotentPut(t *testing.T, s cas.Store, _ func(string)) {
	data := randomBytes(1, 1000)
	ref1 := mustPut(t, s, data)
	ref2 := mustPut(t, s, data)
	if ref1 != ref2 {
		t.Fatalf("second Put gave %s, first %s", ref2, ref1)
	}
	mustGet(t, s, ref1, data)
}

func testHas(t *testing.T, s cas.Store, _ func(string)) {
	data := randomBytes(2, 100)
	ref := envelope.HashRef(data)
	if ok, err := s.Has(ctx(t), ref); err != nil || ok {
		t.Fatalf("Has before Put = %v, %v; want false, nil", ok, err)
	}
	mustPut(t, s, data)
	if ok, err := s.Has(ctx(t), ref); err != nil || !ok {
		t.Fatalf("Has after Put = %v, %v; want true, nil", ok, err)
	}
}

func testNotFound(t *testing.T, s cas.Store, _ func(string)) {
	ref := envelope.HashRef([]byte("never stored"))
	_, err := s.Get(ctx(t), ref)
	if !errors.Is(err, cas.ErrNotFound) {
		t.Fatalf("Get of an absent blob: %v, want ErrNotFound", err)
	}
	if !strings.Contains(err.Error(), ref) {
		t.Errorf("error %q does not name the ref", err)
	}
}

func testBadRef(t *testing.T, s cas.Store, _ func(string)) {
	good := envelope.HashRef([]byte("x"))
	bad := []string{
		"",
		"sha256:",
		good[len("sha256:"):],                 // no prefix
		strings.ToUpper(good),                 // upper case
		"sha256:" + strings.ToUpper(good[7:]), // upper-case hex
		"sha512:" + good[7:],                  // wrong algorithm
		good[:len(good)-1],                    // 63 digits
		good + "0",                            // 65 digits
		"sha256:" + strings.Repeat("g", 64),   // not hex
		"sha256:../../../../../../../../etc/passwd", // a path
		"sha256:" + strings.Repeat("0", 30) + "/.." + strings.Repeat("0", 31),
		"sha256:" + strings.Repeat("0", 62) + ".*",
	}
	for _, ref := range bad {
		if _, err := s.Get(ctx(t), ref); !errors.Is(err, cas.ErrBadRef) {
			t.Errorf("Get(%q): %v, want ErrBadRef", ref, err)
		}
		if _, err := s.Has(ctx(t), ref); !errors.Is(err, cas.ErrBadRef) {
			t.Errorf("Has(%q): %v, want ErrBadRef", ref, err)
		}
	}
}

func testEmptyBlob(t *testing.T, s cas.Store, _ func(string)) {
	ref := mustPut(t, s, nil)
	if ref != "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Fatalf("empty blob ref %s", ref)
	}
	mustGet(t, s, ref, []byte{})
	if ok, err := s.Has(ctx(t), ref); err != nil || !ok {
		t.Fatalf("Has(empty) = %v, %v", ok, err)
	}
	mustPut(t, s, []byte{}) // idempotent with a non-nil empty slice too
}

func testLargeBlob(t *testing.T, s cas.Store, _ func(string)) {
	data := randomBytes(3, 5<<20+123) // several object store chunks, odd tail
	ref := mustPut(t, s, data)
	mustGet(t, s, ref, data)
}

func testTooLarge(t *testing.T, s cas.Store, _ func(string)) {
	data := make([]byte, cas.MaxBlobBytes+1)
	_, err := s.Put(ctx(t), data)
	if !errors.Is(err, cas.ErrTooLarge) {
		t.Fatalf("Put of MaxBlobBytes+1: %v, want ErrTooLarge", err)
	}
	if ok, _ := s.Has(ctx(t), envelope.HashRef(data)); ok {
		t.Fatalf("a refused blob is stored")
	}
}

func testConcurrentSamePut(t *testing.T, s cas.Store, _ func(string)) {
	data := randomBytes(4, 300<<10)
	want := envelope.HashRef(data)
	const n = 8
	c := ctx(t)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			ref, err := s.Put(c, data)
			if err == nil && ref != want {
				err = errors.New("wrong ref " + ref)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent Put: %v", err)
		}
	}
	mustGet(t, s, want, data)
}

func testConcurrentDistinctPuts(t *testing.T, s cas.Store, _ func(string)) {
	const n = 16
	blobs := make([][]byte, n)
	for i := range blobs {
		blobs[i] = randomBytes(uint64(100+i), 1000+i)
	}
	c := ctx(t)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for _, b := range blobs {
		wg.Go(func() {
			_, err := s.Put(c, b)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent Put: %v", err)
		}
	}
	for _, b := range blobs {
		mustGet(t, s, envelope.HashRef(b), b)
	}
}

// testCorrupt: a blob whose stored bytes were damaged is an error naming the
// ref, never wrong bytes.
func testCorrupt(t *testing.T, s cas.Store, corrupt func(string)) {
	for _, size := range []int{1, 4096, 300 << 10} {
		data := randomBytes(uint64(size), size)
		ref := mustPut(t, s, data)
		corrupt(ref)
		got, err := s.Get(ctx(t), ref)
		if !errors.Is(err, cas.ErrCorrupt) {
			t.Fatalf("Get of a corrupted %d-byte blob: %d bytes, %v; want ErrCorrupt", size, len(got), err)
		}
		if got != nil {
			t.Errorf("Get returned %d bytes along with the error", len(got))
		}
		if msg := err.Error(); !strings.Contains(msg, "corrupt") || !strings.Contains(msg, ref) {
			t.Errorf("error %q should say corrupt and name %s", msg, ref)
		}
	}
}

// testRepair: putting the right bytes again heals a corrupted blob.
func testRepair(t *testing.T, s cas.Store, corrupt func(string)) {
	data := randomBytes(5, 5000)
	ref := mustPut(t, s, data)
	corrupt(ref)
	if _, err := s.Get(ctx(t), ref); !errors.Is(err, cas.ErrCorrupt) {
		t.Fatalf("after corruption Get: %v, want ErrCorrupt", err)
	}
	mustPut(t, s, data)
	mustGet(t, s, ref, data)
}

func testCanceled(t *testing.T, s cas.Store, _ func(string)) {
	c, cancel := context.WithCancel(context.Background())
	cancel()
	data := []byte("canceled")
	if _, err := s.Put(c, data); !errors.Is(err, context.Canceled) {
		t.Errorf("Put with a canceled context: %v", err)
	}
	ref := mustPut(t, s, data)
	if _, err := s.Get(c, ref); !errors.Is(err, context.Canceled) {
		t.Errorf("Get with a canceled context: %v", err)
	}
	if _, err := s.Has(c, ref); !errors.Is(err, context.Canceled) {
		t.Errorf("Has with a canceled context: %v", err)
	}
}
