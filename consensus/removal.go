package consensus

import (
	"errors"
	"sync"

	"github.com/lni/dragonboat/v4/raftio"
)

// ErrRemoved is part of a proposal's error on a shard this host's replica
// was removed from (RemoveHost, `consensus remove-host`), and of Open's
// when the host starts again after that: the replica has stopped, and a
// removed replica id never rejoins, so no attempt there can succeed.
// Retrying is pointless; the host should be stopped (it may join again
// only as a new host, under a new replica id).
var ErrRemoved = errors.New("this host was removed from the consensus cluster (consensus remove-host)")

// removals records the shards whose replica on this host applied its own
// removal: dragonboat then stops the replica and says so with a NodeDeleted
// event (its other events are of no use here).
type removals struct {
	replicaID uint64

	mu     sync.Mutex
	shards map[uint64]bool
}

func (r *removals) removed(shardID uint64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.shards[shardID]
}

func (r *removals) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.shards)
}

func (r *removals) NodeDeleted(info raftio.NodeInfo) {
	if info.ReplicaID != r.replicaID {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.shards == nil {
		r.shards = map[uint64]bool{}
	}
	r.shards[info.ShardID] = true
}

func (*removals) NodeHostShuttingDown()                       {}
func (*removals) NodeUnloaded(raftio.NodeInfo)                {}
func (*removals) NodeReady(raftio.NodeInfo)                   {}
func (*removals) MembershipChanged(raftio.NodeInfo)           {}
func (*removals) ConnectionEstablished(raftio.ConnectionInfo) {}
func (*removals) ConnectionFailed(raftio.ConnectionInfo)      {}
func (*removals) SendSnapshotStarted(raftio.SnapshotInfo)     {}
func (*removals) SendSnapshotCompleted(raftio.SnapshotInfo)   {}
func (*removals) SendSnapshotAborted(raftio.SnapshotInfo)     {}
func (*removals) SnapshotReceived(raftio.SnapshotInfo)        {}
func (*removals) SnapshotRecovered(raftio.SnapshotInfo)       {}
func (*removals) SnapshotCreated(raftio.SnapshotInfo)         {}
func (*removals) SnapshotCompacted(raftio.SnapshotInfo)       {}
func (*removals) LogCompacted(raftio.EntryInfo)               {}
func (*removals) LogDBCompacted(raftio.EntryInfo)             {}

var _ raftio.ISystemEventListener = (*removals)(nil)

// Removed reports how many shards this host's replica was removed from
// since the node opened, of how many: RemoveHost removes it from every
// shard, one after another.
func (n *Node) Removed() (removed, shards int) { return n.removals.count(), n.cluster.Shards }
