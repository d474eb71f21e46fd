package consensus

import (
	"fmt"
	"io"
	"sync/atomic"

	"github.com/canswarm/swarmhost/consensus/shard"
	sm "github.com/lni/dragonboat/v4/statemachine"
)

// Applied is one command a shard replica on this host applied, with its
// answer, handed to the protocol core as an input (see [Node.Applied]).
type Applied struct {
	Shard   uint64       `json:"shard"`
	Index   uint64       `json:"index"`
	Command []byte       `json:"command"` // as proposed
	Result  shard.Result `json:"result"`
	// Recovered: not applied from the log but found in a snapshot the
	// replica was restored from (Index is the snapshot's), which the
	// replica held no record of: the reader may know it already (a
	// restart restores every command of its last snapshot). A NEED the
	// snapshot holds as collected comes as a GC naming it alone.
	Recovered bool `json:"recovered,omitempty"`
	// Collected, for a GC, lists the NEEDs it names that the shard holds
	// as collected once it is applied (not those it skipped, unfinished or
	// unknown); a GC by index (before) lists none.
	Collected []string `json:"collected,omitempty"`
}

// replica is the dragonboat IStateMachine of one shard: the pure rules of
// consensus/shard plus the feed of applied commands. Update never returns
// an error (dragonboat panics on one): a rejected command is an answer.
type replica struct {
	shardID uint64
	m       atomic.Pointer[shard.Machine] // replaced whole by a snapshot restore
	feed    *feed
}

var _ sm.IStateMachine = (*replica)(nil)

// Result.Value of an Update: whether the command was accepted.
const (
	valueRejected = 0
	valueAccepted = 1
)

func (r *replica) Update(e sm.Entry) (sm.Result, error) {
	m := r.m.Load()
	res := m.Apply(e.Index, e.Cmd)
	v := uint64(valueRejected)
	if res.Accepted {
		v = valueAccepted
		if r.feed != nil {
			a := Applied{Shard: r.shardID, Index: e.Index, Command: append([]byte(nil), e.Cmd...), Result: res}
			if res.Op == shard.OpGC {
				a.Collected = collectedBy(m, e.Cmd)
			}
			r.feed.push(a)
		}
	}
	return sm.Result{Value: v, Data: res.Encode()}, nil
}

// collectedBy lists the NEEDs an applied GC names that m holds collected.
func collectedBy(m *shard.Machine, cmd []byte) []string {
	c, err := shard.Parse(cmd)
	if err != nil {
		return nil
	}
	g, _ := c.(*shard.GC)
	if g == nil {
		return nil
	}
	var out []string
	for _, need := range g.Needs {
		if m.Collected(need) {
			out = append(out, need)
		}
	}
	return out
}

// Queries a replica answers through Lookup (SyncRead / StaleRead).
type (
	needQuery  struct{ need string }
	statsQuery struct{}
)

// needAnswer is a needQuery's answer.
type needAnswer struct {
	Record    shard.Record
	Found     bool
	Collected bool
}

func (r *replica) Lookup(q any) (any, error) {
	switch q := q.(type) {
	case needQuery:
		m := r.m.Load()
		rec, ok := m.Lookup(q.need)
		return needAnswer{Record: rec, Found: ok, Collected: !ok && m.Collected(q.need)}, nil
	case statsQuery:
		return r.m.Load().Stats(), nil
	default:
		return nil, fmt.Errorf("consensus: unknown query %T", q)
	}
}

func (r *replica) SaveSnapshot(w io.Writer, _ sm.ISnapshotFileCollection, _ <-chan struct{}) error {
	if err := r.m.Load().Save(w); err != nil {
		return fmt.Errorf("consensus: shard %d: saving a snapshot: %w", r.shardID, err)
	}
	return nil
}

// RecoverFromSnapshot replaces the shard with a snapshot's. The commands
// the snapshot covers are never applied from the log again, so those the
// replica did not hold are handed to the feed (Recovered): a replica that
// restarts, or that a leader brings up to date with a snapshot, would
// otherwise never tell the core of them.
func (r *replica) RecoverFromSnapshot(rd io.Reader, _ []sm.SnapshotFile, _ <-chan struct{}) error {
	fresh := shard.New()
	if err := fresh.Load(rd); err != nil {
		return fmt.Errorf("consensus: shard %d: restoring a snapshot: %w", r.shardID, err)
	}
	old := r.m.Swap(fresh)
	if r.feed != nil {
		index := fresh.Stats().LastIndex
		fresh.EachAccepted(func(cmd shard.Command, res shard.Result) {
			if old == nil || !old.HasAccepted(cmd) {
				r.feed.push(Applied{Shard: r.shardID, Index: index, Command: cmd.Encode(), Result: res, Recovered: true})
			}
		})
		// A NEED collected since holds no command any more: told as a GC
		// of it alone, so that a reader that never learned how it ended
		// learns that it did.
		fresh.EachCollected(func(need string, bucket uint8) {
			if old == nil || !old.Collected(need) {
				gc := &shard.GC{Bucket: bucket, Needs: []string{need}}
				r.feed.push(Applied{Shard: r.shardID, Index: index, Command: gc.Encode(),
					Result: shard.Result{Accepted: true, Op: shard.OpGC, Dropped: 1}, Recovered: true,
					Collected: []string{need}})
			}
		})
	}
	return nil
}

func (r *replica) Close() error { return nil }
