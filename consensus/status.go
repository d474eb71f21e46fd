package consensus

import (
	"context"
	"fmt"
	"time"

	"github.com/canswarm/swarmhost/consensus/shard"
	"github.com/lni/dragonboat/v4"
)

// ShardStatus is what one shard looks like from this host.
type ShardStatus struct {
	Shard     uint64            `json:"shard"`
	Buckets   []int             `json:"buckets"` // the buckets mapped onto it
	Leader    uint64            `json:"leader"`  // replica id, 0 when none is known
	Term      uint64            `json:"term"`
	Members   map[uint64]string `json:"members"` // replica id -> raft address
	Applied   uint64            `json:"applied"` // last applied log index on this replica
	Needs     uint64            `json:"needs"`
	Decided   uint64            `json:"decided"`
	Finalized uint64            `json:"finalized"`
	Abandoned uint64            `json:"abandoned"`
	Collected uint64            `json:"collected"`
	Error     string            `json:"error,omitempty"` // when the shard could not be read
}

// Status is the node's view of every shard.
type Status struct {
	ReplicaID   uint64        `json:"replica_id"`
	RaftAddress string        `json:"raft_address"`
	ShardCount  int           `json:"shards"`
	Uptime      string        `json:"uptime"`
	Decided     uint64        `json:"decided"`   // sum over shards
	Finalized   uint64        `json:"finalized"` // sum over shards
	Needs       uint64        `json:"needs"`     // NEEDs the shards hold, summed
	Collected   uint64        `json:"collected"` // NEEDs the shards' GC dropped, summed
	Shards      []ShardStatus `json:"shard_status"`
}

// Status reads every shard: leader and membership as this host knows them,
// counts and applied index from this host's replica (a local read, so a
// host cut off from the leader still answers).
func (n *Node) Status(ctx context.Context) (Status, error) {
	st := Status{ReplicaID: n.cfg.ReplicaID, RaftAddress: n.cluster.RaftAddress, ShardCount: n.cluster.Shards,
		Uptime: time.Since(n.started).Round(time.Millisecond).String()}
	buckets := map[uint64][]int{}
	for b, s := range n.cluster.Table {
		buckets[s] = append(buckets[s], b)
	}
	for s := uint64(1); s <= uint64(n.cluster.Shards); s++ {
		ss := ShardStatus{Shard: s, Buckets: buckets[s]}
		if leader, term, ok, err := n.nh.GetLeaderID(s); err == nil && ok {
			ss.Leader, ss.Term = leader, term
		}
		var v any
		err := n.lookup(func() (err error) {
			v, err = n.nh.StaleRead(s, statsQuery{})
			return err
		})
		if err != nil {
			ss.Error = err.Error()
		} else {
			stats := v.(shard.Stats)
			ss.Applied, ss.Needs, ss.Decided = stats.LastIndex, stats.Needs, stats.Decided
			ss.Finalized, ss.Abandoned, ss.Collected = stats.Finalized, stats.Abandoned, stats.Collected
		}
		mctx, cancel := context.WithTimeout(ctx, time.Second)
		if m, err := n.nh.SyncGetShardMembership(mctx, s); err == nil {
			ss.Members = map[uint64]string{}
			for id, addr := range m.Nodes {
				ss.Members[id] = addr
			}
		} else if ss.Error == "" {
			ss.Error = fmt.Sprintf("membership: %v", err)
		}
		cancel()
		st.Decided += ss.Decided
		st.Finalized += ss.Finalized
		st.Needs += ss.Needs
		st.Collected += ss.Collected
		st.Shards = append(st.Shards, ss)
	}
	return st, ctx.Err()
}

// Members is how many replicas the first shard has (every shard has the
// same members) as this host's replica last applied it: a local read, which
// needs no leader. It fails when the replica is not serving (not started
// yet, removed, the node closed).
func (n *Node) Members() (int, error) {
	info := n.nh.GetNodeHostInfo(dragonboat.NodeHostInfoOption{SkipLogInfo: true})
	if info == nil {
		return 0, fmt.Errorf("consensus: membership of shard 1: %w", dragonboat.ErrClosed)
	}
	for _, s := range info.ShardInfoList {
		if s.ShardID == 1 && !s.Pending {
			return len(s.Replicas), nil
		}
	}
	return 0, fmt.Errorf("consensus: membership of shard 1: %w", dragonboat.ErrShardNotFound)
}

// AddHost adds a host to every shard as a voting member (run on a current
// member). The new host then starts with Config.Join set.
func (n *Node) AddHost(ctx context.Context, replicaID uint64, raftAddress string) error {
	return n.eachShard(ctx, func(ctx context.Context, s uint64) error {
		m, err := n.nh.SyncGetShardMembership(ctx, s)
		if err != nil {
			return err
		}
		if addr, ok := m.Nodes[replicaID]; ok && addr == raftAddress {
			return nil // already a member
		}
		return n.nh.SyncRequestAddReplica(ctx, s, replicaID, raftAddress, m.ConfigChangeID)
	})
}

// RemoveHost removes a host from every shard. A removed replica id must
// never be reused.
//
// On each shard it first hands the leadership to the replica being removed
// (asked once, waited for at most one proposal attempt: a stopped or cut-off
// host cannot take it, and dragonboat gives up a handover after an
// election timeout, dropping the shard's proposals meanwhile; they are
// asked again). A leader applies every entry it commits, its own removal
// included, so the removed host learns it (Removed, ErrRemoved). Removed
// as a follower, it may never learn it: the leader commits the removal
// with the others' votes, then stops sending to the removed replica, whose
// log may hold the entry without knowing it committed.
func (n *Node) RemoveHost(ctx context.Context, replicaID uint64) error {
	self := replicaID == n.cfg.ReplicaID
	for s := uint64(1); s <= uint64(n.cluster.Shards); s++ {
		member := false
		err := n.retryShard(ctx, s, func(ctx context.Context) error {
			m, err := n.nh.SyncGetShardMembership(ctx, s)
			if err != nil {
				return err
			}
			_, member = m.Nodes[replicaID]
			return nil
		})
		if err != nil {
			return err
		}
		if !member {
			continue
		}
		n.handLeadershipTo(ctx, s, replicaID)
		err = n.retryShard(ctx, s, func(ctx context.Context) error {
			m, err := n.nh.SyncGetShardMembership(ctx, s)
			if err == nil {
				if _, ok := m.Nodes[replicaID]; !ok {
					return nil // removed by an attempt whose answer was lost
				}
				err = n.nh.SyncRequestDeleteReplica(ctx, s, replicaID, m.ConfigChangeID)
			}
			if err != nil && self && n.waitRemoved(ctx, s) {
				return nil // this host removed itself: its replica has stopped
			}
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// waitRemoved waits a moment for this host's replica of shard s to have
// applied its own removal (the event comes after the proposal's answer).
func (n *Node) waitRemoved(ctx context.Context, s uint64) bool {
	deadline := time.Now().Add(time.Second)
	for !n.removals.removed(s) {
		if time.Now().After(deadline) || sleep(ctx, 10*time.Millisecond) != nil {
			return false
		}
	}
	return true
}

// handLeadershipTo asks shard s's leader, once, to hand over to replicaID
// and waits until it has, ctx ends, or attemptTimeout passes (three
// election timeouts: by then a handover that failed has been given up);
// it reports whether replicaID leads. Failing is not an error: the removal
// goes on without it.
func (n *Node) handLeadershipTo(ctx context.Context, s, replicaID uint64) bool {
	deadline := time.Now().Add(n.attemptTimeout())
	asked := false
	for {
		leader, _, ok, err := n.nh.GetLeaderID(s)
		if err == nil && ok && leader == replicaID {
			return true
		}
		if err == nil && ok && !asked {
			// Asked of any replica: it forwards to the leader.
			asked = n.nh.RequestLeaderTransfer(s, replicaID) == nil
		}
		if time.Now().After(deadline) || sleep(ctx, 20*time.Millisecond) != nil {
			return false
		}
	}
}

// eachShard runs a membership step on every shard, retrying temporary
// failures until ctx ends.
func (n *Node) eachShard(ctx context.Context, step func(context.Context, uint64) error) error {
	for s := uint64(1); s <= uint64(n.cluster.Shards); s++ {
		if err := n.retryShard(ctx, s, func(ctx context.Context) error { return step(ctx, s) }); err != nil {
			return err
		}
	}
	return nil
}

// retryShard runs a membership step on shard s, each attempt with its own
// attemptTimeout, retrying temporary failures until ctx ends.
func (n *Node) retryShard(ctx context.Context, s uint64, step func(context.Context) error) error {
	for attempt := 0; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, n.attemptTimeout())
		err := step(actx)
		cancel()
		if err == nil {
			return nil
		}
		if !(retryable(err) || isConfigChangeRace(err)) || ctx.Err() != nil {
			return fmt.Errorf("consensus: membership change on shard %d: %w", s, err)
		}
		if err := sleep(ctx, backoff(attempt)); err != nil {
			return fmt.Errorf("consensus: membership change on shard %d: %w", s, err)
		}
	}
}

func isConfigChangeRace(err error) bool { return err == dragonboat.ErrRejected }
