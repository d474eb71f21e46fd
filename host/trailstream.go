package host

import (
	"bufio"
	"container/heap"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/canswarm/swarmhost/host/audit"
	"github.com/canswarm/swarmhost/internal/parallel"
	"github.com/canswarm/swarmhost/internal/rawfile"
)

// StepTrail hands every recorded input of an audit folder to fn in the
// order the host stepped them: the inputs ReadTrail returns, in its order,
// with its checks (each thread's chain) and decoding. It holds only the
// threads open at the point of the trail it has reached, not the whole
// trail: a thread's file is read when the merge comes to its first line
// and let go after its last, and a file over streamAbove is read a line at
// a time. ReadTrail held every line of the trail at once, about 8 KB per
// envelope line, which a node that had run for days could not hold to
// start again.
//
// The order is a merge by received_lamport (the host's lines are strictly
// increasing in it; thread and line break ties), which needs each thread's
// lines in that order: a thread whose received_lamport goes back is
// refused, naming the line.
func StepTrail(dir string, tokenOf func(ref string) []byte, fn func(*TrailInput) error) error {
	return stepTrail(dir, tokenOf, rejectedLines{}, fn)
}

// StepTrailAll is StepTrail with the rejected envelopes too, as inputs:
// what a streamed replay steps to check their verdicts. Accepted
// envelopes are decoded without their signatures checked, as StepTrail
// does (the replay verified the trail first, audit.Verify); a rejected
// one is verified again, as its verdict depends on it.
func StepTrailAll(dir string, tokenOf func(ref string) []byte, fn func(*TrailInput) error) error {
	return stepTrail(dir, tokenOf, rejectedLines{all: true}, fn)
}

func stepTrail(dir string, tokenOf func(ref string) []byte, rejected rejectedLines, fn func(*TrailInput) error) error {
	threads, err := audit.Threads(dir)
	if err != nil {
		return err
	}
	m, err := newTrailMerge(dir, threads)
	if err != nil {
		return err
	}
	// The merge and the decoding run ahead of fn, a batch or two: a
	// node's start reads the next lines while it steps these.
	batches := make(chan *trailBatch, 2)
	done := make(chan struct{})
	defer close(done)
	go m.produce(batches, done, rejected)
	order := newInOrder(tokenOf, rejected)
	for b := range batches {
		if b.err != nil {
			return b.err
		}
		for i := range b.inputs {
			ti := &b.inputs[i]
			keep, err := order.take(ti, b.clocks[i], b.errs[i])
			if err != nil {
				return err
			}
			if keep {
				if err := fn(ti); err != nil {
					return err
				}
			}
			b.inputs[i] = TrailInput{} // let the line go
		}
	}
	return nil
}

// trailBatch is up to stepBatch lines in step order, decoded; or the
// error that ended the merge.
type trailBatch struct {
	inputs []TrailInput
	clocks []int64
	errs   []error
	err    error
}

// produce merges and decodes the trail's lines a batch at a time into
// out, until the end, an error, or done; it closes out and the merge.
func (m *trailMerge) produce(out chan<- *trailBatch, done <-chan struct{}, rejected rejectedLines) {
	defer close(out)
	defer m.close()
	send := func(b *trailBatch) bool {
		select {
		case out <- b:
			return true
		case <-done:
			return false
		}
	}
	for {
		b := &trailBatch{inputs: make([]TrailInput, 0, stepBatch)}
		for len(b.inputs) < stepBatch {
			ti, ok, err := m.next()
			if err != nil {
				send(&trailBatch{err: err})
				return
			}
			if !ok {
				break
			}
			b.inputs = append(b.inputs, ti)
		}
		if len(b.inputs) == 0 {
			return
		}
		// Decoding is independent per line: side by side, as ReadTrail.
		b.clocks, b.errs = make([]int64, len(b.inputs)), make([]error, len(b.inputs))
		parallel.For(len(b.inputs), func(i int) {
			in := &b.inputs[i]
			b.clocks[i], b.errs[i] = decodeTrailInput(in, &audit.Line{Hash: in.Hash, Record: in.Record}, rejected, decodeUnchecked)
		})
		if !send(b) {
			return
		}
	}
}

// stepBatch is how many lines StepTrail decodes side by side before it
// hands them on.
const stepBatch = 256

// streamAbove is the size of a thread file StepTrail reads a line at a
// time rather than whole (the swarm thread of a long-running node); a
// variable for tests.
var streamAbove int64 = 1 << 20

// trailMerge yields the lines of every thread in step order, reading each
// thread's file when the merge reaches its first line.
type trailMerge struct {
	dir     string
	waiting []*threadCursor // not read yet, by first line, the next at the end
	open    cursorHeap      // being read, by their current line's order
	// openMax is the most threads open at once (what the merge held).
	openMax int
}

func newTrailMerge(dir string, threads []string) (*trailMerge, error) {
	cursors := make([]*threadCursor, len(threads))
	errs := make([]error, len(threads))
	parallel.ForLong(len(threads), func(i int) {
		cursors[i], errs[i] = firstLine(dir, threads[i])
	})
	m := &trailMerge{dir: dir}
	for i, c := range cursors {
		if errs[i] != nil {
			return nil, errs[i]
		}
		if c != nil {
			m.waiting = append(m.waiting, c)
		}
	}
	slices.SortFunc(m.waiting, func(a, b *threadCursor) int { return b.compare(a) }) // next last
	return m, nil
}

// next is the next line in step order; ok is false at the end.
func (m *trailMerge) next() (ti TrailInput, ok bool, err error) {
	// A thread not read yet whose first line comes before every open
	// thread's current line is opened (its first line is then the least).
	for len(m.waiting) > 0 {
		w := m.waiting[len(m.waiting)-1]
		if len(m.open) > 0 && m.open[0].compare(w) < 0 {
			break
		}
		m.waiting[len(m.waiting)-1] = nil
		m.waiting = m.waiting[:len(m.waiting)-1]
		if err := w.start(m.dir); err != nil {
			return TrailInput{}, false, err
		}
		heap.Push(&m.open, w)
		m.openMax = max(m.openMax, len(m.open))
	}
	if len(m.open) == 0 {
		return TrailInput{}, false, nil
	}
	c := m.open[0]
	ti = TrailInput{Thread: c.thread, Line: c.line, Hash: c.hash, Record: c.rec}
	more, err := c.advance()
	if err != nil {
		return TrailInput{}, false, err
	}
	if more {
		heap.Fix(&m.open, 0)
	} else {
		heap.Pop(&m.open)
		c.close()
	}
	return ti, true, nil
}

func (m *trailMerge) close() {
	for _, c := range m.open {
		c.close()
	}
}

// threadCursor reads one thread's lines in order, checking its chain.
type threadCursor struct {
	thread string
	// The current line (line 0 until the thread is read, lamport its
	// first line's then).
	line    int
	hash    string
	rec     *audit.Record
	lamport uint64

	rest []byte        // the file's text after the current line (read whole)
	r    *bufio.Reader // or the file read a line at a time
	f    *os.File
	size int64
}

// firstLine reads a thread's first line (nil for a thread with none).
func firstLine(dir, thread string) (*threadCursor, error) {
	name, err := audit.FileName(thread)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(dir, name))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	l, err := readLine(bufio.NewReaderSize(f, 4096))
	if err != nil || l == nil {
		return nil, fileError(thread, 1, err)
	}
	rec, err := audit.ParseLine(l)
	if err != nil {
		return nil, fmt.Errorf("audit %s line 1: %w", thread, err)
	}
	// Only its received_lamport is kept until the thread is read: a
	// thread waiting costs its name and two numbers, not its first line.
	return &threadCursor{thread: thread, lamport: rec.ReceivedLamport, size: st.Size()}, nil
}

// start reads the thread's file from its second line on: whole, or a
// line at a time when it is large.
func (c *threadCursor) start(dir string) error {
	name, _ := audit.FileName(c.thread)
	path := filepath.Join(dir, name)
	first := c.lamport
	var l []byte
	if c.size <= streamAbove {
		text, err := rawfile.ReadFile(path)
		if err != nil {
			return err
		}
		c.rest = text
		l = c.cutLine()
	} else {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		c.f, c.r = f, bufio.NewReaderSize(f, 64<<10)
		if l, err = readLine(c.r); err != nil {
			return fileError(c.thread, 1, err)
		}
	}
	if l == nil {
		return fmt.Errorf("audit %s: the file lost its lines while the trail was read", c.thread)
	}
	if err := c.take(l); err != nil {
		return err
	}
	if c.lamport != first {
		return fmt.Errorf("audit %s line 1: the file changed while the trail was read", c.thread)
	}
	return nil
}

// advance moves to the next line; false at the end of the file.
func (c *threadCursor) advance() (bool, error) {
	var l []byte
	if c.r != nil {
		var err error
		if l, err = readLine(c.r); err != nil {
			return false, fileError(c.thread, c.line+1, err)
		}
	} else {
		l = c.cutLine()
	}
	if l == nil {
		return false, nil
	}
	prevLamport := c.lamport
	if err := c.take(l); err != nil {
		return false, err
	}
	if c.lamport < prevLamport {
		return false, lamportBack(c.thread, c.line, c.lamport, prevLamport)
	}
	return true, nil
}

// take makes l the current line, checking that it follows the one before.
func (c *threadCursor) take(l []byte) error {
	rec, err := chainedLine(c.thread, c.line+1, l, c.hash)
	if err != nil {
		return err
	}
	c.line++
	c.hash, c.rec, c.lamport = audit.LineHash(l), rec, rec.ReceivedLamport
	return nil
}

// cutLine takes the next non-empty line off rest (nil at the end).
func (c *threadCursor) cutLine() []byte {
	l, rest := nextLine(c.rest)
	c.rest = rest
	return l
}

// close lets the thread's file go: its text, and its last line's record,
// which shares it.
func (c *threadCursor) close() {
	if c.f != nil {
		c.f.Close()
		c.f, c.r = nil, nil
	}
	c.rest, c.rec = nil, nil
}

// compare orders cursors by their current line (a thread not read yet by
// its first): received_lamport, then thread, then line.
func (c *threadCursor) compare(o *threadCursor) int {
	switch {
	case c.lamport != o.lamport:
		if c.lamport < o.lamport {
			return -1
		}
		return 1
	case c.thread != o.thread:
		return strings.Compare(c.thread, o.thread)
	}
	return c.line - o.line
}

// readLine reads the next non-empty line (without its newline; the last
// may have none), nil at the end of the file.
func readLine(r *bufio.Reader) ([]byte, error) {
	for {
		l, err := r.ReadBytes('\n')
		if len(l) > 0 && l[len(l)-1] == '\n' {
			l = l[:len(l)-1]
		}
		if len(l) > 0 {
			return l, nil
		}
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// lamportBack is the error of a thread's line whose received_lamport is
// below the line's before it: a node's lines are in increasing order, so
// the trail was edited (or is not a node's).
func lamportBack(thread string, line int, lamport, before uint64) error {
	return &audit.TamperError{Thread: thread, Line: uint64(line), Problem: fmt.Sprintf(
		"its received_lamport %d goes back from line %d's %d: a node's lines are in increasing order", lamport, line-1, before)}
}

func fileError(thread string, line int, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("audit %s line %d: %w", thread, line, err)
}

type cursorHeap []*threadCursor

func (h cursorHeap) Len() int           { return len(h) }
func (h cursorHeap) Less(i, j int) bool { return h[i].compare(h[j]) < 0 }
func (h cursorHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *cursorHeap) Push(x any)        { *h = append(*h, x.(*threadCursor)) }
func (h *cursorHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return c
}
