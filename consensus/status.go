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
		if v, err := n.nh.StaleRead(s, statsQuery{}); err != nil {
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
// same members), read through its leader.
func (n *Node) Members(ctx context.Context) (int, error) {
	m, err := n.nh.SyncGetShardMembership(ctx, 1)
	if err != nil {
		return 0, fmt.Errorf("consensus: membership of shard 1: %w", err)
	}
	return len(m.Nodes), nil
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
// (for a bounded time: a stopped host cannot take it). A leader applies
// every entry it commits, its own removal included, so the removed host
// learns it (Removed, ErrRemoved). Removed from a follower, it may never
// learn it: the leader commits the removal with the others' votes, then
// stops sending to the removed replica, whose log may hold the entry
// without knowing it committed.
func (n *Node) RemoveHost(ctx context.Context, replicaID uint64) error {
	return n.eachShard(ctx, func(ctx context.Context, s uint64) error {
		m, err := n.nh.SyncGetShardMembership(ctx, s)
		if err != nil {
			return err
		}
		if _, ok := m.Nodes[replicaID]; !ok {
			return nil
		}
		n.handLeadershipTo(ctx, s, replicaID)
		return n.nh.SyncRequestDeleteReplica(ctx, s, replicaID, m.ConfigChangeID)
	})
}

// handLeadershipTo asks shard s's leader to hand over to replicaID and
// waits until it has, ctx ends, or attemptTimeout passes; it reports
// whether replicaID leads. Failing is not an error: the removal goes on
// without it.
func (n *Node) handLeadershipTo(ctx context.Context, s, replicaID uint64) bool {
	deadline := time.Now().Add(n.attemptTimeout())
	var asked time.Time
	for {
		leader, _, ok, err := n.nh.GetLeaderID(s)
		if err == nil && ok && leader == replicaID {
			return true
		}
		if err == nil && ok && time.Since(asked) > 250*time.Millisecond {
			// Asked of any replica: it forwards to the leader. Asked
			// again now and then: a request can be dropped.
			_ = n.nh.RequestLeaderTransfer(s, replicaID)
			asked = time.Now()
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
		for attempt := 0; ; attempt++ {
			actx, cancel := context.WithTimeout(ctx, n.attemptTimeout())
			err := step(actx, s)
			cancel()
			if err == nil {
				break
			}
			if !(retryable(err) || isConfigChangeRace(err)) || ctx.Err() != nil {
				return fmt.Errorf("consensus: membership change on shard %d: %w", s, err)
			}
			if err := sleep(ctx, backoff(attempt)); err != nil {
				return fmt.Errorf("consensus: membership change on shard %d: %w", s, err)
			}
		}
	}
	return nil
}

func isConfigChangeRace(err error) bool { return err == dragonboat.ErrRejected }
