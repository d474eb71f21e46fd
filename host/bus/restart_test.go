package bus

import (
	"context"
	"testing"
	"time"
)

// TestRestartResumes: a durable consumer picks up after the last
// acknowledged envelope when both the process (a new Bus) and the embedded
// server (same folder) restart, and the stream keeps what was published.
func TestRestartResumes(t *testing.T) {
	checkLeaks(t)
	dir := t.TempDir()
	a := need(t, 1)
	p1, p2 := reply(t, a, "PROPOSE", 1), reply(t, a, "PROPOSE", 2)

	b := openBus(t, dir)
	publish(t, b, a, p1, p2)
	c := subscribe(t, b, Filter{Thread: a.ID}, "worker")
	d := next(t, c)
	if d.Envelope == nil || d.Envelope.ID != a.ID {
		t.Fatalf("first delivery %s, want the NEED", describe(d))
	}
	if err := d.Ack(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil { // closes the consumer and stops the server
		t.Fatal(err)
	}

	b = openBus(t, dir)
	if got := streamMsgs(t, b); got != 3 {
		t.Fatalf("after restart the stream holds %d messages, want 3", got)
	}
	c = subscribe(t, b, Filter{Thread: a.ID}, "worker")
	if n, err := c.Pending(testCtx(t)); err != nil || n != 2 {
		t.Fatalf("pending after restart = %d, %v; want 2", n, err)
	}
	// What the reader before acknowledged, and where the stream ends: a
	// reader that had taken in the first is caught up once it has the third.
	if floor, err := c.AckFloor(testCtx(t)); err != nil || floor != 1 {
		t.Fatalf("ack floor after restart = %d, %v; want 1", floor, err)
	}
	if last, err := b.LastSeq(testCtx(t)); err != nil || last != 3 {
		t.Fatalf("last sequence after restart = %d, %v; want 3", last, err)
	}
	expectIDs(t, c, p1, p2)

	// De-duplication survives the restart too: the server rebuilds its
	// window from the stored message ids.
	ack, err := b.Publish(testCtx(t), p1)
	if err != nil || !ack.Duplicate || ack.Seq != 2 {
		t.Fatalf("republish after restart = %+v, %v; want duplicate of seq 2", ack, err)
	}
}

// An envelope delivered but not acknowledged when the process and server
// stop (a node killed before recording it) is delivered to the next reader
// of the durable, at once rather than after the ack wait (an hour here):
// at least once, nothing lost, and a node restarted after kill -9 does not
// wait out its in-flight envelopes.
func TestUnackedIsRedeliveredAtOnceToTheNextReader(t *testing.T) {
	checkLeaks(t)
	dir := t.TempDir()
	long := func(c *Config) { c.AckWait = time.Hour }
	a, p1 := need(t, 1), need(t, 2)

	b := openBus(t, dir, long)
	publish(t, b, a, p1)
	c := subscribe(t, b, Filter{}, "worker")
	first := next(t, c)
	if first.Envelope == nil || first.Envelope.ID != a.ID {
		t.Fatalf("first delivery %s, want the first NEED", describe(first))
	}
	second := next(t, c)
	if err := second.Ack(testCtx(t)); err != nil { // acknowledged above the unacknowledged one
		t.Fatal(err)
	}
	b.Close() // the first never acknowledged: the reader was killed

	b = openBus(t, dir, long)
	c = subscribe(t, b, Filter{}, "worker")
	d := next(t, c) // within next's 5 s, far under the hour
	if d.Envelope == nil || d.Envelope.ID != a.ID {
		t.Fatalf("after reopening got %s, want the first NEED again", describe(d))
	}
	if err := d.Ack(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	// The one acknowledged above the floor may come again (receivers
	// de-duplicate); nothing else does.
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		d, err := c.Next(ctx)
		cancel()
		if err != nil {
			break
		}
		if d.Envelope == nil || d.Envelope.ID != p1.ID {
			t.Fatalf("then got %s, want at most the second NEED again", describe(d))
		}
		d.Ack(testCtx(t))
	}
}

// TestExternalURL: the bus works against a server it did not start, found
// by URL, and leaves that server running when it closes.
func TestExternalURL(t *testing.T) {
	checkLeaks(t)
	e, err := StartEmbedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Shutdown)

	b, err := Connect(testCtx(t), e.ClientURL())
	if err != nil {
		t.Fatalf("Connect(%s): %v", e.ClientURL(), err)
	}
	t.Cleanup(func() { b.Close() })
	if b.Embedded() != nil {
		t.Error("a connected bus claims an embedded server")
	}
	a := need(t, 1)
	publish(t, b, a)
	c := subscribe(t, b, Filter{}, "remote")
	expectIDs(t, c, a)
	b.Close()

	// The server is still up and holds the envelope: a second client sees it.
	b2, err := Connect(testCtx(t), e.ClientURL())
	if err != nil {
		t.Fatalf("reconnect: %v", err)
	}
	t.Cleanup(func() { b2.Close() })
	if got := streamMsgs(t, b2); got != 1 {
		t.Fatalf("stream holds %d, want 1", got)
	}
	expectIDs(t, subscribe(t, b2, Filter{}, "second"), a)

	if b3, err := Connect(testCtx(t), "nats://127.0.0.1:1"); err == nil {
		b3.Close()
		t.Error("Connect to a closed port succeeded")
	}
}
