package protocol

import (
	"encoding/json"

	"github.com/canswarm/swarmhost/abi/envelope"
)

// Input is one thing the shell steps into the core. Every input carries At,
// the wall-clock time (Unix milliseconds) the shell recorded when it took
// the input: the core reads no clock, and replay steps the same times.
type Input interface {
	at() int64
}

// Received is an envelope the host received (from the bus, a client, or
// one it published itself and now steps like any other). The shell has
// already run the stateless checks (envelope.Verify): Env is nil and Err
// says why when they failed. Token holds the bytes found in the CAS at
// Env.Capability, nil when there are none.
type Received struct {
	At    int64
	Raw   []byte
	Env   *envelope.Envelope
	Err   error
	Token []byte
}

// Command is a DECIDE shard command as the core sees it (the shell maps it
// to and from consensus/shard, which the core may not import).
type Command struct {
	Op         string   `json:"op"` // DECIDE, RELEASE, FINALIZE, GC
	Need       string   `json:"need"`
	Epoch      uint64   `json:"epoch"`
	Proposal   string   `json:"proposal,omitempty"`
	WorkerPK   string   `json:"worker_pk,omitempty"`
	Verifiers  []string `json:"verifiers,omitempty"`
	DecideID   string   `json:"decide_id,omitempty"`
	Reason     string   `json:"reason,omitempty"`
	MaxEpochs  uint64   `json:"max_epochs,omitempty"`
	Commit     string   `json:"commit,omitempty"`
	FinalizeID string   `json:"finalize_id,omitempty"`
	// Needs are the NEEDs a GC asks their shard to forget (Need is empty):
	// ended threads a checkpoint retired, all of one bucket (the first byte
	// of the NEED id's hash), sorted, at most MaxGCNeeds.
	Needs []string `json:"needs,omitempty"`
}

// MaxGCNeeds is the most NEEDs one GC command names (consensus/shard's
// limit).
const MaxGCNeeds = 1024

// Routed is the NEED id that places the command on its shard: Need, or a
// GC's first NEED (they share a bucket).
func (c Command) Routed() string {
	if c.Op == "GC" && len(c.Needs) > 0 {
		return c.Needs[0]
	}
	return c.Need
}

// Applied is a command a shard replica on this host accepted: the
// consensus outcome every host agrees on. Fence is the DECIDE's fence (its
// log index) for a DECIDE and a FINALIZE; NextEpoch and Abandoned say what
// a RELEASE did. A replica restarted from disk may apply a command again:
// the core ignores what it already knows.
type Applied struct {
	At        int64   `json:"at"`
	Index     uint64  `json:"index"`
	Cmd       Command `json:"command"`
	Fence     uint64  `json:"fence"`
	NextEpoch uint64  `json:"next_epoch"`
	Abandoned bool    `json:"abandoned"`
}

// AgentDone is the outcome of a RunAgent action: the agent's AgentOutput
// JSON (nil for no output) or the fault that ended the call. PlanAnswers
// are the agent's plan_query calls, in order, as the live plan answered
// them: the core does not read them; replay hands them to the agent run
// again, so that the rerun sees what the live call saw.
type AgentDone struct {
	At          int64           `json:"at"`
	ReqID       string          `json:"req"`
	Output      json.RawMessage `json:"output"`
	Fault       string          `json:"fault"`
	GasUsed     uint64          `json:"gas_used"`
	PlanAnswers []PlanAnswer    `json:"plan_answers,omitempty"`
}

// PlanAnswer is one plan_query call of an agent: the request, and the
// answer or the error it got.
type PlanAnswer struct {
	Request json.RawMessage `json:"request"`
	Answer  json.RawMessage `json:"answer,omitempty"`
	Err     string          `json:"error,omitempty"`
}

// PolicyDone is the outcome of an EvalPolicy action (PROTOCOL.md section 7):
// the rule's value (null when undefined), gas and digest; Err when the
// evaluation failed (out of gas, no such capsule...).
type PolicyDone struct {
	At      int64           `json:"at"`
	ReqID   string          `json:"req"`
	Result  json.RawMessage `json:"result"`
	GasUsed uint64          `json:"gas_used"`
	Digest  string          `json:"digest"`
	Err     string          `json:"error"`
}

// TimerFired says a timer the core armed for a thread went off. The core
// acts on every deadline of the thread that At has reached.
type TimerFired struct {
	At     int64  `json:"at"`
	Thread string `json:"thread"`
}

// Configure replaces what the core knows of its surroundings: its local
// agents, the trusted roots and the remote verifiers (Config's fields of
// the same names). A host steps one each time it starts, after its trail,
// so that replay sees the agents each input was dispatched to, and one
// with Reload set each time its plugins folder changes while it runs.
type Configure struct {
	At int64 `json:"at"`
	// Reload: the host did not start, its plugins changed (an agent added,
	// replaced or removed). Nothing was lost, so the core does not ask
	// again for the work outstanding (a start's Configure does: work asked
	// for before a crash may never have been done).
	Reload bool `json:"reload,omitempty"`
	// HostPK and HostCapability name the host (informational: a core's
	// host never changes; replay reads them to make its core).
	HostPK         string      `json:"host_pk"`
	HostCapability string      `json:"host_capability"`
	Agents         []AgentInfo `json:"agents"`
	Roots          []string    `json:"roots"`
	Verifiers      []string    `json:"verifiers"`
	// NoBidsGraceMS is Config.NoBidsGraceMS (a host of a cluster waits;
	// absent in trails from before it: no wait).
	NoBidsGraceMS int64 `json:"no_bids_grace_ms,omitempty"`
	// Revoked is Config.Revoked: keys and token refs this host no longer
	// accepts (absent in trails from before it: none).
	Revoked []string `json:"revoked,omitempty"`
	// Rules is the revision of the core's rules the host ran (a host sets
	// protocol.Rules), so that a trail replays under the rules it was
	// made with. Absent in trails from before revisions: 0.
	Rules int `json:"rules,omitempty"`
}

// CheckpointDue asks the core for a CHECKPOINT (PROTOCOL.md section 5): it
// publishes one on the swarm thread with the audit trail's Merkle root as
// the shell computed it, the plan digest, and a digest of the decisions.
type CheckpointDue struct {
	At        int64  `json:"at"`
	AuditRoot string `json:"audit_root"`
	// RetireEndedBefore, when not 0, retires every thread that ended
	// (final, abandoned or refused) at or before that time, waits on no
	// evaluation or agent run and, when final, has its FINALIZE envelope
	// in: the core keeps its summary (what Thread shows, its decisions for
	// later CHECKPOINTs) and forgets the rest, and answers any later
	// envelope on it wrong_state. Part of the recorded input, so that
	// replay and a rebuild retire the same threads.
	RetireEndedBefore int64 `json:"retire_ended_before,omitempty"`
}

// ReconcileDue asks the core for a RECONCILE offer (PROTOCOL.md section 8,
// the shell's anti-entropy timer): the plan digest and the envelope ids
// whose ops this host holds, so that hosts that lack ops answer with them
// and hosts that hold more send them. An input like the others, recorded,
// so that replay publishes the same offers.
type ReconcileDue struct {
	At int64 `json:"at"`
}

// Collected says the NEED's shard forgot it: a GC the shard applied, or
// a NEED found collected in a consensus snapshot this host's replica was
// restored from. A GC follows the NEED's end in the shard's log, so a host
// that took the log in order ended its thread already and the input
// changes nothing (the shell need not record it: KnowsCollected). A thread
// still open here is one whose end this host missed (it was away longer
// than the leader kept its log and the other hosts retained the NEED): it
// ends abandoned, as this host can no longer learn how it ended.
type Collected struct {
	At   int64  `json:"at"`
	Need string `json:"need"`
}

func (c *Collected) at() int64     { return c.At }
func (c *Configure) at() int64     { return c.At }
func (c *CheckpointDue) at() int64 { return c.At }
func (r *ReconcileDue) at() int64  { return r.At }
func (r *Received) at() int64      { return r.At }
func (a *Applied) at() int64       { return a.At }
func (a *AgentDone) at() int64     { return a.At }
func (p *PolicyDone) at() int64    { return p.At }
func (t *TimerFired) at() int64    { return t.At }

// Action is something the core asks the shell to do. The shell performs
// the actions of Ready in order and reports each outcome as an input.
type Action interface {
	isAction()
}

// Publish asks the shell to sign Env (prepared: its id is final, its sig
// empty) with the key of Env.SenderPK, the host's or a local agent's, put
// it on the bus, and step it back as a Received.
type Publish struct {
	Env *envelope.Envelope
}

// Propose asks the shell to commit a command to its NEED's shard. The
// outcome comes back, on every host, as an Applied input when accepted.
type Propose struct {
	Cmd Command
}

// RunAgent asks the shell to run a local agent on an AgentInput and step
// its outcome as AgentDone{ReqID}.
type RunAgent struct {
	ReqID  string
	Thread string
	Agent  string // the agent's public key
	// Module is the ref of the agent's wasm when the run was asked for
	// (AgentInfo.Module): the module the shell runs, even if a reload
	// replaced it since.
	Module string
	Gas    uint64 // the call's gas budget
	job    *agentJob
}

// Input is the agent's abi.AgentInput JSON. It is fixed when the run is
// asked for and encoded when first asked for (a shell that does not run
// the agent, such as a replay that steps recorded outputs, never pays for
// it); safe to call from any goroutine.
func (r *RunAgent) Input() []byte { return r.job.input(r.Agent) }

// Policy is the standard evaluation (without ReqID) the agent's
// policy_eval gets for its envelope, fixed when the run is asked for so
// that it does not depend on when the run happens; nil when the thread has
// no capsule yet. Made when first asked for, shared by the runs of one
// delivery (read-only); safe to call from any goroutine.
func (r *RunAgent) Policy() *EvalPolicy { return r.job.policy() }

// EvalPolicy asks the shell to evaluate a capsule entrypoint on the input
// {entrypoint, envelope (without sig), context} of PROTOCOL.md section 7
// and step the outcome as PolicyDone{ReqID}. Context is the recorded data;
// each name in Resolve is filled in by the shell with the JSON value of the
// CAS blob at that ref (or null when the blob is missing or not JSON), so
// that the core need not read the CAS.
type EvalPolicy struct {
	ReqID      string
	Thread     string
	Capsule    string
	Entrypoint string
	Envelope   *envelope.Envelope
	Context    map[string]json.RawMessage
	Resolve    map[string]string
}

// ArmTimer asks the shell to step TimerFired{Thread} at (or after) At.
type ArmTimer struct {
	Thread string
	At     int64
}

// Record asks the shell to write an outcome the core reached (a NEED
// refused by its capsule, a challenge dismissed, an agent action refused)
// into the thread's audit trail, as a line of its own kind.
type Record struct {
	Thread string
	Kind   string
	Body   json.RawMessage
}

func (*Publish) isAction()    {}
func (*Propose) isAction()    {}
func (*RunAgent) isAction()   {}
func (*EvalPolicy) isAction() {}
func (*ArmTimer) isAction()   {}
func (*Record) isAction()     {}
