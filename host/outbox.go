package host

import (
	"fmt"
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
type outbox struct {
	mu      sync.Mutex
	queue   []*envelope.Envelope
	stuck   time.Time // since when the bus took none of them (the first refusal, or the last one it took)
	lastErr error     // the bus's last refusal
	wake    chan struct{}
}

func newOutbox() *outbox { return &outbox{wake: make(chan struct{}, 1)} }

// send publishes e, or queues it behind those waiting.
func (h *Host) send(e *envelope.Envelope) {
	o := h.out
	o.mu.Lock()
	waiting := len(o.queue) > 0
	if waiting {
		o.queue = append(o.queue, e)
	}
	o.mu.Unlock()
	if waiting {
		return
	}
	if err := h.publishOwn(e); err != nil {
		if h.ctx.Err() != nil {
			o.mu.Lock()
			o.queue, o.lastErr = append(o.queue, e), err // stopping: counted by closeOutbox
			o.mu.Unlock()
			return
		}
		h.log.Error("publish: the envelope is recorded here, the bus did not take it; sent again until it does",
			"verb", e.Verb, "id", e.ID, "error", err)
		o.mu.Lock()
		if len(o.queue) == 0 {
			o.stuck = time.Now()
		}
		o.queue, o.lastErr = append(o.queue, e), err
		o.mu.Unlock()
		select {
		case o.wake <- struct{}{}:
		default:
		}
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

// closeOutbox reports what the bus never took when the node stops.
func (h *Host) closeOutbox() {
	if n, _, err := h.out.waiting(); n > 0 {
		h.log.Warn("stopping with envelopes the bus never took: the next start publishes the trail's latest envelopes again",
			"count", n, "error", err)
	}
}

// roundDuration is d to the second, or to the millisecond under one.
func roundDuration(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Second)
}
