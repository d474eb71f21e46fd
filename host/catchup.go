package host

import (
	"context"
	"fmt"
	"sync"
)

// CatchUp returns once the node has stepped and recorded every envelope
// the bus's stream held when it was called: then a NEED submitted through
// another node of the swarm (whose submit returned once the stream held
// it) is known here. A node is otherwise only as far along the stream as
// it has read, and a show right after a submit elsewhere could be told
// "unknown". It waits at most until ctx ends, then says how far behind the
// node still is.
func (h *Host) CatchUp(ctx context.Context) error {
	last, err := h.Bus.LastSeq(ctx)
	if err != nil {
		return fmt.Errorf("catching up with the bus: %w", err)
	}
	if err := h.taken.wait(ctx, last, h.halted); err != nil {
		return fmt.Errorf("catching up with the bus: stepped up to message %d of the stream, which held %d: %w",
			h.taken.get(), last, err)
	}
	return nil
}

// streamMark is the highest stream sequence among the bus deliveries the
// loop has stepped and made durable, and wakes whoever waits for it to
// pass a point. Deliveries come in stream order, but for a redelivery (an
// envelope held back, or not acknowledged before a crash) that is stepped
// after later ones: a waiter for sequence s is woken once a delivery at s
// or later was stepped, by which time every earlier one was delivered.
type streamMark struct {
	mu    sync.Mutex
	seq   uint64
	moved chan struct{} // closed when seq moves; nil until someone waits
}

func (m *streamMark) advance(seq uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if seq <= m.seq {
		return
	}
	m.seq = seq
	if m.moved != nil {
		close(m.moved)
		m.moved = nil
	}
}

func (m *streamMark) get() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.seq
}

// wait returns nil once the mark is at seq or past it, or why it stopped
// waiting: ctx ended, or the node halted (halted closed).
func (m *streamMark) wait(ctx context.Context, seq uint64, halted <-chan struct{}) error {
	for {
		m.mu.Lock()
		if m.seq >= seq {
			m.mu.Unlock()
			return nil
		}
		if m.moved == nil {
			m.moved = make(chan struct{})
		}
		moved := m.moved
		m.mu.Unlock()
		select {
		case <-moved:
		case <-ctx.Done():
			return ctx.Err()
		case <-halted:
			return fmt.Errorf("the node halted")
		}
	}
}
