package host

import (
	"context"
	"testing"
	"time"
)

// rounds.wait returns once every round begun before it is committed: at
// once when none is under way, not before the commit of one that is, and
// when the node halts or the context ends meanwhile.
func TestRoundsWaitForTheRoundUnderWay(t *testing.T) {
	var r rounds
	stopped := make(chan struct{})
	if err := r.wait(context.Background(), stopped); err != nil {
		t.Fatalf("no round under way: %v", err)
	}
	r.begin()
	returned := make(chan error, 1)
	go func() { returned <- r.wait(context.Background(), stopped) }()
	select {
	case err := <-returned:
		t.Fatalf("returned (%v) while the round was under way", err)
	case <-time.After(50 * time.Millisecond):
	}
	r.committed()
	if err := <-returned; err != nil {
		t.Fatal(err)
	}

	r.begin()
	ctx, cancel := context.WithCancel(context.Background())
	go func() { returned <- r.wait(ctx, stopped) }()
	cancel()
	if err := <-returned; err != context.Canceled {
		t.Fatalf("context ended: %v, want context.Canceled", err)
	}
	go func() { returned <- r.wait(context.Background(), stopped) }()
	close(stopped)
	if err := <-returned; err != nil {
		t.Fatalf("node halted: %v, want nil (the caller reads the node's error)", err)
	}
}
