package host

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/audit"
	"github.com/canswarm/swarmhost/host/protocol"
	"github.com/canswarm/swarmhost/internal/parallel"
	"github.com/canswarm/swarmhost/internal/rawfile"
)

// TrailInput is one recorded input of a trail, in the order it was stepped.
type TrailInput struct {
	Thread string
	Line   int    // 1-based line in the thread's file
	Hash   string // the line's hash (what the next line names as prev)
	Record *audit.Record
	Input  protocol.Input // nil for lines that are outputs or clock lines
}

// ReadTrail reads every thread of an audit folder and returns the recorded
// inputs merged into the order the host stepped them (by received_lamport,
// which the host makes strictly increasing over all its lines), each
// envelope with the receipt time of its thread's last clock line. Tokens
// come from tokenOf (the CAS).
//
// It is what a node reads of its own trail when it starts: each thread's
// chain is checked (seq and prev of every line; the last line against its
// head was checked by Trail.RecoverThreads), and the accepted envelopes
// are decoded without verifying their signatures again. They were verified
// when they were accepted, and the chain and heads catch a line damaged
// since, unless a crash also lost that thread's head. They do not stop a
// deliberate rewrite; neither did the signatures, for whoever can rewrite
// the data folder holds the node's keys (keys/) and can sign its decisions.
// Checking a trail is `swarmhost audit verify` and replay; the signatures
// were most of a start's reading.
//
// It is StepTrail's inputs gathered: a node starting steps them as they
// come instead (rebuild), holding only the threads open at each point.
func ReadTrail(dir string, tokenOf func(ref string) []byte) ([]TrailInput, error) {
	var out []TrailInput
	err := StepTrail(dir, tokenOf, func(ti *TrailInput) error {
		out = append(out, *ti)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ReadTrailAll is ReadTrail with the rejected envelopes too, as inputs
// (replay steps them to check their verdicts), and every accepted
// envelope's signature verified.
func ReadTrailAll(dir string, tokenOf func(ref string) []byte) ([]TrailInput, error) {
	return readTrail(dir, tokenOf, rejectedLines{all: true}, verifyUnchecked)
}

// TrailFromLines merges lines audit.Read returned into the order the host
// stepped them, as ReadTrailAll does. Lines audit.Read checked keep the
// envelope (or verification error) it found; an accepted envelope line it
// did not check is decoded without checking its signature (audit.Read
// has decoded it: that is used), which the caller vouches for by other
// means (a signed checkpoint covering it, or audit.StartCheck running
// beside this: TrailFromLines only reads the lines); a rejected one is
// verified again, as its verdict depends on it.
func TrailFromLines(lines map[string][]audit.Line, tokenOf func(ref string) []byte) ([]TrailInput, error) {
	return buildTrail(lines, tokenOf, rejectedLines{all: true}, shareUnchecked)
}

// unchecked is how an accepted envelope line audit did not check is
// decoded.
type unchecked int

const (
	// verifyUnchecked: envelope.Verify, every stateless check, the
	// signature too.
	verifyUnchecked unchecked = iota
	// shareUnchecked: envelope.DecodeShared, kept in the line for the
	// check to come (a replay, which checks the lines beside its stepping
	// and holds the trail's text until it is done).
	shareUnchecked
	// decodeUnchecked: envelope.Decode, a copy that keeps none of the
	// trail's text (a node's own trail, read to start, its chain checked).
	decodeUnchecked
)

func readTrail(dir string, tokenOf func(ref string) []byte, rejected rejectedLines, how unchecked) ([]TrailInput, error) {
	threads, err := audit.Threads(dir)
	if err != nil {
		return nil, err
	}
	// Threads are read and parsed side by side; the first error in thread
	// order is the one reported.
	per := make([][]audit.Line, len(threads))
	errs := make([]error, len(threads))
	parallel.ForLong(len(threads), func(i int) { per[i], errs[i] = readThreadLines(dir, threads[i]) })
	lines := make(map[string][]audit.Line, len(threads))
	for i, th := range threads {
		if errs[i] != nil {
			return nil, errs[i]
		}
		lines[th] = per[i]
	}
	return buildTrail(lines, tokenOf, rejected, how)
}

// readThreadLines reads and parses one thread's lines, and checks their
// chain: each line's seq and prev follow the line before.
func readThreadLines(dir, thread string) ([]audit.Line, error) {
	name, err := audit.FileName(thread)
	if err != nil {
		return nil, err
	}
	text, err := rawfile.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return nil, err
	}
	var lines []audit.Line
	prev := ""
	for i, l := range splitLines(text) {
		rec, err := chainedLine(thread, i+1, l, prev)
		if err != nil {
			return nil, err
		}
		prev = audit.LineHash(l)
		lines = append(lines, audit.Line{Hash: prev, Record: rec})
	}
	return lines, nil
}

// chainedLine parses line n of a thread and checks that it follows the
// line before (prev its hash, "" for the first): its seq is n and its prev
// names that line.
func chainedLine(thread string, n int, line []byte, prev string) (*audit.Record, error) {
	rec, err := audit.ParseLine(line)
	if err != nil {
		return nil, fmt.Errorf("audit %s line %d: %w", thread, n, err)
	}
	if rec.Seq != uint64(n) || rec.Prev != prev {
		what := fmt.Sprintf("its seq is %d, not %d", rec.Seq, n)
		if rec.Seq == uint64(n) {
			what = fmt.Sprintf("its prev does not name line %d", n-1)
		}
		return nil, fmt.Errorf("audit %s: the chain breaks at line %d (%s): a line was edited, deleted or moved; "+
			"'swarmhost audit verify' names it", thread, n, what)
	}
	return rec, nil
}

// rejectedLines says which rejected envelope lines a reading hands on as
// inputs: none (the zero value), every one (all: replay, which checks
// their verdicts; each verified again, as its verdict depends on it), or
// those this host sent (own: a start, so that its core sees each of its
// own envelopes stepped back; decoded without their signature checked,
// as a start's accepted lines are, and with no token: the core judges
// them with the tokens it took from accepted envelopes, as it did live).
type rejectedLines struct {
	all bool
	own func(senderPK string) bool
}

func (r rejectedLines) any() bool { return r.all || r.own != nil }

// inOrder finishes decoded inputs in step order: an envelope gets the
// receipt time of its thread's last clock line and its capability token
// (tokenOf, asked once per ref), and rejected envelopes are left out
// unless asked for.
type inOrder struct {
	tokenOf  func(ref string) []byte
	rejected rejectedLines
	lastAt   map[string]int64
	tokens   map[string][]byte
}

func newInOrder(tokenOf func(ref string) []byte, rejected rejectedLines) *inOrder {
	return &inOrder{tokenOf: tokenOf, rejected: rejected, lastAt: map[string]int64{}, tokens: map[string][]byte{}}
}

// take finishes the next input (clock: its time, for a clock line; err:
// its decoding's error); keep is false for one left out.
func (o *inOrder) take(ti *TrailInput, clock int64, err error) (keep bool, _ error) {
	if err != nil {
		return false, fmt.Errorf("audit %s line %d: %s: %w", ti.Thread, ti.Line, ti.Record.Kind, err)
	}
	rejectedOwn := false
	if ti.Record.Kind == audit.KindEnvelope && ti.Record.Verdict != audit.Accepted {
		switch {
		case o.rejected.all:
		case o.rejected.own == nil:
			return false, nil
		default:
			r := ti.Input.(*protocol.Received)
			if r.Env == nil || !o.rejected.own(r.Env.SenderPK) {
				return false, nil
			}
			rejectedOwn = true
		}
	}
	switch ti.Record.Kind {
	case KindClock:
		o.lastAt[ti.Thread] = clock
	case audit.KindEnvelope, KindHeld:
		r := ti.Input.(*protocol.Received)
		r.At = o.lastAt[ti.Thread]
		if r.Env != nil && !rejectedOwn {
			b, ok := o.tokens[r.Env.Capability]
			if !ok {
				b = o.tokenOf(r.Env.Capability)
				o.tokens[r.Env.Capability] = b
			}
			r.Token = b
		}
	}
	return true, nil
}

// buildTrail decodes every line's input (in parallel: they are independent)
// and merges them into step order; how says how an accepted envelope line
// audit did not check is decoded.
func buildTrail(lines map[string][]audit.Line, tokenOf func(ref string) []byte, rejected rejectedLines, how unchecked) ([]TrailInput, error) {
	n := 0
	for _, ls := range lines {
		n += len(ls)
	}
	all := make([]TrailInput, 0, n)
	src := make([]*audit.Line, 0, n)
	// A thread's lines are in received_lamport order (StepTrail refuses
	// one that goes back, and so does this, naming the first in thread
	// order).
	threads := make([]string, 0, len(lines))
	for th := range lines {
		threads = append(threads, th)
	}
	sort.Strings(threads)
	for _, th := range threads {
		ls := lines[th]
		for i := 1; i < len(ls); i++ {
			if x, y := ls[i-1].Record.ReceivedLamport, ls[i].Record.ReceivedLamport; y < x {
				return nil, lamportBack(th, i+1, y, x)
			}
		}
	}
	for th, ls := range lines {
		for i := range ls {
			all = append(all, TrailInput{Thread: th, Line: i + 1, Hash: ls[i].Hash, Record: ls[i].Record})
			src = append(src, &ls[i])
		}
	}
	// Step order: by received_lamport, strictly increasing over the host's
	// lines (thread and line break ties in a trail that is not a host's).
	idx := make([]int, len(all))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		x, y := &all[idx[a]], &all[idx[b]]
		if x.Record.ReceivedLamport != y.Record.ReceivedLamport {
			return x.Record.ReceivedLamport < y.Record.ReceivedLamport
		}
		if x.Thread != y.Thread {
			return x.Thread < y.Thread
		}
		return x.Line < y.Line
	})
	sorted := make([]TrailInput, len(all))
	sortedSrc := make([]*audit.Line, len(all))
	for i, j := range idx {
		sorted[i], sortedSrc[i] = all[j], src[j]
	}
	all, src = sorted, sortedSrc

	errs := make([]error, len(all))
	clocks := make([]int64, len(all))
	parallel.For(len(all), func(i int) {
		clocks[i], errs[i] = decodeTrailInput(&all[i], src[i], rejected, how)
	})
	order := newInOrder(tokenOf, rejected)
	out := all[:0]
	for i := range all {
		ti := all[i]
		keep, err := order.take(&ti, clocks[i], errs[i])
		if err != nil {
			return nil, err
		}
		if keep {
			out = append(out, ti)
		}
	}
	return out, nil
}

// decodeTrailInput decodes one line's input; a clock line's time is
// returned instead.
func decodeTrailInput(ti *TrailInput, l *audit.Line, rejected rejectedLines, how unchecked) (clock int64, err error) {
	rec := ti.Record
	switch rec.Kind {
	case audit.KindEnvelope:
		if rec.Verdict != audit.Accepted {
			if !rejected.any() {
				return 0, nil
			}
			r := &protocol.Received{}
			if r.Raw, err = audit.DecodeRawText(rec.Envelope); err != nil {
				return 0, err
			}
			if !rejected.all {
				// Whose it is, for inOrder to keep this host's own.
				if e, err := envelope.Decode(r.Raw); err == nil {
					r.Env = e
				}
				ti.Input = r
				return 0, nil
			}
			if l.Checked {
				r.Env, r.Err = l.Env, l.Err
			} else if e, err := envelope.Verify(r.Raw); err != nil {
				r.Err = err
			} else {
				r.Env = e
			}
			if r.Err != nil {
				r.Env = nil
			}
			ti.Input = r
			return 0, nil
		}
		// A line audit checked holds its verified envelope; one it passed
		// over may hold its envelope decoded and not yet checked (audit.Read
		// decodes it, sharing the text, for the checks the replay runs
		// beside this): only a line audit.Read did not read has none.
		e := l.Env
		if e == nil || (!l.Checked && how != shareUnchecked) {
			check := envelope.Verify
			switch how {
			case shareUnchecked:
				check = envelope.DecodeShared
			case decodeUnchecked:
				check = envelope.Decode
			}
			if e, err = check(rec.Envelope); err != nil {
				return 0, err
			}
		}
		ti.Input = &protocol.Received{Raw: rec.Envelope, Env: e}
	case KindHeld:
		e, err := envelope.Verify(rec.Envelope)
		if err != nil {
			return 0, fmt.Errorf("held: %w", err)
		}
		ti.Input = &protocol.Received{Raw: rec.Envelope, Env: e}
	case KindClock:
		return decodeClock(rec.Envelope)
	case KindConsensus:
		ti.Input, err = decodeApplied(rec.Envelope)
	case KindAgent:
		ti.Input, err = decodeAgentDone(rec.Envelope)
	case KindPolicy:
		ti.Input, err = decodePolicyDone(rec.Envelope)
	case KindTimer:
		ti.Input, err = decodeTimerFired(rec.Envelope)
	case KindConfig:
		ti.Input, err = decodeInput[protocol.Configure](rec.Envelope)
		if c, ok := ti.Input.(*protocol.Configure); ok && (c.Rules < 0 || c.Rules > protocol.Rules) {
			// A trail of a newer swarmhost: its inputs would be stepped
			// under rules that did not make them.
			err = fmt.Errorf("the configuration names rules revision %d; this swarmhost knows revisions 0 to %d (a newer swarmhost made this trail)",
				c.Rules, protocol.Rules)
		}
	case KindCheckpoint:
		ti.Input, err = decodeInput[protocol.CheckpointDue](rec.Envelope)
	case KindReconcile:
		ti.Input, err = decodeInput[protocol.ReconcileDue](rec.Envelope)
	case KindCollected:
		ti.Input, err = decodeInput[protocol.Collected](rec.Envelope)
	}
	return 0, err
}

func decodeInput[T any, P interface {
	*T
	protocol.Input
}](b []byte) (protocol.Input, error) {
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	return P(&v), nil
}

func splitLines(b []byte) [][]byte {
	var out [][]byte
	for l, rest := nextLine(b); l != nil; l, rest = nextLine(rest) {
		out = append(out, l)
	}
	return out
}

// nextLine is the first non-empty line of text (without its newline; the
// last may have none) and the text after it; nil at the end.
func nextLine(text []byte) (line, rest []byte) {
	for len(text) > 0 {
		line, text, _ = bytes.Cut(text, []byte{'\n'})
		if len(line) > 0 {
			return line, text
		}
	}
	return nil, nil
}

// rebuild steps the recorded trail into the fresh core, so that a restarted
// node knows every thread as it was; the actions are dropped (they were
// taken before the restart). The Configure the node steps next makes the
// core ask again for whatever was outstanding, timers included, and for
// the envelopes it asked this host to publish that the trail has no line
// of (a crash that wrote a round's lines in part). So this host's own
// rejected envelopes are stepped too (rejectedLines.own), which takes them
// off that list; their verdicts must be rejections still, and change
// nothing. Other senders' rejected envelopes are not read: judged again
// with today's CAS, one refused for a token it lacked could be accepted.
func (h *Host) rebuild() error {
	// Its actions were taken before the restart: the core builds none
	// (Core.SetQuiet), and its state comes out the same (the chaos
	// harness's P4 and the core's scripts step a quiet core beside each).
	h.core.SetQuiet(true)
	defer h.core.SetQuiet(false)
	// The last republishLines inputs, for ownTail: a ring.
	tail := make([]TrailInput, 0, republishLines)
	next := 0
	own := func(pk string) bool { _, ok := h.id.key(pk); return ok }
	err := stepTrail(h.Trail.Dir(), func(ref string) []byte { b, _ := h.token(ref); return b }, rejectedLines{own: own}, func(ti *TrailInput) error {
		if ti.Record.Kind == KindClock {
			var c struct {
				At int64 `json:"at"`
			}
			json.Unmarshal(ti.Record.Envelope, &c)
			h.lastAt[ti.Thread] = c.At
		}
		switch {
		case cap(tail) == 0: // republishing nothing (tests)
		case len(tail) < cap(tail):
			tail = append(tail, *ti)
		default:
			tail[next] = *ti
			next = (next + 1) % len(tail)
		}
		if ti.Input == nil {
			return nil
		}
		v := h.core.Step(ti.Input)
		h.core.Advance()
		if ti.Record.Kind == audit.KindEnvelope && ti.Record.Verdict != audit.Accepted && v.Accepted {
			return fmt.Errorf("audit %s line %d: the trail records this host's envelope %s rejected (%s), and stepped again it is accepted: "+
				"the node's state is not what its trail says ('swarmhost replay' names where they part)",
				ti.Thread, ti.Line, ti.Input.(*protocol.Received).Env.ID, ti.Record.Reason)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("host: rebuilding from the audit trail: %w", err)
	}
	tail = append(tail[next:], tail[:next]...)
	h.republish = ownTail(tail, republishLines, own)
	return nil
}

// republishLines is how far back from the end of the trail a starting node
// publishes its own envelopes again: more lines than one round writes (up to
// maxBatch inputs, each with its clock, outcome and published lines). A
// variable for tests.
var republishLines = 8 * maxBatch

// ownTail is the envelopes sent by this host's keys and accepted, or held
// back to be judged later, in the last n lines of the trail, in order, each
// once. The loop steps this host's envelopes in the round that made them
// and publishes them once the round is durable, so a crash in between
// leaves envelopes recorded here but never sent; publishing them again on
// start closes that window (the stream drops an id it holds, and receivers
// drop duplicates).
func ownTail(inputs []TrailInput, n int, own func(pk string) bool) []*envelope.Envelope {
	var out []*envelope.Envelope
	seen := map[string]bool{}
	for _, ti := range inputs[max(len(inputs)-n, 0):] {
		r, ok := ti.Input.(*protocol.Received)
		sent := ti.Record.Kind == KindHeld || (ti.Record.Kind == audit.KindEnvelope && ti.Record.Verdict == audit.Accepted)
		if ok && r.Env != nil && sent && own(r.Env.SenderPK) && !seen[r.Env.ID] {
			seen[r.Env.ID] = true
			out = append(out, r.Env)
		}
	}
	return out
}

// publishAgain sends the envelopes of ownTail; those the bus refuses go
// to the outbox, sent again once the node runs.
func (h *Host) publishAgain() {
	for _, e := range h.republish {
		if !h.out.holds(e.ID) { // the outbox's file had it: sent first
			h.send(e)
		}
	}
	if len(h.republish) > 0 {
		h.log.Info("republished this host's latest envelopes", "count", len(h.republish))
	}
	h.republish = nil
}
