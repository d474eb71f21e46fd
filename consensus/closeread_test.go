package consensus_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/lni/dragonboat/v4"
)

// Reads running while the node closes end, with an error once it is
// closed, and never read a replica the close is tearing down: under -race
// a Get racing Close was a data race inside dragonboat (its state machine's
// Close sets the flag Lookup reads under a lock, without the lock), which
// the node now keeps its reads away from.
func TestReadsRacingCloseEndCleanly(t *testing.T) {
	n := openSingle(t, t.TempDir(), 2)
	const need = "sha256:0000000000000000000000000000000000000000000000000000000000000000"
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, 8)
	for range 4 {
		wg.Go(func() {
			<-start
			for {
				_, _, _, err := n.Get(context.Background(), need)
				if err != nil {
					errs <- err
					return
				}
				if _, err := n.Status(context.Background()); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	close(start)
	if _, _, _, err := n.Get(context.Background(), need); err != nil {
		t.Fatalf("a read before the close: %v", err)
	}
	n.Close()
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, dragonboat.ErrClosed) {
			t.Errorf("a read cut by the close: %v, want it to say the node is closed", err)
		}
	}
	if _, _, _, err := n.Get(context.Background(), need); !errors.Is(err, dragonboat.ErrClosed) {
		t.Fatalf("a read after the close: %v, want dragonboat.ErrClosed", err)
	}
}
