package protocol

import (
	"encoding/json"
	"strings"

	"github.com/canswarm/swarmhost/abi"
	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/protocol/quorum"
)

// Phase is where a thread stands (PROTOCOL.md section 5), plus the states
// around admission.
type Phase string

// The phases of a thread.
const (
	PhaseUnknown   Phase = "unknown"   // consensus spoke of it before its NEED arrived
	PhaseAdmitting Phase = "admitting" // NEED received, admit not evaluated yet
	PhaseRefused   Phase = "refused"   // the capsule's admit denied it
	PhaseOpen      Phase = "open"      // OPEN(e): bids taken in the window
	PhaseDecided   Phase = "decided"   // DECIDED(e)
	PhaseClaimed   Phase = "claimed"   // CLAIMED(e)
	PhaseCommitted Phase = "committed" // COMMITTED(e)
	PhaseFinal     Phase = "final"     // FINAL
	PhaseAbandoned Phase = "abandoned" // ABANDONED
	PhaseSwarm     Phase = "swarm"     // the swarm thread (plan, reconcile, checkpoints)
	// PhaseRejected is not a thread's: the core never sets it. A node shows
	// it for a NEED whose envelope it rejected on arrival (recorded in the
	// trail, never a thread): a bad signature or capability, say.
	PhaseRejected Phase = "rejected"
)

// SwarmThread is the thread_id of envelopes about the swarm as a whole
// rather than one NEED: RECONCILE, CHECKPOINT, and UPDATE_PLAN ops not tied
// to a NEED. It is the ref of the ASCII bytes "CANSWARM-SWARM-THREAD-V1".
var SwarmThread = envelope.HashRef([]byte("CANSWARM-SWARM-THREAD-V1"))

// Defaults for NEED fields left out.
const (
	DefaultBidWindowMS = 1000
	DefaultLeaseMS     = 30000
	DefaultMaxEpochs   = 3
)

type needPayload struct {
	Capability  string          `json:"capability"`
	Input       json.RawMessage `json:"input,omitempty"`
	K           uint64          `json:"k"`
	N           uint64          `json:"n"`
	BidWindowMS uint64          `json:"bid_window_ms"`
	LeaseMS     uint64          `json:"lease_ms"`
	MaxEpochs   uint64          `json:"max_epochs"`
	GasBudget   uint64          `json:"gas_budget"`
	DeadlineMS  uint64          `json:"deadline_ms"`
}

type bid struct {
	env        *envelope.Envelope
	price, eta uint64
	hasCap     bool
	allowed    *bool
	score      *float64
	scoreDone  bool
}

// heldAt is what was known of an envelope's sender when the envelope was
// first held back.
type heldAt struct {
	last uint64
	ok   bool
}

type decision struct {
	Epoch     uint64   `json:"epoch"`
	Proposal  string   `json:"proposal"`
	WorkerPK  string   `json:"worker_pk"`
	Verifiers []string `json:"verifiers"`
	Fence     uint64   `json:"fence"`
	DecideID  string   `json:"-"`
}

// pending is a command this core proposed and the envelope it publishes
// once the command is applied.
type pending struct {
	key  string         // decide_id / finalize_id
	body map[string]any // the envelope payload (fence still to fill for a DECIDE), nil once published
	cmd  Command        // the command proposed
}

type thread struct {
	id      string
	need    *envelope.Envelope
	np      needPayload
	capsule string
	phase   Phase
	epoch   uint64

	windowEnd  int64  // PhaseOpen: bids accepted until then
	graceEnd   int64  // PhaseOpen, no eligible bid: RELEASE(no_bids) not before then (Config.NoBidsGraceMS); 0 none
	leaseUntil int64  // decided/claimed: claim/heartbeat deadline; committed: verification deadline
	leaseMS    uint64 // claimed: the lease the CLAIM took, which a HEARTBEAT renews
	deadline   int64  // the NEED's deadline; 0 for none

	seen        map[string]*envelope.Envelope // accepted envelopes by id
	order       []string                      // accepted envelope ids in order
	lastLamport map[string]uint64             // per sender
	held        map[string]heldAt             // envelopes answered Retry, by id
	clock       uint64                        // the thread's Lamport clock

	// The current epoch.
	bids         []*bid
	closing      bool // the window closed: a DECIDE or RELEASE was proposed
	decisions    map[uint64]*decision
	myDecide     map[uint64]*pending
	decideEnv    *envelope.Envelope
	commit       *envelope.Envelope
	commitResult string
	hostVerify   *PolicyDone
	hostResult   bool
	attests      []*envelope.Envelope
	tally        *quorum.Tally
	invalidated  map[string]bool
	finalizing   bool
	myFinalize   *pending
	released     map[uint64]string // epoch -> reason, from consensus
	// releaseWhy says, for an epoch this host saw fail, what failed, when
	// the release's reason alone does not (an abandonment lists them).
	releaseWhy map[uint64]string
	myRelease  map[uint64]bool
	// The RELEASE this host last proposed for the current epoch (for redo).
	pendingRelease string
	pendingMax     uint64
	excluded       map[string]bool // workers whose epoch was released against them
	finalizeEnv    *envelope.Envelope
	finalCommit    string
	refusal        string
	abandonedWhy   string
	// noBidsWhy says why this host's last closed bid window chose no bid
	// (for the reason of an abandonment after RELEASE(no_bids)), and
	// lastAgentProblem the last agent output refused on the thread, "name:
	// reason" (an agent that cannot bid, out of gas say, shows there).
	noBidsWhy        string
	lastAgentProblem string

	// endedAt is the core's time when the thread ended (final, abandoned,
	// refused); 0 while it has not. A CHECKPOINT retires it some time
	// after (CheckpointDue): Core.retired keeps its summary, and the
	// thread goes.
	endedAt int64
}

func newThread(id string) *thread {
	return &thread{id: id, phase: PhaseUnknown, epoch: 1, seen: map[string]*envelope.Envelope{}, held: map[string]heldAt{},
		lastLamport: map[string]uint64{}, decisions: map[uint64]*decision{}, myDecide: map[uint64]*pending{},
		invalidated: map[string]bool{}, released: map[uint64]string{}, releaseWhy: map[uint64]string{}, myRelease: map[uint64]bool{},
		excluded: map[string]bool{}}
}

func (c *Core) thread(id string) *thread {
	t := c.threads[id]
	if t == nil {
		t = newThread(id)
		if id == SwarmThread {
			t.phase = PhaseSwarm
		}
		c.threads[id] = t
	}
	return t
}

// final reports whether the thread takes no more work.
func (t *thread) final() bool {
	return t.phase == PhaseFinal || t.phase == PhaseAbandoned || t.phase == PhaseRefused
}

// resetEpoch clears what belonged to the previous epoch.
func (t *thread) resetEpoch() {
	t.bids, t.closing, t.graceEnd = nil, false, 0
	t.decideEnv, t.commit, t.commitResult = nil, nil, ""
	t.hostVerify, t.hostResult, t.attests, t.tally = nil, false, nil, nil
	t.finalizing, t.myFinalize = false, nil
	t.leaseUntil, t.leaseMS = 0, 0
}

// viewRefs is the thread as an agent sees it (abi.ThreadView) without
// Decide, the one part that is encoded (agentJob does it when an input is
// needed): values, and references to what never changes (payloads, refs).
func (t *thread) viewRefs() abi.ThreadView {
	v := abi.ThreadView{State: string(t.phase), Epoch: t.epoch}
	if t.need != nil {
		v.Need = t.need.Payload
		v.NeedRefs = t.need.ContentRefs
	}
	if d := t.decisions[t.epoch]; d != nil {
		v.Fence = d.Fence
	}
	return v
}

// ThreadInfo is a thread's state as the CLI and API show it.
type ThreadInfo struct {
	ID          string            `json:"id"`
	Phase       Phase             `json:"state"`
	Epoch       uint64            `json:"epoch"`
	Capability  string            `json:"capability,omitempty"`
	Capsule     string            `json:"capsule,omitempty"`
	Decision    *decision         `json:"decision,omitempty"`
	Commit      string            `json:"commit,omitempty"`
	Result      string            `json:"result,omitempty"`
	Finalize    string            `json:"finalize,omitempty"`
	Refusal     string            `json:"refusal,omitempty"`
	Abandoned   string            `json:"abandoned,omitempty"`
	Envelopes   []EnvelopeSummary `json:"envelopes"`
	Attestation []string          `json:"attestations,omitempty"`
	// Retired: the thread ended and a CHECKPOINT retired it; this summary
	// is all the core still holds of it (the audit trail holds the rest).
	// The core keeps no list of its envelopes then, only their number,
	// EnvelopesInTrail: the shell lists them from the thread's audit trail
	// (Host.Need does), as its accepted envelope lines in order.
	Retired          bool `json:"retired,omitempty"`
	EnvelopesInTrail int  `json:"envelopes_in_trail,omitempty"`
	// EnvelopesError says why Envelopes is not the retired thread's whole
	// list: its trail could not be read, or holds another number of
	// accepted envelopes than the core counted (the shell sets it).
	EnvelopesError string `json:"envelopes_error,omitempty"`
}

// EnvelopeSummary names one accepted envelope of a thread.
type EnvelopeSummary struct {
	ID      string `json:"id"`
	Verb    string `json:"verb"`
	Lamport uint64 `json:"lamport"`
	Sender  string `json:"sender_pk"`
}

// Thread returns a thread's state, or false for an unknown thread.
func (c *Core) Thread(id string) (ThreadInfo, bool) {
	if r := c.retired[id]; r != nil {
		return r.info(id), true
	}
	t := c.threads[id]
	if t == nil {
		return ThreadInfo{}, false
	}

	info := ThreadInfo{ID: id, Phase: t.phase, Epoch: t.epoch, Capability: t.np.Capability, Capsule: t.capsule,
		Decision: t.decisions[t.epoch], Refusal: t.refusal, Abandoned: t.abandonedWhy, Envelopes: []EnvelopeSummary{}}
	if t.commit != nil {
		info.Commit, info.Result = t.commit.ID, t.commitResult
	}
	if t.finalizeEnv != nil {
		info.Finalize = t.finalizeEnv.ID
		var p finalizePayload
		payloadOf(t.finalizeEnv, &p) // accepted: it decodes
		info.Result, info.Attestation = p.Result, p.Attestations
	}
	for _, id := range t.order {
		e := t.seen[id]
		info.Envelopes = append(info.Envelopes, EnvelopeSummary{ID: e.ID, Verb: string(e.Verb), Lamport: e.Lamport, Sender: e.SenderPK})
	}
	return info, true
}

// failed notes what made the current epoch fail, for its release (the
// first word on an epoch stands).
func (t *thread) failed(why string) {
	if _, ok := t.releaseWhy[t.epoch]; !ok {
		t.releaseWhy[t.epoch] = why
	}
}

// releaseHistory lists the released epochs whose failure this host saw,
// epochs with the same reason and cause together ("epochs 1, 2 invalidated:
// the host's verify of the COMMIT failed: ..."), in epoch order: "" when
// none. It tells why an abandoned NEED's workers were excluded, which the
// last release's reason (no_bids, say) does not.
func (t *thread) releaseHistory() string {
	type group struct {
		epochs []string
		text   string
	}
	var groups []*group
	byText := map[string]*group{}
	for e := uint64(1); e <= t.epoch; e++ {
		why, ok := t.releaseWhy[e]
		if !ok || t.released[e] != "invalidated" {
			continue // what the shard committed is another host's word
		}
		text := t.released[e] + ": " + why
		g := byText[text]
		if g == nil {
			g = &group{text: text}
			byText[text] = g
			groups = append(groups, g)
		}
		g.epochs = append(g.epochs, itoa(e))
	}
	parts := make([]string, len(groups))
	for i, g := range groups {
		word := "epoch "
		if len(g.epochs) > 1 {
			word = "epochs "
		}
		parts[i] = word + strings.Join(g.epochs, ", ") + " " + g.text
	}
	return strings.Join(parts, "; ")
}
