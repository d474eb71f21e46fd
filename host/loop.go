package host

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/consensus"
	"github.com/canswarm/swarmhost/consensus/shard"
	"github.com/canswarm/swarmhost/host/audit"
	"github.com/canswarm/swarmhost/host/bus"
	"github.com/canswarm/swarmhost/host/protocol"
)

// Audit record kinds beside "envelope" (PROTOCOL.md section 10: inputs a
// host steps get kinds of their own, so replay reads no clock and asks no
// cluster).
const (
	KindClock      = "clock"      // {"at"}: the time envelopes that follow on the thread were received at
	KindConsensus  = "consensus"  // protocol.Applied
	KindAgent      = "agent"      // agentRecord: protocol.AgentDone and what was run
	KindPolicy     = "policy"     // policyRecord: protocol.PolicyDone and what was evaluated
	KindTimer      = "timer"      // protocol.TimerFired
	KindOutcome    = "outcome"    // a protocol.Record the core emitted
	KindConfig     = "config"     // protocol.Configure: the agents, roots and verifiers of a start or a reload
	KindCheckpoint = "checkpoint" // protocol.CheckpointDue: the audit root a CHECKPOINT signs, the ended threads it retires
	KindReconcile  = "reconcile"  // protocol.ReconcileDue: the anti-entropy timer's RECONCILE offer
	KindHeld       = "held"       // an envelope's first arrival answered Retry (not yet decidable); its verdict comes later
	KindCollected  = "collected"  // protocol.Collected: the shard forgot a NEED whose thread was still open here
)

// clockStep is how far a thread's recorded receipt time may lag the wall
// clock before a new clock line is written.
const clockStep = 20 // ms

// maxRetries bounds how often an envelope the core cannot judge yet
// (Verdict.Retry) is delivered again before it is recorded as rejected.
const maxRetries = 50

// item is one input for the loop, with the bus delivery to acknowledge.
type item struct {
	in       protocol.Input
	delivery *bus.Delivery
	local    bool // published by this host: already on the bus
	newClock bool // a Received stepped at a time its thread has no clock line for yet
	// periodic: a timer's CheckpointDue or ReconcileDue (Host.every),
	// skipped unrecorded when the core wants none.
	periodic bool
	done     chan struct{}
	// reload is the generation of the agents a reload's Configure
	// names (moduleHolds.begin), and install makes them the local agents
	// (called when it is stepped).
	reload  uint64
	install func()
}

func nowMS() int64 { return time.Now().UnixMilli() }

func (h *Host) push(it item) {
	select {
	case h.inputs <- it:
	case <-h.ctx.Done():
		h.giveBack(it) // stopping: delivered again to the next reader
	}
}

// giveBack keeps a delivery that will not be stepped, for close to hand
// back to the server (a Nak) once this host has stopped pulling: a Nak
// sent while a pull is pending would go straight back to that pull.
func (h *Host) giveBack(it item) {
	if it.delivery == nil {
		return
	}
	h.mu.Lock()
	h.unstepped = append(h.unstepped, it.delivery)
	h.mu.Unlock()
}

// halt stops the node after a failure it cannot step past: a line the
// trail did not take. The core has already stepped the input, so going on
// would act on state the trail lacks, and a redelivery would be judged a
// duplicate and acknowledged with no line: nothing more is stepped or
// acknowledged, and a restart rebuilds the core from the trail while the
// bus delivers again what was not acknowledged. Halted and Err say so.
func (h *Host) halt(err error) {
	h.haltOnce.Do(func() {
		h.haltErr = fmt.Errorf("host stopped: the audit trail refused a line (%w); restart the node: it recovers from the trail, and the bus delivers again what was not acknowledged", err)
		h.log.Error("audit", "error", err, "action", "node stopped")
		close(h.halted)
		h.cancel()
	})
}

// Halted is closed when the node stopped itself; Err then says why.
func (h *Host) Halted() <-chan struct{} { return h.halted }

// Health is nil while the node works: it has not stopped itself (Err),
// and its loop took a round of inputs in the last stallAfter, or has none
// waiting. A loop stuck on one input (a commit that never returns, say)
// shows here while every other goroutine goes on.
func (h *Host) Health() error {
	if err := h.Err(); err != nil {
		return err
	}
	if h.Consensus != nil {
		if n, of := h.Consensus.Removed(); n > 0 {
			return fmt.Errorf("%w, from %d of %d shards so far: it decides nothing; stop it (its replica id cannot rejoin: a new host joins with a new one)",
				consensus.ErrRemoved, n, of)
		}
	}
	if !h.tlsExpiry.IsZero() && healthNow().After(h.tlsExpiry) {
		return fmt.Errorf("the cluster's TLS certificate %s expired at %s: the other hosts refuse this one, and its NATS clients refuse it; make new certificates (swarmhost tls host, or tls ca then every host's) and restart",
			h.tlsFile, h.tlsExpiry.UTC().Format(time.RFC3339))
	}
	if n := len(h.inputs); n > 0 {
		if idle := time.Duration(nowMS()-h.roundAt.Load()) * time.Millisecond; idle > stallAfter {
			return fmt.Errorf("the loop has taken no input for %v while %d wait", idle.Round(time.Second), n)
		}
	}
	return h.out.unsentProblem()
}

// healthNow is the time Health judges a certificate's end by (a variable
// for tests).
var healthNow = time.Now

// stallAfter is how long the loop may take no input while inputs wait
// before Health says it is stuck (a variable for tests).
var stallAfter = 30 * time.Second

// Err is why the node stopped itself, or nil.
func (h *Host) Err() error {
	select {
	case <-h.halted:
		return h.haltErr
	default:
		return nil
	}
}

// maxBatch bounds how many waiting inputs the loop takes at once.
const maxBatch = 64

// loop steps the core and performs its actions, taking the inputs waiting
// in batches (see process).
func (h *Host) loop() {
	defer h.wg.Done()
	for {
		select {
		case it := <-h.inputs:
			batch := []item{it}
		fill:
			for len(batch) < maxBatch {
				select {
				case it := <-h.inputs:
					batch = append(batch, it)
				default:
					break fill
				}
			}
			h.process(batch)
		case <-h.ctx.Done():
			return
		}
	}
}

// stepped is an input stepped and recorded in a round, with what is left to
// do once its line is durable.
type stepped struct {
	it      item
	thread  string
	actions []protocol.Action
	publish []*envelope.Envelope // this host's envelopes, signed and stepped: published first
	ack     bool                 // acknowledge its delivery
}

// process steps a batch of inputs as one round: every input is stepped and
// its line written, and so are the envelopes the inputs make this host
// publish (signed, stepped, and their lines written, in the same round); the
// trail then makes the round's lines durable at once (group commit: an fsync
// per thread written); only then do the round's effects leave: its
// deliveries are acknowledged, its envelopes published and its actions
// performed. So an input is recorded, durably, before any of its effects
// leave, at one fsync per thread per round. A crash between the commit and
// the publications leaves envelopes recorded and not sent: a starting node
// publishes its latest ones again (ownTail).
func (h *Host) process(batch []item) {
	for _, it := range batch {
		if it.done != nil {
			defer close(it.done)
		}
	}
	h.roundAt.Store(nowMS())
	h.rounds.begin()
	round := batch
	var done []stepped
	for i := 0; i < len(round); i++ {
		it := round[i]
		if h.ctx.Err() != nil && !it.local {
			// Stopping, or halted: an input not yet stepped is delivered
			// again. The host's own envelopes that inputs already stepped
			// made are stepped still: those inputs' lines are written, and
			// a trail with an input and without the envelope the rules
			// make of it would not replay (a CHECKPOINT's line without its
			// CHECKPOINT, say, when a stop cut the round).
			h.giveBack(it)
			continue
		}
		s, ok := h.step(it)
		if !ok {
			continue
		}
		actions := s.actions
		s.actions = nil
		for _, a := range actions {
			p, isPublish := a.(*protocol.Publish)
			if !isPublish {
				s.actions = append(s.actions, a)
				continue
			}
			if next, ok := h.sign(p); ok {
				s.publish = append(s.publish, p.Env)
				round = append(round, next)
			}
		}
		done = append(done, s)
	}
	start := time.Now()
	if err := h.Trail.Commit(); err != nil {
		h.halt(err)
	}
	h.metrics.commitSeconds.Observe(since(start))
	h.metrics.roundInputs.Observe(float64(len(round)))
	h.rounds.committed()
	if h.Err() != nil {
		for _, s := range done {
			h.giveBack(s.it) // its line may not be durable: delivered again
		}
		return
	}
	for _, s := range done {
		if s.ack {
			h.ack(h.ctx, s.it)
		}
		for _, e := range s.publish {
			h.own.add(e)
			h.send(e)
		}
		for _, a := range s.actions {
			h.perform(a)
		}
		if cfg, ok := s.it.in.(*protocol.Configure); ok && cfg.Reload {
			// Every run asked for before the reload has taken its module:
			// those the new configuration does not name can go once
			// their runs end.
			named := map[string]bool{}
			for _, a := range cfg.Agents {
				named[a.Module] = true
			}
			h.mods.keepOnly(named, s.it.reload)
		}
		h.watchers.notify(s.thread)
	}
}

// step steps one input and writes its line; ok false when there is nothing
// left to do for it once the round's lines are durable.
func (h *Host) step(it item) (stepped, bool) {
	if it.periodic && !h.periodicWanted(it.in) {
		return stepped{}, false
	}
	if cd, ok := it.in.(*protocol.CheckpointDue); ok {
		// The root of every line written so far: the loop is the trail's
		// only writer, so this is the trail just before the checkpoint's
		// own line.
		if err := h.Trail.Commit(); err != nil {
			h.halt(err)
			return stepped{}, false
		}
		root, err := h.Trail.Root()
		if err != nil {
			h.log.Warn("checkpoint", "error", err)
			return stepped{}, false
		}
		cd.AuditRoot = root
	}
	h.mu.Lock()
	// A shard command the core knows already is not recorded again: a
	// restarted replica hands on every command of the snapshot it was
	// restored from (marked Recovered) and applies the log after it again
	// (not marked), and a retried proposal may be committed twice. Its
	// step would change nothing.
	if a, ok := it.in.(*protocol.Applied); ok && h.core.KnowsApplied(a.Cmd) {
		h.mu.Unlock()
		return stepped{}, false
	}
	// Nor is a GC of a NEED whose thread ended here (every GC the log
	// brings in order), or that this host never had.
	if c, ok := it.in.(*protocol.Collected); ok && h.core.KnowsCollected(c.Need) {
		h.mu.Unlock()
		return stepped{}, false
	}
	thread := h.core.ThreadOf(it.in)
	if r, ok := it.in.(*protocol.Received); ok {
		if thread == "" {
			thread = audit.ThreadOfRaw(r.Raw)
		}
		// Nor is an envelope the thread's trail accepted before, which the
		// core no longer holds to know it again (the swarm thread forgets
		// what it accepted at each retiring checkpoint; a retired thread
		// keeps only its summary): delivered again (a restart's consumer
		// reset, a redelivery), it would be judged anew, stale_lamport or
		// wrong_state, and recorded as if it had been refused. It is a
		// duplicate, as it was while the core held it. The trail is asked
		// with h.mu let go (it may read the thread's file back); the loop
		// alone steps the core, so what the core said stays true meanwhile.
		if r.Env != nil && (thread == protocol.SwarmThread || h.core.Retired(thread)) {
			h.mu.Unlock()
			if h.trailAccepted(thread, r.Env.ID) {
				h.metrics.duplicates.Inc()
				if it.delivery != nil {
					h.consumer.Taken(it.delivery.Seq)
				}
				return stepped{it: it, thread: thread, ack: true}, true
			}
			h.mu.Lock()
		}
		r.At, it.newClock = h.receiptTime(thread)
	}
	endedBefore := thread != "" && h.core.Ended(thread)
	v := h.core.Step(it.in)
	actions := h.core.Ready()
	h.core.Advance()
	if it.install != nil {
		it.install() // the agents of a reload the core was just given
	}
	if ended := cmp.Or(v.Thread, thread); ended != "" && h.core.Ended(ended) {
		h.timers.stop(ended)
		if ended == thread && !endedBefore {
			if phase, ok := h.core.PhaseOf(ended); ok {
				h.metrics.needsEnded.WithLabelValues(string(phase)).Inc()
			}
		}
	}
	if cd, ok := it.in.(*protocol.CheckpointDue); ok && cd.RetireEndedBefore != 0 {
		// The clock lines of retired threads are no longer needed: a late
		// envelope on one gets a fresh line.
		for th := range h.lastAt {
			if h.core.Retired(th) {
				delete(h.lastAt, th)
			}
		}
	}
	h.mu.Unlock()
	if v.Thread != "" {
		thread = v.Thread
	}
	act, ack := h.record(it, thread, v)
	if h.Err() != nil {
		h.giveBack(it) // halted: delivered again to the next reader
		return stepped{}, false
	}
	if it.delivery != nil {
		// Judged (or held back) and its line written: its thread, or its
		// rejection, is known (CatchUp).
		h.consumer.Taken(it.delivery.Seq)
	}
	s := stepped{it: it, thread: thread, ack: ack}
	if act {
		// Outcomes are lines, not effects: written now, after the input's,
		// they are made durable with the round, not by a commit of their own
		// after it.
		for _, a := range actions {
			if r, ok := a.(*protocol.Record); ok {
				h.append(r.Thread, audit.Entry{Kind: r.Kind, Body: r.Body, Verdict: audit.Accepted})
				h.event(r.Thread, "%s", outcomeText(r.Body))
				continue
			}
			s.actions = append(s.actions, a)
		}
	}
	return s, act || ack
}

// trailAccepted says whether the thread's trail holds the envelope id
// accepted (see step: asked only of the threads whose core forgets, the
// swarm thread and retired ones; the others' duplicates the core knows).
func (h *Host) trailAccepted(thread, id string) bool {
	known, err := h.Trail.HasAccepted(thread, id)
	if err != nil {
		// Judged by the core, as before: the line it writes says what.
		h.log.Warn("audit", "thread", thread, "error", err)
		return false
	}
	return known
}

// receiptTime is the time a received envelope on the thread is stepped
// with: the thread's last recorded clock line, or, once the wall clock has
// moved on, the time now, which record then writes as a new clock line
// before the envelope's (not for a duplicate, which leaves no line).
func (h *Host) receiptTime(thread string) (at int64, fresh bool) {
	now := nowMS()
	if last, ok := h.lastAt[thread]; ok && now-last < clockStep {
		return last, false
	}
	return now, true
}

// recordClock writes a thread's clock line.
func (h *Host) recordClock(thread string, at int64) {
	body, _ := json.Marshal(map[string]int64{"at": at})
	h.append(thread, audit.Entry{Kind: KindClock, Body: body, Verdict: audit.Accepted})
	h.lastAt[thread] = at
}

// record writes the input's line in the trail and says what is left to do
// once it is durable: act on the core's actions, acknowledge the bus
// delivery.
func (h *Host) record(it item, thread string, v protocol.Verdict) (act, ack bool) {
	switch in := it.in.(type) {
	case *protocol.Received:
		if v.Duplicate {
			h.metrics.duplicates.Inc()
			return false, true
		}
		if v.Retry && v.Held && in.Env != nil {
			// Its first arrival is an input too: the core will judge its
			// Lamport time against what was seen then.
			if it.newClock {
				h.recordClock(thread, in.At)
				it.newClock = false
			}
			h.append(thread, audit.Entry{Kind: KindHeld, Body: in.Env.Wire(), Verdict: audit.Rejected,
				Reason: string(v.Code)})
		}
		if v.Retry && it.delivery != nil && it.delivery.NumDelivered < maxRetries {
			it.delivery.NakAfter(100 * time.Millisecond)
			return false, false
		}
		if v.Retry && it.delivery == nil && it.local {
			return false, false // published here: the bus delivers it again
		}
		if it.newClock {
			h.recordClock(thread, in.At)
		}
		if h.Err() != nil {
			return false, false
		}
		if v.Accepted {
			rl := h.tick(in.Env.Lamport)
			if _, err := h.Trail.AppendEnvelope(in.Env, rl); err != nil && !errors.Is(err, audit.ErrDuplicate) {
				h.halt(err)
				return false, false // not acknowledged: delivered again after the restart
			}
			h.metrics.envelopes.WithLabelValues(string(in.Env.Verb), "accepted").Inc()
			h.event(thread, "%s %s from %s: accepted", in.Env.Verb, short(in.Env.ID), h.who(in.Env.SenderPK))
		} else {
			rl := h.tick(0)
			raw := in.Raw
			if raw == nil && in.Env != nil {
				raw = in.Env.Wire()
			}
			if _, err := h.Trail.AppendRejected(raw, v.Code, rl); err != nil {
				h.halt(err)
				return false, false
			}
			verb, label := "envelope", "unknown"
			if in.Env != nil {
				verb, label = string(in.Env.Verb)+" "+short(in.Env.ID), string(in.Env.Verb)
			}
			h.metrics.envelopes.WithLabelValues(label, string(v.Code)).Inc()
			h.event(thread, "%s: rejected: %s: %s", verb, v.Code, v.Detail)
		}
		return v.Accepted, true
	default:
		// Every other input is recorded as itself, under its kind.
		h.append(thread, audit.Entry{Kind: inputKind(in), Body: recordBody(in), Verdict: audit.Accepted})
		if a, ok := in.(*protocol.Applied); ok {
			h.event(thread, "consensus: %s epoch %d accepted (fence %d)", a.Cmd.Op, a.Cmd.Epoch, a.Fence)
		}
	}
	return h.Err() == nil, false // halted: no effect leaves for a line the trail lacks
}

// inputKind is the audit kind a non-envelope input is recorded under.
func inputKind(in protocol.Input) string {
	switch in.(type) {
	case *protocol.Applied:
		return KindConsensus
	case *protocol.AgentDone:
		return KindAgent
	case *protocol.PolicyDone:
		return KindPolicy
	case *protocol.TimerFired:
		return KindTimer
	case *protocol.Configure:
		return KindConfig
	case *protocol.CheckpointDue:
		return KindCheckpoint
	case *protocol.ReconcileDue:
		return KindReconcile
	case *protocol.Collected:
		return KindCollected
	}
	return fmt.Sprintf("unknown:%T", in)
}

// periodicWanted says whether a timer's periodic input is to be stepped.
// A periodic CHECKPOINT or RECONCILE offer the core does not want
// (Core.CheckpointWanted, Core.ReconcileWanted) is not: an idle cluster's
// hosts would each write one to every trail every interval, telling
// nothing new. Every ReconcileAnywayAfter-th anti-entropy tick in a row is
// stepped still.
func (h *Host) periodicWanted(in protocol.Input) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch in := in.(type) {
	case *protocol.CheckpointDue:
		return h.core.CheckpointWanted(in.RetireEndedBefore)
	case *protocol.ReconcileDue:
		if !h.core.ReconcileWanted() && h.reconcileSkipped+1 < ReconcileAnywayAfter {
			h.reconcileSkipped++
			return false
		}
		h.reconcileSkipped = 0
	}
	return true
}

func (h *Host) ack(ctx context.Context, it item) {
	if it.delivery != nil {
		if err := it.delivery.Ack(ctx); err != nil {
			h.log.Warn("bus ack", "error", err)
		}
	}
}

// tick advances the host's clock past an envelope's time and returns the
// value recorded as the line's received_lamport: strictly increasing over
// every line this host writes, so lines of all threads merge into the
// order they were stepped in.
func (h *Host) tick(seen uint64) uint64 {
	if seen > 0 {
		h.clock.Observe(seen)
	}
	l, err := h.clock.Tick()
	if err != nil {
		h.log.Error("lamport", "error", err)
	}
	return l
}

// append writes a line of a kind other than a received envelope.
func (h *Host) append(thread string, e audit.Entry) {
	if thread == "" {
		thread = audit.Unthreaded
	}
	e.ReceivedLamport = h.tick(0)
	if _, err := h.Trail.Append(thread, e); err != nil {
		h.halt(fmt.Errorf("thread %s: %w", thread, err))
	}
}

// perform takes one of a round's effects. A round's envelopes are
// published by process, and outcomes are written by step, with the lines of
// their round.
func (h *Host) perform(a protocol.Action) {
	switch a := a.(type) {
	case *protocol.Propose:
		h.propose(a)
	case *protocol.RunAgent:
		h.runAgent(a)
	case *protocol.EvalPolicy:
		h.evalPolicy(a, nil)
	case *protocol.ArmTimer:
		h.armTimer(a)
	default:
		h.log.Error("perform: not an effect", "action", fmt.Sprintf("%T", a))
	}
}

// sign signs an envelope the core prepared with its sender's key and
// returns it as the input this host steps for it.
func (h *Host) sign(a *protocol.Publish) (item, bool) {
	e := a.Env
	key, ok := h.id.key(e.SenderPK)
	if !ok {
		h.log.Error("publish: no key", "sender", e.SenderPK)
		return item{}, false
	}
	if err := envelope.SignPrepared(e, key.Private); err != nil {
		h.log.Error("publish: sign", "error", err)
		return item{}, false
	}
	tok, _ := h.token(e.Capability)
	return item{in: &protocol.Received{Raw: e.Wire(), Env: e, Token: tok}, local: true}, true
}

// token returns a capability token's bytes from the CAS (cached).
func (h *Host) token(ref string) ([]byte, error) {
	if v, ok := h.tokens.Load(ref); ok {
		return v.([]byte), nil
	}
	if !envelope.IsRef(ref) {
		return nil, fmt.Errorf("not a ref")
	}
	b, err := h.CAS.Get(h.ctx, ref)
	if err != nil {
		return nil, err
	}
	h.tokens.Store(ref, b)
	return b, nil
}

func (h *Host) propose(a *protocol.Propose) {
	if h.Consensus == nil {
		return
	}
	cmd, err := toShard(a.Cmd)
	if err != nil {
		h.log.Error("propose", "error", err)
		return
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		for attempt := 0; ; attempt++ {
			start := time.Now()
			res, err := h.proposeOnce(a.Cmd.Op, cmd)
			h.metrics.proposeSeconds.WithLabelValues(a.Cmd.Op).Observe(since(start))
			h.metrics.proposals.WithLabelValues(a.Cmd.Op, result(err != nil, "error")).Inc()
			switch {
			case err == nil && a.Cmd.Op == "GC":
				h.log.Debug("shard gc", "needs", len(a.Cmd.Needs), "dropped", res.Dropped, "accepted", res.Accepted)
			case errors.Is(err, consensus.ErrRemoved):
				// Asked again, it would fail the same: Health says
				// what to do.
				h.log.Error("propose: this host was removed from the consensus cluster; stop it", "op", a.Cmd.Op,
					"need", a.Cmd.Routed(), "error", err)
			case err != nil && h.ctx.Err() == nil:
				h.log.Error("propose", "op", a.Cmd.Op, "need", a.Cmd.Routed(), "attempt", attempt+1, "error", err)
				// The core asks for a proposal once (and again only when
				// the node restarts): one lost here (the shards without a
				// quorum for longer than an attempt's five minutes) would
				// leave its NEED waiting for a DECIDE, RELEASE or FINALIZE
				// that never comes, or a checkpoint's retired NEEDs in
				// their shard for good. Every command is answered the same
				// when repeated, so it is asked again until answered or
				// the node stops.
				if h.sleep(proposeRetryDelay(attempt)) {
					continue
				}
			}
			return
		}
	}()
}

// proposeOnce makes one attempt at a proposal, given five minutes.
func (h *Host) proposeOnce(op string, cmd shard.Command) (shard.Result, error) {
	if f := h.cfg.proposeFault; f != nil {
		if err := f(op); err != nil {
			return shard.Result{}, err
		}
	}
	ctx, cancel := context.WithTimeout(h.ctx, 5*time.Minute)
	defer cancel()
	return h.Consensus.Propose(ctx, cmd)
}

// proposeRetryDelay is the wait before a failed proposal's attempt+2nd:
// 1 s, doubling to a minute.
func proposeRetryDelay(attempt int) time.Duration {
	return min(time.Second<<min(attempt, 6), time.Minute)
}

// sleep waits d, or until the node stops (false).
func (h *Host) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-h.ctx.Done():
		return false
	}
}

func (h *Host) armTimer(a *protocol.ArmTimer) {
	d := time.Duration(a.At-nowMS()) * time.Millisecond
	thread := a.Thread
	ctx := h.timers.context(h.ctx, thread)
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		t := time.NewTimer(max(d, 0))
		defer t.Stop()
		select {
		case <-t.C:
			h.push(item{in: &protocol.TimerFired{At: max(nowMS(), a.At), Thread: thread}})
		case <-ctx.Done():
		}
	}()
}

// threadTimers cancels a thread's armed timers once it ended: they would
// fire into a core that ignores them (an ended thread has no deadline),
// each a goroutine and a timer held until then, and a NEED's deadline may
// be hours away.
type threadTimers struct {
	mu sync.Mutex
	m  map[string]timerScope
}

// timerScope is the context a thread's timers wait on, and its cancel.
type timerScope struct {
	ctx    context.Context
	cancel context.CancelFunc
}

// context is the context of the thread's timers.
func (tt *threadTimers) context(parent context.Context, thread string) context.Context {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	if sc, ok := tt.m[thread]; ok {
		return sc.ctx
	}
	if tt.m == nil {
		tt.m = map[string]timerScope{}
	}
	ctx, cancel := context.WithCancel(parent)
	tt.m[thread] = timerScope{ctx, cancel}
	return ctx
}

// stop cancels the thread's timers.
func (tt *threadTimers) stop(thread string) {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	if sc, ok := tt.m[thread]; ok {
		sc.cancel()
		delete(tt.m, thread)
	}
}

// readBus turns bus deliveries into inputs.
func (h *Host) readBus() {
	defer h.wg.Done()
	next := h.consumer.Next
	if h.cfg.Chaos != nil {
		h.chaos = h.consumer.WithChaos(*h.cfg.Chaos)
		next = h.chaos.Next
	}
	for {
		d, err := next(h.ctx)
		if err != nil {
			if h.ctx.Err() != nil || errors.Is(err, bus.ErrClosed) {
				return
			}
			h.log.Warn("bus", "error", err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		r := &protocol.Received{Raw: d.Data, Env: d.Envelope, Err: d.Err}
		if d.Err != nil {
			r.Env = nil
		} else if tok, err := h.token(d.Envelope.Capability); err == nil {
			r.Token = tok
		}
		h.push(item{in: r, delivery: d})
	}
}

// readApplied turns the shards' accepted commands into inputs.
func (h *Host) readApplied() {
	defer h.wg.Done()
	for {
		select {
		case a, ok := <-h.Consensus.Applied():
			if !ok {
				return
			}
			h.takeApplied(a)
		case <-h.ctx.Done():
			return
		}
	}
}

// takeApplied queues the inputs of one command a shard applied.
func (h *Host) takeApplied(a consensus.Applied) {
	ins, err := fromShard(a)
	if err != nil {
		h.log.Warn("applied", "error", err)
		return
	}
	for _, in := range ins {
		h.push(item{in: in})
	}
}

// toShard maps a core command to the shard's.
func toShard(c protocol.Command) (shard.Command, error) {
	b, ok := shard.BucketOf(c.Routed())
	if !ok {
		return nil, fmt.Errorf("need %q is not a ref", c.Routed())
	}
	switch c.Op {
	case "GC":
		return &shard.GC{Bucket: b, Needs: c.Needs}, nil
	case "DECIDE":
		return &shard.Decide{Need: c.Need, Bucket: b, Epoch: c.Epoch, Proposal: c.Proposal, WorkerPK: c.WorkerPK,
			Verifiers: c.Verifiers, DecideID: c.DecideID}, nil
	case "RELEASE":
		return &shard.Release{Need: c.Need, Bucket: b, Epoch: c.Epoch, Reason: c.Reason, MaxEpochs: c.MaxEpochs}, nil
	case "FINALIZE":
		return &shard.Finalize{Need: c.Need, Bucket: b, Epoch: c.Epoch, Commit: c.Commit, FinalizeID: c.FinalizeID}, nil
	}
	return nil, fmt.Errorf("unknown op %q", c.Op)
}

// fromShard maps an applied shard command to the core's inputs: an
// Applied, or for a GC a Collected per NEED it collected (the loop steps
// only those whose thread is open here: a host that missed their end).
func fromShard(a consensus.Applied) ([]protocol.Input, error) {
	res, index := a.Result, a.Index
	c, err := shard.Parse(a.Command)
	if err != nil {
		return nil, err
	}
	out := &protocol.Applied{At: nowMS(), Index: index, Fence: res.Fence, NextEpoch: res.NextEpoch, Abandoned: res.Abandoned}
	switch c := c.(type) {
	case *shard.Decide:
		out.Cmd = protocol.Command{Op: "DECIDE", Need: c.Need, Epoch: c.Epoch, Proposal: c.Proposal, WorkerPK: c.WorkerPK,
			Verifiers: c.Verifiers, DecideID: c.DecideID}
	case *shard.Release:
		out.Cmd = protocol.Command{Op: "RELEASE", Need: c.Need, Epoch: c.Epoch, Reason: c.Reason, MaxEpochs: c.MaxEpochs}
	case *shard.Finalize:
		out.Cmd = protocol.Command{Op: "FINALIZE", Need: c.Need, Epoch: c.Epoch, Commit: c.Commit, FinalizeID: c.FinalizeID}
	case *shard.GC:
		// Only what it did collect: a NEED the shard never had (refused
		// by admit everywhere, say) may be open here and must stay so.
		var ins []protocol.Input
		for _, need := range a.Collected {
			ins = append(ins, &protocol.Collected{At: out.At, Need: need})
		}
		return ins, nil
	default:
		return nil, fmt.Errorf("applied %s is not for the core", c.Op())
	}
	return []protocol.Input{out}, nil
}

func short(id string) string {
	if len(id) > 15 && id[:7] == "sha256:" {
		return id[7:15]
	}
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// who names a principal for events.
func (h *Host) who(pk string) string {
	switch pk {
	case h.id.root.PublicHex():
		return "host"
	case h.id.client.PublicHex():
		return "client"
	}
	if a := h.id.agent(pk); a != nil {
		return a.info.Name
	}
	return short(pk)
}

func outcomeText(body json.RawMessage) string {
	var m map[string]any
	if json.Unmarshal(body, &m) != nil {
		return string(body)
	}
	ev, _ := m["event"].(string)
	reason, _ := m["reason"].(string)
	if reason == "" {
		reason, _ = m["error"].(string)
	}
	return fmt.Sprintf("%s: %s", ev, reason)
}

// ownEnvelopes holds the envelopes this node signed and published, by
// their exact bytes, until the stream delivers each back to it once: the
// consumer then takes the envelope as it is (bus.Consumer.Trust) instead
// of verifying its signature again (a flow's own envelopes are most of
// the ones its node receives).
type ownEnvelopes struct {
	mu sync.Mutex
	m  map[string]*envelope.Envelope
}

// maxOwn bounds the envelopes held: past it (publications that never came
// back, a stream that lost them) they are dropped and verified as others.
const maxOwn = 4096

func (o *ownEnvelopes) add(e *envelope.Envelope) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.m == nil || len(o.m) >= maxOwn {
		o.m = map[string]*envelope.Envelope{}
	}
	o.m[string(e.Wire())] = e
}

// take returns the envelope whose bytes data are, once.
func (o *ownEnvelopes) take(data []byte) *envelope.Envelope {
	o.mu.Lock()
	defer o.mu.Unlock()
	e, ok := o.m[string(data)]
	if ok {
		delete(o.m, string(data))
	}
	return e
}
