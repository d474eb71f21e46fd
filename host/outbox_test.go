package host_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host"
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
	waitOnStream(t, h, ownEnvelopesOf(t, h, id))
}

// ownEnvelopesOf lists the node's own envelopes the thread accepted (not
// the client's NEED, published by Submit), in the order made.
func ownEnvelopesOf(t *testing.T, h *host.Host, id string) []string {
	t.Helper()
	keys := []string{h.HostPK()}
	for _, pk := range h.AgentKeys() {
		keys = append(keys, pk)
	}
	var own []string
	for _, e := range acceptedEnvelopes(t, h, id) {
		if slices.Contains(keys, e.SenderPK) {
			own = append(own, e.ID)
		}
	}
	if len(own) < 6 {
		t.Fatalf("only %d of the node's own envelopes in the thread", len(own))
	}
	return own
}

// waitOnStream waits until the stream holds each of own once (a
// publication still in flight lands a moment later), and fails unless
// they are there in that order.
func waitOnStream(t *testing.T, h *host.Host, own []string) {
	t.Helper()
	ctx := context.Background()
	stream, err := h.Bus.JetStream().Stream(ctx, bus.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
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
			if e, err := envelope.Decode(m.Data); err == nil && slices.Contains(own, e.ID) {
				onStream = append(onStream, e.ID)
			}
		}
		if len(onStream) == len(own) {
			if !slices.Equal(onStream, own) {
				t.Fatalf("the stream holds the node's envelopes out of the order they were made:\n stream %v\n  made %v", onStream, own)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the stream holds %d of the node's %d envelopes of the thread", len(onStream), len(own))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A node stopped while the bus refuses its envelopes keeps them in
// DATA/outbox.jsonl, in the order made; started again with the bus back,
// it sends them first (here with the start's own republication of the
// trail's last envelopes off, so that only the file can bring them) and
// removes the file once the bus has them all.
func TestRefusedEnvelopesOutliveAStop(t *testing.T) {
	defer host.SetRepublishLines(host.SetRepublishLines(0))
	var down atomic.Bool
	down.Store(true)
	cfg := host.WithPublishFault(host.Config{}, func(e *envelope.Envelope) error {
		if down.Load() {
			return errors.New("the bus is down (test)")
		}
		return nil
	})
	dir := t.TempDir()
	h := openAt(t, dir, honest, cfg)
	id := submit(t, h, 3, 3, 30_000)
	if info := wait(t, h, id); info.Phase != protocol.PhaseFinal {
		h.Close()
		t.Fatalf("ended %s", info.Phase)
	}
	own := ownEnvelopesOf(t, h, id)
	h.Close()
	b, err := os.ReadFile(filepath.Join(dir, "outbox.jsonl"))
	if err != nil {
		t.Fatalf("no outbox file after a stop with envelopes refused: %v", err)
	}
	var inFile []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		e, err := envelope.Verify([]byte(line))
		if err != nil {
			t.Fatalf("outbox line %q: %v", line, err)
		}
		if slices.Contains(own, e.ID) {
			inFile = append(inFile, e.ID)
		}
	}
	if !slices.Equal(inFile, own) {
		t.Fatalf("the outbox file holds the thread's envelopes\n %v\nwant, in the order made,\n %v", inFile, own)
	}

	down.Store(false)
	h = openAt(t, dir, honest, cfg)
	defer h.Close()
	waitOnStream(t, h, own)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(dir, "outbox.jsonl")); errors.Is(err, os.ErrNotExist) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the outbox file stayed once the bus had every envelope")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
