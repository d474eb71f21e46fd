package protocol

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/canswarm/swarmhost/abi/envelope"
)

// Why the core asked for an evaluation.
const (
	purposeAdmit     = "admit"
	purposeBid       = "bid"
	purposeRoute     = "route"
	purposeVerify    = "verify"
	purposeChallenge = "challenge"
)

type challengeRef struct{ challenge, target string }

// request is an outstanding RunAgent or EvalPolicy.
type request struct {
	thread  string
	purpose string
	env     *envelope.Envelope // the envelope evaluated / handed to the agent
	epoch   uint64
	agent   string
	chal    *challengeRef
	action  Action // what was asked, to ask again after a restart (redo)
}

func (c *Core) findReq(id string) *request { return c.requests()[id] }

func (c *Core) requests() map[string]*request {
	if c.reqMap == nil {
		c.reqMap = map[string]*request{}
	}
	return c.reqMap
}

// policySnapshot is what an evaluation about an envelope on a thread reads
// of the thread (PROTOCOL.md section 7), taken when it is asked for: values
// and envelopes, which never change, so that the request may be made later
// and on another goroutine.
type policySnapshot struct {
	thread, capsule string
	epoch           uint64
	e               *envelope.Envelope // the envelope evaluated
	need            *envelope.Envelope // the NEED the evaluation is about (e itself for a NEED)
	needPayload     json.RawMessage    // the thread's NEED payload, given to evaluations of other envelopes
	input           json.RawMessage    // the NEED's inline input
}

// policySnapshot takes what an evaluation about e sees.
func (t *thread) policySnapshot(e *envelope.Envelope) policySnapshot {
	s := policySnapshot{thread: t.id, capsule: t.capsule, epoch: t.epoch, e: e, need: t.need, input: t.np.Input}
	if t.need != nil && e.Verb != envelope.VerbNeed {
		s.needPayload = t.need.Payload
	}
	if e.Verb == envelope.VerbNeed {
		s.need = e
	}
	return s
}

// standardEvaluated is the envelope the standard evaluation an agent gets
// for e is about: e itself, or for an ATTEST or a CHALLENGE the thread's
// COMMIT (false without one: there is nothing to evaluate).
func (t *thread) standardEvaluated(e *envelope.Envelope) (*envelope.Envelope, bool) {
	if e.Verb == envelope.VerbAttest || e.Verb == envelope.VerbChallenge {
		return t.commit, t.commit != nil
	}
	return e, true
}

// request is the evaluation of entrypoint (without ReqID).
func (s policySnapshot) request(entrypoint string) *EvalPolicy {
	ctx, resolve := s.context()
	return &EvalPolicy{Thread: s.thread, Capsule: s.capsule, Entrypoint: entrypoint, Envelope: s.e, Context: ctx, Resolve: resolve}
}

// context is the recorded data the evaluation sees: the NEED's payload,
// the epoch, the NEED's input, and for a COMMIT its result, as JSON read
// from the CAS by the shell (Resolve).
func (s policySnapshot) context() (map[string]json.RawMessage, map[string]string) {
	ctx := map[string]json.RawMessage{}
	resolve := map[string]string{}
	ctx["epoch"] = strconv.AppendUint(nil, s.epoch, 10)
	if s.needPayload != nil {
		ctx["need"] = s.needPayload
	}
	if s.need != nil {
		if len(s.input) > 0 {
			ctx["input"] = s.input
		} else if len(s.need.ContentRefs) > 0 {
			resolve["input"] = s.need.ContentRefs[0]
		}
	}
	if s.e.Verb == envelope.VerbCommit {
		var cp commitPayload
		if payloadOf(s.e, &cp) == nil && envelope.IsRef(cp.Result) {
			resolve["result"] = cp.Result
		}
	}
	return ctx, resolve
}

// evalPolicy asks for an evaluation of the thread's capsule.
func (c *Core) evalPolicy(t *thread, entrypoint string, e *envelope.Envelope, purpose string, chal *challengeRef) {
	id := c.nextReq("policy")
	req := t.policySnapshot(e).request(entrypoint)
	req.ReqID = id
	c.requests()[id] = &request{thread: t.id, purpose: purpose, env: e, epoch: t.epoch, chal: chal, action: req}
	c.emit(req)
}

// isTrue reports whether a policy result is the JSON value true.
func isTrue(r json.RawMessage) bool { return string(r) == "true" }

func (c *Core) policyDone(in *PolicyDone) string {
	r := c.findReq(in.ReqID)
	if r == nil {
		return ""
	}
	delete(c.reqMap, in.ReqID)
	t := c.threads[r.thread]
	if t == nil { // retired, say
		return r.thread
	}
	switch r.purpose {
	case purposeAdmit:
		if t.phase != PhaseAdmitting {
			break
		}
		if in.Err == "" && isTrue(in.Result) {
			c.open(t, in.At)
			c.deliver(t, t.need)
		} else {
			t.phase = PhaseRefused
			c.ended(t)
			t.refusal = admitRefusal(in)
			c.record(t.id, "outcome", map[string]any{"event": "need_refused", "need": t.id, "reason": t.refusal,
				"digest": in.Digest})
		}
	case purposeBid, purposeRoute:
		if r.epoch != t.epoch {
			break
		}
		for _, b := range t.bids {
			if b.env != r.env {
				continue
			}
			if r.purpose == purposeBid {
				ok := in.Err == "" && isTrue(in.Result)
				b.allowed = &ok
			} else {
				b.scoreDone = true
				var f float64
				if in.Err == "" && json.Unmarshal(in.Result, &f) == nil {
					b.score = &f
				}
			}
		}
		c.closeWindow(t)
	case purposeVerify:
		if r.epoch != t.epoch || t.commit != r.env || t.phase != PhaseCommitted {
			break
		}
		t.hostVerify = in
		t.hostResult = in.Err == "" && isTrue(in.Result)
		if !t.hostResult {
			if in.Err != "" {
				t.failed("the host's verify of the COMMIT failed: " + in.Err)
			} else {
				t.failed("the host's verify of the COMMIT answered " + string(in.Result))
			}
			c.invalidate(t, t.commit.ID, "verify_failed", in.Digest)
			c.proposeRelease(t, "invalidated")
			break
		}
		c.startTally(t)
		c.tryFinalize(t)
	case purposeChallenge:
		c.resolveChallenge(t, r, in)
	}
	return r.thread
}

// resolveChallenge compares the re-evaluation with the challenged
// envelope: an ATTEST whose digest differs, or a COMMIT whose result the
// capsule does not verify, is invalidated; otherwise the challenge is
// dismissed. An invalidated COMMIT releases its epoch only while that epoch
// is current: the answer may come back after the epoch was released, and
// the epoch then current belongs to another worker.
func (c *Core) resolveChallenge(t *thread, r *request, in *PolicyDone) {
	target := t.seen[r.chal.target]
	if target == nil || t.invalidated[target.ID] {
		return
	}
	dismiss := func(why string) {
		c.record(t.id, "outcome", map[string]any{"event": "challenge_dismissed", "challenge": r.chal.challenge,
			"target": target.ID, "reason": why, "recomputed_digest": in.Digest})
	}
	if in.Err != "" {
		dismiss("re-evaluation failed: " + in.Err)
		return
	}
	switch target.Verb {
	case envelope.VerbAttest:
		if target.PolicyEvalDigest != in.Digest {
			c.invalidate(t, target.ID, "digest_mismatch", in.Digest)
			return
		}
		dismiss("the attestation's digest equals the re-evaluation's")
	case envelope.VerbCommit:
		if !isTrue(in.Result) {
			c.invalidate(t, target.ID, "verify_failed", in.Digest)
			if t.commit == target { // its epoch is still the current one
				t.failed("a CHALLENGE upheld: the capsule does not verify the COMMIT")
				c.proposeRelease(t, "invalidated")
			}
			return
		}
		dismiss("the capsule verifies the commit's result")
	}
}

// invalidate publishes an INVALIDATE (its effect applies when it is stepped).
func (c *Core) invalidate(t *thread, target, reason, digest string) {
	c.publishHost(t, envelope.VerbInvalidate, map[string]any{"target": target, "reason": reason,
		"recomputed_digest": digest}, nil)
}

// AdmitDenied is a refused NEED's reason when the capsule's admit answered
// false: a capsule that says why answers something other than true
// (an object, say), which the reason then shows.
const AdmitDenied = "the capsule's admit denied the NEED"

// admitRefusal is a refused NEED's reason: AdmitDenied, followed by the
// capsule's reasons when admit answered {"refused": "..."} or
// {"refused": ["...", ...]} (policies/README.md), or by any other value
// it answered but false.
func admitRefusal(in *PolicyDone) string {
	switch {
	case in.Err != "":
		return "the capsule's admit failed: " + in.Err
	case string(in.Result) == "false":
		return AdmitDenied
	}
	var said struct {
		Refused json.RawMessage `json:"refused"`
	}
	var reasons []string
	if json.Unmarshal(in.Result, &said) == nil && said.Refused != nil {
		var one string
		if json.Unmarshal(said.Refused, &one) == nil && one != "" {
			reasons = []string{one}
		} else if json.Unmarshal(said.Refused, &reasons) != nil {
			reasons = nil
		}
	}
	if len(reasons) == 0 || slices.Contains(reasons, "") {
		return AdmitDenied + " (result " + clip(string(in.Result)) + ")"
	}
	return AdmitDenied + ": " + clip(strings.Join(reasons, "; "))
}

// maxRefusalDetail bounds what a capsule's answer adds to a refusal (it is
// shown on one line, and may echo a field of up to the envelope's size).
const maxRefusalDetail = 2000

// clip cuts s to maxRefusalDetail bytes, on a character boundary, saying
// how much was cut.
func clip(s string) string {
	if len(s) <= maxRefusalDetail {
		return s
	}
	cut := maxRefusalDetail
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "... (" + strconv.Itoa(len(s)-cut) + " more bytes)"
}
