package audit_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/audit"
)

func openFDs(t *testing.T) int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd to count open files")
	}
	return len(entries)
}

// A trail keeps at most SetMaxOpenThreads thread files open, however many
// threads it writes to: the least recently used are committed and closed,
// and writing to one again reopens it where it was, duplicates still known.
// Nothing written is lost, under group commit too.
func TestOpenThreadsAreBounded(t *testing.T) {
	dir := t.TempDir()
	tr, err := audit.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	tr.SetGroupCommit(true)
	tr.SetMaxOpenThreads(4)
	before := openFDs(t)
	var needs []*envelope.Envelope
	for i := 0; i < 20; i++ {
		need, err := envelope.Sign(envelope.Draft{Verb: envelope.VerbNeed, Lamport: uint64(i + 1),
			Payload: map[string]any{"n": i}}, key(1))
		if err != nil {
			t.Fatal(err)
		}
		needs = append(needs, need)
	}
	const rounds = 5
	for round := 0; round < rounds; round++ {
		for i, need := range needs {
			if round == 0 {
				if _, err := tr.AppendEnvelope(need, 1); err != nil {
					t.Fatal(err)
				}
				continue
			}
			hb, _ := envelope.Sign(envelope.Draft{ThreadID: need.ID, Verb: envelope.VerbHeartbeat, Lamport: uint64(round + 1),
				Payload: map[string]any{"i": i}}, key(2))
			if _, err := tr.AppendEnvelope(hb, uint64(round+1)); err != nil {
				t.Fatalf("round %d, thread %d: %v", round, i, err)
			}
			if n := tr.OpenThreads(); n > 4 {
				t.Fatalf("%d thread files open, bound 4", n)
			}
		}
		if round == 2 {
			if err := tr.Commit(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if extra := openFDs(t) - before; extra > 4 {
		t.Fatalf("%d more files open than before, bound 4", extra)
	}
	// The first NEED's thread was closed long ago: its NEED is still known.
	if _, err := tr.AppendEnvelope(needs[0], 99); !errors.Is(err, audit.ErrDuplicate) {
		t.Fatalf("a NEED appended again after its thread was closed: %v, want ErrDuplicate", err)
	}
	if err := tr.Commit(); err != nil {
		t.Fatal(err)
	}
	rep, err := audit.Verify(dir)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Threads != len(needs) || rep.Records != uint64(len(needs)*rounds) {
		t.Fatalf("verified %d threads, %d records; want %d, %d", rep.Threads, rep.Records, len(needs), len(needs)*rounds)
	}
	tr.Close()
}

// Writers on many threads at once, with room for two open files: threads
// are closed under them and reopened, and every line lands once, in its
// chain (run with -race).
func TestConcurrentAppendsWithFewOpenThreads(t *testing.T) {
	dir := t.TempDir()
	tr, _ := audit.Open(dir, nil)
	tr.SetGroupCommit(true)
	tr.SetMaxOpenThreads(2)
	done := make(chan error)
	for g := 0; g < 6; g++ {
		go func() {
			need, _ := envelope.Sign(envelope.Draft{Verb: envelope.VerbNeed, Lamport: 1, Payload: map[string]any{"g": g}}, key(1))
			var err error
			if _, err = tr.AppendEnvelope(need, 1); err == nil {
				for i := 0; i < 15 && err == nil; i++ {
					p, _ := envelope.Sign(envelope.Draft{ThreadID: need.ID, Verb: envelope.VerbHeartbeat, Lamport: uint64(i + 2)}, key(2))
					_, err = tr.AppendEnvelope(p, 0)
					if i%5 == 0 && err == nil {
						err = tr.Commit()
					}
				}
			}
			done <- err
		}()
	}
	for g := 0; g < 6; g++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := audit.Verify(dir)
	if err != nil || rep.Threads != 6 || rep.Records != 6*16 {
		t.Fatalf("%+v %v", rep, err)
	}
}

// A process that dies after a round's lines were written and before its
// commit leaves lines after their thread's head; a node restarted on the
// trail brings every head up to them (RecoverThreads), so that a reader
// finds the trail whole even for threads it never appends to again.
func TestRecoverThreadsBringsLaggingHeadsUp(t *testing.T) {
	dir := t.TempDir()
	tr, err := audit.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	tr.SetGroupCommit(true)
	thread := envelope.HashRef([]byte("need"))
	for i := 0; i < 3; i++ {
		if _, err := tr.Append(thread, audit.Entry{Kind: "clock", Body: []byte(`{"at":1}`), Verdict: audit.Accepted}); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			if err := tr.Commit(); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The process dies here: lines 2 and 3 are written, their commit never
	// came (no Close).
	if _, _, err := audit.Read(dir, nil); err == nil || !strings.Contains(err.Error(), "appended after the head") {
		t.Fatalf("before any recovery: %v; want the lines after the head refused", err)
	}
	var warned []string
	again, err := audit.Open(dir, func(s string) { warned = append(warned, s) })
	if err != nil {
		t.Fatal(err)
	}
	if err := again.RecoverThreads(); err != nil {
		t.Fatal(err)
	}
	again.Close()
	if _, _, err := audit.Read(dir, nil); err != nil {
		t.Fatalf("after RecoverThreads: %v", err)
	}
	if len(warned) != 1 || !strings.Contains(warned[0], "head recorded line 1 of 3") {
		t.Fatalf("warnings %q: want one saying the head was brought up", warned)
	}
}

// A pinned thread stays open however many others are written after it:
// it is read back once, not each time the bound would have closed it (the
// swarm thread, whose file grows for the life of the node).
func TestPinnedThreadIsNotReadBackAgain(t *testing.T) {
	dir := t.TempDir()
	tr, err := audit.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	tr.SetGroupCommit(true)
	tr.SetMaxOpenThreads(2)
	swarm := envelope.HashRef([]byte("a thread written for ever"))
	if err := tr.Pin(swarm); err != nil {
		t.Fatal(err)
	}
	appendTo := func(thread string, n int) {
		t.Helper()
		e, err := envelope.Sign(envelope.Draft{ThreadID: thread, Verb: envelope.VerbHeartbeat, Lamport: uint64(n + 1),
			Payload: map[string]any{"n": n}}, key(3))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tr.AppendEnvelope(e, uint64(n+1)); err != nil {
			t.Fatal(err)
		}
	}
	for round := 0; round < 5; round++ {
		appendTo(swarm, round)
		for i := 0; i < 4; i++ {
			appendTo(envelope.HashRef([]byte(fmt.Sprint("need ", round, i))), round)
		}
		if err := tr.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	// 20 NEED threads opened once each, the pinned one once: 21. Unpinned,
	// it would have been opened in every round.
	if n := audit.ThreadsOpened(tr); n != 21 {
		t.Fatalf("%d thread files opened, want 21 (the pinned thread once)", n)
	}
	if n := tr.OpenThreads(); n > 3 {
		t.Fatalf("%d thread files open, want the bound of 2 and the pinned one", n)
	}
	// A trail opened again reads a pinned thread that has a file back at
	// once, not on the writer's path later; one with no file is not made.
	tr.Close()
	again, err := audit.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	none := envelope.HashRef([]byte("a pinned thread with no line yet"))
	if err := again.Pin(swarm); err != nil {
		t.Fatal(err)
	}
	if err := again.Pin(none); err != nil {
		t.Fatal(err)
	}
	if n := audit.ThreadsOpened(again); n != 1 {
		t.Fatalf("Pin opened %d thread files, want the one with a file", n)
	}
	if name, _ := audit.FileName(none); fileExists(filepath.Join(dir, name)) {
		t.Fatal("Pin made a file for a thread with no line")
	}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
