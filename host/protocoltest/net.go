package protocoltest

import (
	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/consensus/shard"
	"github.com/canswarm/swarmhost/host/protocol"
	"strings"
)

// The bus: at-least-once, like a JetStream stream with one durable
// consumer per host. A publish the bus acknowledged is a message that every
// host's consumer delivers until the host settles it (accepted, rejected,
// duplicate, or given up after maxRetries Retry answers). Chaos loses
// delivery attempts (the message stays pending), delays, duplicates and
// reorders them, and can lose a publish before the bus acknowledges it.

type busMsg struct {
	seq      int
	env      *envelope.Envelope
	raw      []byte
	from     string
	verified bool // envelope.Verify passed once: later deliveries only decode
}

type delivery struct {
	msg       *busMsg
	notBefore int64
	tries     int // deliveries answered Retry
}

// publish puts a signed envelope on the bus: every host's consumer gets it.
func (w *World) publish(e *envelope.Envelope, from string) *busMsg {
	m := &busMsg{seq: len(w.bus), env: e, raw: e.Wire(), from: from}
	w.bus = append(w.bus, m)
	w.envs[e.ID] = e
	for _, h := range w.hosts {
		h.inbox = append(h.inbox, &delivery{msg: m})
	}
	return m
}

// The shards: one shared consensus/shard.Machine per shard stands for the
// linearizable service a Raft group provides. Proposals wait in w.props
// until the scheduler commits one at the shard's next log index; every
// accepted command goes into the shard's log, which each host applies in
// order (its replica), as protocol.Applied inputs.

type shardModel struct {
	m     *shard.Machine
	index uint64
	log   []applyRecord // accepted commands, in log order
}

func newShardModel() *shardModel { return &shardModel{m: shard.New()} }

// applyRecord is one command the shard applied, accepted or not.
type applyRecord struct {
	shard int
	index uint64
	cmd   protocol.Command
	res   shard.Result
	at    int64
	host  int
}

type proposal struct {
	host int
	cmd  protocol.Command
	dup  bool // committed once already (a retried proposal)
}

func (w *World) shardOf(need string) int {
	b, _ := shard.BucketOf(need)
	return int(b) % len(w.shards)
}

// toShard maps a core command to the shard's, as host/loop.go does.
func toShard(c protocol.Command) shard.Command {
	b, _ := shard.BucketOf(c.Routed())
	switch c.Op {
	case "GC":
		return &shard.GC{Bucket: b, Needs: c.Needs}
	case "DECIDE":
		return &shard.Decide{Need: c.Need, Bucket: b, Epoch: c.Epoch, Proposal: c.Proposal, WorkerPK: c.WorkerPK,
			Verifiers: c.Verifiers, DecideID: c.DecideID}
	case "RELEASE":
		return &shard.Release{Need: c.Need, Bucket: b, Epoch: c.Epoch, Reason: c.Reason, MaxEpochs: c.MaxEpochs}
	case "FINALIZE":
		return &shard.Finalize{Need: c.Need, Bucket: b, Epoch: c.Epoch, Commit: c.Commit, FinalizeID: c.FinalizeID}
	}
	return nil
}

// commit applies proposal i at its shard's next log index.
func (w *World) commit(i int) {
	p := w.props[i]
	if w.on(FaultProposeDup) && !p.dup && w.rng.IntN(4) == 0 {
		p.dup = true // committed now and again later
	} else {
		w.props = append(w.props[:i], w.props[i+1:]...)
	}
	s := w.shardOf(p.cmd.Routed())
	sm := w.shards[s]
	sc := toShard(p.cmd)
	if sc == nil {
		w.violate("host h%d proposed an unknown op %q", p.host, p.cmd.Op)
		return
	}
	sm.index++
	res := sm.m.Apply(sm.index, sc.Encode())
	rec := applyRecord{shard: s, index: sm.index, cmd: p.cmd, res: res, at: w.now, host: p.host}
	w.history = append(w.history, rec)
	if res.Accepted {
		sm.log = append(sm.log, rec)
		w.tracef("shard%d #%d %s from h%d -> accepted fence=%d next=%d abandoned=%v dropped=%d", s, sm.index,
			w.cmdString(p.cmd), p.host, res.Fence, res.NextEpoch, res.Abandoned, res.Dropped)
	} else {
		w.tracef("shard%d #%d %s from h%d -> rejected %s: %s", s, sm.index, w.cmdString(p.cmd), p.host, res.Reason,
			res.Detail)
	}
}

func (w *World) cmdString(c protocol.Command) string {
	if c.Op == "GC" {
		names := make([]string, len(c.Needs))
		for i, n := range c.Needs {
			names[i] = w.name(n)
		}
		return "GC " + strings.Join(names, ",")
	}
	s := c.Op + " " + w.name(c.Need) + " e" + itoa(c.Epoch)
	switch c.Op {
	case "DECIDE":
		s += " worker=" + w.name(c.WorkerPK) + " proposal=" + w.name(c.Proposal)
	case "RELEASE":
		s += " " + c.Reason
	case "FINALIZE":
		s += " commit=" + w.name(c.Commit)
	}
	return s
}

func itoa(n uint64) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

// appliedInput is the input a host steps for a log entry.
func (w *World) appliedInput(r applyRecord) *protocol.Applied {
	return &protocol.Applied{At: w.now, Index: r.index, Cmd: r.cmd, Fence: r.res.Fence, NextEpoch: r.res.NextEpoch,
		Abandoned: r.res.Abandoned}
}
