package protocol

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/protocol/plan"
)

// AgentInfo describes a local agent: a plugin the host runs, with its own
// key and capability token (issued by the host's root key at load).
type AgentInfo struct {
	Name         string          `json:"name"`
	PK           string          `json:"pk"`           // its public key
	Capability   string          `json:"capability"`   // the ref of its token
	Roles        []envelope.Role `json:"roles"`        // as its token grants
	Capabilities []string        `json:"capabilities"` // task kinds, as its token grants
	Verbs        []envelope.Verb `json:"verbs"`        // the verbs it wants delivered
	// Module is the ref of the agent's wasm in the CAS, for replay to run
	// it again; the core does not read it.
	Module string `json:"module,omitempty"`
}

func (a *AgentInfo) has(r envelope.Role) bool {
	for _, x := range a.Roles {
		if x == r {
			return true
		}
	}
	return false
}

func (a *AgentInfo) wants(v envelope.Verb) bool {
	for _, x := range a.Verbs {
		if x == v {
			return true
		}
	}
	return false
}

func (a *AgentInfo) can(kind string) bool {
	for _, x := range a.Capabilities {
		if x == kind {
			return true
		}
	}
	return false
}

// DefaultAgentGas is an agent call's gas budget when neither the NEED
// (gas_budget) nor Config.AgentGas names one.
const DefaultAgentGas = 50_000_000

// Config is what a core is told at creation. Everything in it must be the
// same on replay.
type Config struct {
	HostPK         string         // the host's key: signs DECIDE, RELEASE, FINALIZE, INVALIDATE, CHECKPOINT, RECONCILE
	HostCapability string         // the ref of the host's token (role host)
	Roots          envelope.Roots // trusted token issuers
	Agents         []AgentInfo    // local agents, in a fixed order
	// Verifiers are remote verifiers' keys added to the local verifier
	// agents to form the pool DECIDE chooses from.
	Verifiers []string
	// Revoked are public keys and capability token refs this host no
	// longer accepts: an envelope whose sender, token or token issuer is
	// one of them is rejected bad_capability (PROTOCOL.md has no
	// revocation; this is the host's own list). Set by Configure.
	Revoked []string
	// Shortlist is routing's m (default route.DefaultShortlist).
	Shortlist int
	// AgentGas is the gas budget of an agent call when the NEED names none
	// (0: DefaultAgentGas).
	AgentGas uint64
	// NoBidsGraceMS: a bid window that closes with no eligible bid waits
	// this long more before the host proposes RELEASE(no_bids), so that
	// another host of a cluster that did receive bids (this one's bus
	// delivery lagging) has its DECIDE committed first. Bids still close
	// with the window. 0: no wait (a host alone). Set by Configure.
	NoBidsGraceMS int64
	// Rules is the revision of the rules the core follows where they
	// changed (see Rules); 0 in a Config is the current one. A
	// Configure sets it as recorded, where 0 is revision 0.
	Rules int
}

// Rules is the current revision of the core's rules where they changed in
// a way a recorded trail shows (a replay follows the revision each
// Configure names):
//
//   - 0: a thread that ended offers its envelopes to no local agent but
//     its FINALIZE.
//   - 1 (session 17): a finalized thread also offers an ATTEST accepted
//     after the FINALIZE to the agents that take ATTESTs, so that a lie
//     that came late is challenged and INVALIDATEd.
const Rules = 1

// Verdict is the core's answer to a Received input, for the audit trail:
// accepted, a duplicate (acknowledged, no effect), or rejected with a code.
type Verdict struct {
	Thread    string
	Accepted  bool
	Duplicate bool
	Code      envelope.Code
	Detail    string
	// Retry: the envelope rests on a consensus outcome this host has not
	// applied yet. The shell does not record or acknowledge it, so the bus
	// delivers it again; once it gives up, it records Code.
	Retry bool
	// Held: this Retry is the envelope's first. The shell records it (as a
	// "held" line): the core judges the envelope's Lamport time, when it is
	// stepped again, against what was seen when it was first held, so
	// replay must see the first arrival too.
	Held bool
}

// Core is the protocol state machine of one host. It is not safe for
// concurrent use: the shell steps it from one goroutine.
type Core struct {
	cfg     Config
	agents  map[string]*AgentInfo
	threads map[string]*thread
	// retired are the threads a checkpoint retired (retireEnded): the
	// summary Thread shows, packed, all the core keeps of them;
	// retiredClock the largest Lamport clock they had (a CHECKPOINT's upto
	// counts it).
	retired      map[string]*retiredThread
	retiredClock uint64
	tokens       map[string]*envelope.Token // verified tokens by ref
	plan         *plan.Plan
	ready        []Action
	now          int64
	reqs         uint64 // request counter (ids are per core, deterministic)
	reqMap       map[string]*request
	shared       map[string]string // strings retired summaries share (shareStrings)
	decided      decidedList       // every decision, for the CHECKPOINTs
	// lastRetired are the NEEDs the latest checkpoint retired: their GC is
	// asked for again by redo, in case it was lost with the process.
	lastRetired []string
	// unsent are the envelopes the core asked its shell to publish and has
	// not seen stepped back yet, oldest first (see unsent.go).
	unsent []unsentDraft
	// quiet: the shell drops every action (SetQuiet); the core builds none.
	quiet bool
	// offered is the plan digest of this core's last RECONCILE offer, and
	// peerDiffers whether a RECONCILE from another host has shown a digest
	// other than this core's since (ReconcileWanted).
	offered     string
	peerDiffers bool
	// sinceCheckpoint: an input other than a periodic one (a CheckpointDue,
	// a ReconcileDue, a CHECKPOINT or RECONCILE envelope) was stepped since
	// this core's last checkpoint (CheckpointWanted).
	sinceCheckpoint bool
}

// agentRevoked says whether a local agent's key or token is revoked.
func (c *Core) agentRevoked(a *AgentInfo) bool {
	return c.isRevoked(a.PK) || c.isRevoked(a.Capability)
}

// isRevoked says whether a key or token ref is on Config.Revoked (a short
// list an operator keeps: read in order).
func (c *Core) isRevoked(keyOrRef string) bool {
	return len(c.cfg.Revoked) > 0 && slices.Contains(c.cfg.Revoked, keyOrRef)
}

// New returns a core with no threads.
func New(cfg Config) (*Core, error) {
	if !envelope.IsPublicKey(cfg.HostPK) {
		return nil, fmt.Errorf("protocol: Config.HostPK %q is not a public key", cfg.HostPK)
	}
	if cfg.AgentGas == 0 {
		cfg.AgentGas = DefaultAgentGas
	}
	if cfg.Rules == 0 {
		cfg.Rules = Rules
	}
	if cfg.Rules < 0 || cfg.Rules > Rules {
		return nil, fmt.Errorf("protocol: Config.Rules %d: this core knows revisions 0 to %d", cfg.Rules, Rules)
	}
	c := &Core{cfg: cfg, agents: map[string]*AgentInfo{}, threads: map[string]*thread{}, retired: map[string]*retiredThread{},
		tokens: map[string]*envelope.Token{}, plan: plan.New()}
	for i := range cfg.Agents {
		a := &c.cfg.Agents[i]
		if !envelope.IsPublicKey(a.PK) {
			return nil, fmt.Errorf("protocol: agent %q: %q is not a public key", a.Name, a.PK)
		}
		c.agents[a.PK] = a
	}
	return c, nil
}

// Ready returns the actions the core asks for since the last Advance, in
// the order it asked.
func (c *Core) Ready() []Action { return c.ready }

// Advance tells the core that the actions of the last Ready were taken on.
func (c *Core) Advance() { c.ready = nil }

// HasReady reports whether actions wait.
func (c *Core) HasReady() bool { return len(c.ready) > 0 }

func (c *Core) emit(a Action) {
	if !c.quiet {
		c.ready = append(c.ready, a)
	}
}

// SetQuiet tells the core that its shell will drop every action until it
// is unset: a node rebuilding its state from its own trail, whose actions
// were taken before it stopped. A quiet core changes its state exactly as
// it would otherwise (what it would ask again after a restart is state,
// kept apart from its actions), but prepares no envelope and writes no
// outcome record, most of the work of stepping beside the state itself.
// Replay, which compares the actions, never sets it.
func (c *Core) SetQuiet(quiet bool) { c.quiet = quiet }

// Plan is the shared plan this core holds.
func (c *Core) Plan() *plan.Plan { return c.plan }

// Step takes one input. For a Received it returns the verdict the audit
// trail records; for the others, the thread the input belongs to.
func (c *Core) Step(in Input) Verdict {
	before := c.now
	if t := in.at(); t > c.now {
		c.now = t
	}
	switch in.(type) {
	case *Received, *CheckpointDue, *ReconcileDue:
	default:
		c.sinceCheckpoint = true
	}
	switch in := in.(type) {
	case *Received:
		v := c.receive(in)
		if (v.Accepted || v.Held) && !v.Duplicate && in.Env.Verb != envelope.VerbCheckpoint && in.Env.Verb != envelope.VerbReconcile {
			c.sinceCheckpoint = true
		}
		if v.Duplicate || (!v.Accepted && !v.Held) {
			// Only an envelope accepted, or held back (a "held" line), moves
			// the clock. The shell records neither a duplicate (no second
			// effect) nor a retry of an envelope already held, and a node
			// rebuilding from its trail steps no other host's rejected
			// envelope: the time such an input came at, unseen by replay or the rebuild,
			// would make them run behind the live core and decide
			// otherwise. Its own verdict was judged at its time.
			c.now = before
		}
		return v
	case *Applied:
		c.applied(in)
		return Verdict{Thread: in.Cmd.Need, Accepted: true}
	case *AgentDone:
		return Verdict{Thread: c.agentDone(in), Accepted: true}
	case *PolicyDone:
		return Verdict{Thread: c.policyDone(in), Accepted: true}
	case *TimerFired:
		c.timer(in)
		return Verdict{Thread: in.Thread, Accepted: true}
	case *Configure:
		c.configure(in)
		return Verdict{Thread: SwarmThread, Accepted: true}
	case *CheckpointDue:
		c.checkpoint(in)
		return Verdict{Thread: SwarmThread, Accepted: true}
	case *ReconcileDue:
		c.reconcile()
		return Verdict{Thread: SwarmThread, Accepted: true}
	case *Collected:
		c.collected(in)
		return Verdict{Thread: in.Need, Accepted: true}
	}
	return Verdict{Code: envelope.CodeMalformed, Detail: fmt.Sprintf("unknown input %T", in)}
}

// ThreadOf returns the thread an input belongs to (for the trail), without
// stepping it: "" when none is known yet.
func (c *Core) ThreadOf(in Input) string {
	switch in := in.(type) {
	case *Received:
		if in.Env != nil {
			return in.Env.Thread()
		}
	case *Applied:
		return in.Cmd.Need
	case *AgentDone:
		if r := c.findReq(in.ReqID); r != nil {
			return r.thread
		}
	case *PolicyDone:
		if r := c.findReq(in.ReqID); r != nil {
			return r.thread
		}
	case *TimerFired:
		return in.Thread
	case *Collected:
		return in.Need
	case *Configure, *CheckpointDue, *ReconcileDue:
		return SwarmThread
	}
	return ""
}

// nextReq returns a fresh request id.
func (c *Core) nextReq(kind string) string {
	c.reqs++
	return fmt.Sprintf("%s-%d", kind, c.reqs)
}

// Threads lists the threads the core knows, retired ones too, sorted.
func (c *Core) Threads() []string {
	ids := slices.AppendSeq(slices.Collect(maps.Keys(c.threads)), maps.Keys(c.retired))
	slices.Sort(ids)
	return ids
}

// liveThreads lists the threads not retired, sorted.
func (c *Core) liveThreads() []string { return slices.Sorted(maps.Keys(c.threads)) }

// PhaseOf is a thread's phase, or false for an unknown thread.
func (c *Core) PhaseOf(id string) (Phase, bool) {
	if r := c.retired[id]; r != nil {
		return r.phase, true
	}
	t := c.threads[id]
	if t == nil {
		return "", false
	}
	return t.phase, true
}

// NeedsWhere returns the ids of the NEED threads (the swarm thread left
// out) keep takes, in no order: a listing's first pass, cheap enough to
// run over every thread the node has known.
func (c *Core) NeedsWhere(keep func(id string, phase Phase) bool) []string {
	var ids []string
	for id, t := range c.threads {
		if id != SwarmThread && keep(id, t.phase) {
			ids = append(ids, id)
		}
	}
	for id, r := range c.retired {
		if keep(id, r.phase) {
			ids = append(ids, id)
		}
	}
	return ids
}

// record emits a Record action of kind with body marshalled.
func (c *Core) record(thread, kind string, body any) {
	if c.quiet {
		return
	}
	b, err := json.Marshal(body)
	if err != nil {
		b = []byte(fmt.Sprintf(`{"error":%q}`, err.Error()))
	}
	c.emit(&Record{Thread: thread, Kind: kind, Body: b})
}

// configure replaces the local agents, roots and remote verifiers; a
// start's (not a reload's) asks again for the work outstanding.
func (c *Core) configure(in *Configure) {
	c.cfg.Agents = append([]AgentInfo(nil), in.Agents...)
	c.cfg.Roots = append(envelope.Roots(nil), in.Roots...)
	c.cfg.Verifiers = append([]string(nil), in.Verifiers...)
	c.cfg.NoBidsGraceMS = max(in.NoBidsGraceMS, 0)
	c.cfg.Revoked = append([]string(nil), in.Revoked...)
	// The shell refuses a trail naming a revision this core does not know
	// (host's decodeTrailInput); a Configure made by hand that names one
	// gets the nearest known.
	c.cfg.Rules = min(max(in.Rules, 0), Rules)
	c.agents = map[string]*AgentInfo{}
	for i := range c.cfg.Agents {
		a := &c.cfg.Agents[i]
		if envelope.IsPublicKey(a.PK) {
			c.agents[a.PK] = a
		}
	}
	// Tokens were checked against the old roots.
	c.tokens = map[string]*envelope.Token{}
	if !in.Reload {
		c.redo()
	}
}

// redo asks again for everything outstanding, as a host does when it
// starts: work asked for before a crash may never have been done (an
// evaluation, an agent run, a proposal lost with the process), and the
// timers died with it. Evaluations and runs keep their request ids, so an
// answer that does arrive twice is taken once; a proposal repeated is
// answered the same by the shard.
func (c *Core) redo() {
	c.sendUnsent()
	ids := make([]string, 0, len(c.reqMap))
	for id := range c.reqMap {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return reqOrder(ids[i]) < reqOrder(ids[j]) })
	for _, id := range ids {
		if a := c.reqMap[id].action; a != nil {
			c.emit(a)
		}
	}
	// The GC of the last checkpoint's retired NEEDs may have died with
	// the process (a shard answers a repeat by dropping none).
	c.collect(c.lastRetired)
	for _, id := range c.liveThreads() {
		t := c.threads[id]
		if t.final() {
			continue
		}
		if d := t.myDecide[t.epoch]; d != nil && t.decisions[t.epoch] == nil {
			c.emit(&Propose{Cmd: d.cmd})
		}
		if t.myRelease[t.epoch] {
			reason := "expired"
			if t.pendingRelease != "" {
				reason = t.pendingRelease
			}
			c.emit(&Propose{Cmd: Command{Op: "RELEASE", Need: t.id, Epoch: t.epoch, Reason: reason, MaxEpochs: t.pendingMax}})
		}
		if f := t.myFinalize; f != nil && t.phase != PhaseFinal && t.commit != nil {
			c.emit(&Propose{Cmd: Command{Op: "FINALIZE", Need: t.id, Epoch: t.epoch, Commit: t.commit.ID, FinalizeID: f.key}})
		}
		for _, at := range []int64{t.windowEnd, t.graceEnd, t.leaseUntil, t.deadline} {
			if at > 0 {
				c.arm(t, at)
			}
		}
	}
}

// reqOrder is a request id's counter ("policy-12" -> 12).
func reqOrder(id string) int {
	n := 0
	for i := len(id) - 1; i >= 0 && id[i] >= '0' && id[i] <= '9'; i-- {
		n = n + int(id[i]-'0')*pow10(len(id)-1-i)
	}
	return n
}

func pow10(k int) int {
	p := 1
	for ; k > 0; k-- {
		p *= 10
	}
	return p
}

// checkpoint publishes a CHECKPOINT: the Lamport time it covers (the
// largest seen on any thread), the audit root it was given, the plan
// digest, and the decisions: their count and the hash of their sorted list
// "need epoch fence".
func (c *Core) checkpoint(in *CheckpointDue) {
	upto := c.retiredClock
	for _, t := range c.threads {
		upto = max(upto, t.clock)
	}
	count, digest := c.decided.digest()
	t := c.thread(SwarmThread)
	c.publishHost(t, envelope.VerbCheckpoint, map[string]any{"upto_lamport": upto, "audit_root": in.AuditRoot,
		"plan_digest": c.plan.Digest(), "decisions": map[string]any{"count": count, "digest": digest}}, nil)
	if in.RetireEndedBefore != 0 {
		c.retireEnded(in.RetireEndedBefore)
		c.compactSwarm()
	}
	c.sinceCheckpoint = false
}

// CheckpointWanted reports whether a CheckpointDue retiring the threads
// that ended before retireEndedBefore (0: none) would do more than sign the
// trail again as it was: an input other than a periodic one (a
// CheckpointDue, ReconcileDue, CHECKPOINT or RECONCILE) was stepped since
// this core's last checkpoint, or a thread ended before
// retireEndedBefore is still whole. A shell may skip a periodic
// checkpoint that is not wanted, unrecorded: an idle cluster's hosts then
// do not each write a CHECKPOINT to every trail every interval, and the
// last one still covers all but the periodic lines after it.
func (c *Core) CheckpointWanted(retireEndedBefore int64) bool {
	if c.sinceCheckpoint {
		return true
	}
	if retireEndedBefore != 0 {
		for id, t := range c.threads {
			if id != SwarmThread && t.endedAt != 0 && t.endedAt <= retireEndedBefore {
				return true
			}
		}
	}
	return false
}
