package protocoltest

import (
	"fmt"
	"slices"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/protocol"
)

// Host plays the shell (package host) around one core, in memory: it steps
// inputs, keeps the trail, performs the actions, and can crash and be
// rebuilt from its trail as host/rebuild.go does.
type Host struct {
	w       *World
	i       int
	name    string
	key     *principal
	cfg     protocol.Config
	core    *protocol.Core
	up      bool
	cut     bool // partitioned from the bus and the cluster
	tear    bool // crash after the next recorded input, before its actions
	lives   int
	trail   []entry
	tasks   []task // EvalPolicy and RunAgent in flight
	timers  []timer
	inbox   []*delivery
	applied []int                // per shard: log entries stepped by the replica
	emitted []string             // "VERB id" of every DECIDE, RELEASE, INVALIDATE, FINALIZE the live cores asked to publish
	outbox  []*envelope.Envelope // published here, refused by the bus: sent again in order (host/outbox.go)
	// reconcileSkipped counts the anti-entropy ticks skipped in a row, no
	// offer being wanted (host.ReconcileAnywayAfter); a crash loses it.
	reconcileSkipped int
}

// reconcileAnywayAfter is host.ReconcileAnywayAfter (this package does not
// import the node's).
const reconcileAnywayAfter = 12

// task is an evaluation or agent run in flight, and when it was asked for.
type task struct {
	action protocol.Action
	since  int64
}

type timer struct {
	at     int64
	thread string
}

// entry is one line of a host's trail: an input it stepped (with its
// verdict), an outcome the core asked to record, or an envelope the host
// gave up on.
type entry struct {
	kind string // envelope, consensus, agent, policy, timer, outcome
	in   protocol.Input
	v    protocol.Verdict
	env  *envelope.Envelope
	rec  *protocol.Record
}

func newHost(w *World, i int, key *principal, cfg protocol.Config) *Host {
	h := &Host{w: w, i: i, name: fmt.Sprintf("h%d", i), key: key, cfg: cfg, applied: make([]int, len(w.shards))}
	core, err := protocol.New(cfg)
	if err != nil {
		panic(err)
	}
	h.core, h.up = core, true
	h.configure(false)
	return h
}

// configure steps the Configure a host steps each time it starts, after its
// trail (host/host.go), so that replay sees the agents of each start; with
// reload, the one a running host steps when its configuration changed
// (its revocation list, FaultRevoke).
func (h *Host) configure(reload bool) {
	h.step(&protocol.Configure{At: h.w.now, Reload: reload, HostPK: h.cfg.HostPK, HostCapability: h.cfg.HostCapability,
		Agents: h.cfg.Agents, Roots: h.cfg.Roots, Verifiers: h.cfg.Verifiers, NoBidsGraceMS: h.cfg.NoBidsGraceMS,
		Revoked: h.cfg.Revoked, Rules: protocol.Rules})
}

// checkpoint is the shell's checkpoint timer: a CheckpointDue with a root
// standing for the trail's Merkle root, retiring the threads that ended
// retain() ago or more.
func (h *Host) checkpoint() {
	root := envelope.HashRef([]byte(fmt.Sprintf("%s audit root at %d lines", h.name, len(h.trail))))
	in := &protocol.CheckpointDue{At: h.w.now, AuditRoot: root, RetireEndedBefore: h.w.now - h.retain()}
	// As host/loop.go does, a periodic checkpoint the core does not want
	// (nothing but periodic inputs since its last, nothing to retire) is
	// skipped, unrecorded.
	if !h.core.CheckpointWanted(in.RetireEndedBefore) {
		h.w.tracef("%s checkpoint due, none wanted", h.name)
		return
	}
	h.w.tracef("%s checkpoint due", h.name)
	h.step(in)
}

// retain is how long a thread stays whole after it ended: short, and not
// the same on every host, so that envelopes still in flight, duplicates and
// late verifiers meet threads retired on some hosts and not on others.
func (h *Host) retain() int64 { return 200 * int64(h.i+1) }

func kindOf(in protocol.Input) string {
	switch in.(type) {
	case *protocol.Received:
		return "envelope"
	case *protocol.Applied:
		return "consensus"
	case *protocol.AgentDone:
		return "agent"
	case *protocol.PolicyDone:
		return "policy"
	case *protocol.TimerFired:
		return "timer"
	case *protocol.Configure:
		return "config"
	case *protocol.CheckpointDue:
		return "checkpoint"
	case *protocol.ReconcileDue:
		return "reconcile"
	case *protocol.Collected:
		return "collected"
	}
	return "?"
}

// replayVerbs are the verbs whose envelopes replay must reproduce (P4).
func replayVerb(v envelope.Verb) bool {
	return v == envelope.VerbDecide || v == envelope.VerbRelease || v == envelope.VerbInvalidate ||
		v == envelope.VerbFinalize
}

// emissions lists the P4 publishes among actions.
func emissions(acts []protocol.Action) []string {
	var out []string
	for _, a := range acts {
		if p, ok := a.(*protocol.Publish); ok && replayVerb(p.Env.Verb) {
			out = append(out, string(p.Env.Verb)+" "+p.Env.ID)
		}
	}
	return out
}

// step steps one input and what it leads to locally, as the shell's
// process does: the envelopes it publishes are stepped right after, in the
// order published. A Received answered Duplicate or Retry leaves no line,
// except a first Retry (a "held" line); so does one the core forgot and
// the trail holds accepted (forgotten), which is not stepped.
// It returns the first input's verdict.
func (h *Host) step(first protocol.Input) protocol.Verdict {
	queue := []protocol.Input{first}
	var firstV protocol.Verdict
	for n := 0; len(queue) > 0 && h.up; n++ {
		in := queue[0]
		queue = queue[1:]
		if r, ok := in.(*protocol.Received); ok && h.forgotten(r) {
			h.w.tracef("%s recv %s -> duplicate (its trail accepted it; the core forgot it)", h.name, h.w.describe(r.Env))
			if n == 0 {
				firstV = protocol.Verdict{Thread: r.Env.Thread(), Accepted: true, Duplicate: true}
			}
			continue
		}
		v := h.core.Step(in)
		acts := h.core.Ready()
		h.core.Advance()
		if n == 0 {
			firstV = v
		}
		h.emitted = append(h.emitted, emissions(acts)...)
		if r, ok := in.(*protocol.Received); ok {
			h.w.tracef("%s recv %s -> %s", h.name, h.w.describe(r.Env), verdictString(v))
			if v.Retry && v.Held {
				// The first arrival of an envelope held back is recorded,
				// as the shell does (a "held" line).
				h.trail = append(h.trail, entry{kind: "held", in: in, v: v, env: r.Env})
			}
			if v.Duplicate || v.Retry {
				continue
			}
			h.trail = append(h.trail, entry{kind: "envelope", in: in, v: v, env: r.Env})
		} else {
			h.trail = append(h.trail, entry{kind: kindOf(in), in: in, v: v})
		}
		if h.tear {
			h.tear = false
			h.crash("torn: after recording its input, before acting on it")
			return firstV
		}
		queue = append(queue, h.perform(acts)...)
	}
	return firstV
}

// forgotten mirrors host's Host.forgotten: an envelope the host's trail
// accepted on the swarm thread or on a retired thread, whose core no
// longer holds it to know it again, is a duplicate for the shell.
func (h *Host) forgotten(r *protocol.Received) bool {
	if r.Env == nil {
		return false
	}
	if tid := r.Env.Thread(); tid != protocol.SwarmThread && !h.core.Retired(tid) {
		return false
	}
	for _, en := range h.trail {
		if en.kind == "envelope" && en.v.Accepted && en.env != nil && en.env.ID == r.Env.ID {
			return true
		}
	}
	return false
}

func verdictString(v protocol.Verdict) string {
	switch {
	case v.Duplicate:
		return "duplicate"
	case v.Accepted:
		return "accepted"
	case v.Retry:
		return "retry: " + v.Detail
	}
	return fmt.Sprintf("rejected %s: %s", v.Code, v.Detail)
}

// perform takes the actions of one step and returns the envelopes to step
// back, in the order published.
func (h *Host) perform(acts []protocol.Action) []protocol.Input {
	var back []protocol.Input
	w := h.w
	for _, a := range acts {
		switch a := a.(type) {
		case *protocol.Publish:
			e := a.Env
			p := w.people[e.SenderPK]
			if p == nil {
				w.violate("%s: publish by unknown key %s", h.name, e.SenderPK)
				continue
			}
			if err := envelope.SignPrepared(e, p.key); err != nil {
				w.violate("%s: sign %s: %v", h.name, e.Verb, err)
				continue
			}
			w.envs[e.ID] = e
			h.send(e)
			// Stepped here whether or not the bus took it, as the node
			// steps its own envelopes in the round that made them.
			back = append(back, &protocol.Received{At: w.now, Raw: e.Wire(), Env: e, Token: w.cas[e.Capability]})
		case *protocol.Propose:
			w.props = append(w.props, &proposal{host: h.i, cmd: a.Cmd})
		case *protocol.EvalPolicy, *protocol.RunAgent:
			h.tasks = append(h.tasks, task{action: a, since: w.now})
		case *protocol.ArmTimer:
			if !slices.Contains(h.timers, timer{a.At, a.Thread}) {
				h.timers = append(h.timers, timer{a.At, a.Thread})
			}
		case *protocol.Record:
			h.trail = append(h.trail, entry{kind: "outcome", rec: a})
			w.tracef("%s record %s %s", h.name, w.name(a.Thread), w.substNames(string(a.Body)))
		}
	}
	return back
}

// send publishes e, or keeps it in the outbox when the bus refuses it (a
// partition, or FaultPublishLoss) or others wait there before it, as
// host/outbox.go does; resend sends them again.
func (h *Host) send(e *envelope.Envelope) {
	w := h.w
	if h.cut || len(h.outbox) > 0 || (w.on(FaultPublishLoss) && w.rng.IntN(15) == 0) {
		w.tracef("%s publish REFUSED (stepped here, sent again later) %s", h.name, w.describe(e))
		h.outbox = append(h.outbox, e)
		return
	}
	w.publish(e, h.name)
}

// resend publishes the oldest envelope of the outbox.
func (h *Host) resend() {
	e := h.outbox[0]
	h.outbox = h.outbox[1:]
	h.w.tracef("%s publish again %s", h.name, h.w.describe(e))
	h.w.publish(e, h.name)
}

// publishAgain sends again this host's own envelopes accepted in the last
// republishLines lines of its trail, as a starting node does (host's
// ownTail): what a crash left recorded and never sent, the outbox
// included, goes out.
func (h *Host) publishAgain() {
	own := map[string]bool{h.cfg.HostPK: true}
	for _, a := range h.cfg.Agents {
		own[a.PK] = true
	}
	for _, en := range h.trail[max(len(h.trail)-republishLines, 0):] {
		if en.kind == "envelope" && en.v.Accepted && en.env != nil && own[en.env.SenderPK] {
			h.send(en.env)
		}
	}
}

// republishLines is host's: 8 * maxBatch.
const republishLines = 512

// deliver steps a bus delivery: settled (removed) unless answered Retry,
// which the bus delivers again later, or records rejected after maxRetries.
func (h *Host) deliver(i int) {
	d := h.inbox[i]
	w := h.w
	in := &protocol.Received{At: w.now, Raw: d.msg.raw}
	// The shell runs envelope.Verify on every delivery; the same bytes give
	// the same answer, so after the first the harness only decodes them
	// (each core still gets its own *Envelope).
	verify := envelope.Verify
	if d.msg.verified {
		verify = envelope.Decode
	}
	if e, err := verify(d.msg.raw); err != nil {
		in.Err = err
	} else {
		d.msg.verified = true
		in.Env = e
		in.Token = w.cas[e.Capability]
	}
	v := h.step(in)
	if !v.Retry {
		h.inbox = slices.Delete(h.inbox, i, i+1)
		return
	}
	d.tries++
	d.notBefore = w.now + retryDelay
	if d.tries >= maxRetries && h.up {
		// The shell gives up: it records the envelope rejected with the code.
		h.inbox = slices.Delete(h.inbox, i, i+1)
		gaveUp := protocol.Verdict{Thread: v.Thread, Code: v.Code, Detail: "gave up: " + v.Detail}
		h.trail = append(h.trail, entry{kind: "envelope", in: in, v: gaveUp, env: in.Env})
		w.tracef("%s gave up on %s", h.name, w.describe(in.Env))
	}
}

// crash loses everything but the trail and the bus consumer: the core,
// the work in flight, the timers. A proposal in flight may or may not have
// reached the cluster.
func (h *Host) crash(why string) {
	w := h.w
	w.tracef("%s CRASH (%s)", h.name, why)
	h.up, h.core, h.tasks, h.timers, h.tear, h.outbox, h.reconcileSkipped = false, nil, nil, nil, false, nil, 0
	h.lives++
	kept := w.props[:0]
	for _, p := range w.props {
		if p.host != h.i || w.rng.IntN(2) == 0 {
			kept = append(kept, p)
		} else {
			w.tracef("%s proposal lost in the crash: %s", h.name, w.cmdString(p.cmd))
		}
	}
	w.props = kept
}

// rebuilt is a core rebuilt from a trail, with what the rebuild asked for.
type rebuilt struct {
	core    *protocol.Core // stepped taking its actions (P4 reads them)
	quiet   *protocol.Core // the same trail stepped quietly, as a node does; quiet no more
	emitted []string       // the P4 publishes
	timers  []timer
	// unsent are the envelopes the rules asked to publish that the trail
	// has no line of (accepted, rejected or held), in the order asked:
	// what replay's end check finds missing
	unsent []*envelope.Envelope
	// quietDiffers: a quiet core stepping the same trail did not end in
	// the same state (protocol.SameState)
	quietDiffers error
}

// replay steps a trail into a fresh core as host/rebuild.go does: every
// input, of rejected envelopes only the host's own (with no token, as a
// node reads them), actions dropped (timers re-armed).
func replay(cfg protocol.Config, trail []entry) (*rebuilt, error) {
	core, err := protocol.New(cfg)
	if err != nil {
		return nil, err
	}
	// A node rebuilds quietly (protocol.Core.SetQuiet): beside the core
	// whose actions P4 reads, a quiet one steps the same trail, and must
	// end in the same state.
	quiet, _ := protocol.New(cfg)
	quiet.SetQuiet(true)
	r := &rebuilt{core: core, quiet: quiet}
	asked, inTrail := map[string]bool{}, map[string]bool{}
	var publishes []*envelope.Envelope
	own := map[string]bool{cfg.HostPK: true}
	for _, a := range cfg.Agents {
		own[a.PK] = true
	}
	for _, en := range trail {
		if en.in == nil {
			continue
		}
		in := en.in
		rc, isEnvelope := in.(*protocol.Received)
		if isEnvelope && rc.Env != nil {
			inTrail[rc.Env.ID] = true
		}
		if en.kind == "envelope" && !en.v.Accepted {
			if rc.Env == nil || !own[rc.Env.SenderPK] {
				continue
			}
			c := *rc
			c.Token = nil
			in = &c
		}
		v := core.Step(in)
		if en.kind == "envelope" && !en.v.Accepted && v.Accepted {
			return nil, fmt.Errorf("the trail records its own %s rejected, and stepped again it is accepted", rc.Env.ID)
		}
		quiet.Step(ownCopy(in))
		acts := core.Ready()
		r.emitted = append(r.emitted, emissions(acts)...)
		for _, a := range acts {
			switch a := a.(type) {
			case *protocol.ArmTimer:
				if !slices.Contains(r.timers, timer{a.At, a.Thread}) {
					r.timers = append(r.timers, timer{a.At, a.Thread})
				}
			case *protocol.Publish:
				if !asked[a.Env.ID] {
					asked[a.Env.ID] = true
					publishes = append(publishes, a.Env)
				}
			}
		}
		core.Advance()
	}
	r.quietDiffers = protocol.SameState(core, quiet)
	quiet.SetQuiet(false)
	for _, e := range publishes {
		if !inTrail[e.ID] {
			r.unsent = append(r.unsent, e)
		}
	}
	return r, nil
}

// ownCopy is an input for the quiet core that shares no envelope with
// the loud one's (a node rebuilding decodes its own from disk): a change a
// core made to an envelope in place would otherwise reach both.
func ownCopy(in protocol.Input) protocol.Input {
	r, ok := in.(*protocol.Received)
	if !ok || r.Env == nil || len(r.Raw) == 0 {
		return in
	}
	e, err := envelope.Decode(r.Raw)
	if err != nil {
		return in
	}
	c := *r
	c.Env = e
	return &c
}

// restart rebuilds the host from its trail and re-arms its timers. Its
// replicas apply the shards' logs again from the start or from where they
// were (both happen: a snapshot, or none). The start's Configure makes
// the core ask again for the work the trail shows no outcome of, and for
// the envelopes it shows no line of (a torn round's).
func (h *Host) restart() {
	w := h.w
	r, err := replay(h.cfg, h.trail)
	if err != nil {
		w.violate("%s: restart: %v", h.name, err)
		return
	}
	if r.quietDiffers != nil {
		w.violate("P4 %s: a quiet rebuild after crash %d ends elsewhere than one taking its actions: %v", h.name, h.lives, r.quietDiffers)
	}
	if !slices.Equal(r.emitted, h.emitted) {
		w.violate("P4 %s: the rebuild after crash %d asked to publish %v, the live cores %v", h.name, h.lives,
			w.names2(r.emitted), w.names2(h.emitted))
	}
	// The host goes on with the core rebuilt quietly, as a node does (its
	// state is the other's: quietDiffers); the timers are those the
	// rebuild asked for.
	h.core, h.up, h.timers = r.quiet, true, r.timers
	from := "where it was"
	if w.rng.IntN(2) == 0 {
		from = "the start"
		for s := range h.applied {
			h.applied[s] = 0
		}
	}
	w.tracef("%s RESTART from %d trail lines, %d timers, applying the shard logs again from %s", h.name, len(h.trail),
		len(r.timers), from)
	h.publishAgain() // before the start's Configure, as host.Open does
	h.configure(false)
}

func (w *World) names2(list []string) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = w.substNames(`"` + s[len(s)-71:] + `"`)
		out[i] = s[:len(s)-71] + out[i]
	}
	return out
}

// completeTask finishes task i: the agent's output or the capsule's answer.
// Its time is when it finished, at some point since it was asked for: a
// node steps an outcome after it has waited in the input queue, so the
// core meets times out of order (the outcome's, then later envelopes').
func (h *Host) completeTask(i int) {
	t := h.tasks[i]
	h.tasks = slices.Delete(h.tasks, i, i+1)
	w := h.w
	at := w.now
	if w.now > t.since {
		at = t.since + w.rng.Int64N(w.now-t.since+1)
	}
	switch a := t.action.(type) {
	case *protocol.EvalPolicy:
		res, gas, digest := w.evaluate(a.Capsule, a.Entrypoint, a.Envelope)
		w.tracef("%s eval %s %s -> %s (finished at +%d)", h.name, a.Entrypoint, w.name(a.Envelope.ID), res, at-startTime)
		h.step(&protocol.PolicyDone{At: at, ReqID: a.ReqID, Result: res, GasUsed: gas, Digest: digest})
	case *protocol.RunAgent:
		out := w.runAgent(a)
		w.tracef("%s run %s -> %s (finished at +%d)", h.name, w.name(a.Agent), w.substNames(string(out)), at-startTime)
		h.step(&protocol.AgentDone{At: at, ReqID: a.ReqID, Output: out, GasUsed: 10})
	}
}

// fire steps the due timer i.
func (h *Host) fire(i int) {
	t := h.timers[i]
	h.timers = slices.Delete(h.timers, i, i+1)
	h.w.tracef("%s timer %s (armed for +%d)", h.name, h.w.name(t.thread), t.at-startTime)
	h.step(&protocol.TimerFired{At: h.w.now, Thread: t.thread})
}

// apply steps the next entry of shard s's log.
func (h *Host) apply(s int) {
	r := h.w.shards[s].log[h.applied[s]]
	h.applied[s]++
	h.w.tracef("%s applied shard%d #%d %s", h.name, s, r.index, h.w.cmdString(r.cmd))
	if r.cmd.Op == "GC" {
		// As the node's loop does (host/loop.go fromShard): a Collected per
		// NEED, stepped only where its thread is still open.
		for _, need := range r.cmd.Needs {
			if h.w.shards[s].m.Collected(need) && !h.core.KnowsCollected(need) {
				h.step(&protocol.Collected{At: h.w.now, Need: need})
			}
		}
		return
	}
	h.step(h.w.appliedInput(r))
}

// reconcile is the shell's anti-entropy timer: a ReconcileDue, recorded
// like every input, whose RECONCILE offer is published and stepped back.
// As host/loop.go does, a tick no offer is wanted at
// (Core.ReconcileWanted) is skipped, unrecorded, but for every
// reconcileAnywayAfter-th; always steps it whatever (the round after the
// faults stop: the one a node's idle ticks come to in time).
func (h *Host) reconcile(always bool) {
	if !always && !h.core.ReconcileWanted() && h.reconcileSkipped+1 < reconcileAnywayAfter {
		h.reconcileSkipped++
		h.w.tracef("%s reconcile due, no offer wanted (%d in a row)", h.name, h.reconcileSkipped)
		return
	}
	h.reconcileSkipped = 0
	h.w.tracef("%s reconcile due", h.name)
	h.step(&protocol.ReconcileDue{At: h.w.now})
}

// due reports whether the host has a timer due now.
func (h *Host) due() []int {
	var idx []int
	for i, t := range h.timers {
		if t.at <= h.w.now {
			idx = append(idx, i)
		}
	}
	return idx
}

// eligible lists the deliveries the host can take now.
func (h *Host) eligible() []int {
	var idx []int
	for i, d := range h.inbox {
		if d.notBefore <= h.w.now {
			idx = append(idx, i)
		}
	}
	return idx
}

// pendingApply lists the shards whose logs the host has not applied fully.
func (h *Host) pendingApply() []int {
	var s []int
	for i, sm := range h.w.shards {
		if h.applied[i] < len(sm.log) {
			s = append(s, i)
		}
	}
	return s
}
