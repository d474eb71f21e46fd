package protocoltest

import (
	"encoding/json"
	"slices"

	"github.com/canswarm/swarmhost/abi"
	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/protocol"
)

// Local agents, as Go code. The first letter of an agent's name says how it
// behaves:
//
//   - w, an honest worker: bids on a NEED; on a DECIDE that chose it, claims
//     sends a heartbeat, commits the honest result (the same for every
//     honest worker) and marks its plan task done.
//   - s, a stalling worker: bids cheap; chosen, it claims and yields on odd
//     epochs and does nothing on even ones.
//   - x, a wrong worker: bids cheap and commits a result verify refuses.
//   - v, an honest verifier: on a COMMIT its DECIDE names it for, attests
//     with the digest of its own verify evaluation (the oracle's, as the
//     host's), pass when verify is true; on another verifier's ATTEST whose
//     digest is not the oracle's, challenges it.
//   - l, a lying verifier: attests pass with a digest no evaluation gives.
//   - p, a planner: on a NEED, adds a plan task linked to it.
//
// Outputs go back as protocol.AgentDone{Output: JSON of abi.AgentOutput}.

func (w *World) runAgent(a *protocol.RunAgent) json.RawMessage {
	p := w.people[a.Agent]
	var in abi.AgentInput
	if p == nil || json.Unmarshal(a.Input(), &in) != nil {
		return nil
	}
	e, err := envelope.Decode(in.Envelope)
	if err != nil {
		return nil
	}
	var out abi.AgentOutput
	act := func(verb envelope.Verb, payload any, refs []string, digest string) {
		b, _ := json.Marshal(payload)
		out.Actions = append(out.Actions, abi.Action{Verb: string(verb), Payload: b, ContentRefs: refs,
			PolicyEvalDigest: digest})
	}
	op := func(v map[string]any) {
		b, _ := json.Marshal(v)
		out.PlanOps = append(out.PlanOps, b)
	}
	task := "task-" + e.Thread()[7:19]
	role := p.name[0]
	switch {
	case e.Verb == envelope.VerbNeed && (role == 'w' || role == 's' || role == 'x'):
		price := 10 + uint64(p.name[1]-'0')
		if role != 'w' {
			price = 1
		}
		act(envelope.VerbPropose, map[string]any{"epoch": in.Thread.Epoch,
			"bid": map[string]any{"price": price, "eta_ms": 50}}, nil, "")
	case e.Verb == envelope.VerbNeed && role == 'p':
		op(map[string]any{"op": "ADD_TASK", "task": task, "spec": map[string]any{"kind": "classify"}})
		op(map[string]any{"op": "LINK", "task": task, "need": e.ID})
	case e.Verb == envelope.VerbDecide && (role == 'w' || role == 'x' || role == 's'):
		var d struct {
			Epoch    uint64 `json:"epoch"`
			WorkerPK string `json:"worker_pk"`
			Fence    uint64 `json:"fence"`
		}
		json.Unmarshal(e.Payload, &d)
		if d.WorkerPK != p.pk {
			break
		}
		if role == 's' {
			if d.Epoch%2 == 1 { // claims and gives the work back; on even epochs, nothing
				act(envelope.VerbClaim, map[string]any{"epoch": d.Epoch, "fence": d.Fence}, nil, "")
				act(envelope.VerbYield, map[string]any{"epoch": d.Epoch, "reason": "busy"}, nil, "")
			}
			break
		}
		ref := w.resultRef(e.ThreadID, role == 'w')
		act(envelope.VerbClaim, map[string]any{"epoch": d.Epoch, "fence": d.Fence}, nil, "")
		act(envelope.VerbHeartbeat, map[string]any{"epoch": d.Epoch, "fence": d.Fence}, nil, "")
		act(envelope.VerbCommit, map[string]any{"epoch": d.Epoch, "fence": d.Fence, "result": ref,
			"telemetry": map[string]any{"gas_used": 10, "wall_ms": 5}}, []string{ref}, "")
		op(map[string]any{"op": "STATE", "task": task, "state": "done"})
	case e.Verb == envelope.VerbCommit && (role == 'v' || role == 'l'):
		var d struct {
			Verifiers []string `json:"verifiers"`
		}
		json.Unmarshal(in.Thread.Decide, &d)
		var cp struct {
			Epoch uint64 `json:"epoch"`
		}
		json.Unmarshal(e.Payload, &cp)
		if !slices.Contains(d.Verifiers, p.pk) {
			break
		}
		res, _, digest := w.evaluate(e.PolicyCapsuleHash, "verify", e)
		verdict := "fail"
		if string(res) == "true" {
			verdict = "pass"
		}
		if role == 'l' {
			verdict = "pass"
			digest = envelope.HashRef([]byte("a lie about " + e.ID))
			w.names[digest] = "lie/" + w.name(e.ID)
		}
		act(envelope.VerbAttest, map[string]any{"epoch": cp.Epoch, "commit": e.ID, "verdict": verdict}, nil, digest)
	case e.Verb == envelope.VerbAttest && role == 'v':
		var ap struct {
			Commit string `json:"commit"`
		}
		json.Unmarshal(e.Payload, &ap)
		commit := w.envs[ap.Commit]
		if commit == nil {
			break
		}
		_, _, digest := w.evaluate(commit.PolicyCapsuleHash, "verify", commit)
		if e.PolicyEvalDigest != digest {
			act(envelope.VerbChallenge, map[string]any{"target": e.ID, "claimed_digest": digest}, nil, "")
		}
	}
	if len(out.Actions) == 0 && len(out.PlanOps) == 0 {
		return nil
	}
	b, _ := json.Marshal(out)
	return b
}
