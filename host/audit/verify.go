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
	"sort"
	"sync/atomic"

	"github.com/gowebpki/jcs"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/protocol"
	"github.com/canswarm/swarmhost/internal/parallel"
	"github.com/canswarm/swarmhost/internal/rawfile"
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
// It holds a thread at a time per core, and a long thread's file a window
// of lines at a time: a trail of any length verifies in bounded memory.
func Verify(dir string) (*Report, error) {
	threads, err := Threads(dir)
	if err != nil {
		return nil, err
	}
	heads := make([]ThreadHead, len(threads))
	errs := make([]error, len(threads))
	parallel.ForLong(len(threads), func(i int) { heads[i], errs[i] = verifyThread(dir, threads[i]) })
	return report(dir, threads, heads, errs)
}

// report sums up verified threads, or returns the first thread's error in
// thread order (as a walk of the threads one by one would find).
func report(dir string, threads []string, heads []ThreadHead, errs []error) (*Report, error) {
	rep := &Report{Heads: make([]ThreadHead, 0, len(heads))}
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

// Line is one line of a thread as Read returned it.
type Line struct {
	Hash   string  // the line's hash: what the next line names as prev
	Record *Record // the decoded record
	// Checked says the record was checked against its envelope (what
	// VerifyThread does for every line); then Env is an accepted envelope
	// line's envelope, verified, and Err a rejected text's verification
	// error (nil when it verifies and was rejected for a stateful reason).
	// Before that, Env may hold an accepted line's envelope decoded from
	// its text (sharing its memory) and not yet checked: Read leaves it
	// there for the lines its check passes over, and checking it later
	// (StartCheck), or decoding it for the core (host.TrailFromLines),
	// spares decoding the text again.
	Checked bool
	Env     *envelope.Envelope
	Err     error
}

// Read is Verify that also returns every thread's lines, decoded. check,
// when not nil, chooses the lines whose record is checked against its
// envelope (signatures above all); the others are decoded and chained
// only: a caller that trusts them by other means (a signed checkpoint)
// checks the rest later with CheckLines. nil checks every line.
func Read(dir string, check func(thread string, seq uint64, rec *Record) bool) (*Report, map[string][]Line, error) {
	return ReadWithin(dir, check, -1)
}

// ErrTrailTooLarge is ReadWithin's answer for a trail larger than it may
// hold.
var ErrTrailTooLarge = errors.New("audit: the trail is larger than it may be read whole")

// ReadWithin is Read that reads at most maxBytes of thread files
// (negative: no bound): a file that would take it past the bound is not
// read, and it returns ErrTrailTooLarge, before any broken line it found
// (the caller then verifies the trail otherwise: Verify holds a bounded
// part of it). It costs no more than Read: the size comes from the stat
// the read makes anyway.
func ReadWithin(dir string, check func(thread string, seq uint64, rec *Record) bool, maxBytes int64) (*Report, map[string][]Line, error) {
	threads, err := Threads(dir)
	if err != nil {
		return nil, nil, err
	}
	var budget *byteBudget
	if maxBytes >= 0 {
		budget = &byteBudget{max: maxBytes}
	}
	// Threads are independent: check them in parallel, then report the
	// first broken one in thread order, as a sequential walk would.
	heads := make([]ThreadHead, len(threads))
	lines := make([][]Line, len(threads))
	errs := make([]error, len(threads))
	parallel.ForLong(len(threads), func(i int) {
		var c func(uint64, *Record) bool
		if check != nil {
			c = func(seq uint64, rec *Record) bool { return check(threads[i], seq, rec) }
		}
		lines[i], heads[i], errs[i] = readThread(dir, threads[i], c, budget)
	})
	for _, err := range errs {
		if errors.Is(err, ErrTrailTooLarge) {
			return nil, nil, err
		}
	}
	rep, err := report(dir, threads, heads, errs)
	if err != nil {
		return nil, nil, err
	}
	out := make(map[string][]Line, len(threads))
	for i, th := range threads {
		out[th] = lines[i]
	}
	return rep, out, nil
}

// byteBudget is how much of a trail's files ReadWithin may hold.
type byteBudget struct {
	max  int64
	used atomic.Int64
}

// take counts a file of n bytes about to be read; false once the budget
// is spent (then and for every later call).
func (b *byteBudget) take(n int64) bool {
	return b == nil || b.used.Add(n) <= b.max
}

// CheckAll is CheckLines over every thread at once (lines as Read returned
// them), the lines of all threads checked in parallel; the error is the
// first failing line of the first failing thread, in thread order.
func CheckAll(lines map[string][]Line, check func(thread string, seq uint64, rec *Record) bool) error {
	c := StartCheck(lines, check, runtime.GOMAXPROCS(0)-1)
	c.Help()
	return c.Wait()
}

// Checking is a CheckAll under way: StartCheck begins it on some
// goroutines and returns; Help lends the caller's goroutine to it.
type Checking struct {
	work    *parallel.Work
	errs    []error
	results []checked
}

// StartCheck begins CheckAll's work on workers goroutines and returns at
// once. Until Wait returns the lines may be read but not changed; Wait
// records the checks in them (Checked, Env, Err). A caller with serial
// work of its own (the replayer decodes and steps its inputs meanwhile)
// starts it on one goroutine fewer than the cores and calls Help when
// done.
func StartCheck(lines map[string][]Line, check func(thread string, seq uint64, rec *Record) bool, workers int) *Checking {
	type ref struct {
		thread string
		i      int
	}
	threads := make([]string, 0, len(lines))
	n := 0
	for th, ls := range lines {
		threads = append(threads, th)
		n += len(ls)
	}
	all := make([]ref, 0, n)
	sort.Strings(threads)
	for _, th := range threads {
		for i := range lines[th] {
			all = append(all, ref{th, i})
		}
	}
	c := &Checking{errs: make([]error, len(all)), results: make([]checked, len(all))}
	c.work = parallel.StartEach(len(all), workers, func(k int) {
		th, i := all[k].thread, all[k].i
		l := &lines[th][i]
		if l.Checked || (check != nil && !check(th, uint64(i+1), l.Record)) {
			return
		}
		res := &c.results[k]
		var err error
		res.env, res.err, err = checkRecord(l.Record, th, l.Env)
		if err != nil {
			c.errs[k] = &TamperError{Thread: th, Line: uint64(i + 1), Problem: err.Error()}
			return
		}
		res.line = l
	})
	return c
}

// checked is one line's check, kept by the Checking until Wait writes it
// into the line: until then the caller may read the lines beside it.
type checked struct {
	line *Line // nil: not checked, or it failed
	env  *envelope.Envelope
	err  error
}

// Help checks lines on the calling goroutine until none is left unbegun.
func (c *Checking) Help() { c.work.Help() }

// Wait returns CheckAll's result once every line is checked. If StartCheck
// began no goroutine, Help must have been called.
func (c *Checking) Wait() error {
	c.work.Wait()
	for _, res := range c.results {
		if res.line != nil {
			res.line.Env, res.line.Err, res.line.Checked = res.env, res.err, true
		}
	}
	for _, err := range c.errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// CheckLines checks, in parallel, the records of a thread's lines that
// check chooses (nil: every line not yet checked), as VerifyThread would,
// and returns the first that fails as a *TamperError.
func CheckLines(thread string, lines []Line, check func(seq uint64, rec *Record) bool) error {
	errs := make([]error, len(lines))
	parallel.For(len(lines), func(i int) {
		l := &lines[i]
		if l.Checked || (check != nil && !check(uint64(i+1), l.Record)) {
			return
		}
		l.Env, l.Err, errs[i] = checkRecord(l.Record, thread, l.Env)
		l.Checked = errs[i] == nil
	})
	for i, err := range errs {
		if err != nil {
			return &TamperError{Thread: thread, Line: uint64(i + 1), Problem: err.Error()}
		}
	}
	return nil
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

// VerifyThread checks one thread's chain, every record in it, and its
// head, holding a window of a long thread's lines at a time.
func VerifyThread(dir, thread string) (ThreadHead, error) { return verifyThread(dir, thread) }

// ReadThread is VerifyThread that returns the lines too; check, when not
// nil, chooses the lines whose record is checked (see Read).
func ReadThread(dir, thread string, check func(seq uint64, rec *Record) bool) ([]Line, ThreadHead, error) {
	return readThread(dir, thread, check, nil)
}

// readThread is ReadThread that takes the file's size from budget first
// (nil: no bound), and answers ErrTrailTooLarge when it is spent.
func readThread(dir, thread string, check func(seq uint64, rec *Record) bool, budget *byteBudget) ([]Line, ThreadHead, error) {
	fileName, err := FileName(thread)
	if err != nil {
		return nil, ThreadHead{}, err
	}
	// The budget is taken from the file's size before it is read: a file
	// larger than what is left is not read at all.
	var admit func(int64) error
	if budget != nil {
		admit = func(size int64) error {
			if !budget.take(size) {
				return ErrTrailTooLarge
			}
			return nil
		}
	}
	text, err := rawfile.ReadFileIf(filepath.Join(dir, fileName), admit)
	if errors.Is(err, ErrTrailTooLarge) {
		return nil, ThreadHead{}, err
	}
	if err != nil {
		return nil, ThreadHead{}, fmt.Errorf("verify audit thread %s: %w", thread, err)
	}
	bad := func(line uint64, format string, args ...any) error {
		return &TamperError{Thread: thread, Line: line, Problem: fmt.Sprintf(format, args...)}
	}
	raw := splitLines(text)
	if len(text) > 0 && text[len(text)-1] != '\n' {
		return nil, ThreadHead{}, bad(uint64(len(raw)), "torn: the last line has no newline (a write cut short, or the file was truncated)")
	}
	lines := make([]Line, len(raw))
	decodeErrs := make([]error, len(raw))
	checkErrs := make([]error, len(raw))
	// Hashing, decoding and checking each record (its signature above all)
	// are independent per line: done in parallel; the chain is then walked
	// in order, so the first broken line is the one reported.
	parallel.For(len(raw), func(i int) {
		decodeErrs[i], checkErrs[i] = readLine(&lines[i], raw[i], thread, uint64(i+1), check)
	})
	for i := range lines {
		if err := walkLine(dir, thread, lines, i, uint64(i+1), decodeErrs[i], checkErrs[i]); err != nil {
			return nil, ThreadHead{}, err
		}
	}
	last := ThreadHead{Thread: thread, Seq: uint64(len(lines))}
	if len(lines) > 0 {
		last.Hash = lines[len(lines)-1].Hash
	}
	if err := checkHead(dir, last); err != nil {
		return nil, ThreadHead{}, err
	}
	return lines, last, nil
}

// readLine hashes, decodes and (when check chooses it, or check is nil)
// checks line n of a thread, raw, into l: what a walk of the chain then
// reports of it.
func readLine(l *Line, raw []byte, thread string, n uint64, check func(seq uint64, rec *Record) bool) (decodeErr, checkErr error) {
	l.Hash = LineHash(raw)
	if l.Record, decodeErr = decodeLine(raw); decodeErr != nil {
		return decodeErr, nil
	}
	if check == nil || check(n, l.Record) {
		l.Env, l.Err, checkErr = checkRecord(l.Record, thread, nil)
		l.Checked = checkErr == nil
	} else if l.Record.Kind == KindEnvelope && l.Record.Verdict == Accepted {
		// Decoded once, here, sharing the text: the check to come
		// (StartCheck) and the caller's own decoding use it. A text
		// that does not decode is left to them, to say why.
		l.Env, _ = envelope.DecodeShared(l.Record.Envelope)
	}
	return nil, checkErr
}

// walkLine checks line n of a thread, lines[i], against the lines around
// it: its link to the line before (lines[i-1], and lines[i-2] to tell an
// insertion, which a caller holding part of the thread keeps), what
// follows it (lines[i+1], or the head when lines[i] is the file's last
// line), then its decoding and its record's check (decodeErr, checkErr).
// The first problem is returned as a *TamperError naming the line an
// edit changed.
func walkLine(dir, thread string, lines []Line, i int, n uint64, decodeErr, checkErr error) error {
	bad := func(line uint64, format string, args ...any) error {
		return &TamperError{Thread: thread, Line: line, Problem: fmt.Sprintf(format, args...)}
	}
	rec := lines[i].Record
	if decodeErr != nil {
		return bad(n, "%v (edited?)", decodeErr)
	}
	wantPrev := ""
	if n > 1 {
		wantPrev = lines[i-1].Hash
	}
	switch {
	case rec.Seq == n && rec.Prev == wantPrev:
	case n >= 2 && rec.Prev == hashBefore(lines, i-1, n-1) && rec.Seq == n-1:
		return bad(n-1, "inserted: line %d's prev skips it", n)
	case rec.Seq != n:
		return bad(n, "seq is %d, expected %d: a line before it was deleted, or lines were reordered", rec.Seq, n)
	case n == 1:
		return bad(n, "edited: the first line's prev is %q, and must be empty", rec.Prev)
	case nextLinkBroken(dir, thread, lines, i, n):
		// Line n's own hash no longer matches what comes after it
		// either: one edit of line n's prev breaks both its links
		// (an edit of its other fields, only the link after it).
		// Two edits, of lines n-1 and n, look the same: line n is
		// named, an edited line too.
		return bad(n, "edited: the chain breaks on both sides of this line (its prev was changed, or this line and the one before it were)")
	default:
		return bad(n-1, "edited: its hash no longer matches the prev recorded on line %d", n)
	}
	if checkErr != nil {
		return bad(n, "%v", checkErr)
	}
	return nil
}

// checkHead compares a thread's head file with its last line (last.Seq
// lines, the last hashing to last.Hash).
func checkHead(dir string, last ThreadHead) error {
	bad := func(line uint64, format string, args ...any) error {
		return &TamperError{Thread: last.Thread, Line: line, Problem: fmt.Sprintf(format, args...)}
	}
	h, err := readHead(dir, last.Thread)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return bad(0, "the head file is missing")
	case err != nil:
		return bad(0, "%v", err)
	case h.Seq > last.Seq:
		return bad(last.Seq+1, "missing: the head records %d lines, the file ends after line %d (deleted)", h.Seq, last.Seq)
	case h.Seq < last.Seq:
		return bad(h.Seq+1, "appended after the head (line %d onwards are not in the head; inserted, or a crash not yet recovered by opening the trail)", h.Seq+1)
	case h.Hash != last.Hash:
		return bad(last.Seq, "edited: its hash does not match the head")
	}
	return nil
}

// nextLinkBroken reports whether line n's hash (lines[i]) fails what
// follows it: the prev of line n+1, or the head when line n is the last.
// A line that does not decode, or a head that does not read, says
// nothing.
func nextLinkBroken(dir, thread string, lines []Line, i int, n uint64) bool {
	if i+1 < len(lines) {
		next := lines[i+1].Record
		return next != nil && next.Seq == n+1 && next.Prev != lines[i].Hash
	}
	h, err := readHead(dir, thread)
	return err == nil && h.Seq == n && h.Hash != lines[i].Hash
}

// hashBefore is the prev line n (lines[i]) must name: "" for line 1.
func hashBefore(lines []Line, i int, n uint64) string {
	if n <= 1 {
		return ""
	}
	return lines[i-1].Hash
}

var recordFields = []string{"envelope", "kind", "prev", "reason", "received_lamport", "seq", "verdict"}

// ParseLine parses one trail line (without its newline) strictly: canonical
// JCS, exactly the record's fields, each of its type.
func ParseLine(line []byte) (*Record, error) { return decodeLine(line) }

// CheckRecord checks that a record says something true of its envelope on
// the given thread (see VerifyThread).
func CheckRecord(rec *Record, thread string) error {
	_, _, err := checkRecord(rec, thread, nil)
	return err
}

func decodeLine(line []byte) (*Record, error) {
	if rec, ok := decodeCanonicalLine(line); ok {
		return rec, nil
	}
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

// decodeCanonicalLine is decodeLine's fast path, for a line that is
// canonical, has exactly the record's fields, and whose strings have no
// escapes and numbers are plain integers (every line a trail writes): one
// scan, no generic JSON decoding. ok false leaves the line to the slow
// path, which says what is wrong with it.
func decodeCanonicalLine(line []byte) (*Record, bool) {
	var v [7][]byte // recordFields' values
	if !envelope.ScanCanonicalObject(line, recordFields, v[:]) {
		return nil, false
	}
	kind, ok1 := plainString(v[1])
	prev, ok2 := plainString(v[2])
	reason, ok3 := plainString(v[3])
	verdict, ok4 := plainString(v[6])
	lamport, ok5 := plainUint(v[4])
	seq, ok6 := plainUint(v[5])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) {
		return nil, false
	}
	return &Record{Seq: seq, Prev: prev, Kind: kind, ReceivedLamport: lamport,
		Envelope: json.RawMessage(v[0]), Verdict: verdict, Reason: reason}, true
}

// plainString is a JSON string without escapes, unquoted.
func plainString(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || bytes.IndexByte(raw, '\\') >= 0 {
		return "", false
	}
	return string(raw[1 : len(raw)-1]), true
}

// plainUint is a canonical JSON number that is a non-negative integer
// below 2^53 (what JCS writes as digits alone).
func plainUint(raw []byte) (uint64, bool) {
	if len(raw) == 0 || len(raw) > 16 {
		return 0, false
	}
	var n uint64
	for _, c := range raw {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, n < 1<<53
}

// checkRecord checks that a record says something true of its envelope: an
// accepted envelope still verifies and belongs to the thread; a rejected
// text still fails the way its reason says.
func checkRecord(rec *Record, thread string, decoded *envelope.Envelope) (env *envelope.Envelope, envErr error, err error) {
	switch rec.Verdict {
	case Accepted:
		if rec.Reason != "" {
			return nil, nil, fmt.Errorf("accepted with a reason (%q)", rec.Reason)
		}
	case Rejected:
		if !envelope.Code(rec.Reason).Valid() {
			return nil, nil, fmt.Errorf("rejected with reason %q, which is not a protocol code", rec.Reason)
		}
	default:
		return nil, nil, fmt.Errorf("verdict %q is neither accepted nor rejected", rec.Verdict)
	}
	if rec.Kind != KindEnvelope {
		return nil, nil, nil
	}
	if rec.Verdict == Accepted {
		e, err := decoded, error(nil)
		if e != nil {
			err = e.Check()
		} else {
			e, err = envelope.Verify(rec.Envelope)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("the accepted envelope no longer verifies: %v", err)
		}
		if got := ThreadOf(e); got != thread {
			return nil, nil, fmt.Errorf("the envelope belongs to thread %s, not this one", got)
		}
		return e, nil, nil
	}
	raw, err := DecodeRawText(rec.Envelope)
	if err != nil {
		return nil, nil, err
	}
	if got := ThreadOfRaw(raw); got != thread {
		return nil, nil, fmt.Errorf("the rejected text names thread %s, not this one", got)
	}
	e, verr := envelope.Verify(raw)
	code := envelope.CodeOf(verr)
	stateless := isStatelessCode(envelope.Code(rec.Reason))
	if code == "" && stateless && e != nil {
		// An envelope that verifies may still fail its verb's rules
		// whatever the state: a thread_id or payload the verb does not
		// take (malformed), a verb the rules do not handle. That verdict
		// holds if the rules give it; they are not asked to contradict
		// the others (replay steps them).
		if rerr := protocol.CheckStateless(e); rerr != nil && rerr.Code == envelope.Code(rec.Reason) {
			return e, verr, nil
		}
	}
	switch {
	case code != "" && code != envelope.Code(rec.Reason):
		return nil, nil, fmt.Errorf("recorded as %s, but the text fails with %s", rec.Reason, code)
	case code == "" && stateless:
		return nil, nil, fmt.Errorf("recorded as %s, but the text passes that check (the envelope's, and its verb's rules)", rec.Reason)
	}
	return e, verr, nil
}

func isStatelessCode(c envelope.Code) bool {
	for _, k := range envelope.Codes[:7] {
		if k == c {
			return true
		}
	}
	return false
}
