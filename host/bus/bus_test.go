package bus

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/canswarm/swarmhost/abi/envelope"
)

// TestRoundTrip: an envelope comes out with the exact bytes that went in,
// verified, on its subject, with its stream position.
func TestRoundTrip(t *testing.T) {
	checkLeaks(t)
	b := openBus(t, t.TempDir())
	n := need(t, 1)
	ack, err := b.Publish(testCtx(t), n)
	if err != nil || ack.Duplicate || ack.Seq != 1 {
		t.Fatalf("Publish = %+v, %v; want seq 1, not duplicate", ack, err)
	}
	c := subscribe(t, b, Filter{}, "all")
	d := next(t, c)
	if !bytes.Equal(d.Data, n.Wire()) {
		t.Fatalf("delivered bytes differ from the published wire form:\n got %s\nwant %s", d.Data, n.Wire())
	}
	if d.Err != nil || d.Envelope == nil || d.Envelope.ID != n.ID {
		t.Fatalf("delivery: envelope %v, err %v", d.Envelope, d.Err)
	}
	if want, _ := SubjectOf(n); d.Subject != want {
		t.Errorf("subject %s, want %s", d.Subject, want)
	}
	if d.Seq != 1 || d.NumDelivered != 1 {
		t.Errorf("seq %d, delivered %d; want 1, 1", d.Seq, d.NumDelivered)
	}
	if err := d.Ack(testCtx(t)); err != nil {
		t.Fatalf("Ack: %v", err)
	}
	expectNothing(t, c)
}

// TestDeduplication: republishing an envelope, even re-decoded from its
// bytes, stores nothing new and is acknowledged as a duplicate of the first.
func TestDeduplication(t *testing.T) {
	checkLeaks(t)
	b := openBus(t, t.TempDir())
	n := need(t, 1)
	first, err := b.Publish(testCtx(t), n)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := envelope.Verify(n.Wire())
	for i, e := range []*envelope.Envelope{n, again} {
		ack, err := b.Publish(testCtx(t), e)
		if err != nil {
			t.Fatalf("republish %d: %v", i, err)
		}
		if !ack.Duplicate || ack.Seq != first.Seq {
			t.Fatalf("republish %d = %+v, want duplicate of seq %d", i, ack, first.Seq)
		}
	}
	other := need(t, 2)
	publish(t, b, other)
	if got := streamMsgs(t, b); got != 2 {
		t.Fatalf("stream holds %d messages, want 2", got)
	}
	expectIDs(t, subscribe(t, b, Filter{}, "all"), n, other)
}

// TestFilters: consumers select by thread, by verb, by both, and the
// envelopes outside any NEED.
func TestFilters(t *testing.T) {
	checkLeaks(t)
	b := openBus(t, t.TempDir())
	a, z := need(t, 1), need(t, 2)
	pa, pz := reply(t, a, envelope.VerbPropose, 1), reply(t, z, envelope.VerbPropose, 1)
	ca := reply(t, a, envelope.VerbCommit, 2)
	cp := sign(t, envelope.Draft{Verb: envelope.VerbCheckpoint, Lamport: 9})
	publish(t, b, a, z, pa, pz, ca, cp)

	expectIDs(t, subscribe(t, b, Filter{Thread: a.ID}, "thread-a"), a, pa, ca)
	expectIDs(t, subscribe(t, b, Filter{Thread: z.ID}, "thread-z"), z, pz)
	expectIDs(t, subscribe(t, b, Filter{Verb: envelope.VerbPropose}, "proposals"), pa, pz)
	expectIDs(t, subscribe(t, b, Filter{Verb: envelope.VerbNeed}, "needs"), a, z)
	expectIDs(t, subscribe(t, b, Filter{Thread: a.ID, Verb: envelope.VerbCommit}, "a-commits"), ca)
	expectIDs(t, subscribe(t, b, Filter{Thread: NoThread}, "unthreaded"), cp)
	expectIDs(t, subscribe(t, b, Filter{}, "all"), a, z, pa, pz, ca, cp)

	// A consumer sees what is published after it subscribed, too.
	c := subscribe(t, b, Filter{Thread: a.ID}, "thread-a")
	late := reply(t, a, envelope.VerbAttest, 3)
	publish(t, b, late, reply(t, z, envelope.VerbAttest, 3))
	expectIDs(t, c, late)

	if _, err := b.Subscribe(testCtx(t), Filter{Verb: "NOPE"}, "bad"); err == nil {
		t.Error("Subscribe with an unknown verb succeeded")
	}
	for _, name := range []string{"", "a.b", "a*", "with space", strings.Repeat("x", 65)} {
		if _, err := b.Subscribe(testCtx(t), Filter{}, name); err == nil {
			t.Errorf("Subscribe with durable name %q succeeded", name)
		}
	}
	// A durable name is one position in one filtered sequence.
	if _, err := b.Subscribe(testCtx(t), Filter{Thread: z.ID}, "thread-a"); !contains(err, "another filter") {
		t.Errorf("reopening durable thread-a with another filter: %v", err)
	}
}

// TestBadInputIsDelivered: what fails verification reaches the consumer
// with its rejection code, in stream order, never dropped.
func TestBadInputIsDelivered(t *testing.T) {
	checkLeaks(t)
	b := openBus(t, t.TempDir())
	n := need(t, 1)
	subj, _ := SubjectOf(n)

	forged := bytes.Replace(n.Wire(), []byte(`"sig":"`+n.Sig[:2]), []byte(`"sig":"`+flipHex(n.Sig[:2])), 1)
	p := reply(t, n, envelope.VerbPropose, 1)
	cases := []struct {
		data []byte
		subj string
		code envelope.Code
		env  bool // whether an envelope is decoded
		wrap error
	}{
		{[]byte("not json at all"), subj, envelope.CodeMalformed, false, nil},
		{[]byte{}, subj, envelope.CodeMalformed, false, nil},
		{forged, subj, envelope.CodeBadSignature, true, nil},
		{p.Wire(), subj, envelope.CodeMalformed, true, ErrWrongSubject}, // a PROPOSE on the NEED subject
	}
	for i, tc := range cases {
		if _, err := b.PublishRaw(testCtx(t), tc.subj, tc.data, ""); err != nil {
			t.Fatalf("PublishRaw %d: %v", i, err)
		}
	}
	c := subscribe(t, b, Filter{}, "all")
	for i, tc := range cases {
		d := next(t, c)
		if !bytes.Equal(d.Data, tc.data) {
			t.Fatalf("case %d: delivered %q, want %q", i, d.Data, tc.data)
		}
		if got := envelope.CodeOf(d.Err); got != tc.code {
			t.Errorf("case %d: code %q (%v), want %q", i, got, d.Err, tc.code)
		}
		if (d.Envelope != nil) != tc.env {
			t.Errorf("case %d: envelope decoded = %v, want %v", i, d.Envelope != nil, tc.env)
		}
		if tc.wrap != nil && !errors.Is(d.Err, tc.wrap) {
			t.Errorf("case %d: %v does not wrap %v", i, d.Err, tc.wrap)
		}
		if err := d.Ack(testCtx(t)); err != nil {
			t.Fatal(err)
		}
	}
	expectNothing(t, c)

	// Raw publishing is confined to concrete subjects of the stream.
	for _, s := range []string{"swarm.env.*.NEED", "swarm.env.>", "elsewhere", "swarm.env.a.b.c"} {
		if _, err := b.PublishRaw(testCtx(t), s, []byte("x"), ""); err == nil {
			t.Errorf("PublishRaw on %q succeeded", s)
		}
	}
	// Publish refuses what it cannot route.
	if _, err := b.Publish(testCtx(t), nil); err == nil {
		t.Error("Publish(nil) succeeded")
	}
	if _, err := b.Publish(testCtx(t), &envelope.Envelope{ID: "x", Verb: envelope.VerbNeed}); err == nil {
		t.Error("Publish with a bad id succeeded")
	}
	if _, err := b.Publish(testCtx(t), &envelope.Envelope{ID: n.ID, Verb: "NEED.x"}); err == nil {
		t.Error("Publish with an injected verb succeeded")
	}
}

func flipHex(s string) string {
	out := []byte(s)
	if out[0] == '0' {
		out[0] = '1'
	} else {
		out[0] = '0'
	}
	return string(out)
}

// TestNextEnds: Next honours its context, Close of the consumer and Close
// of the bus, and a closed bus refuses work.
func TestNextEnds(t *testing.T) {
	checkLeaks(t)
	b := openBus(t, t.TempDir())
	c := subscribe(t, b, Filter{}, "idle")

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := c.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next past its deadline: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Next took %v to notice its deadline", d)
	}

	closedWhileWaiting := func(c *Consumer, closeIt func()) {
		t.Helper()
		errc := make(chan error, 1)
		go func() {
			_, err := c.Next(context.Background())
			errc <- err
		}()
		time.Sleep(100 * time.Millisecond)
		closeIt()
		select {
		case err := <-errc:
			if !errors.Is(err, ErrClosed) {
				t.Fatalf("Next after Close: %v, want ErrClosed", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Next did not return after Close")
		}
	}
	closedWhileWaiting(c, func() { c.Close() })
	c2 := subscribe(t, b, Filter{}, "idle2")
	closedWhileWaiting(c2, func() { b.Close() })

	if _, err := b.Publish(testCtx(t), need(t, 1)); !errors.Is(err, ErrClosed) {
		t.Errorf("Publish on a closed bus: %v", err)
	}
	if _, err := b.Subscribe(testCtx(t), Filter{}, "late"); !errors.Is(err, ErrClosed) {
		t.Errorf("Subscribe on a closed bus: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestOpenConfigErrors(t *testing.T) {
	ctx := testCtx(t)
	for name, cfg := range map[string]Config{
		"nowhere":           {},
		"max age < dedup":   {DataDir: t.TempDir(), MaxAge: time.Hour},
		"tiny dedup window": {DataDir: t.TempDir(), DedupWindow: time.Millisecond},
		"bad listen":        {DataDir: t.TempDir(), Listen: "localhost"},
		"bad port":          {DataDir: t.TempDir(), Listen: "127.0.0.1:x"},
		"negative ack wait": {DataDir: t.TempDir(), AckWait: -time.Second},
	} {
		if b, err := Open(ctx, cfg); err == nil {
			b.Close()
			t.Errorf("%s: Open succeeded", name)
		}
	}
	if _, err := Connect(ctx, ""); err == nil {
		t.Error("Connect(\"\") succeeded")
	}
}

// A consumer told to trust certain bytes takes the envelope it is given for
// exactly those bytes, without verifying them again, and verifies every
// other message as before: a copy with one byte changed is rejected.
func TestTrustedBytesAreNotVerifiedAgain(t *testing.T) {
	checkLeaks(t)
	b := openBus(t, t.TempDir())
	own, other := need(t, 1), need(t, 2)
	subj, _ := SubjectOf(own)
	forged := bytes.Replace(own.Wire(), []byte(`"sig":"`+own.Sig[:2]), []byte(`"sig":"`+flipHex(own.Sig[:2])), 1)
	publish(t, b, own, other)
	if _, err := b.PublishRaw(testCtx(t), subj, forged, ""); err != nil {
		t.Fatal(err)
	}
	c := subscribe(t, b, Filter{}, "trusting")
	c.Trust(func(data []byte) *envelope.Envelope {
		if bytes.Equal(data, own.Wire()) {
			return own
		}
		return nil
	})
	if d := next(t, c); d.Envelope != own || d.Err != nil || c.TrustedDeliveries() != 1 {
		t.Fatalf("own envelope: %s (same object %v), %d trusted", describe(d), d.Envelope == own, c.TrustedDeliveries())
	}
	if d := next(t, c); d.Envelope == nil || d.Envelope.ID != other.ID || d.Err != nil || c.TrustedDeliveries() != 1 {
		t.Fatalf("other envelope: %s, %d trusted", describe(d), c.TrustedDeliveries())
	}
	if d := next(t, c); envelope.CodeOf(d.Err) != envelope.CodeBadSignature || c.TrustedDeliveries() != 1 {
		t.Fatalf("forged copy of the trusted one: %s (%v), %d trusted", describe(d), d.Err, c.TrustedDeliveries())
	}
}

// Bytes published first under an envelope's id (a forged body, its
// signature zeroed) do not make the stream drop the envelope itself: its
// message id is the ref of its own wire text. Both are delivered, the
// forgery failing its signature check, the envelope verified; published
// again, the envelope is a duplicate.
func TestForgedBodyUnderAnIDDoesNotPreemptTheEnvelope(t *testing.T) {
	checkLeaks(t)
	b := openBus(t, t.TempDir())
	real := need(t, 1)
	subj, _ := SubjectOf(real)
	forged := bytes.Replace(real.Wire(), []byte(`"sig":"`+real.Sig), []byte(`"sig":"`+strings.Repeat("0", len(real.Sig))), 1)
	// The forger knows the id (the hash of the signing form), not the
	// signature, so not the ref of the real wire text either.
	if _, err := b.PublishRaw(testCtx(t), subj, forged, real.ID); err != nil {
		t.Fatal(err)
	}
	ack, err := b.Publish(testCtx(t), real)
	if err != nil || ack.Duplicate {
		t.Fatalf("the envelope after a forgery under its id: %+v, %v; want it stored", ack, err)
	}
	if again, err := b.Publish(testCtx(t), real); err != nil || !again.Duplicate || again.Seq != ack.Seq {
		t.Fatalf("the envelope again: %+v, %v; want the duplicate of seq %d", again, err, ack.Seq)
	}
	c := subscribe(t, b, Filter{}, "reader")
	if d := next(t, c); envelope.CodeOf(d.Err) != envelope.CodeBadSignature {
		t.Fatalf("first delivery: %s (%v), want the forgery, bad_signature", describe(d), d.Err)
	}
	if d := next(t, c); d.Err != nil || d.Envelope == nil || d.Envelope.ID != real.ID {
		t.Fatalf("second delivery: %s (%v), want the envelope", describe(d), d.Err)
	}
}
