package protocol

import (
	"encoding/json"
	"slices"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/protocol/plan"
	"github.com/canswarm/swarmhost/host/protocol/quorum"
	"github.com/canswarm/swarmhost/host/protocol/route"
)

type verbSpec struct {
	parse        func(e *envelope.Envelope) (any, *envelope.RejectError)
	authorize    func(c *Core, t *thread, e *envelope.Envelope, p any, tok *envelope.Token) *envelope.RejectError
	apply        func(c *Core, t *thread, e *envelope.Envelope, p any, in *Received) error
	after        func(c *Core, t *thread, e *envelope.Envelope, p any, in *Received)
	retryUnknown bool // an envelope for a NEED not known here yet is retried
}

var verbs map[envelope.Verb]verbSpec

func init() {
	verbs = map[envelope.Verb]verbSpec{
		envelope.VerbNeed:       {parse: parseNeed, authorize: anyone, apply: applyNeed, after: afterNeed},
		envelope.VerbPropose:    {parse: parsePropose, authorize: anyone, apply: applyPropose, retryUnknown: true},
		envelope.VerbDecide:     {parse: parseDecide, authorize: anyone, apply: applyDecide, retryUnknown: true},
		envelope.VerbClaim:      {parse: parseFenced, authorize: chosenWorker, apply: applyClaim, retryUnknown: true},
		envelope.VerbHeartbeat:  {parse: parseFenced, authorize: chosenWorker, apply: applyHeartbeat, retryUnknown: true},
		envelope.VerbYield:      {parse: parseYield, authorize: chosenWorker, apply: applyYield, retryUnknown: true},
		envelope.VerbRelease:    {parse: parseRelease, authorize: anyone, apply: applyRelease, retryUnknown: true},
		envelope.VerbCommit:     {parse: parseCommit, authorize: chosenWorker, apply: applyCommit, after: afterCommit, retryUnknown: true},
		envelope.VerbAttest:     {parse: parseAttest, authorize: namedVerifier, apply: applyAttest, retryUnknown: true},
		envelope.VerbFinalize:   {parse: parseFinalize, authorize: anyone, apply: applyFinalize, retryUnknown: true},
		envelope.VerbChallenge:  {parse: parseChallenge, authorize: anyone, apply: applyChallenge, after: afterChallenge, retryUnknown: true},
		envelope.VerbInvalidate: {parse: parseInvalidate, authorize: anyone, apply: applyInvalidate, retryUnknown: true},
		envelope.VerbUpdatePlan: {parse: parseUpdatePlan, authorize: anyone, apply: applyUpdatePlan, retryUnknown: true},
		envelope.VerbReconcile:  {parse: parseReconcile, authorize: anyone, apply: applyReconcile, after: afterReconcile},
		envelope.VerbCheckpoint: {parse: parseCheckpoint, authorize: anyone, apply: applyCheckpoint},
	}
}

// anyone: the token's role check (CheckToken) is all the verb needs.
func anyone(*Core, *thread, *envelope.Envelope, any, *envelope.Token) *envelope.RejectError {
	return nil
}

// ---- NEED

func parseNeed(e *envelope.Envelope) (any, *envelope.RejectError) {
	if e.ThreadID != "" {
		return nil, envelope.Reject(envelope.CodeMalformed, "thread_id", "a NEED opens its own thread: thread_id must be \"\"")
	}
	if rerr := mustRef("policy_capsule_hash", e.PolicyCapsuleHash); rerr != nil {
		return nil, envelope.Reject(envelope.CodeMalformed, "policy_capsule_hash", "a NEED names the capsule that governs it: %s", rerr.Detail)
	}
	if rerr := required(e, "capability", "k", "n"); rerr != nil {
		return nil, rerr
	}
	var p needPayload
	if rerr := payloadOf(e, &p); rerr != nil {
		return nil, rerr
	}
	switch {
	case p.Capability == "":
		return nil, envelope.Reject(envelope.CodeMalformed, "payload.capability", "must name a task kind")
	case p.K < 1 || p.N < p.K:
		return nil, envelope.Reject(envelope.CodeMalformed, "payload.k", "need 1 <= k <= n, got k=%d n=%d", p.K, p.N)
	case p.N > 64:
		return nil, envelope.Reject(envelope.CodeMalformed, "payload.n", "at most 64 verifiers, got %d", p.N)
	case len(p.Input) == 0 && len(e.ContentRefs) == 0:
		return nil, envelope.Reject(envelope.CodeMalformed, "payload.input", "a NEED carries its input inline or as content_refs[0]")
	}
	if p.BidWindowMS == 0 {
		p.BidWindowMS = DefaultBidWindowMS
	}
	if p.LeaseMS == 0 {
		p.LeaseMS = DefaultLeaseMS
	}
	if p.MaxEpochs == 0 {
		p.MaxEpochs = DefaultMaxEpochs
	}
	return &p, nil
}

func applyNeed(c *Core, t *thread, e *envelope.Envelope, p any, in *Received) error {
	np := p.(*needPayload)
	t.need, t.np, t.capsule = e, *np, e.PolicyCapsuleHash
	if t.phase == PhaseUnknown {
		t.phase = PhaseAdmitting
	}
	if np.DeadlineMS > 0 {
		t.deadline = in.At + int64(np.DeadlineMS)
	}
	return nil
}

func afterNeed(c *Core, t *thread, e *envelope.Envelope, _ any, _ *Received) {
	if t.phase != PhaseAdmitting {
		return // consensus already moved it (a NEED arriving late)
	}
	c.evalPolicy(t, "admit", e, purposeAdmit, nil)
}

// ---- PROPOSE

type proposePayload struct{ epoch, price, eta uint64 }

func parsePropose(e *envelope.Envelope) (any, *envelope.RejectError) {
	epoch, price, eta, err := route.ParseBid(e.Payload)
	if err != nil {
		if re, ok := err.(*envelope.RejectError); ok {
			return nil, re
		}
		return nil, envelope.Reject(envelope.CodeMalformed, "payload", "%v", err)
	}
	return &proposePayload{epoch, price, eta}, nil
}

func applyPropose(c *Core, t *thread, e *envelope.Envelope, p any, in *Received) error {
	pp := p.(*proposePayload)
	if need := t.need; need != nil && e.Lamport <= need.Lamport {
		return envelope.Reject(envelope.CodeStaleLamport, "lamport", "a PROPOSE answers the NEED (lamport %d) and must come later", need.Lamport)
	}
	if rerr := epochCheck(t, pp.epoch); rerr != nil {
		return rerr
	}
	if t.phase == PhaseAdmitting && pp.epoch == t.epoch {
		// Another host may have admitted the NEED already.
		return errRetryf("the NEED is not admitted here yet")
	}
	if t.phase != PhaseOpen || t.closing {
		return envelope.Reject(envelope.CodeWrongState, "", "the NEED is %s, not taking bids", t.phaseName())
	}
	if in.At > t.windowEnd {
		return envelope.Reject(envelope.CodeWrongState, "", "the bid window of epoch %d closed %d ms ago", t.epoch, in.At-t.windowEnd)
	}
	tok := c.tokens[e.Capability]
	b := &bid{env: e, price: pp.price, eta: pp.eta, hasCap: tok != nil && tok.HasCapability(t.np.Capability)}
	t.bids = append(t.bids, b)
	c.evalPolicy(t, "bid", e, purposeBid, nil)
	c.evalPolicy(t, "route", e, purposeRoute, nil)
	return nil
}

// ---- DECIDE

type decidePayload struct {
	Epoch      uint64   `json:"epoch"`
	Proposal   string   `json:"proposal"`
	WorkerPK   string   `json:"worker_pk"`
	Verifiers  []string `json:"verifiers"`
	Considered []string `json:"considered"`
	Fence      uint64   `json:"fence"`
}

func parseDecide(e *envelope.Envelope) (any, *envelope.RejectError) {
	if rerr := required(e, "epoch", "proposal", "worker_pk", "verifiers", "considered", "fence"); rerr != nil {
		return nil, rerr
	}
	var p decidePayload
	if rerr := payloadOf(e, &p); rerr != nil {
		return nil, rerr
	}
	if rerr := mustRef("payload.proposal", p.Proposal); rerr != nil {
		return nil, rerr
	}
	if !envelope.IsPublicKey(p.WorkerPK) {
		return nil, envelope.Reject(envelope.CodeMalformed, "payload.worker_pk", "must be a public key")
	}
	if len(p.Verifiers) == 0 || p.Fence == 0 || p.Epoch == 0 {
		return nil, envelope.Reject(envelope.CodeMalformed, "payload", "a DECIDE names its epoch, fence and verifiers")
	}
	return &p, nil
}

// applyDecide accepts a DECIDE envelope that says what the shard decided.
func applyDecide(c *Core, t *thread, e *envelope.Envelope, p any, _ *Received) error {
	dp := p.(*decidePayload)
	d := t.decisions[dp.Epoch]
	if d == nil {
		if dp.Epoch < t.epoch {
			return envelope.Reject(envelope.CodeStaleFence, "payload.epoch", "epoch %d was released undecided here", dp.Epoch)
		}
		return errRetryf("the shard's DECIDE for epoch %d is not applied here yet", dp.Epoch)
	}
	if dp.Proposal != d.Proposal || dp.WorkerPK != d.WorkerPK || !slices.Equal(dp.Verifiers, d.Verifiers) {
		return envelope.Reject(envelope.CodeWrongState, "payload", "epoch %d was decided otherwise (proposal %s)", dp.Epoch, d.Proposal)
	}
	if dp.Fence != d.Fence {
		return envelope.Reject(envelope.CodeStaleFence, "payload.fence", "the decision's fence is %d, not %d", d.Fence, dp.Fence)
	}
	if dp.Epoch == t.epoch {
		if t.decideEnv != nil {
			return envelope.Reject(envelope.CodeWrongState, "", "epoch %d already has its DECIDE envelope %s", dp.Epoch, t.decideEnv.ID)
		}
		t.decideEnv = e
	}
	return nil
}

// ---- CLAIM, HEARTBEAT, YIELD

type fencedPayload struct {
	Epoch   uint64 `json:"epoch"`
	Fence   uint64 `json:"fence"`
	LeaseMS uint64 `json:"lease_ms"`
	Reason  string `json:"reason"`
}

func parseFenced(e *envelope.Envelope) (any, *envelope.RejectError) {
	if rerr := required(e, "epoch", "fence"); rerr != nil {
		return nil, rerr
	}
	var p fencedPayload
	return &p, payloadOf(e, &p)
}

func parseYield(e *envelope.Envelope) (any, *envelope.RejectError) {
	if rerr := required(e, "epoch"); rerr != nil {
		return nil, rerr
	}
	var p fencedPayload
	return &p, payloadOf(e, &p)
}

// chosenWorker: only the worker of the current decision may send it.
func chosenWorker(c *Core, t *thread, e *envelope.Envelope, p any, _ *envelope.Token) *envelope.RejectError {
	var epoch uint64
	switch p := p.(type) {
	case *fencedPayload:
		epoch = p.Epoch
	case *commitPayload:
		epoch = p.Epoch
	}
	d := t.decisions[epoch]
	if d == nil {
		return nil // the state checks answer (stale_fence / wrong_state / retry)
	}
	if e.SenderPK != d.WorkerPK {
		return envelope.Reject(envelope.CodeUnauthorized, "sender_pk", "epoch %d was decided for worker %s, not %s", epoch, short(d.WorkerPK), short(e.SenderPK))
	}
	return nil
}

// fenceCheck: (epoch, fence) must be the current decision's.
func fenceCheck(t *thread, epoch, fence uint64) error {
	if rerr := epochCheck(t, epoch); rerr != nil {
		return rerr
	}
	d := t.decisions[epoch]
	if d == nil {
		if t.phase == PhaseOpen || t.phase == PhaseUnknown || t.phase == PhaseAdmitting {
			return errRetryf("epoch %d is not decided here yet", epoch)
		}
		return envelope.Reject(envelope.CodeWrongState, "", "epoch %d has no decision", epoch)
	}
	if fence != d.Fence {
		return envelope.Reject(envelope.CodeStaleFence, "payload.fence", "fence %d is not the decision's (%d)", fence, d.Fence)
	}
	return nil
}

func applyClaim(c *Core, t *thread, e *envelope.Envelope, p any, in *Received) error {
	fp := p.(*fencedPayload)
	if err := fenceCheck(t, fp.Epoch, fp.Fence); err != nil {
		return err
	}
	if t.phase != PhaseDecided {
		return envelope.Reject(envelope.CodeWrongState, "", "the NEED is %s; a CLAIM needs it decided", t.phaseName())
	}
	lease := t.np.LeaseMS
	if fp.LeaseMS > 0 && fp.LeaseMS < lease {
		lease = fp.LeaseMS
	}
	t.phase = PhaseClaimed
	t.leaseMS = lease
	t.leaseUntil = in.At + int64(lease)
	c.arm(t, t.leaseUntil)
	return nil
}

func applyHeartbeat(c *Core, t *thread, e *envelope.Envelope, p any, in *Received) error {
	fp := p.(*fencedPayload)
	if err := fenceCheck(t, fp.Epoch, fp.Fence); err != nil {
		return err
	}
	if t.phase == PhaseDecided {
		return errRetryf("epoch %d is not claimed here yet (its CLAIM may still be on its way)", fp.Epoch)
	}
	if t.phase != PhaseClaimed {
		return envelope.Reject(envelope.CodeWrongState, "", "the NEED is %s; a HEARTBEAT renews a claimed lease", t.phaseName())
	}
	// The lease the CLAIM took (at most the NEED's), not the NEED's own: a
	// worker that claimed a short lease keeps it short.
	t.leaseUntil = in.At + int64(t.leaseMS)
	c.arm(t, t.leaseUntil)
	return nil
}

func applyYield(c *Core, t *thread, e *envelope.Envelope, p any, in *Received) error {
	fp := p.(*fencedPayload)
	if rerr := epochCheck(t, fp.Epoch); rerr != nil {
		return rerr
	}
	if t.decisions[fp.Epoch] == nil && (t.phase == PhaseOpen || t.phase == PhaseUnknown || t.phase == PhaseAdmitting) {
		return errRetryf("epoch %d is not decided here yet", fp.Epoch)
	}
	if t.phase != PhaseDecided && t.phase != PhaseClaimed {
		return envelope.Reject(envelope.CodeWrongState, "", "the NEED is %s; only a decided or claimed epoch can be yielded", t.phaseName())
	}
	c.proposeRelease(t, "yielded")
	return nil
}

// ---- RELEASE

type releasePayload struct {
	Epoch  uint64 `json:"epoch"`
	Reason string `json:"reason"`
}

func parseRelease(e *envelope.Envelope) (any, *envelope.RejectError) {
	if rerr := required(e, "epoch", "reason"); rerr != nil {
		return nil, rerr
	}
	var p releasePayload
	if rerr := payloadOf(e, &p); rerr != nil {
		return nil, rerr
	}
	switch p.Reason {
	case "expired", "yielded", "invalidated", "no_bids":
	default:
		return nil, envelope.Reject(envelope.CodeMalformed, "payload.reason", "%q is not expired, yielded, invalidated or no_bids", p.Reason)
	}
	return &p, nil
}

func applyRelease(c *Core, t *thread, e *envelope.Envelope, p any, _ *Received) error {
	rp := p.(*releasePayload)
	reason, ok := t.released[rp.Epoch]
	if !ok {
		if rp.Epoch < t.epoch {
			return envelope.Reject(envelope.CodeStaleFence, "payload.epoch", "epoch %d ended without a release", rp.Epoch)
		}
		return errRetryf("the shard's RELEASE of epoch %d is not applied here yet", rp.Epoch)
	}
	if reason != rp.Reason {
		return envelope.Reject(envelope.CodeWrongState, "payload.reason", "epoch %d was released as %s", rp.Epoch, reason)
	}
	return nil
}

// ---- COMMIT

type commitPayload struct {
	Epoch     uint64          `json:"epoch"`
	Fence     uint64          `json:"fence"`
	Result    string          `json:"result"`
	Telemetry json.RawMessage `json:"telemetry"`
}

func parseCommit(e *envelope.Envelope) (any, *envelope.RejectError) {
	if rerr := required(e, "epoch", "fence", "result"); rerr != nil {
		return nil, rerr
	}
	var p commitPayload
	if rerr := payloadOf(e, &p); rerr != nil {
		return nil, rerr
	}
	if rerr := mustRef("payload.result", p.Result); rerr != nil {
		return nil, rerr
	}
	if !slices.Contains(e.ContentRefs, p.Result) {
		return nil, envelope.Reject(envelope.CodeMalformed, "content_refs", "must hold the result %s", p.Result)
	}
	return &p, nil
}

func applyCommit(c *Core, t *thread, e *envelope.Envelope, p any, in *Received) error {
	cp := p.(*commitPayload)
	if err := fenceCheck(t, cp.Epoch, cp.Fence); err != nil {
		return err
	}
	if t.phase == PhaseDecided {
		return errRetryf("epoch %d is not claimed here yet (its CLAIM may still be on its way)", cp.Epoch)
	}
	if t.phase != PhaseClaimed {
		return envelope.Reject(envelope.CodeWrongState, "", "the NEED is %s; a COMMIT needs a claimed lease", t.phaseName())
	}
	t.phase, t.commit, t.commitResult = PhaseCommitted, e, cp.Result
	t.leaseUntil = in.At + int64(t.np.LeaseMS) // the verifiers' window
	c.arm(t, t.leaseUntil)
	return nil
}

func afterCommit(c *Core, t *thread, e *envelope.Envelope, _ any, _ *Received) {
	c.evalPolicy(t, "verify", e, purposeVerify, nil)
}

// ---- ATTEST

type attestPayload struct {
	Epoch   uint64 `json:"epoch"`
	Commit  string `json:"commit"`
	Verdict string `json:"verdict"`
}

func parseAttest(e *envelope.Envelope) (any, *envelope.RejectError) {
	if rerr := required(e, "epoch", "commit", "verdict"); rerr != nil {
		return nil, rerr
	}
	var p attestPayload
	if rerr := payloadOf(e, &p); rerr != nil {
		return nil, rerr
	}
	if rerr := mustRef("payload.commit", p.Commit); rerr != nil {
		return nil, rerr
	}
	if p.Verdict != quorum.VerdictPass && p.Verdict != quorum.VerdictFail {
		return nil, envelope.Reject(envelope.CodeMalformed, "payload.verdict", "must be pass or fail, got %q", p.Verdict)
	}
	if !envelope.IsRef(e.PolicyEvalDigest) {
		return nil, envelope.Reject(envelope.CodeMalformed, "policy_eval_digest", "an ATTEST names the digest of the evaluation it rests on")
	}
	return &p, nil
}

func namedVerifier(c *Core, t *thread, e *envelope.Envelope, p any, _ *envelope.Token) *envelope.RejectError {
	ap := p.(*attestPayload)
	d := t.decisions[ap.Epoch]
	if d != nil && !slices.Contains(d.Verifiers, e.SenderPK) {
		return envelope.Reject(envelope.CodeUnauthorized, "sender_pk", "%s is not a verifier of epoch %d", short(e.SenderPK), ap.Epoch)
	}
	return nil
}

func applyAttest(c *Core, t *thread, e *envelope.Envelope, p any, _ *Received) error {
	ap := p.(*attestPayload)
	if cm := t.seen[ap.Commit]; cm != nil && cm.Verb == envelope.VerbCommit && e.Lamport <= cm.Lamport {
		return envelope.Reject(envelope.CodeStaleLamport, "lamport", "an ATTEST answers the COMMIT (lamport %d) and must come later", cm.Lamport)
	}
	if rerr := epochCheck(t, ap.Epoch); rerr != nil {
		return rerr
	}
	if t.commit == nil {
		if t.phase == PhaseDecided || t.phase == PhaseClaimed {
			return errRetryf("no COMMIT of epoch %d is known here yet", ap.Epoch)
		}
		return envelope.Reject(envelope.CodeWrongState, "", "the NEED is %s; an ATTEST answers a COMMIT", t.phaseName())
	}
	if ap.Commit != t.commit.ID {
		return envelope.Reject(envelope.CodeWrongState, "payload.commit", "the epoch's COMMIT is %s", t.commit.ID)
	}
	for _, a := range t.attests {
		if a.SenderPK == e.SenderPK {
			return envelope.Reject(envelope.CodeWrongState, "", "verifier %s already attested this COMMIT (%s)", short(e.SenderPK), a.ID)
		}
	}
	if t.phase != PhaseCommitted && t.phase != PhaseFinal {
		return envelope.Reject(envelope.CodeWrongState, "", "the NEED is %s", t.phaseName())
	}
	t.attests = append(t.attests, e)
	if t.tally != nil {
		c.tallyAdd(t, e)
		c.tryFinalize(t)
	}
	return nil
}

// ---- FINALIZE

type finalizePayload struct {
	Epoch        uint64   `json:"epoch"`
	Commit       string   `json:"commit"`
	Result       string   `json:"result"`
	Attestations []string `json:"attestations"`
}

func parseFinalize(e *envelope.Envelope) (any, *envelope.RejectError) {
	if rerr := required(e, "epoch", "commit", "result", "attestations"); rerr != nil {
		return nil, rerr
	}
	var p finalizePayload
	if rerr := payloadOf(e, &p); rerr != nil {
		return nil, rerr
	}
	if !slices.IsSorted(p.Attestations) || len(p.Attestations) == 0 {
		return nil, envelope.Reject(envelope.CodeMalformed, "payload.attestations", "must be the sorted ids of the attestations")
	}
	return &p, nil
}

func applyFinalize(c *Core, t *thread, e *envelope.Envelope, p any, _ *Received) error {
	fp := p.(*finalizePayload)
	if t.phase != PhaseFinal {
		if fp.Epoch < t.epoch {
			return envelope.Reject(envelope.CodeStaleFence, "payload.epoch", "epoch %d was released", fp.Epoch)
		}
		return errRetryf("the shard's FINALIZE is not applied here yet")
	}
	if fp.Commit != t.finalCommit || fp.Epoch != t.epoch {
		return envelope.Reject(envelope.CodeWrongState, "payload.commit", "the NEED was finalized on %s", t.finalCommit)
	}
	if t.finalizeEnv != nil {
		return envelope.Reject(envelope.CodeWrongState, "", "the NEED already has its FINALIZE %s", t.finalizeEnv.ID)
	}
	t.finalizeEnv = e
	return nil
}

// ---- CHALLENGE, INVALIDATE

type challengePayload struct {
	Target        string `json:"target"`
	ClaimedDigest string `json:"claimed_digest"`
}

func parseChallenge(e *envelope.Envelope) (any, *envelope.RejectError) {
	if rerr := required(e, "target"); rerr != nil {
		return nil, rerr
	}
	var p challengePayload
	if rerr := payloadOf(e, &p); rerr != nil {
		return nil, rerr
	}
	return &p, mustRef("payload.target", p.Target)
}

func applyChallenge(c *Core, t *thread, e *envelope.Envelope, p any, _ *Received) error {
	cp := p.(*challengePayload)
	target := t.seen[cp.Target]
	if target == nil || (target.Verb != envelope.VerbAttest && target.Verb != envelope.VerbCommit) {
		return envelope.Reject(envelope.CodeWrongState, "payload.target", "%s is not an ATTEST or COMMIT of this NEED", cp.Target)
	}
	if t.commit == nil || (target.Verb == envelope.VerbCommit && target.ID != t.commit.ID) ||
		(target.Verb == envelope.VerbAttest && !slices.Contains(t.attests, target)) {
		return envelope.Reject(envelope.CodeStaleFence, "payload.target", "%s belongs to a past epoch", cp.Target)
	}
	if t.invalidated[cp.Target] {
		return envelope.Reject(envelope.CodeWrongState, "payload.target", "%s is already invalidated", cp.Target)
	}
	return nil
}

func afterChallenge(c *Core, t *thread, e *envelope.Envelope, p any, _ *Received) {
	cp := p.(*challengePayload)
	c.evalPolicy(t, "verify", t.commit, purposeChallenge, &challengeRef{challenge: e.ID, target: cp.Target})
}

type invalidatePayload struct {
	Target           string `json:"target"`
	Reason           string `json:"reason"`
	RecomputedDigest string `json:"recomputed_digest"`
}

func parseInvalidate(e *envelope.Envelope) (any, *envelope.RejectError) {
	if rerr := required(e, "target", "reason", "recomputed_digest"); rerr != nil {
		return nil, rerr
	}
	var p invalidatePayload
	if rerr := payloadOf(e, &p); rerr != nil {
		return nil, rerr
	}
	return &p, mustRef("payload.target", p.Target)
}

func applyInvalidate(c *Core, t *thread, e *envelope.Envelope, p any, _ *Received) error {
	ip := p.(*invalidatePayload)
	target := t.seen[ip.Target]
	if target == nil {
		return envelope.Reject(envelope.CodeWrongState, "payload.target", "%s is not an envelope of this NEED", ip.Target)
	}
	if t.invalidated[ip.Target] {
		return envelope.Reject(envelope.CodeWrongState, "payload.target", "%s is already invalidated", ip.Target)
	}
	t.invalidated[ip.Target] = true
	if target.Verb == envelope.VerbAttest && t.tally != nil {
		_ = t.tally.Invalidate(ip.Target)
	}
	return nil
}

// ---- UPDATE_PLAN, RECONCILE, CHECKPOINT

func parseUpdatePlan(e *envelope.Envelope) (any, *envelope.RejectError) {
	ops, err := plan.ParseUpdatePlan(e.Payload)
	if err != nil {
		return nil, envelope.Reject(envelope.CodeMalformed, "payload", "%v", err)
	}
	return ops, nil
}

func applyUpdatePlan(c *Core, t *thread, e *envelope.Envelope, p any, _ *Received) error {
	if _, err := c.plan.Add(e.ID, e.Lamport, e.SenderPK, p.([]plan.Op)); err != nil {
		return envelope.Reject(envelope.CodeWrongState, "payload.ops", "%v", err)
	}
	return nil
}

type reconcilePayload struct {
	PlanDigest string          `json:"plan_digest"`
	Have       []string        `json:"have"`
	Ops        json.RawMessage `json:"ops"`
	entries    []plan.Entry
}

func parseReconcile(e *envelope.Envelope) (any, *envelope.RejectError) {
	if rerr := required(e, "plan_digest"); rerr != nil {
		return nil, rerr
	}
	var p reconcilePayload
	if rerr := payloadOf(e, &p); rerr != nil {
		return nil, rerr
	}
	if e.ThreadID != SwarmThread {
		return nil, envelope.Reject(envelope.CodeMalformed, "thread_id", "a RECONCILE belongs to the swarm thread %s", SwarmThread)
	}
	if len(p.Ops) > 0 {
		entries, err := plan.ParseEntries(p.Ops)
		if err != nil {
			return nil, envelope.Reject(envelope.CodeMalformed, "payload.ops", "%v", err)
		}
		p.entries = entries
	}
	return &p, nil
}

func applyReconcile(c *Core, t *thread, e *envelope.Envelope, p any, _ *Received) error {
	rp := p.(*reconcilePayload)
	if len(rp.entries) > 0 {
		if _, err := c.plan.Import(rp.entries); err != nil {
			return envelope.Reject(envelope.CodeWrongState, "payload.ops", "%v", err)
		}
	}
	return nil
}

func afterReconcile(c *Core, t *thread, e *envelope.Envelope, p any, _ *Received) {
	rp := p.(*reconcilePayload)
	if e.SenderPK == c.cfg.HostPK || rp.PlanDigest == c.plan.Digest() {
		return
	}
	// The other host's plan is not this one's: this core's next offer
	// lets it send what this one lacks.
	c.peerDiffers = true
	if rp.Have != nil {
		c.sendMissing(t, c.plan.Missing(rp.Have))
	}
}

type checkpointPayload struct {
	UptoLamport uint64          `json:"upto_lamport"`
	AuditRoot   string          `json:"audit_root"`
	PlanDigest  string          `json:"plan_digest"`
	Decisions   json.RawMessage `json:"decisions"`
}

func parseCheckpoint(e *envelope.Envelope) (any, *envelope.RejectError) {
	if rerr := required(e, "upto_lamport", "audit_root", "plan_digest", "decisions"); rerr != nil {
		return nil, rerr
	}
	var p checkpointPayload
	if rerr := payloadOf(e, &p); rerr != nil {
		return nil, rerr
	}
	if e.ThreadID != SwarmThread {
		return nil, envelope.Reject(envelope.CodeMalformed, "thread_id", "a CHECKPOINT belongs to the swarm thread %s", SwarmThread)
	}
	return &p, mustRef("payload.audit_root", p.AuditRoot)
}

func applyCheckpoint(*Core, *thread, *envelope.Envelope, any, *Received) error { return nil }
