package audit_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/audit"
)

func key(n byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{n}, 32))
}

// fixture writes a trail: one NEED thread with the NEED and four PROPOSEs,
// one rejected text, and returns the folder and the NEED's thread.
func fixture(t *testing.T) (string, string) {
	t.Helper()
	dir, tr, need := trailWithNeed(t)
	defer tr.Close()
	for i := 0; i < 4; i++ {
		if _, err := tr.AppendEnvelope(proposal(t, need.ID, i), uint64(2+i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tr.AppendRejected([]byte(`{"v":1,"verb":"NEED"`), envelope.CodeMalformed, 6); err != nil {
		t.Fatal(err)
	}
	return dir, need.ID
}

// trailWithNeed opens a trail in a new folder and records a NEED on it
// (received_lamport 1); the caller closes the trail.
func trailWithNeed(t *testing.T) (string, *audit.Trail, *envelope.Envelope) {
	t.Helper()
	dir := t.TempDir()
	tr, err := audit.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	need, err := envelope.Sign(envelope.Draft{Verb: envelope.VerbNeed, Lamport: 1, Payload: map[string]any{"capability": "classify"}}, key(1))
	if err != nil {
		tr.Close()
		t.Fatal(err)
	}
	if _, err := tr.AppendEnvelope(need, 1); err != nil {
		tr.Close()
		t.Fatal(err)
	}
	return dir, tr, need
}

// proposal is the i-th PROPOSE on a NEED's thread: price i, Lamport 2+i,
// by its own key.
func proposal(t *testing.T, need string, i int) *envelope.Envelope {
	t.Helper()
	p, err := envelope.Sign(envelope.Draft{ThreadID: need, Verb: envelope.VerbPropose, Lamport: uint64(2 + i),
		Payload: map[string]any{"epoch": 1, "bid": map[string]any{"price": i, "eta_ms": 10}}}, key(byte(2+i%200)))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func threadFile(t *testing.T, dir, thread string) string {
	name, err := audit.FileName(thread)
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, name)
}

func TestAppendAndVerify(t *testing.T) {
	dir, need := fixture(t)
	rep, err := audit.Verify(dir)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Threads != 2 || rep.Records != 6 {
		t.Fatalf("report %+v", rep)
	}
	if !strings.HasPrefix(rep.Root, "sha256:") || len(rep.Root) != envelope.RefLen {
		t.Fatalf("root %q", rep.Root)
	}
	// The live trail's root is the verified root.
	tr, _ := audit.Open(dir, nil)
	defer tr.Close()
	if root, err := tr.Root(); err != nil || root != rep.Root {
		t.Fatalf("live root %s, verified root %s (%v)", root, rep.Root, err)
	}
	text, _ := os.ReadFile(threadFile(t, dir, need))
	if n := bytes.Count(text, []byte("\n")); n != 5 {
		t.Fatalf("%d lines in the NEED's thread, want 5", n)
	}
}

func TestDuplicateIsNotWrittenTwice(t *testing.T) {
	dir := t.TempDir()
	tr, _ := audit.Open(dir, nil)
	need, _ := envelope.Sign(envelope.Draft{Verb: envelope.VerbNeed, Lamport: 1}, key(1))
	if _, err := tr.AppendEnvelope(need, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.AppendEnvelope(need, 2); !errors.Is(err, audit.ErrDuplicate) {
		t.Fatalf("second append: %v, want ErrDuplicate", err)
	}
	tr.Close()
	// Duplicates are known after a restart too.
	tr, _ = audit.Open(dir, nil)
	defer tr.Close()
	if _, err := tr.AppendEnvelope(need, 3); !errors.Is(err, audit.ErrDuplicate) {
		t.Fatalf("append after reopening: %v, want ErrDuplicate", err)
	}
	rep, err := audit.Verify(dir)
	if err != nil || rep.Records != 1 {
		t.Fatalf("%+v %v", rep, err)
	}
}

func TestRejectedTextIsKeptExactly(t *testing.T) {
	dir := t.TempDir()
	tr, _ := audit.Open(dir, nil)
	defer tr.Close()
	raws := [][]byte{[]byte("not json at all\n"), {0xff, 0xfe, 0x00}}
	for _, raw := range raws {
		rec, err := tr.AppendRejected(raw, envelope.CodeMalformed, 0)
		if err != nil {
			t.Fatal(err)
		}
		back, err := audit.DecodeRawText(rec.Envelope)
		if err != nil || !bytes.Equal(back, raw) {
			t.Fatalf("stored %q, got back %q (%v)", raw, back, err)
		}
	}
	if _, err := audit.Verify(dir); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentAppends(t *testing.T) {
	dir := t.TempDir()
	tr, _ := audit.Open(dir, nil)
	need, _ := envelope.Sign(envelope.Draft{Verb: envelope.VerbNeed, Lamport: 1}, key(1))
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				p, _ := envelope.Sign(envelope.Draft{ThreadID: need.ID, Verb: envelope.VerbHeartbeat, Lamport: uint64(100*g + i + 2)}, key(byte(10+g)))
				if _, err := tr.AppendEnvelope(p, 0); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	tr.Close()
	rep, err := audit.Verify(dir)
	if err != nil || rep.Records != 40 {
		t.Fatalf("%+v %v", rep, err)
	}
}

// Every kind of tamper is found and located by thread and line.
func TestTamperIsLocated(t *testing.T) {
	swap := func(lines [][]byte, i, j int) [][]byte { lines[i], lines[j] = lines[j], lines[i]; return lines }
	cases := []struct {
		name     string
		edit     func(lines [][]byte) [][]byte
		wantLine uint64
		wantWord string
	}{
		{"payload edited", func(l [][]byte) [][]byte {
			l[2] = bytes.Replace(l[2], []byte(`"price":1`), []byte(`"price":9`), 1)
			return l
		}, 3, "no longer verifies"},
		{"verdict of a middle line edited", func(l [][]byte) [][]byte {
			l[1] = bytes.Replace(l[1], []byte(`"received_lamport":2`), []byte(`"received_lamport":3`), 1)
			return l
		}, 2, "edited"},
		{"last line edited", func(l [][]byte) [][]byte {
			l[4] = bytes.Replace(l[4], []byte(`"received_lamport":5`), []byte(`"received_lamport":6`), 1)
			return l
		}, 5, "edited"},
		// An edit of a line's prev breaks both its links: that line is
		// named, not the one before it, whose hash is still what the
		// line named.
		{"prev of a middle line edited", func(l [][]byte) [][]byte { l[2] = editPrev(t, l[2]); return l }, 3, "its prev was changed"},
		{"prev of the last line edited", func(l [][]byte) [][]byte { l[4] = editPrev(t, l[4]); return l }, 5, "its prev was changed"},
		{"prev of the first line set", func(l [][]byte) [][]byte {
			l[0] = bytes.Replace(l[0], []byte(`"prev":""`), []byte(`"prev":"x"`), 1)
			return l
		}, 1, "the first line's prev"},
		{"middle line deleted", func(l [][]byte) [][]byte { return append(l[:2], l[3:]...) }, 3, "deleted"},
		{"first line deleted", func(l [][]byte) [][]byte { return l[1:] }, 1, "deleted"},
		{"last line deleted", func(l [][]byte) [][]byte { return l[:4] }, 5, "deleted"},
		{"lines swapped", func(l [][]byte) [][]byte { return swap(l, 1, 2) }, 2, "reordered"},
		{"line duplicated", func(l [][]byte) [][]byte {
			return append(l[:3], append([][]byte{l[2]}, l[3:]...)...)
		}, 3, "inserted"}, // either copy is the inserted one; the first is named
		{"not JSON", func(l [][]byte) [][]byte { l[3] = []byte("{oops"); return l }, 4, "not JSON"},
		{"whitespace added", func(l [][]byte) [][]byte { l[0] = append([]byte(" "), l[0]...); return l }, 1, "canonical"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir, need := fixture(t)
			path := threadFile(t, dir, need)
			text, _ := os.ReadFile(path)
			lines := bytes.Split(bytes.TrimSuffix(text, []byte("\n")), []byte("\n"))
			lines = c.edit(lines)
			out := append(bytes.Join(lines, []byte("\n")), '\n')
			if err := os.WriteFile(path, out, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := audit.Verify(dir)
			var te *audit.TamperError
			if !errors.As(err, &te) {
				t.Fatalf("want a TamperError, got %v", err)
			}
			if te.Thread != need || te.Line != c.wantLine || !strings.Contains(te.Problem, c.wantWord) {
				t.Fatalf("got %v; want thread %s line %d mentioning %q", te, need, c.wantLine, c.wantWord)
			}
		})
	}
}

// editPrev changes one hex digit of a line's prev.
func editPrev(t *testing.T, line []byte) []byte {
	t.Helper()
	i := bytes.Index(line, []byte(`"prev":"sha256:`))
	if i < 0 {
		t.Fatalf("no prev in %s", line)
	}
	i += len(`"prev":"sha256:`) + 10
	out := bytes.Clone(line)
	if out[i] == 'a' {
		out[i] = 'b'
	} else {
		out[i] = 'a'
	}
	return out
}

// An inserted line whose own chain link is right is still found: the next
// line's prev skips it.
func TestInsertedLineIsLocated(t *testing.T) {
	dir, need := fixture(t)
	path := threadFile(t, dir, need)
	text, _ := os.ReadFile(path)
	lines := bytes.Split(bytes.TrimSuffix(text, []byte("\n")), []byte("\n"))
	// Forge a line 3 that links correctly to line 2 and carries a valid envelope.
	forged, _ := envelope.Sign(envelope.Draft{ThreadID: need, Verb: envelope.VerbPropose, Lamport: 99}, key(9))
	rec := audit.Record{Seq: 3, Prev: audit.LineHash(lines[1]), Kind: "envelope", ReceivedLamport: 99, Envelope: forged.Wire(), Verdict: "accepted"}
	line := encodeRecord(t, rec)
	lines = append(lines[:2], append([][]byte{line}, lines[2:]...)...)
	os.WriteFile(path, append(bytes.Join(lines, []byte("\n")), '\n'), 0o644)
	_, err := audit.Verify(dir)
	var te *audit.TamperError
	if !errors.As(err, &te) || te.Line != 3 || !strings.Contains(te.Problem, "inserted") {
		t.Fatalf("got %v, want line 3 inserted", err)
	}
}

func TestTornLine(t *testing.T) {
	dir, need := fixture(t)
	path := threadFile(t, dir, need)
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"envelope":{"capab`)
	f.Close()
	_, err := audit.Verify(dir)
	var te *audit.TamperError
	if !errors.As(err, &te) || te.Line != 6 || !strings.Contains(te.Problem, "torn") {
		t.Fatalf("got %v, want line 6 torn", err)
	}
	// Opening the trail cuts the torn (never acknowledged) line off, and
	// appending goes on from line 5.
	if seq, warned := reopenAndAppend(t, dir, need); seq != 6 || len(warned) != 1 {
		t.Fatalf("seq %d, warnings %q", seq, warned)
	}
}

// reopenAndAppend opens the trail in dir, appends a YIELD to thread need,
// closes it and checks that it verifies; it returns the YIELD's seq and
// what opening the trail warned of.
func reopenAndAppend(t *testing.T, dir, need string) (uint64, []string) {
	t.Helper()
	var warned []string
	tr, err := audit.Open(dir, func(s string) { warned = append(warned, s) })
	if err != nil {
		t.Fatal(err)
	}
	p, _ := envelope.Sign(envelope.Draft{ThreadID: need, Verb: envelope.VerbYield, Lamport: 50}, key(3))
	rec, err := tr.AppendEnvelope(p, 50)
	if err != nil {
		t.Fatal(err)
	}
	tr.Close()
	if _, err := audit.Verify(dir); err != nil {
		t.Fatal(err)
	}
	return rec.Seq, warned
}

// Heads are not fsynced: a crash while one is replaced can leave it empty
// or torn. Verification reports such a head; opening the trail rebuilds it
// from the (fsynced) lines, says so, and appends on.
func TestDamagedHeadIsRebuiltOnOpen(t *testing.T) {
	for name, content := range map[string]string{"empty": "", "torn": `{"seq":5,"hash":"sha256:9a`} {
		t.Run(name, func(t *testing.T) {
			dir, need := fixture(t)
			headFile := strings.TrimSuffix(threadFile(t, dir, need), ".jsonl") + ".head"
			if err := os.WriteFile(headFile, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			var te *audit.TamperError
			if _, err := audit.Verify(dir); !errors.As(err, &te) || te.Thread != need {
				t.Fatalf("verify with a damaged head: %v, want a TamperError on %s", err, need)
			}
			if seq, warned := reopenAndAppend(t, dir, need); seq != 6 || len(warned) != 1 || !strings.Contains(warned[0], "rebuilding") {
				t.Fatalf("seq %d, warnings %q", seq, warned)
			}
		})
	}
}

func TestRejectedReasonMustBeTrue(t *testing.T) {
	dir := t.TempDir()
	tr, _ := audit.Open(dir, nil)
	// A valid envelope recorded as rejected for a stateless reason it passes.
	need, err := envelope.Sign(wellFormedNeed(), key(1))
	if err != nil {
		t.Fatal(err)
	}
	tr.AppendRejected(need.Wire(), envelope.CodeBadSignature, 1)
	tr.Close()
	_, err = audit.Verify(dir)
	var te *audit.TamperError
	if !errors.As(err, &te) || te.Line != 1 || !strings.Contains(te.Problem, "passes") {
		t.Fatalf("got %v", err)
	}
}

// wellFormedNeed is a NEED the rules find nothing wrong with, whatever the
// state (protocol.CheckStateless).
func wellFormedNeed() envelope.Draft {
	return envelope.Draft{Verb: envelope.VerbNeed, Lamport: 1, PolicyCapsuleHash: envelope.HashRef([]byte("capsule")),
		Payload: map[string]any{"capability": "classify", "k": 1, "n": 1, "input": []string{"a text"}}}
}

// A verb's rules can find an envelope malformed though it verifies (a NEED
// that names a thread, a payload without the fields its verb needs): the
// node records it rejected malformed, and verification takes that verdict
// as true of the text (it was not, until session 20: anyone could publish
// such an envelope and make every node's trail fail audit verify); it is
// still refused for an envelope the rules find nothing wrong with, and for
// one recorded with another stateless code.
func TestRejectedMalformedByTheVerbsRules(t *testing.T) {
	threaded := wellFormedNeed()
	threaded.ThreadID = envelope.HashRef([]byte("another NEED"))
	empty := wellFormedNeed()
	empty.Payload = map[string]any{}
	propose := envelope.Draft{Verb: envelope.VerbPropose, Lamport: 2, Payload: map[string]any{"epoch": 1}}
	for name, tc := range map[string]struct {
		d    envelope.Draft
		code envelope.Code
		ok   bool
	}{
		"NEED naming a thread, malformed":   {threaded, envelope.CodeMalformed, true},
		"NEED with an empty payload":        {empty, envelope.CodeMalformed, true},
		"PROPOSE naming no thread":          {propose, envelope.CodeMalformed, true},
		"NEED naming a thread, bad_sig":     {threaded, envelope.CodeBadSignature, false},
		"well-formed NEED, malformed":       {wellFormedNeed(), envelope.CodeMalformed, false},
		"NEED with an empty payload, stale": {empty, envelope.CodeStaleLamport, true},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			tr, err := audit.Open(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			e, err := envelope.Sign(tc.d, key(1))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tr.AppendRejected(e.Wire(), tc.code, 1); err != nil {
				t.Fatal(err)
			}
			tr.Close()
			_, err = audit.Verify(dir)
			if tc.ok && err != nil {
				t.Fatalf("recorded %s: %v", tc.code, err)
			}
			var te *audit.TamperError
			if !tc.ok && (!errors.As(err, &te) || te.Line != 1) {
				t.Fatalf("recorded %s: %v, want line 1 named", tc.code, err)
			}
		})
	}
}

func TestDeletedThreadAndHead(t *testing.T) {
	dir, need := fixture(t)
	os.Remove(threadFile(t, dir, need))
	_, err := audit.Verify(dir)
	var te *audit.TamperError
	if !errors.As(err, &te) || te.Thread != need || !strings.Contains(te.Problem, "missing") {
		t.Fatalf("got %v", err)
	}
	dir, need = fixture(t)
	os.Remove(strings.TrimSuffix(threadFile(t, dir, need), ".jsonl") + ".head")
	if _, err := audit.Verify(dir); !errors.As(err, &te) || !strings.Contains(te.Problem, "head") {
		t.Fatalf("got %v", err)
	}
}

func TestMerkleRoot(t *testing.T) {
	a := audit.ThreadHead{Thread: "t1", Seq: 1, Hash: envelope.HashRef([]byte("a"))}
	b := audit.ThreadHead{Thread: "t2", Seq: 2, Hash: envelope.HashRef([]byte("b"))}
	c := audit.ThreadHead{Thread: "t3", Seq: 3, Hash: envelope.HashRef([]byte("c"))}
	if audit.MerkleRoot([]audit.ThreadHead{a, b, c}) != audit.MerkleRoot([]audit.ThreadHead{c, a, b}) {
		t.Fatal("root depends on the order heads are given in")
	}
	seen := map[string]bool{}
	for _, hs := range [][]audit.ThreadHead{nil, {a}, {a, b}, {a, b, c}, {a, {Thread: "t2", Seq: 3, Hash: b.Hash}}} {
		r := audit.MerkleRoot(hs)
		if seen[r] {
			t.Fatalf("two different head sets share root %s", r)
		}
		seen[r] = true
	}
	// The empty tree is SHA-256 of nothing (RFC 6962).
	if got := audit.MerkleRoot(nil); got != envelope.HashRef(nil) {
		t.Fatalf("empty root %s", got)
	}
}

// Under group commit an append writes its line and leaves the fsync and
// the head to Commit: before it, the head lags (Verify says lines were
// appended after it); after it, and after Close, the trail verifies.
func TestGroupCommit(t *testing.T) {
	dir := t.TempDir()
	tr, err := audit.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	tr.SetGroupCommit(true)
	need, _ := envelope.Sign(envelope.Draft{Verb: envelope.VerbNeed, Lamport: 1}, key(1))
	if _, err := tr.AppendEnvelope(need, 1); err != nil {
		t.Fatal(err)
	}
	if err := tr.Commit(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		p, _ := envelope.Sign(envelope.Draft{ThreadID: need.ID, Verb: envelope.VerbHeartbeat, Lamport: uint64(i + 2)}, key(2))
		if _, err := tr.AppendEnvelope(p, uint64(i+2)); err != nil {
			t.Fatal(err)
		}
	}
	var te *audit.TamperError
	if _, err := audit.Verify(dir); !errors.As(err, &te) || te.Line != 2 || !strings.Contains(te.Problem, "appended after the head") {
		t.Fatalf("before Commit: %v", err)
	}
	if err := tr.Commit(); err != nil {
		t.Fatal(err)
	}
	if rep, err := audit.Verify(dir); err != nil || rep.Records != 4 {
		t.Fatalf("after Commit: %+v %v", rep, err)
	}
	p, _ := envelope.Sign(envelope.Draft{ThreadID: need.ID, Verb: envelope.VerbHeartbeat, Lamport: 9}, key(2))
	if _, err := tr.AppendEnvelope(p, 9); err != nil {
		t.Fatal(err)
	}
	tr.Close()
	if rep, err := audit.Verify(dir); err != nil || rep.Records != 5 {
		t.Fatalf("after Close: %+v %v", rep, err)
	}
}

// Every single-line edit of every line, of each kind, names that line:
// a deletion, a swap with the next line, a changed seq, prev or
// received_lamport, and a changed byte in the middle of the line.
func TestEverySingleLineEditNamesItsLine(t *testing.T) {
	bump := func(line []byte, field string) []byte {
		i := bytes.Index(line, []byte(`"`+field+`":`))
		if i < 0 {
			t.Fatalf("no %s in %s", field, line)
		}
		out := bytes.Clone(line)
		i += len(field) + 3
		if out[i] == '9' {
			out[i] = '8'
		} else {
			out[i]++
		}
		return out
	}
	edits := map[string]func(l [][]byte, i int) ([][]byte, bool){
		"deleted": func(l [][]byte, i int) ([][]byte, bool) { return append(l[:i:i], l[i+1:]...), true },
		"swapped with the next": func(l [][]byte, i int) ([][]byte, bool) {
			if i+1 == len(l) {
				return nil, false
			}
			l[i], l[i+1] = l[i+1], l[i]
			return l, true
		},
		"seq changed":              func(l [][]byte, i int) ([][]byte, bool) { l[i] = bump(l[i], "seq"); return l, true },
		"received_lamport changed": func(l [][]byte, i int) ([][]byte, bool) { l[i] = bump(l[i], "received_lamport"); return l, true },
		"prev changed": func(l [][]byte, i int) ([][]byte, bool) {
			if i == 0 { // the first line's prev is empty
				return nil, false
			}
			l[i] = editPrev(t, l[i])
			return l, true
		},
		"a middle byte changed": func(l [][]byte, i int) ([][]byte, bool) {
			out := bytes.Clone(l[i])
			j := len(out) / 2
			for j < len(out) && !(out[j] >= '0' && out[j] <= '8' || out[j] >= 'a' && out[j] <= 'y') {
				j++
			}
			if j == len(out) {
				return nil, false
			}
			out[j]++
			l[i] = out
			return l, true
		},
	}
	dir0, need := fixture(t)
	path0 := threadFile(t, dir0, need)
	text0, _ := os.ReadFile(path0)
	n := len(bytes.Split(bytes.TrimSuffix(text0, []byte("\n")), []byte("\n")))
	for name, edit := range edits {
		for i := 0; i < n; i++ {
			dir, _ := fixture(t)
			path := threadFile(t, dir, need)
			text, _ := os.ReadFile(path)
			lines, ok := edit(bytes.Split(bytes.TrimSuffix(text, []byte("\n")), []byte("\n")), i)
			if !ok {
				continue
			}
			if err := os.WriteFile(path, append(bytes.Join(lines, []byte("\n")), '\n'), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := audit.Verify(dir)
			var te *audit.TamperError
			if !errors.As(err, &te) || te.Thread != need || te.Line != uint64(i+1) {
				t.Errorf("line %d of %d %s: got %v, want a tamper named at line %d", i+1, n, name, err, i+1)
			}
		}
	}
}

// A crash can leave a new thread's file with no whole line: made, and its
// first line torn or never written. Recovering the trail removes it (it
// holds nothing committed), so that Root (every CHECKPOINT) and Verify do
// not fail on a thread file without a head, and the thread can be written
// again.
func TestRecoverDropsAThreadWithNoWholeLine(t *testing.T) {
	for name, content := range map[string]string{
		"torn first line": `{"envelope":"x`,
		"empty file":      "",
	} {
		t.Run(name, func(t *testing.T) {
			dir, _ := fixture(t)
			need, _ := envelope.Sign(envelope.Draft{Verb: envelope.VerbNeed, Lamport: 50, Payload: map[string]any{"capability": "y"}}, key(9))
			file, _ := audit.FileName(need.ID)
			path := filepath.Join(dir, file)
			os.WriteFile(path, []byte(content), 0o644)
			if content == "" { // and a head a crash left damaged, rebuilt as seq 0
				os.WriteFile(strings.TrimSuffix(path, ".jsonl")+".head", []byte(`{"seq":0,"hash":""}`), 0o644)
			}
			tr, err := audit.Open(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Close()
			if err := tr.RecoverThreads(); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("the thread file with no whole line is still there (%v)", err)
			}
			heads, err := audit.Heads(dir)
			if err != nil {
				t.Fatal(err)
			}
			root, err := tr.Root()
			if err != nil || root != audit.MerkleRoot(heads) {
				t.Fatalf("root %s (%v), the heads on disk give %s", root, err, audit.MerkleRoot(heads))
			}
			if _, err := audit.Verify(dir); err != nil {
				t.Fatalf("verify after recovery: %v", err)
			}
			if _, err := tr.AppendEnvelope(need, 50); err != nil {
				t.Fatalf("append to the dropped thread: %v", err)
			}
			if _, err := audit.Verify(dir); err != nil {
				t.Fatalf("verify after writing the thread again: %v", err)
			}
			if heads, _ := audit.Heads(dir); root == audit.MerkleRoot(heads) {
				t.Fatal("the root did not change with the thread written again")
			}
		})
	}
}
