package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/gowebpki/jcs"

	"github.com/canswarm/swarmhost/abi/envelope"
)

// TamperError locates the first broken line of a trail. Line 0 means the
// thread as a whole (a missing file or head).
type TamperError struct {
	Thread  string
	Line    uint64
	Problem string
}

func (e *TamperError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("thread %s: %s", e.Thread, e.Problem)
	}
	return fmt.Sprintf("thread %s line %d: %s", e.Thread, e.Line, e.Problem)
}

// Report sums up a verified trail.
type Report struct {
	Threads int
	Records uint64
	Heads   []ThreadHead
	Root    string // Merkle root over Heads
}

// Verify checks every thread of the trail in dir, in thread order, and
// returns the report or the first broken line as a *TamperError (other
// errors are I/O).
func Verify(dir string) (*Report, error) {
	threads, err := Threads(dir)
	if err != nil {
		return nil, err
	}
	// Threads are independent: check them in parallel, then report the
	// first broken one in thread order, as a sequential walk would.
	heads := make([]ThreadHead, len(threads))
	errs := make([]error, len(threads))
	parallel(len(threads), func(i int) { heads[i], errs[i] = VerifyThread(dir, threads[i]) })
	rep := &Report{}
	for i, h := range heads {
		if errs[i] != nil {
			return nil, errs[i]
		}
		rep.Threads++
		rep.Records += h.Seq
		rep.Heads = append(rep.Heads, h)
	}
	if err := orphanHeads(dir, threads); err != nil {
		return nil, err
	}
	rep.Root = MerkleRoot(rep.Heads)
	return rep, nil
}

// orphanHeads finds head files whose trail file is gone: a deleted thread.
func orphanHeads(dir string, threads []string) error {
	have := map[string]bool{}
	for _, th := range threads {
		have[th] = true
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		base, ok := cutSuffix(e.Name(), ".head")
		if !ok {
			continue
		}
		if th, ok := threadOfFile(base + ".jsonl"); ok && !have[th] {
			return &TamperError{Thread: th, Problem: "the trail file is missing but its head records lines (thread deleted)"}
		}
	}
	return nil
}

func cutSuffix(s, suffix string) (string, bool) {
	if len(s) >= len(suffix) && s[len(s)-len(suffix):] == suffix {
		return s[:len(s)-len(suffix)], true
	}
	return s, false
}

// VerifyThread checks one thread's chain, every record in it, and its head.
func VerifyThread(dir, thread string) (ThreadHead, error) {
	fileName, err := FileName(thread)
	if err != nil {
		return ThreadHead{}, err
	}
	text, err := os.ReadFile(filepath.Join(dir, fileName))
	if err != nil {
		return ThreadHead{}, fmt.Errorf("verify audit thread %s: %w", thread, err)
	}
	bad := func(line uint64, format string, args ...any) error {
		return &TamperError{Thread: thread, Line: line, Problem: fmt.Sprintf(format, args...)}
	}
	lines := splitLines(text)
	if len(text) > 0 && text[len(text)-1] != '\n' {
		return ThreadHead{}, bad(uint64(len(lines)), "torn: the last line has no newline (a write cut short, or the file was truncated)")
	}
	hashes := make([]string, len(lines))
	recs := make([]*Record, len(lines))
	decodeErrs := make([]error, len(lines))
	checkErrs := make([]error, len(lines))
	// Hashing, decoding and checking each record (its signature above all)
	// are independent per line: done in parallel; the chain is then walked
	// in order, so the first broken line is the one reported.
	parallel(len(lines), func(i int) {
		hashes[i] = LineHash(lines[i])
		if recs[i], decodeErrs[i] = decodeLine(lines[i]); decodeErrs[i] == nil {
			checkErrs[i] = checkRecord(recs[i], thread)
		}
	})
	for i := range lines {
		n := uint64(i + 1)
		rec, err := recs[i], decodeErrs[i]
		if err != nil {
			return ThreadHead{}, bad(n, "%v (edited?)", err)
		}
		wantPrev := ""
		if i > 0 {
			wantPrev = hashes[i-1]
		}
		switch {
		case rec.Seq == n && rec.Prev == wantPrev:
		case i >= 1 && rec.Prev == prevOf(hashes, i-1) && rec.Seq == n-1:
			return ThreadHead{}, bad(n-1, "inserted: line %d's prev skips it", n)
		case rec.Seq != n:
			return ThreadHead{}, bad(n, "seq is %d, expected %d: a line before it was deleted, or lines were reordered", rec.Seq, n)
		default:
			return ThreadHead{}, bad(n-1, "edited: its hash no longer matches the prev recorded on line %d", n)
		}
		if err := checkErrs[i]; err != nil {
			return ThreadHead{}, bad(n, "%v", err)
		}
	}
	last := ThreadHead{Thread: thread, Seq: uint64(len(lines))}
	if len(lines) > 0 {
		last.Hash = hashes[len(hashes)-1]
	}
	h, err := readHead(dir, thread)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return ThreadHead{}, bad(0, "the head file is missing")
	case err != nil:
		return ThreadHead{}, bad(0, "%v", err)
	case h.Seq > last.Seq:
		return ThreadHead{}, bad(last.Seq+1, "missing: the head records %d lines, the file ends after line %d (deleted)", h.Seq, last.Seq)
	case h.Seq < last.Seq:
		return ThreadHead{}, bad(h.Seq+1, "appended after the head (line %d onwards are not in the head; inserted, or a crash not yet recovered by opening the trail)", h.Seq+1)
	case h.Hash != last.Hash:
		return ThreadHead{}, bad(last.Seq, "edited: its hash does not match the head")
	}
	return last, nil
}

func prevOf(hashes []string, i int) string {
	if i == 0 {
		return ""
	}
	return hashes[i-1]
}

var recordFields = []string{"envelope", "kind", "prev", "reason", "received_lamport", "seq", "verdict"}

// ParseLine parses one trail line (without its newline) strictly: canonical
// JCS, exactly the record's fields, each of its type.
func ParseLine(line []byte) (*Record, error) { return decodeLine(line) }

// CheckRecord checks that a record says something true of its envelope on
// the given thread (see VerifyThread).
func CheckRecord(rec *Record, thread string) error { return checkRecord(rec, thread) }

func decodeLine(line []byte) (*Record, error) {
	if !envelope.IsCanonical(line) {
		// The slow path only to say precisely what is wrong.
		canon, err := jcs.Transform(line)
		if err != nil {
			return nil, fmt.Errorf("not JSON: %v", err)
		}
		if !bytes.Equal(canon, line) {
			return nil, errors.New("not in canonical (JCS) form")
		}
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(line, &members); err != nil {
		return nil, fmt.Errorf("not a record object: %v", err)
	}
	if len(members) != len(recordFields) {
		return nil, fmt.Errorf("has %d fields, a record has %v", len(members), recordFields)
	}
	for _, f := range recordFields {
		if _, ok := members[f]; !ok {
			return nil, fmt.Errorf("field %s is missing", f)
		}
	}
	var rec Record
	if err := json.Unmarshal(line, &rec); err != nil {
		return nil, fmt.Errorf("record fields have the wrong types: %v", err)
	}
	return &rec, nil
}

// checkRecord checks that a record says something true of its envelope: an
// accepted envelope still verifies and belongs to the thread; a rejected
// text still fails the way its reason says.
func checkRecord(rec *Record, thread string) error {
	switch rec.Verdict {
	case Accepted:
		if rec.Reason != "" {
			return fmt.Errorf("accepted with a reason (%q)", rec.Reason)
		}
	case Rejected:
		if !envelope.Code(rec.Reason).Valid() {
			return fmt.Errorf("rejected with reason %q, which is not a protocol code", rec.Reason)
		}
	default:
		return fmt.Errorf("verdict %q is neither accepted nor rejected", rec.Verdict)
	}
	if rec.Kind != KindEnvelope {
		return nil
	}
	if rec.Verdict == Accepted {
		e, err := envelope.Verify(rec.Envelope)
		if err != nil {
			return fmt.Errorf("the accepted envelope no longer verifies: %v", err)
		}
		if got := ThreadOf(e); got != thread {
			return fmt.Errorf("the envelope belongs to thread %s, not this one", got)
		}
		return nil
	}
	raw, err := DecodeRawText(rec.Envelope)
	if err != nil {
		return err
	}
	if got := ThreadOfRaw(raw); got != thread {
		return fmt.Errorf("the rejected text names thread %s, not this one", got)
	}
	code := envelope.CodeOf(verifyErr(raw))
	stateless := isStatelessCode(envelope.Code(rec.Reason))
	switch {
	case code != "" && code != envelope.Code(rec.Reason):
		return fmt.Errorf("recorded as %s, but the text fails with %s", rec.Reason, code)
	case code == "" && stateless:
		return fmt.Errorf("recorded as %s, but the text passes that check", rec.Reason)
	}
	return nil
}

func verifyErr(raw []byte) error {
	_, err := envelope.Verify(raw)
	return err
}

func isStatelessCode(c envelope.Code) bool {
	for _, k := range envelope.Codes[:7] {
		if k == c {
			return true
		}
	}
	return false
}

// parallel runs f(0..n-1) on GOMAXPROCS goroutines, in chunks.
func parallel(n int, f func(i int)) {
	workers := runtime.GOMAXPROCS(0)
	if n < 64 || workers == 1 {
		for i := 0; i < n; i++ {
			f(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				start := int(next.Add(32)) - 32
				if start >= n {
					return
				}
				for i := start; i < min(start+32, n); i++ {
					f(i)
				}
			}
		}()
	}
	wg.Wait()
}
