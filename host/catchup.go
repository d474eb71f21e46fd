package host

import (
	"context"
	"fmt"
)

// CatchUp returns once the node has stepped every envelope the bus's
// stream held when it was called: then a NEED submitted through another
// node of the swarm (whose submit returned once the stream held it) is
// known here. A node is otherwise only as far along the stream as it has
// read, and a show right after a submit elsewhere could be told "unknown".
// An envelope held back (for an input it rests on) counts as stepped; one
// a chaos middleware dropped or holds does not, until it is delivered
// again and stepped. It waits at most until ctx ends, then says how far
// behind the node still is.
func (h *Host) CatchUp(ctx context.Context) error {
	last, err := h.Bus.LastSeq(ctx)
	if err != nil {
		return fmt.Errorf("catching up with the bus: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-h.halted:
			cancel()
		case <-ctx.Done():
		}
	}()
	if err := h.consumer.WaitTaken(ctx, last); err != nil {
		if h.Err() != nil {
			return fmt.Errorf("catching up with the bus: the node halted: %w", h.Err())
		}
		return fmt.Errorf("catching up with the bus: %w", err)
	}
	return nil
}
