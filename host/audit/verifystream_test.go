package audit_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/audit"
)

// longFixture writes a thread of 1 NEED, n PROPOSEs and a rejected text
// every seventh line, and returns the folder, the thread and its lines.
func longFixture(t *testing.T, n int) (string, string, [][]byte) {
	dir, tr, need := trailWithNeed(t)
	defer tr.Close()
	for i := 0; i < n; i++ {
		lamport := uint64(2 + i)
		p := proposal(t, need.ID, i)
		if i%7 == 3 {
			// Its signature spoilt: a rejected line of the thread.
			text := bytes.Replace(p.Wire(), []byte(`"sig":"`), []byte(`"sig":"0`), 1)
			text = bytes.Replace(text, []byte(`"sig":"00`), []byte(`"sig":"1`), 1)
			_, verr := envelope.Verify(text)
			if _, err := tr.AppendRejected(text, envelope.CodeOf(verr), lamport); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if _, err := tr.AppendEnvelope(p, lamport); err != nil {
			t.Fatal(err)
		}
	}
	text, err := os.ReadFile(threadFile(t, dir, need.ID))
	if err != nil {
		t.Fatal(err)
	}
	return dir, need.ID, bytes.Split(bytes.TrimSuffix(text, []byte("\n")), []byte("\n"))
}

// bothVerdicts verifies a thread whole (ReadThread) and a window of
// window lines at a time (VerifyThread), and fails unless they agree.
func bothVerdicts(t fataler, dir, thread string, window int) error {
	t.Helper()
	held := 0
	restore := audit.StreamEveryThread(window, func(n int) { held = max(held, n) })
	defer restore()
	_, wholeHead, wholeErr := audit.ReadThread(dir, thread, nil)
	streamHead, streamErr := audit.VerifyThread(dir, thread)
	if !reflect.DeepEqual(wholeErr, streamErr) || wholeHead != streamHead {
		t.Fatalf("whole read: %v (head %+v); a window of %d lines at a time: %v (head %+v)", wholeErr, wholeHead, window, streamErr, streamHead)
	}
	// A window is its lines and the three carried from the one before.
	if held > window+3 {
		t.Fatalf("a window of %d lines held %d", window, held)
	}
	return streamErr
}

// A thread walked a window at a time reports what the whole read does:
// nothing for a sound thread, and for every single-line edit of any kind,
// at every line (so at every place relative to a window's edges), the same
// first broken line and problem.
func TestStreamedVerifyNamesWhatTheWholeReadNames(t *testing.T) {
	dir0, need, lines0 := longFixture(t, 23)
	for _, window := range []int{1, 2, 3, 5, 8, 100} {
		if err := bothVerdicts(t, dir0, need, window); err != nil {
			t.Fatalf("a sound thread, window %d: %v", window, err)
		}
	}
	edits := map[string]func(l [][]byte, i int) [][]byte{
		"deleted":    func(l [][]byte, i int) [][]byte { return append(l[:i:i], l[i+1:]...) },
		"duplicated": func(l [][]byte, i int) [][]byte { return append(l[:i+1:i+1], l[i:]...) },
		"swapped with the next": func(l [][]byte, i int) [][]byte {
			if i+1 == len(l) {
				return nil
			}
			l[i], l[i+1] = l[i+1], l[i]
			return l
		},
		"prev changed": func(l [][]byte, i int) [][]byte {
			if i == 0 {
				return nil
			}
			l[i] = editPrev(t, l[i])
			return l
		},
		"a middle byte changed": func(l [][]byte, i int) [][]byte {
			out := bytes.Clone(l[i])
			out[len(out)/2] ^= 1
			l[i] = out
			return l
		},
		"not JSON": func(l [][]byte, i int) [][]byte { l[i] = []byte("{oops"); return l },
	}
	path := threadFile(t, dir0, need)
	for name, edit := range edits {
		for i := range lines0 {
			lines := edit(append([][]byte(nil), lines0...), i)
			if lines == nil {
				continue // not an edit at this line
			}
			if err := os.WriteFile(path, append(bytes.Join(lines, []byte("\n")), '\n'), 0o644); err != nil {
				t.Fatal(err)
			}
			for _, window := range []int{1, 3, 5} {
				var te *audit.TamperError
				if err := bothVerdicts(t, dir0, need, window); !errors.As(err, &te) {
					t.Fatalf("line %d %s: %v is no TamperError", i+1, name, err)
				}
			}
		}
	}
	// A torn end, named before anything else.
	lines := append([][]byte(nil), lines0...)
	lines[2] = []byte("{oops")
	if err := os.WriteFile(path, append(bytes.Join(lines, []byte("\n")), []byte("\n{\"envelope\":{\"cap")...), 0o644); err != nil {
		t.Fatal(err)
	}
	var te *audit.TamperError
	if err := bothVerdicts(t, dir0, need, 4); !errors.As(err, &te) || te.Line != uint64(len(lines)+1) {
		t.Fatalf("torn end: %v, want line %d", err, len(lines)+1)
	}
}

// Any few edits of a thread's bytes (lines deleted, repeated, moved,
// bytes flipped, the end cut): the windowed walk agrees with the whole
// read, for any window.
func TestStreamedVerifyAgreesUnderAnyEdits(t *testing.T) {
	dir, need, lines0 := longFixture(t, 30)
	path := threadFile(t, dir, need)
	text0 := append(bytes.Join(lines0, []byte("\n")), '\n')
	rapid.Check(t, func(rt *rapid.T) {
		lines := append([][]byte(nil), lines0...)
		for range rapid.IntRange(1, 3).Draw(rt, "edits") {
			i := rapid.IntRange(0, len(lines)-1).Draw(rt, "line")
			switch rapid.IntRange(0, 3).Draw(rt, "kind") {
			case 0:
				if len(lines) > 1 {
					lines = append(lines[:i:i], lines[i+1:]...)
				}
			case 1:
				lines = append(lines[:i+1:i+1], lines[i:]...)
			case 2:
				j := rapid.IntRange(0, len(lines)-1).Draw(rt, "with")
				lines[i], lines[j] = lines[j], lines[i]
			case 3:
				out := bytes.Clone(lines[i])
				out[rapid.IntRange(0, len(out)-1).Draw(rt, "byte")] ^= byte(rapid.IntRange(1, 255).Draw(rt, "xor"))
				lines[i] = out
			}
		}
		text := append(bytes.Join(lines, []byte("\n")), '\n')
		if rapid.Bool().Draw(rt, "cut") {
			text = text[:rapid.IntRange(1, len(text)).Draw(rt, "at")]
		}
		if err := os.WriteFile(path, text, 0o644); err != nil {
			rt.Fatal(err)
		}
		err := bothVerdicts(rt, dir, need, rapid.IntRange(1, 9).Draw(rt, "window"))
		if err == nil && !bytes.Equal(text, text0) {
			rt.Fatalf("an edited thread verified")
		}
	})
}

// fataler is what bothVerdicts needs of a *testing.T or a *rapid.T.
type fataler interface {
	Helper()
	Fatalf(format string, args ...any)
}

// ReadWithin reads a trail whole when its thread files fit the bound, and
// otherwise stops reading and says so, before any broken line it may have
// found (the caller verifies the trail otherwise).
func TestReadWithinStopsAtItsBound(t *testing.T) {
	dir, need, lines := longFixture(t, 30)
	size := 0
	for _, l := range lines {
		size += len(l) + 1
	}
	for _, c := range []struct {
		bound   int64
		tooMany bool
	}{{-1, false}, {int64(size), false}, {int64(size) - 1, true}, {0, true}} {
		rep, read, err := audit.ReadWithin(dir, nil, c.bound)
		if c.tooMany {
			if !errors.Is(err, audit.ErrTrailTooLarge) || read != nil {
				t.Fatalf("%d bytes within %d: %v, %d threads read", size, c.bound, err, len(read))
			}
			continue
		}
		if err != nil || rep.Records != uint64(len(lines)) || len(read[need]) != len(lines) {
			t.Fatalf("%d bytes within %d: %v, %+v", size, c.bound, err, rep)
		}
	}
	// A broken line is not reported past the bound: the trail was not read.
	broken := append([][]byte(nil), lines...)
	broken[3] = []byte("{oops")
	if err := os.WriteFile(threadFile(t, dir, need), append(bytes.Join(broken, []byte("\n")), '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := audit.ReadWithin(dir, nil, 10); !errors.Is(err, audit.ErrTrailTooLarge) {
		t.Fatalf("a broken trail over the bound: %v", err)
	}
	var te *audit.TamperError
	if _, _, err := audit.ReadWithin(dir, nil, 1<<30); !errors.As(err, &te) || te.Line != 4 {
		t.Fatalf("a broken trail within the bound: %v", err)
	}
}

// A thread file larger than ReadWithin's bound is not read at all: the
// bound is taken from its size first.
func TestReadWithinReadsNoFileOverItsBound(t *testing.T) {
	dir := t.TempDir()
	name, err := audit.FileName("sha256:" + strings.Repeat("ab", 32))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), bytes.Repeat([]byte("x"), 32<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, _, err = audit.ReadWithin(dir, nil, 1<<20)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, audit.ErrTrailTooLarge) {
		t.Fatalf("a 32 MiB thread within 1 MiB: %v", err)
	}
	if read := after.TotalAlloc - before.TotalAlloc; read > 4<<20 {
		t.Fatalf("ReadWithin allocated %d bytes for a thread file it refused", read)
	}
}
