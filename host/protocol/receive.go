package protocol

import (
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/protocol/jsontext"
)

// reject builds a rejection verdict.
func reject(thread string, code envelope.Code, format string, args ...any) Verdict {
	return Verdict{Thread: thread, Code: code, Detail: fmt.Sprintf(format, args...)}
}

func rejectErr(thread string, err *envelope.RejectError) Verdict {
	detail := err.Detail
	if err.Field != "" {
		detail = err.Field + ": " + detail
	}
	return Verdict{Thread: thread, Code: err.Code, Detail: detail}
}

func errRetryf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errRetry}, args...)...)
}

// errRetry marks an envelope the core cannot judge yet: it rests on a
// consensus outcome this host has not applied. The shell leaves it
// unacknowledged so that the bus delivers it again.
var errRetry = errors.New("retry")

// receive runs the stateful checks of PROTOCOL.md section 2, in order
// (bad_capability, unauthorized, stale_lamport, wrong_state, stale_fence),
// after the payload's own form (malformed), and applies the verb.
// CheckStateless returns the rejection the rules give an envelope whatever
// the state (an unknown verb, or a malformed thread_id or payload for its
// verb: what [Core.Step] checks first of an envelope that verified), or
// nil when it has none. Audit verification uses it to check that a
// rejected line's malformed verdict holds of its text.
func CheckStateless(e *envelope.Envelope) *envelope.RejectError {
	_, _, rerr := parseEnvelope(e)
	return rerr
}

// parseEnvelope finds an envelope's verb and parses its payload, as the
// rules do before they look at any state.
func parseEnvelope(e *envelope.Envelope) (*verbSpec, any, *envelope.RejectError) {
	spec, ok := verbs[e.Verb]
	if !ok {
		return nil, nil, envelope.Reject(envelope.CodeUnknownVerb, "", "%s is not handled", e.Verb)
	}
	if e.Thread() == "" {
		return nil, nil, envelope.Reject(envelope.CodeMalformed, "thread_id", "a %s names the NEED it belongs to, or the swarm thread", e.Verb)
	}
	p, rerr := spec.parse(e)
	if rerr != nil {
		return nil, nil, rerr
	}
	return &spec, p, nil
}

func (c *Core) receive(in *Received) Verdict {
	if in.Env == nil || in.Err != nil {
		code := envelope.CodeOf(in.Err)
		if code == "" {
			code = envelope.CodeMalformed
		}
		detail := "envelope failed its checks"
		if in.Err != nil {
			detail = in.Err.Error()
		}
		return Verdict{Code: code, Detail: detail}
	}
	e := in.Env
	c.steppedBack(e)
	tid := e.Thread()
	if t := c.threads[tid]; t != nil && t.seen[e.ID] != nil {
		return Verdict{Thread: tid, Accepted: true, Duplicate: true}
	}
	spec, p, rerr := parseEnvelope(e)
	if rerr != nil {
		return rejectErr(tid, rerr)
	}
	tok, rerr := c.token(e, in.Token)
	if rerr != nil {
		return rejectErr(tid, rerr)
	}
	if r := c.retired[tid]; r != nil {
		return reject(tid, envelope.CodeWrongState, "NEED %s ended (%s) and a checkpoint retired it: it takes nothing more", tid, r.phase)
	}
	t := c.threads[tid]
	if e.Verb == envelope.VerbNeed {
		if t != nil && t.need != nil {
			return reject(tid, envelope.CodeWrongState, "NEED %s is already open", tid)
		}
		t = c.thread(tid)
	} else if t == nil {
		if tid != SwarmThread {
			if spec.retryUnknown {
				return Verdict{Thread: tid, Code: envelope.CodeWrongState, Detail: "no NEED " + tid + " is known here yet"}.retry()
			}
			return reject(tid, envelope.CodeWrongState, "no NEED %s is known here", tid)
		}
		t = c.thread(tid)
	}
	if rerr := spec.authorize(c, t, e, p, tok); rerr != nil {
		return rejectErr(tid, rerr)
	}
	last, ok := t.lastLamport[e.SenderPK]
	if h, isHeld := t.held[e.ID]; isHeld {
		// Held back earlier: judged against what was seen when it first
		// arrived, not against what its sender sent since.
		last, ok = h.last, h.ok
	}
	if ok && e.Lamport <= last {
		return reject(tid, envelope.CodeStaleLamport, "lamport %d is not greater than %d, the last seen from %s on this thread", e.Lamport, last, short(e.SenderPK))
	}
	if err := spec.apply(c, t, e, p, in); err != nil {
		if errors.Is(err, errRetry) {
			v := Verdict{Thread: tid, Code: envelope.CodeWrongState, Detail: err.Error()}.retry()
			if _, isHeld := t.held[e.ID]; !isHeld {
				t.held[e.ID] = heldAt{last: last, ok: ok}
				v.Held = true
			}
			return v
		}
		delete(t.held, e.ID)
		var re *envelope.RejectError
		if errors.As(err, &re) {
			return rejectErr(tid, re)
		}
		return reject(tid, envelope.CodeMalformed, "%v", err)
	}
	t.seen[e.ID] = e
	t.order = append(t.order, e.ID)
	delete(t.held, e.ID)
	if !ok || e.Lamport > t.lastLamport[e.SenderPK] {
		t.lastLamport[e.SenderPK] = e.Lamport
	}
	if e.Lamport > t.clock {
		t.clock = e.Lamport
	}
	c.deliver(t, e)
	if spec.after != nil {
		spec.after(c, t, e, p, in)
	}
	return Verdict{Thread: tid, Accepted: true}
}

func (v Verdict) retry() Verdict { v.Retry = true; return v }

// token finds and checks the sender's capability token.
func (c *Core) token(e *envelope.Envelope, raw []byte) (*envelope.Token, *envelope.RejectError) {
	if e.Capability == "" {
		return nil, envelope.Reject(envelope.CodeBadCapability, "capability", "no capability token, and a %s needs one", e.Verb)
	}
	if c.isRevoked(e.Capability) {
		return nil, envelope.Reject(envelope.CodeBadCapability, "capability", "token %s was revoked on this host", e.Capability)
	}
	if c.isRevoked(e.SenderPK) {
		return nil, envelope.Reject(envelope.CodeBadCapability, "sender_pk", "the sender's key %s was revoked on this host", short(e.SenderPK))
	}
	tok := c.tokens[e.Capability]
	if tok == nil {
		if raw == nil {
			return nil, envelope.Reject(envelope.CodeBadCapability, "capability", "token %s is not in the CAS", e.Capability)
		}
		parsed, err := envelope.ParseToken(raw)
		if err != nil {
			return nil, envelope.Reject(envelope.CodeBadCapability, "capability", "token %s: %v", e.Capability, err)
		}
		tok = parsed
	}
	check := envelope.CheckToken
	if c.tokens[e.Capability] == tok {
		// Stored under its ref only after a full check under the current
		// roots (a Configure clears the store): its ref and signature hold.
		check = envelope.CheckTokenStored
	}
	if err := check(tok, e, c.cfg.Roots); err != nil {
		var re *envelope.RejectError
		if errors.As(err, &re) {
			return nil, re
		}
		return nil, envelope.Reject(envelope.CodeBadCapability, "capability", "%v", err)
	}
	c.tokens[e.Capability] = tok
	if c.isRevoked(tok.IssuerPK) {
		return nil, envelope.Reject(envelope.CodeBadCapability, "capability", "token %s was issued by %s, a key revoked on this host", e.Capability, short(tok.IssuerPK))
	}
	return tok, nil
}

func short(pk string) string {
	if len(pk) > 12 {
		return pk[:12]
	}
	return pk
}

// payloadOf decodes an envelope's payload into p, naming the field of a
// type mismatch: flat when the payload is plain (payloadflat.go), else
// with encoding/json.
func payloadOf[T any, P flatPayload[T]](e *envelope.Envelope, p P) *envelope.RejectError {
	if isObject(e) && jsontext.DecodeFlat(e.Payload, p.fields()) {
		return nil
	}
	*p = *new(T) // DecodeFlat may have filled some
	if err := json.Unmarshal(e.Payload, p); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return envelope.Reject(envelope.CodeMalformed, "payload."+te.Field, "must be a %s", te.Type)
		}
		return envelope.Reject(envelope.CodeMalformed, "payload", "%v", err)
	}
	return nil
}

// has reports whether the payload object has key.
func has(e *envelope.Envelope, key string) bool {
	if isObject(e) {
		_, ok := jsontext.HasKeys(e.Payload, key)
		return ok
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(e.Payload, &m) != nil {
		return false
	}
	_, ok := m[key]
	return ok
}

func required(e *envelope.Envelope, keys ...string) *envelope.RejectError {
	if isObject(e) {
		if k, ok := jsontext.HasKeys(e.Payload, keys...); !ok {
			return envelope.Reject(envelope.CodeMalformed, "payload."+k, "is required in a %s", e.Verb)
		}
		return nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(e.Payload, &m); err != nil {
		return envelope.Reject(envelope.CodeMalformed, "payload", "%v", err)
	}
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			return envelope.Reject(envelope.CodeMalformed, "payload."+k, "is required in a %s", e.Verb)
		}
	}
	return nil
}

// isObject reports whether an envelope's payload is one valid UTF-8 JSON
// object, so that jsontext may split it: a decoded or prepared envelope's
// always is, and says so; any other is checked.
func isObject(e *envelope.Envelope) bool {
	if e.PayloadIsCanonical() {
		return true
	}
	p := e.Payload
	return len(p) > 0 && p[0] == '{' && json.Valid(p) && utf8.Valid(p)
}

func mustRef(field, v string) *envelope.RejectError {
	if !envelope.IsRef(v) {
		return envelope.Reject(envelope.CodeMalformed, field, "must be a ref (sha256: and 64 hex digits), got %q", v)
	}
	return nil
}

// epochCheck answers an envelope naming epoch e on the thread: an earlier
// epoch was released (stale_fence), a later one is not open (wrong_state).
func epochCheck(t *thread, e uint64) *envelope.RejectError {
	switch {
	case e < t.epoch:
		return envelope.Reject(envelope.CodeStaleFence, "payload.epoch", "epoch %d was released; the NEED is at epoch %d", e, t.epoch)
	case e > t.epoch:
		return envelope.Reject(envelope.CodeWrongState, "payload.epoch", "epoch %d is not open; the NEED is at epoch %d", e, t.epoch)
	}
	return nil
}
