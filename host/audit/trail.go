package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/internal/atomicfile"
	"github.com/canswarm/swarmhost/internal/rawfile"
)

// ErrDuplicate is returned by AppendEnvelope for an envelope already
// accepted on its thread: acknowledge it again, record nothing.
var ErrDuplicate = errors.New("duplicate envelope")

// Trail is an open audit folder. It is safe for concurrent use.
type Trail struct {
	dir  string
	warn func(string)

	mu      sync.Mutex
	threads map[string]*threadLog // the open ones: at most maxOpen
	maxOpen int
	uses    uint64                // counts thread lookups, for least recently used
	opens   uint64                // counts thread files opened (read back), for tests
	fault   atomic.Pointer[error] // FailWrites
	// pinned threads are never closed to bound the open files (Pin).
	pinned map[string]bool

	// group: appends write their lines and leave making them durable to
	// Commit (SetGroupCommit); dirty are the threads written since.
	group   atomic.Bool
	dirtyMu sync.Mutex
	dirty   map[*threadLog]struct{}
	failed  error // a commit that failed while closing a thread, for the next Commit

	// index holds every thread's head for Root: the heads this trail
	// wrote, and (once indexLoaded: by RecoverThreads or the first Root)
	// those on disk before.
	indexMu     sync.Mutex
	index       HeadIndex
	indexLoaded bool
}

// SetGroupCommit switches group commit on or off. With it on, Append
// writes its line but neither fsyncs it nor updates the thread's head:
// Commit does both, once per thread written since, for every line before
// it. A writer that commits before any effect of its lines leaves (the
// node: before it acknowledges, publishes or runs anything a line records)
// keeps the guarantee of a durable line per effect, and pays two fsyncs per
// thread per batch instead of two per line. Lines not yet committed may be
// lost in a crash, tail first per thread; opening the trail recovers.
func (t *Trail) SetGroupCommit(on bool) { t.group.Store(on) }

// Commit makes every line appended so far durable and brings the heads up
// to date. Without group commit there is nothing to do.
func (t *Trail) Commit() error {
	t.dirtyMu.Lock()
	dirty, failed := t.dirty, t.failed
	t.dirty, t.failed = nil, nil
	t.dirtyMu.Unlock()
	// Threads are committed side by side: their fsyncs are independent, and
	// the file system makes concurrent ones durable together (one journal
	// commit for many files), where one after another each waits out the
	// disk.
	var (
		mu   sync.Mutex
		errs = []error{failed}
		wg   sync.WaitGroup
		sem  = make(chan struct{}, commitConcurrency)
	)
	for tl := range dirty {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := t.commitThread(tl); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// commitConcurrency bounds how many threads Commit makes durable at once.
const commitConcurrency = 32

// commitThread makes one thread's lines durable and writes its head.
func (t *Trail) commitThread(tl *threadLog) error {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	if err := t.commitLocked(tl); err != nil {
		return t.poison(tl, err)
	}
	return nil
}

// commitLocked makes a thread's lines durable and writes its head; on an
// error the caller poisons or closes the thread.
func (t *Trail) commitLocked(tl *threadLog) error {
	if tl.file == nil {
		return nil
	}
	if err := tl.file.Sync(); err != nil {
		return fmt.Errorf("audit thread %s: fsync up to line %d: %w", tl.name, tl.seq, err)
	}
	tl.unsynced = false
	return t.putHead(tl.name, head{Seq: tl.seq, Hash: tl.lastHash})
}

// FailWrites makes every append fail with err, writing nothing, until it is
// called with nil: fault injection, for tests of what a node does when its
// trail refuses a line (a full or failing disk).
func (t *Trail) FailWrites(err error) {
	if err == nil {
		t.fault.Store(nil)
		return
	}
	t.fault.Store(&err)
}

// threadLog is one thread's open file and its position in the chain.
type threadLog struct {
	mu       sync.Mutex
	name     string
	file     *os.File
	seq      uint64
	lastHash string
	accepted map[string]bool // ids of accepted envelopes
	lastUse  uint64          // Trail.uses when last looked up
	closed   bool            // closed to bound the open files: look the thread up again
	unsynced bool            // lines written since the last fsync (group commit)
}

// DefaultMaxOpenThreads is how many thread files a trail keeps open at
// once. A node writes to a thread for the seconds its NEED is alive, then
// rarely again; without a bound a long-running node would hold a file per
// NEED it ever saw and run out of file descriptors. Past the bound the
// least recently used thread is committed and closed; writing to it again
// reopens it (reading its file back).
const DefaultMaxOpenThreads = 256

// Pin keeps a thread's file open, whatever the bound on open files: a
// thread written to for the life of the node (the swarm thread, its
// CHECKPOINTs and RECONCILEs) and so the largest file, which reopening
// would read back, on the writer's path, each time the bound closed it.
// One that has a file is opened (read back) now, once.
func (t *Trail) Pin(name string) error {
	t.mu.Lock()
	if t.pinned == nil {
		t.pinned = map[string]bool{}
	}
	t.pinned[name] = true
	t.mu.Unlock()
	tl, err := t.lockExisting(name) // none yet: opened by its first line
	if tl != nil {
		tl.mu.Unlock()
	}
	return err
}

// SetMaxOpenThreads changes the bound on open thread files (at least 1).
func (t *Trail) SetMaxOpenThreads(n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.maxOpen = max(n, 1)
}

// OpenThreads is how many thread files are open.
func (t *Trail) OpenThreads() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.threads)
}

// head is the content of a thread's head file.
type head struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
}

// Open opens (creating) the audit folder. warn, when not nil, is told about
// repairs made on open (a torn last line cut off, a head brought up to date).
func Open(dir string, warn func(string)) (*Trail, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("open audit trail: %w", err)
	}
	if warn == nil {
		warn = func(string) {}
	}
	return &Trail{dir: dir, warn: warn, threads: map[string]*threadLog{}, maxOpen: DefaultMaxOpenThreads}, nil
}

// RecoverThreads brings every thread's head up to its lines, as opening
// the thread for an append would: a process that died after a round's
// lines were written and before its commit leaves lines its head does not
// record (and maybe a torn last line), and a thread the restarted node
// never appends to again would keep them so, which a reader (audit verify,
// replay) takes for an insertion. A thread whose head names its last line
// is checked from the file's tail alone; the others are opened. A node
// calls it once at start.
func (t *Trail) RecoverThreads() error {
	names, err := Threads(t.dir)
	if err != nil {
		return err
	}
	// Every thread's head passes through here, so the index Root reads is
	// filled as it goes: the first CHECKPOINT need not read them all again.
	heads := make(map[string]head, len(names))
	for _, name := range names {
		h, whole, err := t.headNamesLastLine(name)
		if err != nil {
			return err
		}
		if whole {
			heads[name] = h
			continue
		}
		tl, err := t.lockThread(name) // opening it cuts a torn line and reconciles the head
		if err != nil {
			return err
		}
		if tl.seq == 0 {
			err = t.dropEmptyLocked(tl)
		} else {
			heads[name] = head{Seq: tl.seq, Hash: tl.lastHash} // reconciled: its head names its last line
		}
		tl.mu.Unlock()
		if err != nil {
			return err
		}
	}
	t.indexMu.Lock()
	defer t.indexMu.Unlock()
	if !t.indexLoaded {
		for name, h := range heads {
			// A head set meanwhile was written after the one found here.
			if !t.index.Has(name) {
				t.index.Set(name, h.Seq, h.Hash)
			}
		}
		t.indexLoaded = true
	}
	return nil
}

// dropEmptyLocked removes a thread with no line (its lock held): a crash
// after its file was made and before its first line was whole (the torn
// line cut off by the open). Nothing of it was committed; left there, it
// would be a thread file without a head, on which every Root (so every
// CHECKPOINT) and every audit verify fails. A later append makes it anew.
func (t *Trail) dropEmptyLocked(tl *threadLog) error {
	if tl.file != nil {
		tl.file.Close()
		tl.file = nil
	}
	tl.closed = true
	t.mu.Lock()
	if t.threads[tl.name] == tl {
		delete(t.threads, tl.name)
	}
	t.mu.Unlock()
	fileName, err := FileName(tl.name)
	if err != nil {
		return err
	}
	hp, err := headPath(t.dir, tl.name)
	if err != nil {
		return err
	}
	for _, p := range []string{filepath.Join(t.dir, fileName), hp} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("recover audit thread %s: remove the empty thread: %w", tl.name, err)
		}
	}
	t.indexMu.Lock()
	t.index.Delete(tl.name)
	t.indexMu.Unlock()
	t.warn(fmt.Sprintf("audit thread %s: removed: a crash left its file without a whole line", tl.name))
	return atomicfile.SyncDir(t.dir)
}

// headNamesLastLine reports whether a thread's file ends with a complete
// line whose hash its head records (the hash chain makes that line the
// head's), and returns that head. It reads the head and the file's last
// 64 KiB; false (open the thread) for anything else, a last line longer
// than that included.
func (t *Trail) headNamesLastLine(name string) (head, bool, error) {
	h, err := readHead(t.dir, name)
	if err != nil {
		return head{}, false, nil // missing or damaged: opening the thread decides
	}
	fileName, err := FileName(name)
	if err != nil {
		return head{}, false, err
	}
	f, err := os.Open(filepath.Join(t.dir, fileName))
	if err != nil {
		return head{}, false, fmt.Errorf("recover audit thread %s: %w", name, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return head{}, false, fmt.Errorf("recover audit thread %s: %w", name, err)
	}
	tail := make([]byte, min(info.Size(), 64<<10))
	if _, err := f.ReadAt(tail, info.Size()-int64(len(tail))); err != nil {
		return head{}, false, fmt.Errorf("recover audit thread %s: %w", name, err)
	}
	if len(tail) == 0 || tail[len(tail)-1] != '\n' {
		return head{}, false, nil // no whole line (an empty thread is dropped), or a torn one
	}
	last := tail[:len(tail)-1]
	i := bytes.LastIndexByte(last, '\n')
	if i < 0 && int64(len(tail)) < info.Size() {
		return head{}, false, nil // a last line longer than the tail read
	}
	return h, LineHash(last[i+1:]) == h.Hash, nil
}

// Dir is the folder the trail lives in.
func (t *Trail) Dir() string { return t.dir }

// Close closes every open thread file.
func (t *Trail) Close() error {
	errs := []error{t.Commit()}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, tl := range t.threads {
		tl.mu.Lock()
		if tl.file != nil {
			errs = append(errs, tl.file.Close())
			tl.file = nil
		}
		tl.mu.Unlock()
	}
	t.threads = map[string]*threadLog{}
	return errors.Join(errs...)
}

// FileName is the trail file of a thread: its 64 hex digits, or the thread's
// own name for unthreaded.
func FileName(thread string) (string, error) {
	if thread == Unthreaded {
		return Unthreaded + ".jsonl", nil
	}
	if !envelope.IsRef(thread) {
		return "", fmt.Errorf("audit thread %q is not a ref", thread)
	}
	return thread[len(envelope.RefPrefix):] + ".jsonl", nil
}

// threadOfFile is the inverse of FileName.
func threadOfFile(name string) (string, bool) {
	base, ok := strings.CutSuffix(name, ".jsonl")
	if !ok {
		return "", false
	}
	if base == Unthreaded {
		return Unthreaded, true
	}
	if t := envelope.RefPrefix + base; envelope.IsRef(t) {
		return t, true
	}
	return "", false
}

// AppendEnvelope records an accepted envelope on its thread, unless it was
// accepted before, in which case it returns ErrDuplicate and writes nothing.
func (t *Trail) AppendEnvelope(e *envelope.Envelope, receivedLamport uint64) (Record, error) {
	tl, err := t.lockThread(ThreadOf(e))
	if err != nil {
		return Record{}, err
	}
	defer tl.mu.Unlock()
	if tl.accepted[e.ID] {
		return Record{}, fmt.Errorf("%s on thread %s: %w", e.ID, tl.name, ErrDuplicate)
	}
	rec, err := t.appendLocked(tl, Accept(e, receivedLamport))
	if err == nil {
		tl.accepted[e.ID] = true
	}
	return rec, err
}

// HasAccepted reports whether the thread's trail holds the envelope id
// accepted: a delivery of it again is a duplicate, though the core may have
// forgotten it (a retired thread, the swarm thread's compaction). A thread
// with no file has none; one not open is opened (read back).
func (t *Trail) HasAccepted(thread, id string) (bool, error) {
	tl, err := t.lockExisting(thread)
	if tl == nil || err != nil {
		return false, err
	}
	defer tl.mu.Unlock()
	return tl.accepted[id], nil
}

// lockExisting is lockThread for a thread that has a file or is open: nil
// (no error) for one that has neither, whose file it does not make.
func (t *Trail) lockExisting(name string) (*threadLog, error) {
	t.mu.Lock()
	_, open := t.threads[name]
	t.mu.Unlock()
	if !open {
		fileName, err := FileName(name)
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(filepath.Join(t.dir, fileName)); errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		} else if err != nil {
			return nil, fmt.Errorf("audit thread %s: %w", name, err)
		}
	}
	return t.lockThread(name)
}

// AppendRejected records text that was refused with code, on the thread it
// names if it names one.
func (t *Trail) AppendRejected(raw []byte, code envelope.Code, receivedLamport uint64) (Record, error) {
	return t.Append(ThreadOfRaw(raw), Reject(raw, code, receivedLamport))
}

// Append records an entry on a thread and returns the record once it is on
// disk.
func (t *Trail) Append(thread string, entry Entry) (Record, error) {
	tl, err := t.lockThread(thread)
	if err != nil {
		return Record{}, err
	}
	defer tl.mu.Unlock()
	return t.appendLocked(tl, entry)
}

// lockThread returns a thread's open log, locked.
func (t *Trail) lockThread(name string) (*threadLog, error) {
	for {
		tl, err := t.thread(name)
		if err != nil {
			return nil, err
		}
		tl.mu.Lock()
		if !tl.closed {
			return tl, nil
		}
		tl.mu.Unlock() // closed since it was looked up: open it again
	}
}

func (t *Trail) appendLocked(tl *threadLog, entry Entry) (Record, error) {
	if f := t.fault.Load(); f != nil {
		return Record{}, fmt.Errorf("audit thread %s: %w", tl.name, *f)
	}
	if tl.file == nil {
		return Record{}, fmt.Errorf("audit thread %s: trail closed", tl.name)
	}
	if entry.Verdict != Accepted && entry.Verdict != Rejected {
		return Record{}, fmt.Errorf("audit thread %s: verdict %q is neither accepted nor rejected", tl.name, entry.Verdict)
	}
	if entry.Kind == "" || len(entry.Body) == 0 {
		return Record{}, fmt.Errorf("audit thread %s: an entry needs a kind and a body", tl.name)
	}
	rec := Record{
		Seq: tl.seq + 1, Prev: tl.lastHash, Kind: entry.Kind, ReceivedLamport: entry.ReceivedLamport,
		Envelope: entry.Body, Verdict: entry.Verdict, Reason: entry.Reason,
	}
	line, err := rec.encode()
	if err != nil {
		return Record{}, err
	}
	if _, err := tl.file.Write(append(line, '\n')); err != nil {
		return Record{}, t.poison(tl, fmt.Errorf("audit thread %s: write line %d: %w", tl.name, rec.Seq, err))
	}
	if t.group.Load() {
		tl.seq, tl.lastHash = rec.Seq, LineHash(line)
		tl.unsynced = true
		t.dirtyMu.Lock()
		if t.dirty == nil {
			t.dirty = map[*threadLog]struct{}{}
		}
		t.dirty[tl] = struct{}{}
		t.dirtyMu.Unlock()
		return rec, nil
	}
	if err := tl.file.Sync(); err != nil {
		return Record{}, t.poison(tl, fmt.Errorf("audit thread %s: fsync line %d: %w", tl.name, rec.Seq, err))
	}
	tl.seq, tl.lastHash = rec.Seq, LineHash(line)
	if err := t.putHead(tl.name, head{Seq: tl.seq, Hash: tl.lastHash}); err != nil {
		return Record{}, t.poison(tl, err)
	}
	return rec, nil
}

// poison closes a thread after a failed write: its position on disk is
// unknown, so the next append reopens it and recovers from what is there.
func (t *Trail) poison(tl *threadLog, err error) error {
	tl.file.Close()
	tl.file = nil
	t.mu.Lock()
	if t.threads[tl.name] == tl {
		delete(t.threads, tl.name)
	}
	t.mu.Unlock()
	return err
}

// thread returns the open log of a thread, opening and recovering it on
// first use.
func (t *Trail) thread(name string) (*threadLog, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.uses++
	if tl, ok := t.threads[name]; ok {
		tl.lastUse = t.uses
		return tl, nil
	}
	tl, err := t.openThread(name)
	if err != nil {
		return nil, err
	}
	t.opens++
	tl.lastUse = t.uses
	t.threads[name] = tl
	t.closeLeastUsedLocked(tl)
	return tl, nil
}

// closeLeastUsedLocked closes the least recently used threads while more
// than maxOpen are open, committing what they wrote first. A thread in use
// (its lock held) is passed over; keep and pinned threads are never
// closed.
func (t *Trail) closeLeastUsedLocked(keep *threadLog) {
	for len(t.threads) > t.maxOpen {
		var victims []*threadLog
		for _, tl := range t.threads {
			if tl != keep && !t.pinned[tl.name] {
				victims = append(victims, tl)
			}
		}
		sort.Slice(victims, func(i, j int) bool { return victims[i].lastUse < victims[j].lastUse })
		closed := false
		for _, tl := range victims {
			if !tl.mu.TryLock() {
				continue
			}
			t.dirtyMu.Lock()
			delete(t.dirty, tl)
			t.dirtyMu.Unlock()
			var err error
			if tl.unsynced {
				// Not the dirty set: a Commit in progress may hold this
				// thread in its own, and would find it closed.
				err = t.commitLocked(tl)
			}
			if tl.file != nil {
				tl.file.Close()
				tl.file = nil
			}
			tl.closed = true
			tl.mu.Unlock()
			delete(t.threads, tl.name)
			if err != nil {
				// The next Commit reports it: its caller counts on every
				// line appended before it being durable.
				t.dirtyMu.Lock()
				t.failed = errors.Join(t.failed, err)
				t.dirtyMu.Unlock()
			}
			closed = true
			break
		}
		if !closed {
			return // every other thread is in use: over the bound until one is not
		}
	}
}

func (t *Trail) openThread(name string) (*threadLog, error) {
	fileName, err := FileName(name)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(t.dir, fileName)
	tl := &threadLog{name: name, accepted: map[string]bool{}}
	// The head says which lines are recorded; those after it (a crash
	// between a line's fsync and its head's: a round at most) are kept to
	// be checked before the head is brought up to them. The rest are read
	// a line at a time: a thread's file (the swarm thread's grows for the
	// life of the node) is never held whole.
	h, headErr := readHead(t.dir, name)
	keepFrom := 0
	if headErr == nil {
		keepFrom = int(h.Seq)
	}
	tail := unrecorded{first: keepFrom}
	created, err := t.readLines(tl, path, func(n int, line []byte, hash string) {
		if n == keepFrom {
			tail.prev = hash
		}
		if n > keepFrom {
			tail.lines = append(tail.lines, line)
			tail.hashes = append(tail.hashes, hash)
		}
	})
	if err != nil {
		return nil, err
	}
	if err := t.reconcileHead(tl, h, headErr, tail); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open audit thread %s: %w", name, err)
	}
	if created {
		if err := atomicfile.SyncDir(t.dir); err != nil {
			f.Close()
			return nil, err
		}
	}
	tl.file = f
	return tl, nil
}

// readLines reads a thread's file a line at a time into tl (its seq, last
// hash and accepted envelope ids), handing each line, numbered from 1, and
// its hash to each; a torn last line (its append never returned, so it was
// never acknowledged) is cut off the file. created: there was no file.
func (t *Trail) readLines(tl *threadLog, path string, each func(n int, line []byte, hash string)) (created bool, err error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("open audit thread %s: %w", tl.name, err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 64<<10)
	var whole int64 // bytes of the whole lines read
	for n := 1; ; n++ {
		line, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			if len(line) > 0 {
				t.warn(fmt.Sprintf("audit thread %s: cutting off a torn last line (%d bytes) left by a crash", tl.name, len(line)))
				if err := os.Truncate(path, whole); err != nil {
					return false, fmt.Errorf("open audit thread %s: cut torn line: %w", tl.name, err)
				}
			}
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("open audit thread %s: %w", tl.name, err)
		}
		whole += int64(len(line))
		line = line[:len(line)-1]
		var rec Record
		if err := json.Unmarshal(line, &rec); err != nil || rec.Seq != uint64(n) {
			return false, fmt.Errorf("open audit thread %s: line %d is damaged; run 'swarmhost audit verify' before appending", tl.name, n)
		}
		hash := LineHash(line)
		if rec.Kind == KindEnvelope && rec.Verdict == Accepted {
			var id struct{ ID string }
			if json.Unmarshal(rec.Envelope, &id) == nil {
				tl.accepted[id.ID] = true
			}
		}
		tl.seq, tl.lastHash = uint64(n), hash
		each(n, line, hash)
	}
}

// unrecorded are the lines of a thread from its line first+1 on, which its
// head may not record, with their hashes, and the hash of line first
// ("" for none: first 0).
type unrecorded struct {
	first  int
	prev   string
	lines  [][]byte
	hashes []string
}

// reconcileHead checks the head file (h, or headErr reading it) against
// the lines on disk (tl, and those after the head, tail). A head that lags
// (a crash between the line's fsync and the head's) is brought up to
// date, once the lines it did not record check out; a head ahead of the
// file, or naming a different line, is damage.
func (t *Trail) reconcileHead(tl *threadLog, h head, headErr error, tail unrecorded) error {
	switch {
	case errors.Is(headErr, fs.ErrNotExist):
		if tl.seq == 0 {
			return nil
		}
		h = head{} // the head of the first line was never written
	case errors.Is(headErr, errHeadDamaged):
		// Heads are not fsynced (writeHead): a crash while one was replaced
		// can leave it empty or torn. Rebuilt from the lines, which are.
		if err := checkUnrecorded(tl.name, tail); err != nil {
			return err
		}
		t.warn(fmt.Sprintf("audit thread %s: %v; rebuilding it from the thread's %d lines", tl.name, headErr, tl.seq))
		return t.putHead(tl.name, head{Seq: tl.seq, Hash: tl.lastHash})
	case headErr != nil:
		return fmt.Errorf("open audit thread %s: %w", tl.name, headErr)
	}
	switch {
	case h.Seq == tl.seq && h.Hash == tl.lastHash:
		return nil
	case h.Seq < tl.seq && (h.Seq == 0 || tail.prev == h.Hash):
		if err := checkUnrecorded(tl.name, tail); err != nil {
			return err
		}
		t.warn(fmt.Sprintf("audit thread %s: head recorded line %d of %d; bringing it up to date", tl.name, h.Seq, tl.seq))
		// The lines after the head may never have been fsynced (a round
		// written, its commit not reached): made durable before the head
		// records them.
		if err := syncFile(t.dir, tl.name); err != nil {
			return err
		}
		return t.putHead(tl.name, head{Seq: tl.seq, Hash: tl.lastHash})
	default:
		return fmt.Errorf("open audit thread %s: the head records line %d (%s) but the file has %d lines; run 'swarmhost audit verify'", tl.name, h.Seq, h.Hash, tl.seq)
	}
}

// checkUnrecorded checks the lines no head records yet, before a head is
// written over them: each parses strictly, names the line before it as
// prev, and says something true of its envelope (CheckRecord: an accepted
// envelope's signature verifies). A crash leaves such lines whole (a torn
// last line is cut off first), so anything else is damage, or an edit
// where the head would have told it: no head is written to vouch for it.
func checkUnrecorded(thread string, tail unrecorded) error {
	prev := tail.prev
	for j, line := range tail.lines {
		n := tail.first + j + 1
		rec, err := decodeLine(line)
		if err == nil {
			if rec.Prev != prev {
				err = fmt.Errorf("its prev does not name line %d", n-1)
			} else {
				_, _, err = checkRecord(rec, thread, nil)
			}
		}
		if err != nil {
			return fmt.Errorf("open audit thread %s: line %d, which the head does not record yet, is damaged (%v); run 'swarmhost audit verify'",
				thread, n, err)
		}
		prev = tail.hashes[j]
	}
	return nil
}

// prevHashOf is the prev line i records: the hash of the line before it.
func prevHashOf(hashes []string, i int) string {
	if i == 0 {
		return ""
	}
	return hashes[i-1]
}

// syncFile fsyncs a thread's file.
func syncFile(dir, thread string) error {
	fileName, err := FileName(thread)
	if err != nil {
		return err
	}
	f, err := os.Open(filepath.Join(dir, fileName))
	if err != nil {
		return fmt.Errorf("audit thread %s: %w", thread, err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("audit thread %s: fsync: %w", thread, err)
	}
	return nil
}

func splitLines(text []byte) [][]byte {
	var lines [][]byte
	for len(text) > 0 {
		i := bytes.IndexByte(text, '\n')
		if i < 0 {
			lines = append(lines, text)
			break
		}
		lines = append(lines, text[:i])
		text = text[i+1:]
	}
	return lines
}

func headPath(dir, thread string) (string, error) {
	name, err := FileName(thread)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, strings.TrimSuffix(name, ".jsonl")+".head"), nil
}

func readHead(dir, thread string) (head, error) {
	p, err := headPath(dir, thread)
	if err != nil {
		return head{}, err
	}
	text, err := rawfile.ReadFile(p)
	if err != nil {
		return head{}, err
	}
	var h head
	if err := json.Unmarshal(text, &h); err != nil {
		return head{}, fmt.Errorf("%w: %s: %v", errHeadDamaged, p, err)
	}
	return h, nil
}

// putHead writes a thread's head file and notes it in the index Root
// reads.
func (t *Trail) putHead(thread string, h head) error {
	if err := writeHead(t.dir, thread, h); err != nil {
		return err
	}
	t.indexMu.Lock()
	t.index.Set(thread, h.Seq, h.Hash)
	t.indexMu.Unlock()
	return nil
}

func writeHead(dir, thread string, h head) error {
	p, err := headPath(dir, thread)
	if err != nil {
		return err
	}
	text, _ := json.Marshal(h)
	// Written under a temporary name and renamed, so that a reader never
	// sees half of one, but not fsynced: the lines a head names are durable
	// before it is written, so a head lost, emptied or torn by a crash can
	// only lag the file, and opening the trail rebuilds it from the lines
	// (reconcileHead). A commit then waits for one fsync per thread, not two.
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, text, 0o644); err != nil {
		return fmt.Errorf("audit head %s: %w", thread, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return fmt.Errorf("audit head %s: %w", thread, err)
	}
	return nil
}

// errHeadDamaged is a head file that is not a head: torn or emptied by a
// crash while it was replaced, or edited.
var errHeadDamaged = errors.New("head file is damaged")

// Threads lists the threads that have a trail file, sorted.
func Threads(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no audit trail at %s (a node's data folder holds it in audit/): %w", dir, err)
	}
	if err != nil {
		return nil, fmt.Errorf("list audit threads: %w", err)
	}
	var threads []string
	for _, e := range entries {
		if th, ok := threadOfFile(e.Name()); ok && e.Type().IsRegular() {
			threads = append(threads, th)
		}
	}
	sort.Strings(threads)
	return threads, nil
}
