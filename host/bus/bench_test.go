package bus

import (
	"testing"

	"github.com/canswarm/swarmhost/abi/envelope"
)

// BenchmarkPublish measures a synchronous publish with the stream's ack, on
// the embedded server with sync always: each op includes an fsync.
func BenchmarkPublish(b *testing.B) {
	bus := openBus(b, b.TempDir())
	es := envelopes(b, b.N)
	ctx := testCtx(b)
	b.ResetTimer()
	for i := range b.N {
		if _, err := bus.Publish(ctx, es[i]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPublishNextAck measures one envelope's full trip: publish, pull,
// verify, confirmed ack.
func BenchmarkPublishNextAck(b *testing.B) {
	bus := openBus(b, b.TempDir())
	c := subscribe(b, bus, Filter{}, "bench")
	es := envelopes(b, b.N)
	ctx := testCtx(b)
	b.ResetTimer()
	for i := range b.N {
		if _, err := bus.Publish(ctx, es[i]); err != nil {
			b.Fatal(err)
		}
		d, err := c.Next(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if d.Err != nil {
			b.Fatal(d.Err)
		}
		if err := d.Ack(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func envelopes(b *testing.B, n int) []*envelope.Envelope {
	es := make([]*envelope.Envelope, n)
	for i := range es {
		es[i] = need(b, i)
	}
	return es
}
