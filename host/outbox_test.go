package host_test

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host"
	"github.com/canswarm/swarmhost/host/audit"
	"github.com/canswarm/swarmhost/host/bus"
	"github.com/canswarm/swarmhost/host/protocol"
)

// A node whose bus refuses its publications goes on (its own envelopes are
// stepped and recorded before they are published), says so in Health once
// the bus has taken none for longer than the stall limit, and sends every
// refused envelope again, in the order they were made, once the bus takes
// them: Health is fine again and the stream holds each once, in that
// order.
func TestRefusedPublicationsAreSentAgainInOrder(t *testing.T) {
	defer host.SetStallAfter(host.SetStallAfter(300 * time.Millisecond))
	var down atomic.Bool
	var refused atomic.Int64
	down.Store(true)
	cfg := host.WithPublishFault(host.Config{}, func(e *envelope.Envelope) error {
		if down.Load() {
			refused.Add(1)
			return errors.New("the bus is down (test)")
		}
		return nil
	})
	h := openAt(t, t.TempDir(), honest, cfg)
	defer h.Close()
	id := submit(t, h, 3, 3, 30_000)
	if info := wait(t, h, id); info.Phase != protocol.PhaseFinal {
		t.Fatalf("with the bus refusing its envelopes the NEED ended %s", info.Phase)
	}
	if refused.Load() == 0 {
		t.Fatal("no publication was refused: the fault did not apply")
	}
	deadline := time.Now().Add(20 * time.Second)
	for h.Health() == nil {
		if time.Now().After(deadline) {
			t.Fatal("Health never said the bus refused the node's envelopes")
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("health while refused: %v", h.Health())

	down.Store(false)
	deadline = time.Now().Add(30 * time.Second)
	for h.Health() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("the refused envelopes were not all sent: %v", h.Health())
		}
		time.Sleep(50 * time.Millisecond)
	}
	keys := []string{h.HostPK()}
	for _, pk := range h.AgentKeys() {
		keys = append(keys, pk)
	}
	var own []string // the node's own envelopes of the thread, in the order made
	for _, r := range trailLines(t, h, id) {
		if r.Kind != audit.KindEnvelope || r.Verdict != audit.Accepted {
			continue
		}
		e, err := envelope.Verify(r.Envelope)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(keys, e.SenderPK) { // not the client's NEED, published by Submit
			own = append(own, e.ID)
		}
	}
	if len(own) < 6 {
		t.Fatalf("only %d of the node's own envelopes in the thread", len(own))
	}
	// Read the stream (a publication still in flight when Health turned
	// fine lands a moment later): each of them once there, in that order.
	ctx := context.Background()
	stream, err := h.Bus.JetStream().Stream(ctx, bus.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(20 * time.Second)
	for {
		last, err := h.Bus.LastSeq(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var onStream []string
		for seq := uint64(1); seq <= last; seq++ {
			m, err := stream.GetMsg(ctx, seq)
			if err != nil {
				continue // deleted or not there
			}
			if id := m.Header.Get("Nats-Msg-Id"); slices.Contains(own, id) {
				onStream = append(onStream, id)
			}
		}
		if len(onStream) == len(own) {
			if !slices.Equal(onStream, own) {
				t.Fatalf("the stream holds the node's envelopes out of the order they were made:\n stream %v\n  made %v", onStream, own)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the stream holds %d of the node's %d envelopes of the thread once the bus came back", len(onStream), len(own))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
