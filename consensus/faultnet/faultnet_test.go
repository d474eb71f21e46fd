package faultnet

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/lni/dragonboat/v4/config"
	"github.com/lni/dragonboat/v4/raftio"
	pb "github.com/lni/dragonboat/v4/raftpb"
)

func TestLinkSemantics(t *testing.T) {
	n := New()
	const a, b, c = "a:1", "b:1", "c:1"
	if !n.Linked(a, b) || !n.Linked(b, a) {
		t.Fatal("a new network has a cut link")
	}
	n.Cut(a, b)
	if n.Linked(a, b) || n.Linked(b, a) || !n.Linked(a, c) {
		t.Fatal("Cut(a, b) must cut both directions of a-b only")
	}
	n.Heal(b, a)
	if !n.Linked(a, b) || !n.Linked(b, a) {
		t.Fatal("Heal(b, a) must heal both directions")
	}
	n.CutOneWay(a, b)
	if n.Linked(a, b) || !n.Linked(b, a) {
		t.Fatal("CutOneWay(a, b) must cut a->b only")
	}
	n.HealOneWay(a, b)
	n.Isolate(c)
	if n.Linked(c, a) || n.Linked(b, c) || n.Linked(c, "new:1") || !n.Linked(a, b) {
		t.Fatal("Isolate(c) must cut every link of c, to addresses not seen too, and no other")
	}
	n.Heal(a, c)
	if n.Linked(a, c) {
		t.Fatal("Heal must not end an isolation")
	}
	n.Rejoin(c)
	if !n.Linked(a, c) {
		t.Fatal("Rejoin(c) must restore c's links")
	}
	n.Cut(a, b)
	n.Isolate(c)
	n.HealAll()
	if !n.Linked(a, b) || !n.Linked(c, a) {
		t.Fatal("HealAll must heal every link")
	}
	for addr, want := range map[string]bool{"node1:1": true, "x": false, ":1": false, "h:": false, "": false} {
		if n.Validate(addr) != want {
			t.Errorf("Validate(%q) = %v, want %v", addr, !want, want)
		}
	}
}

// endpoint is a transport with handlers that record what arrives.
type endpoint struct {
	tr      raftio.ITransport
	batches chan pb.MessageBatch
}

func start(t *testing.T, n *Network, addr string) *endpoint {
	t.Helper()
	e := &endpoint{batches: make(chan pb.MessageBatch, 16)}
	e.tr = n.Create(config.NodeHostConfig{RaftAddress: addr},
		func(b pb.MessageBatch) { e.batches <- b },
		func(pb.Chunk) bool { return true })
	if err := e.tr.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.tr.Close() })
	return e
}

func (e *endpoint) expect(t *testing.T, want bool, what string) {
	t.Helper()
	select {
	case <-e.batches:
		if !want {
			t.Fatalf("%s: a batch arrived over a cut link", what)
		}
	case <-time.After(200 * time.Millisecond):
		if want {
			t.Fatalf("%s: the batch did not arrive", what)
		}
	}
}

// Batches flow over a link, are dropped while it is cut (by the sender, and
// by the receiver for a batch it gets from a cut-off source), flow again
// once it heals; snapshots are refused over a cut link; and two Networks
// using the same addresses do not reach each other.
func TestTransportDropsOverCutLinks(t *testing.T) {
	n := New()
	const a, b = "a:1", "b:1"
	start(t, n, a)
	eb := start(t, n, b)
	ta := n.Create(config.NodeHostConfig{RaftAddress: a}, nil, nil).(*transport)
	conn, err := ta.GetConnection(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	batch := pb.MessageBatch{SourceAddress: a, Requests: []pb.Message{{ShardID: 1, From: 1, To: 2}}}
	if err := conn.SendMessageBatch(batch); err != nil {
		t.Fatal(err)
	}
	eb.expect(t, true, "link up")

	n.Isolate(b)
	if err := conn.SendMessageBatch(batch); err != nil {
		t.Fatalf("a batch over a cut link must be dropped silently, got %v", err)
	}
	eb.expect(t, false, "receiver isolated")
	if _, err := ta.GetSnapshotConnection(context.Background(), b); !errors.Is(err, ErrLinkCut) {
		t.Fatalf("snapshot connection over a cut link: %v, want ErrLinkCut", err)
	}
	if batches, chunks := n.Dropped(); batches != 1 || chunks != 1 {
		t.Fatalf("Dropped() = %d batches, %d chunks; want 1 and 1", batches, chunks)
	}

	// A batch that claims a cut-off source is dropped by the receiver even
	// when the sending side's link is up.
	n.HealAll()
	n.CutOneWay("c:1", b)
	if err := conn.SendMessageBatch(pb.MessageBatch{SourceAddress: "c:1"}); err != nil {
		t.Fatal(err)
	}
	eb.expect(t, false, "source cut off at the receiver")

	n.HealAll()
	if err := conn.SendMessageBatch(batch); err != nil {
		t.Fatal(err)
	}
	eb.expect(t, true, "healed")

	other := New()
	start(t, other, a)
	to := other.Create(config.NodeHostConfig{RaftAddress: a}, nil, nil)
	if c, err := to.GetConnection(context.Background(), b); err == nil {
		c.Close()
		t.Fatal("a Network reached an address that only another Network listens on")
	}
}
