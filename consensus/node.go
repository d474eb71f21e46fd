package consensus

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/consensus/shard"
	"github.com/lni/dragonboat/v4"
	"github.com/lni/dragonboat/v4/config"
	sm "github.com/lni/dragonboat/v4/statemachine"
)

// Node is this host's member of the consensus cluster: one dragonboat
// NodeHost running a replica of every shard. Its methods are safe for
// concurrent use.
type Node struct {
	cfg     Config
	cluster *clusterFile
	nh      *dragonboat.NodeHost
	feed    *feed
	started time.Time
	// removals: the shards this replica was removed from (Removed).
	removals *removals

	mu     sync.Mutex
	closed bool
	// lookups is held (shared) by every read of a replica's state machine
	// (SyncRead, StaleRead) and taken by Close before it stops the node
	// host: dragonboat's NativeSM.Close sets the flag its Lookup reads
	// under a lock without that lock, so a read racing a close is a data
	// race in dragonboat (the race detector found it: a linearizability
	// run's Get on a host being stopped). Close ends life first, which
	// cuts such reads short.
	lookups sync.RWMutex
	life    context.Context
	end     context.CancelFunc
}

// Open starts the node: the NodeHost on cfg.Dir and a replica of every
// shard; with cfg.ReadyTimeout (default 30 s) it waits until every shard has
// a leader.
func Open(ctx context.Context, cfg Config) (*Node, error) {
	if cfg.Dir == "" {
		return nil, errors.New("consensus: Config.Dir is required")
	}
	cfg.withDefaults()
	if cfg.ElectionRTT <= 2*cfg.HeartbeatRTT {
		return nil, fmt.Errorf("consensus: ElectionRTT %d must be more than twice HeartbeatRTT %d", cfg.ElectionRTT, cfg.HeartbeatRTT)
	}
	cluster, err := loadOrCreateCluster(&cfg)
	if err != nil {
		return nil, err
	}
	ms := uint64(cfg.RTT / time.Millisecond)
	if ms == 0 {
		ms = 1
	}
	removed := &removals{replicaID: cfg.ReplicaID}
	nhc := config.NodeHostConfig{
		DeploymentID:        cfg.DeploymentID,
		NodeHostDir:         filepath.Join(cfg.Dir, "nodehost"),
		WALDir:              filepath.Join(cfg.Dir, "wal"),
		RTTMillisecond:      ms,
		RaftAddress:         cluster.RaftAddress,
		SystemEventListener: removed,
		Expert: config.ExpertConfig{
			LogDB: config.GetTinyMemLogDBConfig(),
			Engine: config.EngineConfig{ExecShards: 2, CommitShards: 2, ApplyShards: 2,
				SnapshotShards: 2, CloseShards: 2},
			TransportFactory: cfg.Transport,
		},
	}
	if t := cfg.TLS; t != nil {
		nhc.MutualTLS, nhc.CAFile, nhc.CertFile, nhc.KeyFile = true, t.CAFile, t.CertFile, t.KeyFile
	}
	nh, err := dragonboat.NewNodeHost(nhc)
	if err != nil {
		return nil, fmt.Errorf("consensus: starting the node host in %s: %w", cfg.Dir, err)
	}
	n := &Node{cfg: cfg, cluster: cluster, nh: nh, feed: newFeed(), started: time.Now(), removals: removed}
	n.life, n.end = context.WithCancel(context.Background())
	if err := n.startReplicas(); err != nil {
		n.Close()
		return nil, err
	}
	if cfg.ReadyTimeout >= 0 {
		wait := cfg.ReadyTimeout
		if wait == 0 {
			wait = 30 * time.Second
		}
		wctx, cancel := context.WithTimeout(ctx, wait)
		defer cancel()
		if err := n.WaitReady(wctx); err != nil {
			n.Close()
			return nil, err
		}
	}
	return n, nil
}

// startReplicas starts this host's replica of every shard. A replica whose
// data exists restarts from it (members come from its log); a new one
// starts with cfg.Peers, or alone.
func (n *Node) startReplicas() error {
	members := map[uint64]dragonboat.Target{}
	if !n.cfg.Join {
		if len(n.cfg.Peers) == 0 {
			members[n.cfg.ReplicaID] = n.cluster.RaftAddress
		} else {
			if addr, ok := n.cfg.Peers[n.cfg.ReplicaID]; !ok || addr != n.cluster.RaftAddress {
				return fmt.Errorf("consensus: peers %s must name this host as %d=%s", FormatPeers(n.cfg.Peers), n.cfg.ReplicaID, n.cluster.RaftAddress)
			}
			for id, addr := range n.cfg.Peers {
				members[id] = addr
			}
		}
	}
	for s := uint64(1); s <= uint64(n.cluster.Shards); s++ {
		rc := config.Config{
			ReplicaID:           n.cfg.ReplicaID,
			ShardID:             s,
			CheckQuorum:         true,
			PreVote:             true,
			ElectionRTT:         n.cfg.ElectionRTT,
			HeartbeatRTT:        n.cfg.HeartbeatRTT,
			SnapshotEntries:     n.cfg.SnapshotEntries,
			CompactionOverhead:  n.cfg.SnapshotEntries / 2,
			OrderedConfigChange: true,
		}
		init := members
		if n.nh.HasNodeInfo(s, n.cfg.ReplicaID) {
			init = map[uint64]dragonboat.Target{}
		}
		shardID := s
		create := func(uint64, uint64) sm.IStateMachine {
			r := &replica{shardID: shardID, feed: n.feed}
			r.m.Store(shard.New())
			return r
		}
		if err := n.nh.StartReplica(init, n.cfg.Join, create, rc); err != nil {
			return fmt.Errorf("consensus: starting shard %d replica %d: %w", s, n.cfg.ReplicaID, err)
		}
	}
	return nil
}

// WaitReady returns once every shard has a leader, or ctx's error.
func (n *Node) WaitReady(ctx context.Context) error {
	for s := uint64(1); s <= uint64(n.cluster.Shards); s++ {
		for {
			if _, _, ok, err := n.nh.GetLeaderID(s); err == nil && ok {
				break
			}
			// A removed replica restarts, applies its own removal from its
			// log or snapshot, and stops: it would wait for a leader in vain.
			if n.removals.removed(s) {
				return fmt.Errorf("consensus: replica %d of shard %d: %w; a removed replica id never rejoins: the host may join again only as a new one (consensus add-host NEW_ID, run --node-id NEW_ID --join, on a new data folder)",
					n.cfg.ReplicaID, s, ErrRemoved)
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("consensus: shard %d has no leader yet: %w", s, ctx.Err())
			case <-time.After(2 * time.Millisecond):
			}
		}
	}
	return nil
}

// Close stops every replica and the NodeHost. Data stays on disk.
func (n *Node) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	n.mu.Unlock()
	n.end()
	n.lookups.Lock() // the reads running end (n.end cut them short)
	n.lookups.Unlock()
	n.nh.Close()
	n.feed.close()
	return nil
}

// Shards is the number of shards the buckets map onto.
func (n *Node) Shards() int { return n.cluster.Shards }

// ReplicaID is this host's replica id.
func (n *Node) ReplicaID() uint64 { return n.cfg.ReplicaID }

// RaftAddress is the address this host's replicas are known by.
func (n *Node) RaftAddress() string { return n.cluster.RaftAddress }

// ShardOf returns the shard id a NEED's bucket maps onto, or an error for a
// NEED id that is not a ref.
func (n *Node) ShardOf(need string) (uint64, error) {
	b, ok := shard.BucketOf(need)
	if !ok {
		return 0, envelope.Reject(envelope.CodeMalformed, "need", "%q is not a NEED id (sha256:<64 hex>)", need)
	}
	return n.cluster.Table[b], nil
}

// Applied returns the stream of commands this host's replicas accepted, in
// each shard's log order (shards interleave). A replica restarted from disk
// applies again the entries after its last snapshot, so the stream repeats
// some commands after a restart: the reader must treat a command it has seen
// (same shard and index, or the same accepted answer) as seen. The channel
// closes when the node does.
func (n *Node) Applied() <-chan Applied { return n.feed.out }

// Decide proposes a DECIDE and returns the shard's answer. A rejection is a
// Result with Accepted false and the reason, not an error; an error means
// no answer was obtained before ctx ended (the command may still be applied
// later: retry it, it is idempotent).
func (n *Node) Decide(ctx context.Context, d *shard.Decide) (shard.Result, error) {
	return n.Propose(ctx, d)
}

// Release proposes a RELEASE (see Decide for the answer).
func (n *Node) Release(ctx context.Context, r *shard.Release) (shard.Result, error) {
	return n.Propose(ctx, r)
}

// Finalize proposes a FINALIZE (see Decide for the answer).
func (n *Node) Finalize(ctx context.Context, f *shard.Finalize) (shard.Result, error) {
	return n.Propose(ctx, f)
}

// attemptTimeout bounds one attempt of a proposal or read; attempts repeat
// until ctx ends. A proposal lost in a leader change is only known lost when
// its attempt times out, so the bound follows the election timeout rather
// than a fixed figure: three election timeouts, at least 500 ms.
func (n *Node) attemptTimeout() time.Duration {
	return max(3*time.Duration(n.cfg.ElectionRTT)*n.cfg.RTT, 500*time.Millisecond)
}

// Propose commits a command to its NEED's shard and returns the answer.
// A command that does not parse is answered malformed here, without a
// proposal. Temporary failures (no leader yet, busy, a dropped proposal, a
// timeout) are retried until ctx ends: the rules answer a repeat with the
// same answer, so a retry that commits twice is harmless.
func (n *Node) Propose(ctx context.Context, c shard.Command) (shard.Result, error) {
	return n.ProposeBytes(ctx, c.Encode())
}

// ProposeBytes is Propose for an encoded command (as the CLI and the core
// hold it).
func (n *Node) ProposeBytes(ctx context.Context, cmd []byte) (shard.Result, error) {
	c, err := shard.Parse(cmd)
	if err != nil {
		return shard.Result{Reason: envelope.CodeOf(err), Detail: err.Error()}, nil
	}
	s, err := n.shardOfCommand(c)
	if err != nil {
		return shard.Result{}, err
	}
	session := n.nh.GetNoOPSession(s)
	for attempt := 0; ; attempt++ {
		if n.removals.removed(s) {
			return shard.Result{}, fmt.Errorf("consensus: proposing %s to shard %d: %w", c.Op(), s, ErrRemoved)
		}
		actx, cancel := context.WithTimeout(ctx, n.attemptTimeout())
		res, err := n.nh.SyncPropose(actx, session, cmd)
		cancel()
		if err == nil {
			r, derr := shard.DecodeResult(res.Data)
			if derr != nil {
				return shard.Result{}, fmt.Errorf("consensus: shard %d answered: %w", s, derr)
			}
			return r, nil
		}
		if n.removals.removed(s) {
			return shard.Result{}, fmt.Errorf("consensus: proposing %s to shard %d: %w", c.Op(), s, ErrRemoved)
		}
		if !retryable(err) || ctx.Err() != nil {
			return shard.Result{}, fmt.Errorf("consensus: proposing %s to shard %d (attempt %d): %w", c.Op(), s, attempt+1, err)
		}
		if err := sleep(ctx, backoff(attempt)); err != nil {
			return shard.Result{}, fmt.Errorf("consensus: proposing %s to shard %d: %w", c.Op(), s, err)
		}
	}
}

func (n *Node) shardOfCommand(c shard.Command) (uint64, error) {
	var b uint8
	switch c := c.(type) {
	case *shard.Decide:
		b = c.Bucket
	case *shard.Release:
		b = c.Bucket
	case *shard.Finalize:
		b = c.Bucket
	case *shard.GC:
		b = c.Bucket
	default:
		return 0, fmt.Errorf("consensus: unknown command %T", c)
	}
	return n.cluster.Table[b], nil
}

func retryable(err error) bool {
	return dragonboat.IsTempError(err) && !errors.Is(err, dragonboat.ErrClosed) ||
		errors.Is(err, dragonboat.ErrRejected) || errors.Is(err, context.DeadlineExceeded)
}

func backoff(attempt int) time.Duration {
	d := time.Duration(5<<min(attempt, 6)) * time.Millisecond
	return min(d, 250*time.Millisecond)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Get returns the shard's record of a NEED, read linearizably (through the
// leader's read index). found is false for a NEED no command was accepted
// about; collected is true for one GC dropped.
func (n *Node) Get(ctx context.Context, need string) (rec shard.Record, found, collected bool, err error) {
	s, err := n.ShardOf(need)
	if err != nil {
		return shard.Record{}, false, false, err
	}
	v, err := n.read(ctx, s, needQuery{need: need})
	if err != nil {
		return shard.Record{}, false, false, err
	}
	a := v.(needAnswer)
	return a.Record, a.Found, a.Collected, nil
}

// lookup runs read, a read of a replica's state machine, unless the node
// is closed (dragonboat.ErrClosed); Close waits for the ones running.
func (n *Node) lookup(read func() error) error {
	n.lookups.RLock()
	defer n.lookups.RUnlock()
	if n.life.Err() != nil {
		return dragonboat.ErrClosed
	}
	return read()
}

// read is a linearizable read, retried on temporary failures until ctx ends.
func (n *Node) read(ctx context.Context, s uint64, q any) (any, error) {
	for attempt := 0; ; attempt++ {
		var v any
		err := n.lookup(func() (err error) {
			actx, cancel := context.WithTimeout(ctx, n.attemptTimeout())
			defer cancel()
			defer context.AfterFunc(n.life, cancel)()
			v, err = n.nh.SyncRead(actx, s, q)
			return err
		})
		if err == nil {
			return v, nil
		}
		if n.life.Err() != nil { // the node closed while it read
			return nil, fmt.Errorf("consensus: reading shard %d: %w", s, dragonboat.ErrClosed)
		}
		if !retryable(err) || ctx.Err() != nil {
			return nil, fmt.Errorf("consensus: reading shard %d: %w", s, err)
		}
		if err := sleep(ctx, backoff(attempt)); err != nil {
			return nil, fmt.Errorf("consensus: reading shard %d: %w", s, err)
		}
	}
}
