package protocol_test

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/consensus/shard"
	"github.com/canswarm/swarmhost/host/protocol"
)

// The harness plays the shell around one core, in memory and
// deterministically: fixed keys, tokens issued by a root key, a CAS map, the
// real shard rules (consensus/shard) as a one-replica shard, a scripted
// policy oracle, scripted local agents, and a clock the script advances.
// Remote principals are played by script commands that sign envelopes with
// their keys.
//
// Principals are named; the first letter of a name gives the roles of its
// token: c client, w worker, v verifier, p planner, h host (and "host", the
// core's own key). "root" issues every token; "eve" is trusted by nobody.

const startTime = 1000

type principal struct {
	name string
	key  ed25519.PrivateKey
	pk   string
}

// stored is an envelope the harness made or saw, under its script name.
type stored struct {
	name string
	env  *envelope.Envelope
	raw  []byte
}

type timer struct {
	at     int64
	thread string
}

type retry struct {
	s       *stored
	lastTry int
}

// agentScript is how a local agent behaves (see the agent command).
type agentScript struct {
	mode    string // full (default), claim (claims, never commits), idle (no output)
	price   uint64
	eta     uint64
	result  string
	verdict string
	digest  string // good or bad
	// challenges: the verifier also takes the ATTESTs of others and
	// challenges one whose digest is not the oracle's (setup challengers=)
	challenges bool
	next       string // one-shot literal AgentOutput
	fault      string // one-shot fault
}

type harness struct {
	t   *testing.T
	pos string
	out []string

	now   int64
	core  *protocol.Core
	quiet *protocol.Core // the same inputs, stepped quietly: its state must stay the core's
	cfg   protocol.Config
	shard *shard.Machine
	index uint64

	people map[string]*principal
	byPK   map[string]string
	tokens map[string]string // principal -> default token ref
	cas    map[string][]byte
	names  map[string]string // ref -> display name
	envs   map[string]*stored
	count  map[string]int

	busMax   uint64
	lastNeed string
	last     *stored

	pending []protocol.Action
	held    []protocol.Action
	drops   []rule
	holds   []rule
	timers  []timer
	retries []*retry
	steps   int

	lastApplied *protocol.Applied
	lastPolicy  *protocol.PolicyDone
	lastEval    string
	lastAgent   *protocol.AgentDone
	lastRun     string

	policy map[string]string
	agents map[string]*agentScript
}

func newHarness(t *testing.T) *harness {
	h := &harness{t: t, now: startTime, shard: shard.New(), people: map[string]*principal{}, byPK: map[string]string{},
		tokens: map[string]string{}, cas: map[string][]byte{}, names: map[string]string{}, envs: map[string]*stored{},
		count: map[string]int{}, policy: map[string]string{}, agents: map[string]*agentScript{}}
	h.names[protocol.SwarmThread] = "swarm"
	return h
}

func (h *harness) fatalf(format string, args ...any) {
	h.t.Helper()
	h.t.Fatalf("%s: %s\noutput so far:\n%s", h.pos, fmt.Sprintf(format, args...), strings.Join(h.out, "\n"))
}

// line prints one output line, with keys and refs replaced by names.
func (h *harness) line(format string, args ...any) {
	h.out = append(h.out, h.subst(fmt.Sprintf(format, args...)))
}

var (
	hexRE   = regexp.MustCompile(`sha256:[0-9a-f]{64}|[0-9a-f]{128}|[0-9a-f]{64}`)
	shortRE = regexp.MustCompile(`\b[0-9a-f]{12}\b`)
)

// subst replaces refs and keys by their script names, or a short form.
func (h *harness) subst(s string) string {
	s = hexRE.ReplaceAllStringFunc(s, func(m string) string {
		switch {
		case h.names[m] != "":
			return h.names[m]
		case len(m) == 128:
			return "<sig>"
		case strings.HasPrefix(m, "sha256:"):
			return "#" + m[7:15]
		}
		if n := h.byPK[m]; n != "" {
			return n
		}
		return "pk:" + m[:8]
	})
	return shortRE.ReplaceAllStringFunc(s, func(m string) string {
		for pk, n := range h.byPK {
			if strings.HasPrefix(pk, m) {
				return n
			}
		}
		return m
	})
}

// name is the display name of a ref or key.
func (h *harness) name(s string) string {
	if s == "" {
		return `""`
	}
	return h.subst(s)
}

func (h *harness) person(name string) *principal {
	if p := h.people[name]; p != nil {
		return p
	}
	seed := sha256.Sum256([]byte("swarmhost host/protocol test key: " + name))
	key := ed25519.NewKeyFromSeed(seed[:])
	p := &principal{name: name, key: key, pk: envelope.EncodePublicKey(key.Public().(ed25519.PublicKey))}
	h.people[name], h.byPK[p.pk] = p, name
	return p
}

func rolesOf(name string) []envelope.Role {
	switch name[0] {
	case 'c':
		return []envelope.Role{envelope.RoleClient}
	case 'w':
		return []envelope.Role{envelope.RoleWorker}
	case 'v':
		return []envelope.Role{envelope.RoleVerifier}
	case 'p':
		return []envelope.Role{envelope.RolePlanner}
	case 'h':
		return []envelope.Role{envelope.RoleHost}
	}
	return nil
}

// issue makes a token for subject and puts it in the CAS.
func (h *harness) issue(issuer, subject string, roles []envelope.Role, caps []string, notAfter uint64, label string) string {
	tok, err := envelope.IssueToken(h.person(issuer).key, h.person(subject).key.Public().(ed25519.PublicKey), roles, caps, notAfter)
	if err != nil {
		h.fatalf("issue token: %v", err)
	}
	b, err := tok.Canonical()
	if err != nil {
		h.fatalf("token: %v", err)
	}
	ref := envelope.HashRef(b)
	h.cas[ref] = b
	h.names[ref] = "token:" + label
	return ref
}

// token returns the default token of a principal: issued by root, roles by
// name, capability classify.
func (h *harness) token(name string) string {
	if ref := h.tokens[name]; ref != "" {
		return ref
	}
	ref := h.issue("root", name, rolesOf(name), []string{"classify"}, 0, name)
	h.tokens[name] = ref
	return ref
}

// tokenFor reads the token= and caps= options of an envelope command:
// none, missing (a ref the CAS lacks), untrusted (issued by eve), expired
// (not_after 1), other:<name> (another principal's token), roles:<r>+<r>.
func (h *harness) tokenFor(sender string, a *args) string {
	spec := a.str("token", "")
	caps := a.list("caps", "classify")
	roles := rolesOf(sender)
	switch {
	case spec == "" && !a.has("caps"):
		return h.token(sender)
	case spec == "none":
		return ""
	case spec == "missing":
		ref := envelope.HashRef([]byte("no such token"))
		h.names[ref] = "token:missing"
		return ref
	case spec == "untrusted":
		return h.issue("eve", sender, roles, caps, 0, sender+"-by-eve")
	case spec == "expired":
		return h.issue("root", sender, roles, caps, 1, sender+"-expired")
	case strings.HasPrefix(spec, "other:"):
		return h.token(strings.TrimPrefix(spec, "other:"))
	case strings.HasPrefix(spec, "roles:"):
		roles = nil
		for _, r := range strings.Split(strings.TrimPrefix(spec, "roles:"), "+") {
			roles = append(roles, envelope.Role(r))
		}
		return h.issue("root", sender, roles, caps, 0, sender+"-"+strings.TrimPrefix(spec, "roles:"))
	case spec == "":
		return h.issue("root", sender, roles, caps, 0, sender+"-"+strings.Join(caps, "+"))
	}
	h.fatalf("unknown token spec %q", spec)
	return ""
}

// result registers a result blob in the CAS and returns its ref.
func (h *harness) result(text string) string {
	ref := envelope.HashRef([]byte(text))
	h.cas[ref] = []byte(text)
	h.names[ref] = "res:" + text
	return ref
}

var verbNames = map[envelope.Verb]string{
	envelope.VerbNeed: "need", envelope.VerbPropose: "prop", envelope.VerbDecide: "dec", envelope.VerbClaim: "claim",
	envelope.VerbHeartbeat: "hb", envelope.VerbYield: "yield", envelope.VerbRelease: "rel", envelope.VerbCommit: "commit",
	envelope.VerbAttest: "att", envelope.VerbFinalize: "fin", envelope.VerbChallenge: "chal",
	envelope.VerbInvalidate: "inv", envelope.VerbUpdatePlan: "plan", envelope.VerbReconcile: "rec",
	envelope.VerbCheckpoint: "ckpt",
}

// register names a signed envelope: name, or the verb's short name and a
// counter; an envelope made again keeps its first name.
func (h *harness) register(e *envelope.Envelope, name string) *stored {
	if s := h.envs[h.names[e.ID]]; s != nil && s.env.ID == e.ID {
		return s // the same envelope made again: it keeps its name
	}
	if name == "" {
		p := verbNames[e.Verb]
		h.count[p]++
		name = fmt.Sprintf("%s%d", p, h.count[p])
	}
	if h.envs[name] != nil {
		h.fatalf("envelope name %s is taken", name)
	}
	s := &stored{name: name, env: e, raw: e.Wire()}
	h.envs[name], h.names[e.ID] = s, name
	if e.Lamport > h.busMax {
		h.busMax = e.Lamport
	}
	return s
}

// collect takes the core's ready actions into the pending queue.
func (h *harness) collect() {
	h.pending = append(h.pending, h.core.Ready()...)
	h.core.Advance()
}

// step steps an input that is not an envelope.
func (h *harness) step(in protocol.Input) {
	h.core.Step(in)
	h.stepQuiet(in)
	h.steps++
	h.collect()
}

// stepQuiet steps the input into the quiet core too, and fails the script
// where its state is no longer the core's.
func (h *harness) stepQuiet(in protocol.Input) {
	h.quiet.Step(in)
	if err := protocol.SameState(h.core, h.quiet); err != nil {
		h.fatalf("after %T, a quiet core's state is not the core's: %v", in, err)
	}
}

// stepRaw runs the stateless checks on wire text, as the shell does, and
// steps the result.
func (h *harness) stepRaw(raw []byte) protocol.Verdict {
	in := &protocol.Received{At: h.now, Raw: raw}
	if e, err := envelope.Verify(raw); err != nil {
		in.Err = err
	} else {
		in.Env = e
		if e.Capability != "" {
			in.Token = h.cas[e.Capability]
		}
	}
	v := h.core.Step(in)
	// The quiet core gets an envelope of its own, as a node rebuilding
	// decodes its own from disk: a change one core made in place to a
	// shared envelope would otherwise reach the other.
	own := *in
	if in.Env != nil {
		own.Env, _ = envelope.Verify(raw)
	}
	h.stepQuiet(&own)
	if !v.Retry {
		h.steps++
	}
	h.collect()
	return v
}

// stepEnv steps a named envelope, prints the verdict under label and keeps
// an envelope to retry.
func (h *harness) stepEnv(label string, s *stored) protocol.Verdict {
	h.last = s
	v := h.stepRaw(s.raw)
	h.line("%s %s -> %s", label, h.summary(s), verdictString(v))
	if v.Retry {
		h.retries = append(h.retries, &retry{s: s, lastTry: h.steps})
	}
	return v
}

func verdictString(v protocol.Verdict) string {
	switch {
	case v.Duplicate:
		return "duplicate"
	case v.Accepted:
		return "accepted"
	case v.Retry:
		return fmt.Sprintf("retry %s: %s", v.Code, v.Detail)
	}
	return fmt.Sprintf("rejected %s: %s", v.Code, v.Detail)
}

// summary describes an envelope in one line.
func (h *harness) summary(s *stored) string {
	e := s.env
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", e.Verb, s.name)
	if e.Verb != envelope.VerbNeed || e.ThreadID != "" {
		fmt.Fprintf(&b, " %s", h.name(e.ThreadID))
	}
	fmt.Fprintf(&b, " L%d by %s", e.Lamport, h.name(e.SenderPK))
	if e.Verb == envelope.VerbNeed {
		var p map[string]any
		json.Unmarshal(e.Payload, &p)
		for _, k := range []string{"k", "n", "bid_window_ms", "lease_ms", "max_epochs", "deadline_ms"} {
			if v, ok := p[k]; ok {
				fmt.Fprintf(&b, " %s=%v", strings.TrimSuffix(k, "_ms"), v)
			}
		}
	} else {
		fmt.Fprintf(&b, " %s", e.Payload)
	}
	if len(e.ContentRefs) > 0 && e.Verb != envelope.VerbCommit && e.Verb != envelope.VerbFinalize {
		fmt.Fprintf(&b, " refs=%v", e.ContentRefs)
	}
	if e.PolicyEvalDigest != "" {
		fmt.Fprintf(&b, " digest=%s", e.PolicyEvalDigest)
	}
	return b.String()
}

// deliver performs pending actions, limit of them (all when limit < 0),
// then redelivers the envelopes left to retry while anything changed.
func (h *harness) deliver(limit int) {
	done := 0
	for {
		for len(h.pending) > 0 && (limit < 0 || done < limit) {
			act := h.pending[0]
			h.pending = h.pending[1:]
			if !h.intercept(act) {
				h.perform(act)
			}
			done++
		}
		if limit >= 0 && done >= limit || !h.redeliver() {
			return
		}
	}
}

// redeliver steps again each envelope left to retry, if anything was
// stepped since its last try. It reports whether it stepped any.
func (h *harness) redeliver() bool {
	any := false
	for i := 0; i < len(h.retries); i++ {
		r := h.retries[i]
		if r.lastTry == h.steps {
			continue
		}
		any = true
		v := h.stepRaw(r.s.raw)
		h.line("redeliver %s %s -> %s", r.s.env.Verb, r.s.name, verdictString(v))
		r.lastTry = h.steps
		if !v.Retry {
			h.retries = append(h.retries[:i], h.retries[i+1:]...)
			i--
		}
	}
	return any
}

func (h *harness) perform(act protocol.Action) {
	switch a := act.(type) {
	case *protocol.Publish:
		s := h.sign(a)
		h.stepEnv("publish", s)
	case *protocol.Propose:
		h.propose(a.Cmd)
	case *protocol.EvalPolicy:
		h.eval(a)
	case *protocol.RunAgent:
		h.runAgent(a)
	case *protocol.ArmTimer:
		h.line("arm %s @%d", h.name(a.Thread), a.At)
		if !slices.Contains(h.timers, timer{a.At, a.Thread}) {
			h.timers = append(h.timers, timer{a.At, a.Thread})
		}
	case *protocol.Record:
		h.line("record %s %s %s", h.name(a.Thread), a.Kind, a.Body)
	default:
		h.fatalf("unknown action %T", act)
	}
}

// describe names a pending action (for drop and hold).
func (h *harness) describe(act protocol.Action) string {
	switch a := act.(type) {
	case *protocol.Publish:
		return fmt.Sprintf("publish %s %s by %s", a.Env.Verb, h.name(a.Env.ThreadID), h.name(a.Env.SenderPK))
	case *protocol.Propose:
		return "propose " + h.cmdString(a.Cmd)
	case *protocol.EvalPolicy:
		return fmt.Sprintf("eval %s %s", a.Entrypoint, h.name(a.Envelope.ID))
	case *protocol.RunAgent:
		if a.Module != "" {
			return fmt.Sprintf("run %s %s module %s", h.name(a.Agent), h.name(a.Thread), h.name(a.Module))
		}
		return fmt.Sprintf("run %s %s", h.name(a.Agent), h.name(a.Thread))
	case *protocol.ArmTimer:
		return fmt.Sprintf("arm %s @%d", h.name(a.Thread), a.At)
	case *protocol.Record:
		return fmt.Sprintf("record %s %s", h.name(a.Thread), a.Kind)
	}
	return fmt.Sprintf("%T", act)
}

// kind is the word that names an action's type in drop and hold.
func kind(act protocol.Action) string {
	switch act.(type) {
	case *protocol.Publish:
		return "publish"
	case *protocol.Propose:
		return "propose"
	case *protocol.EvalPolicy:
		return "eval"
	case *protocol.RunAgent:
		return "run"
	case *protocol.ArmTimer:
		return "arm"
	case *protocol.Record:
		return "record"
	}
	return "?"
}

// sign signs a Publish with the key of its sender, as the shell does.
func (h *harness) sign(a *protocol.Publish) *stored {
	name := h.byPK[a.Env.SenderPK]
	if name == "" {
		h.fatalf("publish by unknown key %s", a.Env.SenderPK)
	}
	if err := envelope.SignPrepared(a.Env, h.people[name].key); err != nil {
		h.fatalf("sign: %v", err)
	}
	return h.register(a.Env, "")
}

func (h *harness) cmdString(c protocol.Command) string {
	if c.Op == "GC" {
		names := make([]string, len(c.Needs))
		for i, n := range c.Needs {
			names[i] = h.name(n)
		}
		return fmt.Sprintf("GC %v", names)
	}
	s := fmt.Sprintf("%s %s e%d", c.Op, h.name(c.Need), c.Epoch)
	switch c.Op {
	case "DECIDE":
		s += fmt.Sprintf(" %s %s %v", h.name(c.Proposal), h.name(c.WorkerPK), c.Verifiers)
	case "RELEASE":
		s += fmt.Sprintf(" %s max_epochs=%d", c.Reason, c.MaxEpochs)
	case "FINALIZE":
		s += " " + h.name(c.Commit)
	}
	return s
}

func ed25519Sign(p *principal, msg []byte) []byte { return ed25519.Sign(p.key, msg) }
