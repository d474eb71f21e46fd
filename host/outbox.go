package host

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/canswarm/swarmhost/abi/envelope"
)

// outbox holds this node's envelopes that the bus did not take, in the
// order they were made, and sends them again until it does. The node
// steps and records its own envelopes before it publishes them, so one the
// bus refused (an external cluster unreachable for longer than a publish's
// own retries) is accepted here but reached no other host: before the
// outbox it waited for the node's next start (which publishes the trail's
// last envelopes again, ownTail) or was never sent.
//
// While envelopes wait, the loop's later ones queue behind them rather
// than being published first (the others' cores take what comes out of
// order, but the loop would block on each publish of a bus that is down).
//
// What waits is also written to DATA/outbox.jsonl (one envelope a line,
// fsynced, only while the bus refuses), removed once all is sent: a stop
// or a crash during an outage longer than ownTail's window would
// otherwise lose what the window no longer reaches. A start sends the
// file's envelopes first.
type outbox struct {
	mu      sync.Mutex
	queue   []*envelope.Envelope
	stuck   time.Time // since when the bus took none of them (the first refusal, or the last one it took)
	lastErr error     // the bus's last refusal
	wake    chan struct{}
	path    string   // DATA/outbox.jsonl
	file    *os.File // open for appending while envelopes wait
}

// outboxFile is the outbox's file in the data folder.
const outboxFile = "outbox.jsonl"

func newOutbox(dataDir string) *outbox {
	return &outbox{wake: make(chan struct{}, 1), path: filepath.Join(dataDir, outboxFile)}
}

// enqueue adds e behind those waiting and writes it to the file (o.mu
// held).
func (o *outbox) enqueue(e *envelope.Envelope, err error) error {
	if len(o.queue) == 0 {
		o.stuck = time.Now()
	}
	o.queue, o.lastErr = append(o.queue, e), err
	if o.file == nil {
		f, ferr := os.OpenFile(o.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if ferr != nil {
			return fmt.Errorf("outbox: %w", ferr)
		}
		o.file = f
	}
	if _, werr := o.file.Write(append(e.Wire(), '\n')); werr != nil {
		return fmt.Errorf("outbox: %w", werr)
	}
	if serr := o.file.Sync(); serr != nil {
		return fmt.Errorf("outbox: %w", serr)
	}
	return nil
}

// drained forgets the file once nothing waits (o.mu held).
func (o *outbox) drained() {
	if o.file != nil {
		o.file.Close()
		o.file = nil
	}
	_ = os.Remove(o.path)
}

// load queues the envelopes a stop or crash left in the file, to be sent
// first; a line that is not a signed envelope is skipped and reported.
func (o *outbox) load() (loaded []*envelope.Envelope, skipped int, err error) {
	b, err := os.ReadFile(o.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("outbox: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<30)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		e, verr := envelope.Verify(bytes.Clone(sc.Bytes()))
		if verr != nil {
			skipped++ // a torn last line
			continue
		}
		loaded = append(loaded, e)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(loaded) > 0 {
		o.queue, o.stuck = append(o.queue, loaded...), time.Now()
		select {
		case o.wake <- struct{}{}:
		default:
		}
	}
	return loaded, skipped, nil
}

// holds reports whether e waits in the outbox.
func (o *outbox) holds(id string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, q := range o.queue {
		if q.ID == id {
			return true
		}
	}
	return false
}

// send publishes e, or queues it behind those waiting.
func (h *Host) send(e *envelope.Envelope) {
	o := h.out
	o.mu.Lock()
	if len(o.queue) > 0 {
		if err := o.enqueue(e, o.lastErr); err != nil {
			h.log.Error("outbox", "error", err)
		}
		o.mu.Unlock()
		return
	}
	o.mu.Unlock()
	err := h.publishOwn(e)
	if err == nil {
		return
	}
	if h.ctx.Err() == nil {
		h.log.Error("publish: the envelope is recorded here, the bus did not take it; sent again until it does",
			"verb", e.Verb, "id", e.ID, "error", err)
	} // else stopping: counted by closeOutbox, sent by the next start
	o.mu.Lock()
	if qerr := o.enqueue(e, err); qerr != nil {
		h.log.Error("outbox", "error", qerr)
	}
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// publishOwn is one publication of the node's own envelope.
func (h *Host) publishOwn(e *envelope.Envelope) error {
	if f := h.cfg.publishFault; f != nil {
		if err := f(e); err != nil {
			h.metrics.publishErrors.Inc()
			return err
		}
	}
	if _, err := h.Bus.Publish(h.ctx, e); err != nil {
		h.metrics.publishErrors.Inc()
		return err
	}
	h.metrics.published.WithLabelValues(string(e.Verb)).Inc()
	return nil
}

// resend sends the waiting envelopes in order, each until the bus takes
// it, waiting resendDelay after a refusal; it ends with the node.
func (h *Host) resend() {
	defer h.wg.Done()
	o := h.out
	for attempt := 0; ; {
		o.mu.Lock()
		var e *envelope.Envelope
		if len(o.queue) > 0 {
			e = o.queue[0]
		}
		o.mu.Unlock()
		if e == nil {
			select {
			case <-o.wake:
				continue
			case <-h.ctx.Done():
				return
			}
		}
		if err := h.publishOwn(e); err != nil {
			if h.ctx.Err() != nil {
				return
			}
			o.mu.Lock()
			o.lastErr = err
			o.mu.Unlock()
			if !h.sleep(resendDelay(attempt)) {
				return
			}
			attempt++
			continue
		}
		attempt = 0
		o.mu.Lock()
		o.queue = o.queue[1:]
		if len(o.queue) == 0 {
			o.queue, o.lastErr = nil, nil
			o.drained()
			h.log.Info("publish: every envelope the bus had refused is on it now")
		} else {
			o.stuck = time.Now()
		}
		o.mu.Unlock()
	}
}

// resendDelay is the wait after the attempt+1st refusal in a row: 250 ms,
// doubling to 4 s (a publication is cheap to try, and the other hosts wait
// for what it holds).
func resendDelay(attempt int) time.Duration {
	return min(250*time.Millisecond<<min(attempt, 4), 4*time.Second)
}

// waiting is how many envelopes wait, since when the bus took none of
// them, and its last refusal.
func (o *outbox) waiting() (int, time.Time, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.queue), o.stuck, o.lastErr
}

// unsentProblem is Health's word on the outbox: envelopes waiting, none
// taken for longer than stallAfter.
func (o *outbox) unsentProblem() error {
	n, stuck, err := o.waiting()
	if n == 0 {
		return nil
	}
	if d := time.Since(stuck); d > stallAfter {
		return fmt.Errorf("%d of this node's envelopes are recorded here but not on the bus, which has taken none for %v (%v): other hosts do not have them; they are sent again until it takes them",
			n, roundDuration(d), err)
	}
	return nil
}

// closeOutbox reports what the bus never took when the node stops: it
// stays in DATA/outbox.jsonl for the next start.
func (h *Host) closeOutbox() {
	o := h.out
	o.mu.Lock()
	defer o.mu.Unlock()
	if n := len(o.queue); n > 0 {
		h.log.Warn("stopping with envelopes the bus never took: the next start sends them first", "count", n,
			"file", o.path, "error", o.lastErr)
	}
	if o.file != nil {
		o.file.Close()
		o.file = nil
	}
}

// roundDuration is d to the second, or to the millisecond under one.
func roundDuration(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Second)
}
