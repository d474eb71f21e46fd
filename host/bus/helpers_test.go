package bus

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/canswarm/swarmhost/abi/envelope"
)

// checkLeaks fails the test if goroutines started during it are still
// running once every other cleanup has run. Call it first in a test so that
// its cleanup runs last.
func checkLeaks(t testing.TB) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				n := runtime.Stack(buf, true)
				t.Errorf("goroutines leaked: %d before, %d after\n%s", before, runtime.NumGoroutine(), buf[:n])
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func key(i byte) ed25519.PrivateKey {
	seed := make([]byte, ed25519.SeedSize)
	seed[0] = i
	return ed25519.NewKeyFromSeed(seed)
}

// need signs a NEED; nonce makes each one distinct.
func need(t testing.TB, nonce int) *envelope.Envelope {
	t.Helper()
	return sign(t, envelope.Draft{
		Verb:    envelope.VerbNeed,
		Lamport: uint64(nonce + 1),
		Payload: map[string]any{"nonce": nonce, "k": 1, "n": 1},
	})
}

// reply signs an envelope of verb in the thread of n.
func reply(t testing.TB, n *envelope.Envelope, verb envelope.Verb, nonce int) *envelope.Envelope {
	t.Helper()
	return sign(t, envelope.Draft{
		ThreadID: n.ID,
		Verb:     verb,
		Lamport:  n.Lamport + uint64(nonce) + 1,
		Payload:  map[string]any{"epoch": 1, "nonce": nonce},
	})
}

func sign(t testing.TB, d envelope.Draft) *envelope.Envelope {
	t.Helper()
	e, err := envelope.Sign(d, key(1))
	if err != nil {
		t.Fatalf("sign %s: %v", d.Verb, err)
	}
	return e
}

func openBus(t testing.TB, dataDir string, mod ...func(*Config)) *Bus {
	t.Helper()
	cfg := Config{DataDir: dataDir}
	for _, m := range mod {
		m(&cfg)
	}
	b, err := Open(testCtx(t), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func subscribe(t testing.TB, b *Bus, f Filter, durable string) *Consumer {
	t.Helper()
	c, err := b.Subscribe(testCtx(t), f, durable)
	if err != nil {
		t.Fatalf("Subscribe(%+v, %s): %v", f, durable, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func publish(t testing.TB, b *Bus, es ...*envelope.Envelope) {
	t.Helper()
	for _, e := range es {
		ack, err := b.Publish(testCtx(t), e)
		if err != nil {
			t.Fatalf("Publish %s: %v", e.Verb, err)
		}
		if ack.Duplicate {
			t.Fatalf("Publish %s: unexpected duplicate", e.Verb)
		}
	}
}

// next returns the next delivery, failing the test after a few seconds.
func next(t testing.TB, c *Consumer) *Delivery {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d, err := c.Next(ctx)
	if err != nil {
		t.Fatalf("Next on %s: %v", c.Durable(), err)
	}
	return d
}

// expectIDs reads len(want) deliveries, checks their envelope ids in order,
// acks each, then checks that nothing more is waiting.
func expectIDs(t testing.TB, c *Consumer, want ...*envelope.Envelope) {
	t.Helper()
	for i, w := range want {
		d := next(t, c)
		if d.Err != nil {
			t.Fatalf("delivery %d: %v", i, d.Err)
		}
		if d.Envelope.ID != w.ID {
			t.Fatalf("delivery %d is %s %s, want %s %s", i, d.Envelope.Verb, d.Envelope.ID, w.Verb, w.ID)
		}
		if err := d.Ack(testCtx(t)); err != nil {
			t.Fatalf("Ack: %v", err)
		}
	}
	expectNothing(t, c)
}

func expectNothing(t testing.TB, c *Consumer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	d, err := c.Next(ctx)
	if err == nil {
		t.Fatalf("unexpected delivery on %s: seq %d %s", c.Durable(), d.Seq, describe(d))
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next on an idle consumer: %v, want DeadlineExceeded", err)
	}
}

func describe(d *Delivery) string {
	if d.Envelope != nil {
		return fmt.Sprintf("%s %s", d.Envelope.Verb, d.Envelope.ID)
	}
	return fmt.Sprintf("%.40q (%v)", d.Data, d.Err)
}

func streamMsgs(t testing.TB, b *Bus) uint64 {
	t.Helper()
	info, err := b.stream.Info(testCtx(t))
	if err != nil {
		t.Fatalf("stream info: %v", err)
	}
	return info.State.Msgs
}

func contains(err error, s string) bool { return err != nil && strings.Contains(err.Error(), s) }
