package protocol_test

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/protocol"
)

// The script commands. Envelope commands (need, propose, claim, heartbeat,
// yield, commit, attest, challenge, update-plan, reconcile, checkpoint,
// send) sign an envelope as a remote principal at Lamport time one above
// the highest seen on the bus, step it into the core and print the
// verdict; they take sender=, lamport=, token= (see tokenFor), caps=,
// thread=, refs=, as= (the envelope's script name) and the word
// hold (sign and name it, but do not step it). Actions the core asks for
// wait until deliver (or tick) performs them.
//
//	setup [agents=w1,v1] [pool=v1,v2,v3] [shortlist=m] [gas=n] [grace=ms]
//	configure [agents=w1,v1] [modules=w1:label] [reload] [grace=ms] [revoked=w1,root] [revoked-tokens=w2]
//	other-decide proposal=name [need=n1 epoch=E worker=w1 verifiers=v1]  (another host's, applied)
//	need id=n1 [k=1 n=1 window=100 lease=1000 max_epochs=3 deadline=0 gas=0 cap=classify capsule=default input=<json>]
//	propose [need=n1 epoch=E price=10 eta=100]       (sender w1)
//	claim|heartbeat [need= epoch= fence= lease=]      (sender: the decided worker)
//	yield [reason=busy]   commit [result=text]
//	attest sender=v1 [commit=name verdict=pass digest=good|bad|none|name]
//	challenge sender=v2 target=name [claimed=good|bad]
//	update-plan [thread=swarm] ops=<json>            ($name in JSON: an id or key)
//	reconcile [sender=h2] [digest=same] have=plan1,plan2|none | entries=plan3   (same: this host's plan digest)
//	checkpoint [sender=host upto=N]
//	send VERB sender=x [thread=n1] payload=<json> [digest=name]
//	reconcile-offer                                   (a ReconcileDue)
//	reconcile-wanted                                  (Core.ReconcileWanted)
//	checkpoint-wanted [retain=MS]                     (Core.CheckpointWanted)
//	corrupt malformed|bad_version|unknown_verb|too_large|payload_hash_mismatch|id_mismatch|bad_signature [of=name]
//	raw <text>                                        (wire text as is)
//	step name | dup [name|applied|eval|run]           (step again)
//	deliver [n]   drop|hold [kind [subject]]   unhold   giveup   pending
//	tick +ms      policy key=answer... | policy reset   agent name key=value...
//	show name     plan
//
// deliver performs the pending actions in order until none is left, then
// steps again the envelopes answered retry; tick first delivers, then fires
// each timer due by the new time, in time order, delivering after each.
// drop and hold take a kind (publish, propose, eval, run, arm, record) and
// a subject (a verb, an op, an entrypoint or envelope, an agent). policy
// keys are entry, entry.<sender> or entry.<envelope> (admit, bid, route,
// verify), answers true, false, null, a JSON value or error. agent keys:
// mode=full|claim|idle, price=, eta=, result=, verdict=, digest=, and the
// one-shot fault=<text> and output=<AgentOutput JSON> (or next=).
//
// Output lines: "recv" (an envelope the script sent), "publish" (one the
// core asked for, signed and stepped back), "redeliver" (a retry stepped
// again), each "<VERB> <name> <thread> L<lamport> by <sender> <payload> ->
// <verdict>"; "propose" (a shard command and the shard's answer; when
// accepted, the harness steps it back as Applied), "eval" (an evaluation
// and its answer), "run" (an agent run and the verbs of its output), "arm",
// "timer", "record", "drop", "hold", "giveup". Keys and refs print as
// script names: principals by name, envelopes by script name, res:<text>
// for results, verify/<commit> for the digest of an evaluation.

func (h *harness) run(line string) string {
	h.out = nil
	if rest, ok := strings.CutPrefix(line, "raw "); ok {
		h.ensureCore()
		h.stepRawLabel("raw", []byte(rest))
		return h.output()
	}
	words, err := splitWords(line)
	if err != nil || len(words) == 0 {
		h.fatalf("bad command %q: %v", line, err)
	}
	cmd, a := words[0], parseArgs(words[1:])
	if cmd != "setup" {
		h.ensureCore()
	}
	h.dispatch(cmd, a)
	if u := a.unused(); len(u) > 0 {
		h.fatalf("%s: unknown arguments %v", cmd, u)
	}
	return h.output()
}

func (h *harness) output() string {
	for i, l := range h.out {
		h.out[i] = strings.ReplaceAll(l, "\n", `\n`)
	}
	return strings.Join(h.out, "\n")
}

func (h *harness) ensureCore() {
	if h.core == nil {
		h.setup(parseArgs(nil))
	}
}

func (h *harness) dispatch(cmd string, a *args) {
	switch cmd {
	case "setup":
		h.setup(a)
	case "need":
		h.cmdNeed(a)
	case "propose":
		need := h.needArg(a)
		epoch, _, _ := h.current(need, a)
		price, eta := h.num(a, "price", 10), h.num(a, "eta", 100)
		h.send(a, "w1", "", envelope.Draft{Verb: envelope.VerbPropose, ThreadID: need,
			Payload: map[string]any{"epoch": epoch, "bid": map[string]any{"price": price, "eta_ms": eta}}})
	case "claim", "heartbeat", "yield", "commit":
		h.cmdWorker(cmd, a)
	case "attest":
		h.cmdAttest(a)
	case "challenge":
		need := h.needArg(a)
		target := h.stored(a.str("target", ""))
		commit := target
		if target.env.Verb == envelope.VerbAttest {
			var p struct{ Commit string }
			json.Unmarshal(target.env.Payload, &p)
			commit = h.stored(h.names[p.Commit])
		}
		claimed := h.attestDigest(a.str("claimed", "good"), commit.env)
		h.send(a, "v2", "", envelope.Draft{Verb: envelope.VerbChallenge, ThreadID: need,
			Payload: map[string]any{"target": target.env.ID, "claimed_digest": claimed}})
	case "update-plan":
		h.send(a, "w1", "", envelope.Draft{Verb: envelope.VerbUpdatePlan, ThreadID: protocol.SwarmThread,
			Payload: json.RawMessage(`{"ops":` + h.substRefs(a.str("ops", "")) + `}`)})
	case "reconcile":
		h.cmdReconcile(a)
	case "checkpoint":
		upto := h.num(a, "upto", h.busMax)
		h.send(a, "host", "", envelope.Draft{Verb: envelope.VerbCheckpoint, ThreadID: protocol.SwarmThread,
			Payload: map[string]any{"upto_lamport": upto, "audit_root": h.named("audit-root"),
				"plan_digest": h.core.Plan().Digest(), "decisions": []string{}}})
	case "send":
		if len(a.pos) != 1 {
			h.fatalf("send VERB ...")
		}
		d := envelope.Draft{Verb: envelope.Verb(a.pos[0]), ThreadID: h.threadArg(a, ""),
			Payload: json.RawMessage(h.substRefs(a.str("payload", "{}")))}
		if a.has("digest") {
			d.PolicyEvalDigest = h.resolve(a.str("digest", ""))
		}
		h.send(a, "", "", d)
	case "checkpoint-due":
		// The shell's periodic input; retain=MS retires the threads that
		// ended at least MS ago.
		in := &protocol.CheckpointDue{At: h.now, AuditRoot: h.named("audit-root")}
		if a.has("retain") {
			in.RetireEndedBefore = h.now - int64(h.num(a, "retain", 0))
		}
		h.step(in)
	case "reconcile-offer":
		h.step(&protocol.ReconcileDue{At: h.now})
	case "reconcile-wanted":
		h.line("reconcile wanted: %v", h.core.ReconcileWanted())
	case "checkpoint-wanted":
		// retain=MS: the CheckpointDue would retire the threads that
		// ended at least MS ago.
		before := int64(0)
		if a.has("retain") {
			before = h.now - int64(h.num(a, "retain", 0))
		}
		h.line("checkpoint wanted: %v", h.core.CheckpointWanted(before))
	case "configure":
		// The Configure a host steps when it starts (the core asks again
		// for its outstanding work) or, with reload, when its plugins
		// folder changed while it ran (it asks for nothing again);
		// modules=w1:m2 names the module an agent runs.
		in := &protocol.Configure{At: h.now, Reload: a.flag("reload"), HostPK: h.cfg.HostPK,
			HostCapability: h.cfg.HostCapability, Roots: h.cfg.Roots, Verifiers: h.cfg.Verifiers,
			NoBidsGraceMS: int64(h.num(a, "grace", uint64(h.cfg.NoBidsGraceMS))), Rules: int(h.num(a, "rules", protocol.Rules))}
		for _, n := range a.list("revoked", "") {
			in.Revoked = append(in.Revoked, h.person(n).pk)
		}
		for _, n := range a.list("revoked-tokens", "") {
			in.Revoked = append(in.Revoked, h.token(n))
		}
		modules := map[string]string{}
		for _, m := range a.list("modules", "") {
			name, label, _ := strings.Cut(m, ":")
			modules[name] = h.named(label)
		}
		for _, n := range a.list("agents", "") {
			info := h.agentInfo(n)
			info.Module = modules[n]
			in.Agents = append(in.Agents, info)
		}
		h.step(in)
	case "other-decide":
		// Another host of the cluster proposed a DECIDE and the shard
		// committed it: this host hears it as Applied.
		need := h.needArg(a)
		epoch, _, _ := h.current(need, a)
		h.propose(protocol.Command{Op: "DECIDE", Need: need, Epoch: epoch, Proposal: h.resolve(a.str("proposal", "")),
			WorkerPK: h.resolve(a.str("worker", "w1")), Verifiers: h.resolveAll(a.list("verifiers", "v1")),
			DecideID: h.named("decide-by-h2")})
	case "collected":
		// The shell's word that the NEED's shard forgot it (a GC).
		h.step(&protocol.Collected{At: h.now, Need: h.needArg(a)})
	case "corrupt":
		h.cmdCorrupt(a)
	case "step":
		h.stepEnv("recv", h.stored(a.pos[0]))
	case "dup":
		h.cmdDup(a)
	case "deliver":
		n := -1
		if len(a.pos) > 0 {
			n, _ = strconv.Atoi(a.pos[0])
		}
		h.deliver(n)
	case "drop", "hold":
		h.cmdDropHold(cmd, a)
	case "unhold":
		h.pending = append(h.held, h.pending...)
		h.held, h.holds = nil, nil
	case "giveup":
		h.cmdGiveUp()
	case "pending":
		for _, act := range h.pending {
			h.line("pending %s", h.describe(act))
		}
		for _, act := range h.held {
			h.line("held %s", h.describe(act))
		}
	case "tick":
		ms, err := strconv.ParseInt(strings.TrimPrefix(a.pos[0], "+"), 10, 64)
		if err != nil {
			h.fatalf("tick +ms: %v", err)
		}
		h.deliver(-1)
		h.fire(h.now + ms)
	case "policy":
		for k, v := range a.kv {
			a.used[k] = true
			h.policy[k] = v
		}
		if a.flag("reset") {
			h.policy = map[string]string{}
		}
	case "agent":
		h.cmdAgent(a)
	case "show":
		h.cmdShow(a.pos[0])
	case "plan":
		h.line("plan %s %s", h.core.Plan().Digest(), h.core.Plan().State())
	default:
		h.fatalf("unknown command %q", cmd)
	}
}

func (h *harness) setup(a *args) {
	if h.core != nil {
		h.fatalf("setup twice")
	}
	h.person("root")
	h.person("eve")
	h.cfg = protocol.Config{HostPK: h.person("host").pk, HostCapability: h.token("host"),
		Roots: envelope.Roots{h.person("root").pk}, Shortlist: int(h.num(a, "shortlist", 0)), AgentGas: h.num(a, "gas", 0),
		NoBidsGraceMS: int64(h.num(a, "grace", 0))}
	for _, n := range a.list("challengers", "") {
		h.agent(n).challenges = true
	}
	for _, n := range a.list("agents", "") {
		h.cfg.Agents = append(h.cfg.Agents, h.agentInfo(n))
	}
	for _, n := range a.list("pool", "v1,v2,v3") {
		h.cfg.Verifiers = append(h.cfg.Verifiers, h.person(n).pk)
	}
	core, err := protocol.New(h.cfg)
	if err != nil {
		h.fatalf("protocol.New: %v", err)
	}
	quiet, _ := protocol.New(h.cfg)
	quiet.SetQuiet(true)
	h.core, h.quiet = core, quiet
}

func (h *harness) num(a *args, k string, def uint64) uint64 {
	n, err := a.num(k, def)
	if err != nil {
		h.fatalf("%v", err)
	}
	return n
}

// named returns a ref standing for a label, named after it.
func (h *harness) named(label string) string {
	ref := envelope.HashRef([]byte(label))
	h.names[ref] = label
	return ref
}

func (h *harness) stored(name string) *stored {
	s := h.envs[name]
	if s == nil {
		h.fatalf("no envelope named %q", name)
	}
	return s
}

// resolve turns a script name into an id, ref or key: an envelope's name,
// res:<text> (a result blob), ref:<label> (a ref no envelope has), swarm,
// a literal ref, or a principal.
func (h *harness) resolve(name string) string {
	switch {
	case h.envs[name] != nil:
		return h.envs[name].env.ID
	case strings.HasPrefix(name, "res:"):
		return h.result(strings.TrimPrefix(name, "res:"))
	case name == "swarm":
		return protocol.SwarmThread
	case strings.HasPrefix(name, "ref:"):
		return h.named(name)
	case envelope.IsRef(name):
		return name
	}
	return h.person(name).pk
}

var dollarRE = regexp.MustCompile(`\$([A-Za-z0-9_:\-]+)`)

// substRefs replaces each $name in JSON text by what name resolves to.
func (h *harness) substRefs(text string) string {
	return dollarRE.ReplaceAllStringFunc(text, func(m string) string { return h.resolve(m[1:]) })
}

// threadArg reads thread= (a NEED's name, swarm, or none for "").
func (h *harness) threadArg(a *args, def string) string {
	switch v := a.str("thread", def); v {
	case "none", "":
		return ""
	default:
		return h.resolve(v)
	}
}

// needArg reads need= (default: the last NEED made) as a thread id.
func (h *harness) needArg(a *args) string {
	return h.resolve(a.str("need", h.lastNeed))
}

// current reads epoch= and fence=, defaulting to the thread's state in the
// core: its epoch and, when that epoch is decided, the fence and worker.
// resolveAll resolves each name (resolve).
func (h *harness) resolveAll(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = h.resolve(n)
	}
	return out
}

func (h *harness) current(need string, a *args) (epoch, fence uint64, worker string) {
	info, _ := h.core.Thread(need)
	epoch, worker = info.Epoch, "w1"
	if d := info.Decision; d != nil && d.Epoch == info.Epoch {
		fence, worker = d.Fence, h.byPK[d.WorkerPK]
	}
	return h.num(a, "epoch", epoch), h.num(a, "fence", fence), worker
}

// send signs the draft as a remote principal and steps it (or holds it),
// and returns the verdict (accepted for one held).
func (h *harness) send(a *args, defSender, name string, d envelope.Draft) protocol.Verdict {
	sender := a.str("sender", defSender)
	if sender == "" {
		h.fatalf("sender= is required")
	}
	d.Capability = h.tokenFor(sender, a)
	d.Lamport = h.num(a, "lamport", h.busMax+1)
	if a.has("thread") {
		d.ThreadID = h.threadArg(a, "")
	}
	if d.PolicyCapsuleHash == "" {
		if info, ok := h.core.Thread(d.ThreadID); ok {
			d.PolicyCapsuleHash = info.Capsule
		}
	}
	for _, r := range a.list("refs", "") {
		d.ContentRefs = append(d.ContentRefs, h.resolve(r))
	}
	e, err := envelope.Sign(d, h.person(sender).key)
	if err != nil {
		h.line("sign %s refused: %v", d.Verb, err)
		return protocol.Verdict{}
	}
	s := h.register(e, a.str("as", name))
	if a.flag("hold") {
		h.line("held %s", h.summary(s))
		return protocol.Verdict{Accepted: true}
	}
	return h.stepEnv("recv", s)
}
