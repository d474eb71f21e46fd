package bus

import (
	"context"
	"strings"
	"testing"
	"time"
)

// The reader has taken in everything up to a sequence once it was handed
// that far and nothing at or below it is still out: a message handed out
// and not taken (dropped and to be delivered again) holds the wait, one
// above the point does not, and the ack floor at Subscribe counts.
func TestProgressWaitsForWhatIsOut(t *testing.T) {
	var p progress
	p.start(4)
	expired := func() context.Context {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		return ctx
	}
	if err := p.wait(expired(), 4); err != nil {
		t.Fatalf("up to the ack floor: %v", err)
	}
	p.handed(5)
	p.handed(6)
	p.taken(6)
	for _, c := range []struct {
		last uint64
		want string // "" for caught up
	}{
		{4, ""},
		{5, "1 messages up to 5 handed out and not yet taken in, the first 5"},
		{6, "1 messages up to 6 handed out and not yet taken in, the first 5"},
		{7, "read up to message 6 of the stream, which held 7"},
	} {
		err := p.wait(expired(), c.last)
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("wait(%d) = %v, want %q", c.last, err, c.want)
		}
	}
	// Taken later (delivered again), the wait ends.
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		done <- p.wait(ctx, 6)
	}()
	p.handed(5)
	p.taken(5)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
