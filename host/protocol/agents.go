package protocol

import (
	"encoding/json"
	"fmt"
	"sync"

	"github.com/canswarm/swarmhost/abi"
	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/protocol/plan"
)

// deliver runs every local agent that wants e's verb on it (not the agent
// that sent it). A NEED is delivered only once admitted (and again when a
// new epoch opens). An ended thread offers its FINALIZE and, once
// finalized (rules revision 1), an ATTEST of its COMMIT accepted after the
// FINALIZE: a verifier's lie that came late is still shown to the honest
// verifiers, so that it is challenged and its INVALIDATE recorded like an
// earlier one's.
func (c *Core) deliver(t *thread, e *envelope.Envelope) {
	if e.Verb == envelope.VerbNeed && t.phase != PhaseOpen {
		return
	}
	lateAttest := e.Verb == envelope.VerbAttest && t.phase == PhaseFinal && c.cfg.Rules >= 1
	if t.final() && e.Verb != envelope.VerbFinalize && !lateAttest {
		return
	}
	var job *agentJob // made once the first agent wants e, shared by the runs
	for i := range c.cfg.Agents {
		a := &c.cfg.Agents[i]
		if !a.wants(e.Verb) || a.PK == e.SenderPK || c.agentRevoked(a) {
			continue // a revoked agent's envelopes would be refused
		}
		if t.np.Capability != "" && !a.can(t.np.Capability) {
			continue
		}
		if job == nil {
			job = newAgentJob(t, e)
		}
		id := c.nextReq("agent")
		gas := c.cfg.AgentGas
		if t.np.GasBudget > 0 {
			gas = t.np.GasBudget
		}
		run := &RunAgent{ReqID: id, Thread: t.id, Agent: a.PK, Module: a.Module, Gas: gas, job: job}
		c.requests()[id] = &request{thread: t.id, purpose: "agent", env: e, epoch: t.epoch, agent: a.PK, action: run}
		c.emit(run)
	}
}

// agentJob is what the runs of one delivery are made from: the envelope,
// the thread view and the policy request's inputs as they were when the
// runs were asked for (values and references to envelopes and payloads,
// which never change), encoded when a shell first asks for them.
type agentJob struct {
	wire   []byte
	view   abi.ThreadView // without Decide, which decide encodes
	decide *decision
	pol    policySnapshot
	hasPol bool

	inputsOnce sync.Once
	inputs     agentInputs
	polOnce    sync.Once
	evalPolicy *EvalPolicy
}

func newAgentJob(t *thread, e *envelope.Envelope) *agentJob {
	j := &agentJob{wire: e.Wire(), view: t.viewRefs(), decide: t.decisions[t.epoch]}
	if evaluated, ok := t.standardEvaluated(e); ok {
		j.pol, j.hasPol = t.policySnapshot(evaluated), true
	}
	return j
}

func (j *agentJob) input(agentPK string) []byte {
	if j == nil {
		return nil // a RunAgent the core did not make
	}
	j.inputsOnce.Do(func() {
		v := j.view
		if j.decide != nil {
			v.Decide, _ = json.Marshal(j.decide)
		}
		j.inputs = newAgentInputs(j.wire, v)
	})
	return j.inputs.forAgent(agentPK)
}

func (j *agentJob) policy() *EvalPolicy {
	if j == nil || !j.hasPol {
		return nil
	}
	j.polOnce.Do(func() { j.evalPolicy = j.pol.request("") })
	return j.evalPolicy
}

func (c *Core) agentDone(in *AgentDone) string {
	r := c.findReq(in.ReqID)
	if r == nil {
		return ""
	}
	delete(c.reqMap, in.ReqID)
	t := c.threads[r.thread]
	if t == nil { // retired, say
		return r.thread
	}
	a := c.agents[r.agent]
	if a == nil {
		// A reload (or a start) since the run was asked for removed the
		// agent: what it answered is not its to send any more.
		const reason = "the agent is no longer configured (its plugin was removed)"
		t.lastAgentProblem = "agent " + short(r.agent) + ": " + reason
		c.record(t.id, "outcome", map[string]any{"event": "agent_output_refused", "agent": "",
			"agent_pk": r.agent, "request": in.ReqID, "reason": reason})
		return t.id
	}
	refuse := func(what string, args ...any) {
		reason := fmt.Sprintf(what, args...)
		t.lastAgentProblem = a.Name + ": " + reason
		c.record(t.id, "outcome", map[string]any{"event": "agent_output_refused", "agent": a.Name,
			"agent_pk": a.PK, "request": in.ReqID, "reason": reason})
	}
	if c.agentRevoked(a) {
		// Revoked while it ran: what it answered is refused here, and
		// must not leave this host under its key.
		refuse("the agent's key or token was revoked on this host")
		return t.id
	}
	if in.Fault != "" {
		refuse("the call failed: %s", in.Fault)
		return t.id
	}
	if len(in.Output) == 0 || string(in.Output) == "null" {
		return t.id
	}
	out, err := decodeAgentOutput(in.Output)
	if err != nil {
		refuse("its output is not an AgentOutput: %v", err)
		return t.id
	}
	if out.Error != "" {
		refuse("the agent reported: %s", out.Error)
		return t.id
	}
	for i, act := range out.Actions {
		verb := envelope.Verb(act.Verb)
		if !mayAgentSend(a, verb) {
			refuse("actions[%d]: roles %v may not send %s", i, a.Roles, act.Verb)
			continue
		}
		if err := c.publishAs(t, a.PK, a.Capability, verb, act.Payload, act.ContentRefs, act.PolicyEvalDigest); err != nil {
			refuse("actions[%d] (%s): %v", i, act.Verb, err)
		}
	}
	if len(out.PlanOps) > 0 {
		if !mayAgentSend(a, envelope.VerbUpdatePlan) {
			refuse("plan_ops: roles %v may not send UPDATE_PLAN", a.Roles)
		} else {
			raw, _ := json.Marshal(out.PlanOps)
			ops, err := plan.ParseOps(raw)
			if err != nil {
				refuse("plan_ops: %v", err)
			} else if payload, err := plan.EncodeUpdatePlan(ops); err != nil {
				refuse("plan_ops: %v", err)
			} else if err := c.publishAs(t, a.PK, a.Capability, envelope.VerbUpdatePlan, payload, nil, ""); err != nil {
				refuse("plan_ops: %v", err)
			}
		}
	}
	return t.id
}

func mayAgentSend(a *AgentInfo, v envelope.Verb) bool {
	for _, r := range a.Roles {
		if r.MaySend(v) {
			return true
		}
	}
	return false
}

// publishAs prepares an envelope from a local principal on the thread, at
// the thread's next Lamport time, and asks the shell to sign and send it.
func (c *Core) publishAs(t *thread, sender, capability string, verb envelope.Verb, payload any, refs []string, digest string) error {
	threadID := t.id
	if verb == envelope.VerbNeed {
		threadID = ""
	}
	t.clock++
	d := unsentDraft{thread: t.id, sender: sender, draft: envelope.Draft{ThreadID: threadID, Verb: verb, Lamport: t.clock, Capability: capability,
		ContentRefs: refs, PolicyCapsuleHash: t.capsule, PolicyEvalDigest: digest, Payload: payload}}
	if c.quiet {
		// A quiet core prepares nothing: a failure to prepare it is an
		// outcome record, which a quiet core does not write either. It
		// keeps the draft until the envelope is stepped back, as a loud
		// one does (one that cannot be prepared goes at the next redo).
		c.unsent = append(c.unsent, d)
		return nil
	}
	e, err := envelope.Prepare(d.draft, sender)
	if err != nil {
		return err
	}
	c.unsent = append(c.unsent, d)
	c.emit(&Publish{Env: e})
	return nil
}

// publishHost publishes an envelope from the host itself.
func (c *Core) publishHost(t *thread, verb envelope.Verb, payload map[string]any, refs []string) {
	if verb == envelope.VerbFinalize {
		if r, ok := payload["result"].(string); ok && envelope.IsRef(r) {
			refs = append(refs, r)
		}
	}
	if err := c.publishAs(t, c.cfg.HostPK, c.cfg.HostCapability, verb, payload, refs, ""); err != nil {
		c.record(t.id, "outcome", map[string]any{"event": "host_envelope_failed", "verb": verb, "error": err.Error()})
	}
}

// maxReconcileBytes bounds the entries of one RECONCILE (payloads are at
// most 32 KiB).
const maxReconcileBytes = 24 << 10

// sendMissing answers a RECONCILE with the ops the other side lacks, in as
// many RECONCILEs as their size needs.
func (c *Core) sendMissing(t *thread, entries []plan.Entry) {
	for len(entries) > 0 {
		n, size := 0, 0
		for n < len(entries) {
			b, _ := entries[n].MarshalJSON()
			if n > 0 && size+len(b) > maxReconcileBytes {
				break
			}
			size += len(b) + 1
			n++
		}
		raw, err := plan.EncodeEntries(entries[:n])
		if err == nil {
			c.publishHost(t, envelope.VerbReconcile, map[string]any{"plan_digest": c.plan.Digest(), "ops": json.RawMessage(raw)}, nil)
		}
		entries = entries[n:]
	}
}

// reconcile publishes a RECONCILE offer (ReconcileDue): the plan digest and
// the envelope ids whose ops this host holds (at most maxHave of them, the
// latest), so that hosts that lack ops answer with them and hosts that hold
// more send them.
func (c *Core) reconcile() {
	t := c.thread(SwarmThread)
	have := c.plan.Have()
	if len(have) > maxHave {
		have = have[len(have)-maxHave:]
	}
	c.offered, c.peerDiffers = c.plan.Digest(), false
	c.publishHost(t, envelope.VerbReconcile, map[string]any{"plan_digest": c.offered, "have": have}, nil)
}

// ReconcileWanted reports whether a RECONCILE offer now could tell another
// host something its last one did not: the plan changed since this core's
// last offer (or it made none), or a RECONCILE from another host has shown
// a plan digest other than this core's since (that host may hold ops this
// one lacks, which it sends in answer to an offer). A shell may skip an
// anti-entropy tick that is not wanted, unrecorded: an idle cluster then
// writes no offer every interval to every host's trail. An offer lost
// before any host saw it (a crash took it with the outbox) is not known
// here, so a shell still offers now and then when none is wanted.
func (c *Core) ReconcileWanted() bool {
	return c.peerDiffers || c.offered != c.plan.Digest()
}

const maxHave = 300
