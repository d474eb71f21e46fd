package bus

import (
	"context"
	"fmt"
	"sync"
)

// Taken tells the consumer its reader has taken in the delivery of stream
// sequence seq: judged it, whatever the verdict, held back for later
// included. WaitTaken counts on it.
func (c *Consumer) Taken(seq uint64) { c.progress.taken(seq) }

// WaitTaken returns once the reader has taken in (Taken) every message up
// to stream sequence last, or ctx's error saying how far it got. Messages
// acknowledged before Subscribe count as taken. A message handed out and
// not taken (a chaos middleware dropped it, or held it back, and the
// server delivers it again later) holds the wait until it is taken.
func (c *Consumer) WaitTaken(ctx context.Context, last uint64) error {
	return c.progress.wait(ctx, last)
}

// progress is how far along the stream a consumer's reader has got: the
// highest sequence Next handed out (from the ack floor at Subscribe), and
// those handed out and not yet taken. Next hands messages out in stream
// order, except for those delivered again, which are below the highest.
type progress struct {
	mu    sync.Mutex
	high  uint64
	open  map[uint64]bool
	moved chan struct{} // closed when high moves or a message is taken; nil until someone waits
}

func (p *progress) start(floor uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.high = max(p.high, floor)
	p.wake()
}

func (p *progress) handed(seq uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.open == nil {
		p.open = map[uint64]bool{}
	}
	p.open[seq] = true
	if seq > p.high {
		p.high = seq
		p.wake()
	}
}

func (p *progress) taken(seq uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.open[seq] {
		delete(p.open, seq)
		p.wake()
	}
}

func (p *progress) wake() {
	if p.moved != nil {
		close(p.moved)
		p.moved = nil
	}
}

// behind is why the reader has not taken in everything up to last, or "".
func (p *progress) behind(last uint64) string {
	if p.high < last {
		return fmt.Sprintf("read up to message %d of the stream, which held %d", p.high, last)
	}
	waiting, lowest := 0, uint64(0)
	for seq := range p.open {
		if seq <= last {
			waiting++
			if lowest == 0 || seq < lowest {
				lowest = seq
			}
		}
	}
	if waiting > 0 {
		return fmt.Sprintf("%d messages up to %d handed out and not yet taken in, the first %d", waiting, last, lowest)
	}
	return ""
}

func (p *progress) wait(ctx context.Context, last uint64) error {
	for {
		p.mu.Lock()
		why := p.behind(last)
		if why == "" {
			p.mu.Unlock()
			return nil
		}
		if p.moved == nil {
			p.moved = make(chan struct{})
		}
		moved := p.moved
		p.mu.Unlock()
		select {
		case <-moved:
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", why, ctx.Err())
		}
	}
}
