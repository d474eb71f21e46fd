package faultnet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"

	"github.com/lni/dragonboat/v4/config"
	chantransport "github.com/lni/dragonboat/v4/plugin/chan"
	"github.com/lni/dragonboat/v4/raftio"
	pb "github.com/lni/dragonboat/v4/raftpb"
)

// ErrLinkCut is returned when a snapshot is sent over a cut link.
var ErrLinkCut = errors.New("faultnet: link cut")

// networks numbers the Networks of the process, to namespace their
// addresses in plugin/chan's process-wide listener table.
var networks atomic.Uint64

// Network is a set of links between Raft addresses that can be cut and
// healed. The zero value is not usable; call New.
type Network struct {
	prefix string

	mu       sync.RWMutex
	cut      map[link]struct{}
	isolated map[string]struct{}
	replicas map[replicaKey]string // (shard, replica) -> address, learned from batches

	batches atomic.Uint64 // message batches dropped
	chunks  atomic.Uint64 // snapshot chunks (or snapshot connections) refused
}

type link struct{ from, to string }

type replicaKey struct{ shard, replica uint64 }

var _ config.TransportFactory = (*Network)(nil)

// New returns a Network with every link up.
func New() *Network {
	return &Network{
		prefix:   fmt.Sprintf("faultnet-%d/", networks.Add(1)),
		cut:      map[link]struct{}{},
		isolated: map[string]struct{}{},
		replicas: map[replicaKey]string{},
	}
}

// Cut cuts both directions of the link between a and b.
func (n *Network) Cut(a, b string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.cut[link{a, b}] = struct{}{}
	n.cut[link{b, a}] = struct{}{}
}

// CutOneWay cuts the link from one address to another: messages from `from`
// no longer reach `to`, while the other direction is unchanged.
func (n *Network) CutOneWay(from, to string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.cut[link{from, to}] = struct{}{}
}

// Heal heals both directions of the link between a and b (an isolated
// address stays isolated until Rejoin).
func (n *Network) Heal(a, b string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.cut, link{a, b})
	delete(n.cut, link{b, a})
}

// HealOneWay heals the link from one address to another.
func (n *Network) HealOneWay(from, to string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.cut, link{from, to})
}

// Isolate cuts every link to and from addr, to any address, until Rejoin.
func (n *Network) Isolate(addr string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.isolated[addr] = struct{}{}
}

// Rejoin undoes Isolate(addr); links cut one by one stay cut.
func (n *Network) Rejoin(addr string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.isolated, addr)
}

// HealAll heals every link and ends every isolation.
func (n *Network) HealAll() {
	n.mu.Lock()
	defer n.mu.Unlock()
	clear(n.cut)
	clear(n.isolated)
}

// Linked reports whether messages sent from `from` currently reach `to`.
func (n *Network) Linked(from, to string) bool {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.linkedLocked(from, to)
}

func (n *Network) linkedLocked(from, to string) bool {
	if _, ok := n.isolated[from]; ok {
		return false
	}
	if _, ok := n.isolated[to]; ok {
		return false
	}
	_, ok := n.cut[link{from, to}]
	return !ok
}

// Dropped returns how many message batches were dropped and how many
// snapshot chunks or snapshot connections were refused over cut links.
func (n *Network) Dropped() (batches, chunks uint64) {
	return n.batches.Load(), n.chunks.Load()
}

// Validate accepts any "host:port" with a non-empty host and port.
func (n *Network) Validate(addr string) bool {
	h, p, err := net.SplitHostPort(addr)
	return err == nil && h != "" && p != ""
}

// Create returns the transport of the NodeHost configured by nhc: a
// plugin/chan transport listening on this Network's name for
// nhc.RaftAddress, with the link checks of the package contract.
func (n *Network) Create(nhc config.NodeHostConfig, handler raftio.MessageHandler,
	chunkHandler raftio.ChunkHandler) raftio.ITransport {
	self := nhc.RaftAddress
	inner := nhc
	inner.RaftAddress = n.prefix + self
	onBatch := func(b pb.MessageBatch) {
		if !n.received(b, self) {
			return
		}
		handler(b)
	}
	onChunk := func(c pb.Chunk) bool {
		if !n.chunkAllowed(c, self) {
			n.chunks.Add(1)
			return false
		}
		return chunkHandler(c)
	}
	return &transport{net: n, self: self, inner: chantransport.NewChanTransport(inner, onBatch, onChunk)}
}

// received learns the sender's replicas from a batch and reports whether the
// batch may be delivered to self.
func (n *Network) received(b pb.MessageBatch, self string) bool {
	from := b.SourceAddress
	n.mu.RLock()
	learn := false
	for _, m := range b.Requests {
		if m.From != 0 && from != "" && n.replicas[replicaKey{m.ShardID, m.From}] != from {
			learn = true
			break
		}
	}
	ok := from == "" || n.linkedLocked(from, self)
	n.mu.RUnlock()
	if learn {
		n.mu.Lock()
		for _, m := range b.Requests {
			if m.From != 0 {
				n.replicas[replicaKey{m.ShardID, m.From}] = from
			}
		}
		n.mu.Unlock()
	}
	if !ok {
		n.batches.Add(1)
	}
	return ok
}

func (n *Network) chunkAllowed(c pb.Chunk, self string) bool {
	n.mu.RLock()
	defer n.mu.RUnlock()
	from, known := n.replicas[replicaKey{c.ShardID, c.From}]
	return !known || n.linkedLocked(from, self)
}

// transport is one NodeHost's transport.
type transport struct {
	net   *Network
	self  string
	inner raftio.ITransport
}

func (t *transport) Name() string { return "faultnet" }
func (t *transport) Start() error { return t.inner.Start() }
func (t *transport) Close() error { return t.inner.Close() }

func (t *transport) GetConnection(ctx context.Context, target string) (raftio.IConnection, error) {
	c, err := t.inner.GetConnection(ctx, t.net.prefix+target)
	if err != nil {
		return nil, err
	}
	return &conn{t: t, to: target, inner: c}, nil
}

func (t *transport) GetSnapshotConnection(ctx context.Context, target string) (raftio.ISnapshotConnection, error) {
	if !t.net.Linked(t.self, target) {
		t.net.chunks.Add(1)
		return nil, ErrLinkCut
	}
	c, err := t.inner.GetSnapshotConnection(ctx, t.net.prefix+target)
	if err != nil {
		return nil, err
	}
	return &snapshotConn{t: t, to: target, inner: c}, nil
}

type conn struct {
	t     *transport
	to    string
	inner raftio.IConnection
}

func (c *conn) Close() { c.inner.Close() }

func (c *conn) SendMessageBatch(b pb.MessageBatch) error {
	if !c.t.net.Linked(c.t.self, c.to) {
		c.t.net.batches.Add(1)
		return nil
	}
	return c.inner.SendMessageBatch(b)
}

type snapshotConn struct {
	t     *transport
	to    string
	inner raftio.ISnapshotConnection
}

func (c *snapshotConn) Close() { c.inner.Close() }

func (c *snapshotConn) SendChunk(ch pb.Chunk) error {
	if !c.t.net.Linked(c.t.self, c.to) {
		c.t.net.chunks.Add(1)
		return ErrLinkCut
	}
	return c.inner.SendChunk(ch)
}
