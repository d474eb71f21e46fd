package protocol

import (
	"maps"
	"slices"

	"github.com/canswarm/swarmhost/abi/envelope"
)

// ended notes the time a thread ended (final, abandoned or refused): the
// first time only, the core's time of the input that ended it.
func (c *Core) ended(t *thread) {
	if t.endedAt == 0 {
		t.endedAt = max(c.now, 1)
	}
}

// retireEnded retires every thread that ended at or before before, that
// no evaluation or agent run still answers to and, when final, whose
// FINALIZE envelope is in (CheckpointDue). Of a retired thread the core
// keeps what Thread shows (Core.retired), and nothing else: its clock
// counts in retiredClock, its decisions are in the decided list a later
// CHECKPOINT counts; a finished flow's envelopes, bids, tallies and
// payloads no longer stay in memory for the life of the node. Nothing more
// is taken on it (receive answers wrong_state): its envelopes and outcomes
// are in the audit trail.
func (c *Core) retireEnded(before int64) {
	waiting := map[string]bool{}
	for _, r := range c.reqMap {
		waiting[r.thread] = true
	}
	var retired []string
	for id, t := range c.threads {
		// A final thread waits for its FINALIZE envelope too (the host's
		// own, on its way back from the bus): without it, it is not done
		// for a client waiting on it.
		if id == SwarmThread || !t.final() || t.endedAt == 0 || t.endedAt > before || waiting[id] ||
			t.phase == PhaseFinal && t.finalizeEnv == nil {
			continue
		}
		info, _ := c.Thread(id)
		info.Retired = true
		// The envelope list was ~1.5 KB of a flow's summary for the life
		// of the node; the trail lists them when asked.
		info.EnvelopesInTrail, info.Envelopes = len(info.Envelopes), nil
		c.shareStrings(&info)
		// The summary, packed, is all that stays: the decisions are in
		// c.decided for the CHECKPOINTs, the clock in retiredClock.
		c.retired[id] = retire(&info)
		c.retiredClock = max(c.retiredClock, t.clock)
		delete(c.threads, id)
		if t.phase != PhaseRefused { // a refused NEED never reached a shard
			retired = append(retired, id)
		}
	}
	slices.Sort(retired) // the threads' map has no order; the core's state does
	c.lastRetired = retired
	c.collect(retired)
}

// collect asks the shards to forget the NEEDs of threads just retired:
// a shard otherwise keeps every NEED it decided (~1 KB in every replica
// and snapshot) for the life of the swarm. A retired NEED ended
// RetainEnded ago and every host learned its end from the shard's log in
// order, before the GC, so no host still needs the shard to repeat it.
// One GC per bucket, its NEEDs sorted, at most MaxGCNeeds each; every host
// asks for its own, and a GC of NEEDs already forgotten drops none.
func (c *Core) collect(ids []string) {
	byBucket := map[string][]string{}
	for _, id := range ids {
		if envelope.IsRef(id) {
			b := id[len(envelope.RefPrefix) : len(envelope.RefPrefix)+2]
			byBucket[b] = append(byBucket[b], id)
		}
	}
	for _, b := range slices.Sorted(maps.Keys(byBucket)) {
		needs := byBucket[b]
		slices.Sort(needs)
		for len(needs) > 0 {
			n := min(len(needs), MaxGCNeeds)
			c.emit(&Propose{Cmd: Command{Op: "GC", Needs: needs[:n:n]}})
			needs = needs[n:]
		}
	}
}

// shareStrings makes a retired summary hold one copy of each string it
// repeats across threads: its capability and capsule, the decision's
// principals (a handful of agents across all threads).
func (c *Core) shareStrings(info *ThreadInfo) {
	if c.shared == nil {
		c.shared = map[string]string{}
	}
	share := func(s string) string {
		if v, ok := c.shared[s]; ok {
			return v
		}
		c.shared[s] = s
		return s
	}
	info.Capability, info.Capsule = share(info.Capability), share(info.Capsule)
	if d := info.Decision; d != nil {
		d.WorkerPK = share(d.WorkerPK)
		for i := range d.Verifiers {
			d.Verifiers[i] = share(d.Verifiers[i])
		}
	}
}

// compactSwarm forgets the envelopes the swarm thread accepted so far
// (CHECKPOINTs, RECONCILEs, UPDATE_PLANs): the swarm thread never ends,
// and kept them all for the life of the node, one per host per
// checkpoint and reconcile interval and an UPDATE_PLAN per planned task.
// Nothing reads them after they took effect: the plan holds its ops (and
// answers RECONCILE from them), the per-sender Lamport clocks stay, and
// the trail has the envelopes. A copy delivered again later is judged
// here against its sender's clock (stale_lamport) rather than known as a
// duplicate; a host's shell knows it first from its trail and drops it
// as the duplicate it is (as it does a retired thread's, which receive
// would answer wrong_state).
func (c *Core) compactSwarm() {
	if t := c.threads[SwarmThread]; t != nil && len(t.order) > 0 {
		t.seen, t.order = map[string]*envelope.Envelope{}, nil
	}
}

// collectedWhy is the reason a thread ended by Collected gives.
const collectedWhy = "collected: its shard forgot it after it ended, and this host never learned how " +
	"(it was away longer than the shard kept its log)"

// KnowsCollected reports whether a Collected input for the NEED would
// change nothing: the core has no thread of it, or the thread ended.
func (c *Core) KnowsCollected(need string) bool {
	t := c.threads[need]
	return t == nil || t.final() // a retired thread has none: it ended
}

// collected ends a thread still open whose NEED its shard forgot.
func (c *Core) collected(in *Collected) {
	t := c.threads[in.Need]
	if t == nil || t.final() {
		return
	}
	t.phase, t.abandonedWhy = PhaseAbandoned, collectedWhy
	t.resetEpoch()
	c.ended(t)
	c.record(t.id, "outcome", map[string]any{"event": "collected", "epoch": t.epoch})
}

// Retired reports whether a checkpoint retired the thread.
func (c *Core) Retired(id string) bool {
	return c.retired[id] != nil
}

// Ended reports whether the thread ended (final, abandoned or refused): it
// waits on no timer any more.
func (c *Core) Ended(id string) bool {
	t := c.threads[id]
	return c.retired[id] != nil || t != nil && t.final()
}
