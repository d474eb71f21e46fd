package protocol_test

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/protocol"
	"github.com/canswarm/swarmhost/host/protocol/plan"
)

func (h *harness) cmdNeed(a *args) {
	id := a.str("id", "")
	if id == "" {
		h.fatalf("need id=name")
	}
	input := a.str("input", `{"text":"`+id+`"}`)
	payload := map[string]any{"capability": a.str("cap", "classify"), "input": json.RawMessage(input),
		"k": h.num(a, "k", 1), "n": h.num(a, "n", 1), "bid_window_ms": h.num(a, "window", 100),
		"lease_ms": h.num(a, "lease", 1000), "max_epochs": h.num(a, "max_epochs", 3),
		"deadline_ms": h.num(a, "deadline", 0), "gas_budget": h.num(a, "gas", 0), "nonce": id}
	capsule := h.named("capsule:" + a.str("capsule", "default"))
	if v := h.send(a, "c1", id, envelope.Draft{Verb: envelope.VerbNeed, PolicyCapsuleHash: capsule, Payload: payload}); v.Accepted {
		h.lastNeed = id
	}
}

// cmdWorker sends CLAIM, HEARTBEAT, YIELD or COMMIT for the current
// decision, from its worker unless sender= says otherwise.
func (h *harness) cmdWorker(cmd string, a *args) {
	need := h.needArg(a)
	epoch, fence, worker := h.current(need, a)
	sender := a.str("sender", worker)
	a.kv["sender"] = sender
	var d envelope.Draft
	switch cmd {
	case "claim":
		p := map[string]any{"epoch": epoch, "fence": fence}
		if a.has("lease") {
			p["lease_ms"] = h.num(a, "lease", 0)
		}
		d = envelope.Draft{Verb: envelope.VerbClaim, Payload: p}
	case "heartbeat":
		d = envelope.Draft{Verb: envelope.VerbHeartbeat, Payload: map[string]any{"epoch": epoch, "fence": fence}}
	case "yield":
		d = envelope.Draft{Verb: envelope.VerbYield, Payload: map[string]any{"epoch": epoch, "reason": a.str("reason", "busy")}}
	case "commit":
		ref := h.result(a.str("result", "out-"+sender))
		d = envelope.Draft{Verb: envelope.VerbCommit, ContentRefs: []string{ref}, Payload: map[string]any{"epoch": epoch,
			"fence": fence, "result": ref, "telemetry": map[string]any{"gas_used": 10, "wall_ms": 5}}}
	}
	d.ThreadID = need
	h.send(a, sender, "", d)
}

func (h *harness) cmdAttest(a *args) {
	need := h.needArg(a)
	epoch, _, _ := h.current(need, a)
	info, _ := h.core.Thread(need)
	commit := h.stored(a.str("commit", h.names[info.Commit]))
	h.send(a, "v1", "", envelope.Draft{Verb: envelope.VerbAttest, ThreadID: need,
		PolicyEvalDigest: h.attestDigest(a.str("digest", "good"), commit.env),
		Payload:          map[string]any{"epoch": epoch, "commit": commit.env.ID, "verdict": a.str("verdict", "pass")}})
}

// cmdReconcile sends a RECONCILE from another host: an offer of the
// envelopes it holds (have=), or the ops of held UPDATE_PLAN envelopes the
// core never saw (entries=).
func (h *harness) cmdReconcile(a *args) {
	payload := map[string]any{"plan_digest": h.named("plan:remote")}
	if a.str("digest", "") == "same" { // the other host's plan is this one's
		payload["plan_digest"] = h.core.Plan().Digest()
	}
	if a.has("entries") {
		var entries []plan.Entry
		for _, n := range a.list("entries", "") {
			s := h.stored(n)
			ops, err := plan.ParseUpdatePlan(s.env.Payload)
			if err != nil {
				h.fatalf("%s: %v", n, err)
			}
			for i, op := range ops {
				entries = append(entries, plan.Entry{ID: s.env.ID, Lamport: s.env.Lamport, Sender: s.env.SenderPK,
					Index: i, Count: len(ops), Op: op})
			}
		}
		raw, err := plan.EncodeEntries(entries)
		if err != nil {
			h.fatalf("entries: %v", err)
		}
		payload["ops"] = json.RawMessage(raw)
	} else {
		have := []string{}
		for _, n := range a.list("have", "") {
			have = append(have, h.resolve(n))
		}
		payload["have"] = have
	}
	h.send(a, "h2", "", envelope.Draft{Verb: envelope.VerbReconcile, ThreadID: protocol.SwarmThread, Payload: payload})
}

// cmdCorrupt steps a copy of an envelope (of=, default the last one
// stepped) spoiled so that envelope.Verify rejects it with the named code.
func (h *harness) cmdCorrupt(a *args) {
	if len(a.pos) != 1 {
		h.fatalf("corrupt <code> [of=name]")
	}
	code := a.pos[0]
	s := h.last
	if a.has("of") {
		s = h.stored(a.str("of", ""))
	}
	if s == nil {
		h.fatalf("corrupt: no envelope to start from")
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(s.raw, &m); err != nil {
		h.fatalf("corrupt: %v", err)
	}
	var raw []byte
	switch code {
	case "malformed":
		raw = s.raw[:len(s.raw)/2]
	case "bad_version":
		m["v"] = json.RawMessage(`2`)
	case "unknown_verb":
		m["verb"] = json.RawMessage(`"BID"`)
	case "too_large":
		m["payload"] = json.RawMessage(`{"pad":"` + strings.Repeat("x", 40<<10) + `"}`)
	case "payload_hash_mismatch":
		m["payload"] = json.RawMessage(`{"tampered":true}`)
	case "id_mismatch":
		m["lamport"] = json.RawMessage(fmt.Sprint(s.env.Lamport + 100))
	case "bad_signature":
		sig := envelope.SignedMessage(s.env.ID)
		b, _ := json.Marshal(fmt.Sprintf("%x", ed25519Sign(h.person("eve"), sig)))
		m["sig"] = b
	default:
		h.fatalf("corrupt: unknown code %q", code)
	}
	if raw == nil {
		raw, _ = json.Marshal(m)
	}
	h.stepRawLabel(fmt.Sprintf("raw %s of %s", code, s.name), raw)
}

// stepRawLabel steps wire text that is no stored envelope.
func (h *harness) stepRawLabel(label string, raw []byte) {
	v := h.stepRaw(raw)
	h.line("recv %s -> %s", label, verdictString(v))
}

func (h *harness) cmdDup(a *args) {
	what := ""
	if len(a.pos) > 0 {
		what = a.pos[0]
	}
	switch what {
	case "applied":
		h.line("dup applied %s", h.cmdString(h.lastApplied.Cmd))
		h.step(h.lastApplied)
	case "eval":
		h.line("dup eval %s", h.lastEval)
		h.step(h.lastPolicy)
	case "run":
		h.line("dup run %s", h.lastRun)
		h.step(h.lastAgent)
	case "":
		if h.last == nil {
			h.fatalf("dup: nothing stepped yet")
		}
		h.stepEnv("recv", h.last)
	default:
		h.stepEnv("recv", h.stored(what))
	}
}

// cmdDropHold sets a rule on actions: drop the next action of a kind
// (optionally of a subject: a verb, an envelope, an op, an agent), or hold
// every such action until unhold. It applies to the pending actions first,
// then to actions as deliver reaches them. A dropped Publish is signed and
// named, so that step can deliver it later (a delay); a held one is
// performed by a later deliver, after unhold.
func (h *harness) cmdDropHold(cmd string, a *args) {
	r := rule{}
	if len(a.pos) > 0 {
		r.kind = a.pos[0]
	}
	if len(a.pos) > 1 {
		r.subject = a.pos[1]
	}
	if cmd == "hold" {
		h.holds = append(h.holds, r)
	} else {
		h.drops = append(h.drops, r)
	}
	var keep []protocol.Action
	for _, act := range h.pending {
		if !h.intercept(act) {
			keep = append(keep, act)
		}
	}
	h.pending = keep
}

type rule struct{ kind, subject string }

func (h *harness) matches(r rule, act protocol.Action) bool {
	if r.kind != "" && kind(act) != r.kind {
		return false
	}
	if r.subject == "" {
		return true
	}
	switch a := act.(type) {
	case *protocol.Publish:
		return string(a.Env.Verb) == r.subject
	case *protocol.Propose:
		return a.Cmd.Op == r.subject
	case *protocol.EvalPolicy:
		return a.Entrypoint == r.subject || h.name(a.Envelope.ID) == r.subject
	case *protocol.RunAgent:
		return h.name(a.Agent) == r.subject
	}
	return h.name(threadOf(act)) == r.subject
}

func threadOf(act protocol.Action) string {
	switch a := act.(type) {
	case *protocol.ArmTimer:
		return a.Thread
	case *protocol.Record:
		return a.Thread
	}
	return ""
}

// intercept applies the drop and hold rules to an action about to be
// performed; it reports whether one took it.
func (h *harness) intercept(act protocol.Action) bool {
	for i, r := range h.drops {
		if !h.matches(r, act) {
			continue
		}
		h.drops = append(h.drops[:i], h.drops[i+1:]...)
		if p, ok := act.(*protocol.Publish); ok {
			h.line("drop publish %s", h.summary(h.sign(p)))
		} else {
			h.line("drop %s", h.describe(act))
		}
		return true
	}
	for _, r := range h.holds {
		if h.matches(r, act) {
			h.line("hold %s", h.describe(act))
			h.held = append(h.held, act)
			return true
		}
	}
	return false
}

// cmdGiveUp stops redelivering the envelopes left to retry: the shell
// records them as rejected with the code of their last verdict.
func (h *harness) cmdGiveUp() {
	for _, r := range h.retries {
		h.line("giveup %s %s -> rejected", r.s.env.Verb, r.s.name)
	}
	h.retries = nil
}

func (h *harness) cmdAgent(a *args) {
	if len(a.pos) != 1 {
		h.fatalf("agent <name> key=value...")
	}
	sc := h.agent(a.pos[0])
	sc.mode = a.str("mode", sc.mode)
	sc.price = h.num(a, "price", sc.price)
	sc.eta = h.num(a, "eta", sc.eta)
	sc.result = a.str("result", sc.result)
	sc.verdict = a.str("verdict", sc.verdict)
	sc.digest = a.str("digest", sc.digest)
	sc.next = a.str("next", a.str("output", sc.next))
	sc.fault = a.str("fault", sc.fault)
}

func (h *harness) cmdShow(name string) {
	info, ok := h.core.Thread(h.resolve(name))
	if !ok {
		h.line("%s unknown", name)
		return
	}
	retired := ""
	if info.Retired {
		retired = " retired"
	}
	h.line("%s %s epoch=%d%s", name, info.Phase, info.Epoch, retired)
	if info.Refusal != "" {
		h.line("refusal: %s", info.Refusal)
	}
	if info.Abandoned != "" {
		h.line("abandoned: %s", info.Abandoned)
	}
	if d := info.Decision; d != nil {
		h.line("decision: epoch=%d proposal=%s worker=%s verifiers=%v fence=%d", d.Epoch, d.Proposal, d.WorkerPK, d.Verifiers, d.Fence)
	}
	if info.Commit != "" {
		h.line("commit: %s result=%s", info.Commit, info.Result)
	}
	if info.Finalize != "" {
		h.line("finalize: %s result=%s attestations=%v", info.Finalize, info.Result, info.Attestation)
	}
	for _, e := range info.Envelopes {
		h.line("  %s %s L%d by %s", e.Verb, e.ID, e.Lamport, e.Sender)
	}
	if info.Retired {
		h.line("  %d envelopes, listed from the audit trail", info.EnvelopesInTrail)
	}
}
