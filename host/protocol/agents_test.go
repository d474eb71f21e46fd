package protocol_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/canswarm/swarmhost/abi"
	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/protocol"
)

// Scripted local agents. By default a worker agent bids on a NEED and, when
// a DECIDE chooses it, claims and commits the result "out-<name>"; a
// verifier agent named by the DECIDE attests a COMMIT pass with the digest
// of its own verify evaluation (the oracle's, so an honest one). The agent
// command changes that (see commands_test.go).

func (h *harness) agent(name string) *agentScript {
	if a := h.agents[name]; a != nil {
		return a
	}
	a := &agentScript{mode: "full", price: 10, eta: 100, result: "out-" + name, verdict: "pass", digest: "good"}
	h.agents[name] = a
	return a
}

// agentInfo describes a local agent for the core's Config.
func (h *harness) agentInfo(name string) protocol.AgentInfo {
	p := h.person(name)
	info := protocol.AgentInfo{Name: name, PK: p.pk, Capability: h.token(name), Roles: rolesOf(name),
		Capabilities: []string{"classify"}}
	switch name[0] {
	case 'w':
		info.Verbs = []envelope.Verb{envelope.VerbNeed, envelope.VerbDecide}
	case 'v':
		info.Verbs = []envelope.Verb{envelope.VerbCommit}
		if h.agent(name).challenges {
			info.Verbs = append(info.Verbs, envelope.VerbAttest)
		}
	default:
		h.fatalf("a local agent is a worker (w...) or a verifier (v...), not %s", name)
	}
	return info
}

func (h *harness) runAgent(a *protocol.RunAgent) {
	name := h.byPK[a.Agent]
	var in abi.AgentInput
	if err := json.Unmarshal(a.Input(), &in); err != nil {
		h.fatalf("agent input: %v", err)
	}
	e, err := envelope.Decode(in.Envelope)
	if err != nil {
		h.fatalf("agent input envelope: %v", err)
	}
	if in.SelfPK != a.Agent {
		h.fatalf("agent input self_pk %s, agent %s", in.SelfPK, a.Agent)
	}
	out, fault := h.agentOutput(name, e, in)
	what := "no output"
	switch {
	case fault != "":
		what = "fault: " + fault
	case out != nil:
		var o abi.AgentOutput
		json.Unmarshal(out, &o)
		var parts []string
		for _, act := range o.Actions {
			parts = append(parts, act.Verb)
		}
		if len(o.PlanOps) > 0 {
			parts = append(parts, fmt.Sprintf("plan_ops[%d]", len(o.PlanOps)))
		}
		if o.Error != "" {
			parts = append(parts, "error "+o.Error)
		}
		what = strings.Join(parts, ",")
	}
	h.line("run %s %s %s state=%s epoch=%d -> %s", name, e.Verb, h.name(e.ID), in.Thread.State, in.Thread.Epoch, what)
	h.lastRun = fmt.Sprintf("%s %s %s", name, e.Verb, h.name(e.ID))
	h.lastAgent = &protocol.AgentDone{At: h.now, ReqID: a.ReqID, Output: out, Fault: fault, GasUsed: 10}
	h.step(h.lastAgent)
}

func (h *harness) agentOutput(name string, e *envelope.Envelope, in abi.AgentInput) (json.RawMessage, string) {
	sc := h.agent(name)
	if sc.fault != "" {
		f := sc.fault
		sc.fault = ""
		return nil, f
	}
	if sc.next != "" {
		out := sc.next
		sc.next = ""
		return json.RawMessage(h.substRefs(out)), ""
	}
	if sc.mode == "idle" {
		return nil, ""
	}
	self := h.people[name].pk
	var acts []abi.Action
	add := func(verb envelope.Verb, payload any, refs []string, digest string) {
		b, _ := json.Marshal(payload)
		acts = append(acts, abi.Action{Verb: string(verb), Payload: b, ContentRefs: refs, PolicyEvalDigest: digest})
	}
	switch {
	case e.Verb == envelope.VerbNeed && name[0] == 'w':
		add(envelope.VerbPropose, map[string]any{"epoch": in.Thread.Epoch,
			"bid": map[string]any{"price": sc.price, "eta_ms": sc.eta}}, nil, "")
	case e.Verb == envelope.VerbDecide && name[0] == 'w':
		var d struct {
			Epoch    uint64 `json:"epoch"`
			WorkerPK string `json:"worker_pk"`
			Fence    uint64 `json:"fence"`
		}
		json.Unmarshal(e.Payload, &d)
		if d.WorkerPK != self {
			break
		}
		add(envelope.VerbClaim, map[string]any{"epoch": d.Epoch, "fence": d.Fence}, nil, "")
		if sc.mode != "claim" {
			ref := h.result(sc.result)
			add(envelope.VerbCommit, map[string]any{"epoch": d.Epoch, "fence": d.Fence, "result": ref,
				"telemetry": map[string]any{"gas_used": 10, "wall_ms": 5}}, []string{ref}, "")
		}
	case e.Verb == envelope.VerbCommit && name[0] == 'v':
		var d struct {
			Verifiers []string `json:"verifiers"`
		}
		json.Unmarshal(in.Thread.Decide, &d)
		if !slices.Contains(d.Verifiers, self) {
			break
		}
		add(envelope.VerbAttest, map[string]any{"epoch": in.Thread.Epoch, "commit": e.ID, "verdict": sc.verdict},
			nil, h.attestDigest(sc.digest, e))
	case e.Verb == envelope.VerbAttest && name[0] == 'v' && sc.challenges:
		// As plugins/verifier: another verifier's ATTEST whose digest is
		// not the one an honest evaluation of the commit gives.
		var ap struct {
			Commit string `json:"commit"`
		}
		json.Unmarshal(e.Payload, &ap)
		commit := h.stored(h.names[ap.Commit])
		if good := h.attestDigest("good", commit.env); e.PolicyEvalDigest != good {
			add(envelope.VerbChallenge, map[string]any{"target": e.ID, "claimed_digest": good}, nil, "")
		}
	}
	if len(acts) == 0 {
		return nil, ""
	}
	b, _ := json.Marshal(abi.AgentOutput{Actions: acts})
	return b, ""
}

// attestDigest is the digest a verifier puts in its ATTEST of commit: good
// is the oracle's verify evaluation (what the host computes too), bad a
// digest no evaluation gives.
func (h *harness) attestDigest(kind string, commit *envelope.Envelope) string {
	switch kind {
	case "good":
		_, d, _ := h.evaluate("verify", commit)
		return d
	case "bad":
		d := envelope.HashRef([]byte("forged\n" + commit.ID))
		h.names[d] = "forged/" + h.name(commit.ID)
		return d
	case "none":
		return ""
	}
	return h.resolve(kind)
}
