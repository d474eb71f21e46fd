package envelope

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/gowebpki/jcs"
)

// Draft is an envelope before it is stamped with an id and signed.
type Draft struct {
	ThreadID          string
	Verb              Verb
	Lamport           uint64
	Capability        string
	ContentRefs       []string
	PolicyCapsuleHash string
	PolicyEvalDigest  string
	// Payload is the verb's JSON object: a json.RawMessage or []byte holding
	// JSON text, or any value encoding/json marshals to an object. nil is {}.
	Payload any
}

// Sign stamps the draft with its payload_hash and id and signs it with key.
// It refuses, with a *RejectError, anything Verify would reject: an unknown
// verb, a field that is not "" or a ref where one is required, a payload
// that is not an object or carries an integer beyond 2^53, sizes over the
// limits.
func Sign(d Draft, key ed25519.PrivateKey) (*Envelope, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("sign envelope: private key is %d bytes, want %d", len(key), ed25519.PrivateKeySize)
	}
	e, err := Prepare(d, hex.EncodeToString(key.Public().(ed25519.PublicKey)))
	if err != nil {
		return nil, err
	}
	return e, SignPrepared(e, key)
}

// Prepare stamps the draft with its sender, payload_hash and id, without a
// signature: the id does not depend on the signature, so a pure core can
// know the id of an envelope it asks its shell to sign ([SignPrepared]).
// It refuses what Sign refuses.
func Prepare(d Draft, senderPK string) (*Envelope, error) {
	payload, err := CanonicalPayload(d.Payload)
	if err != nil {
		return nil, err
	}
	if !IsPublicKey(senderPK) {
		return nil, Reject(CodeMalformed, "sender_pk", "must be 64 lowercase hex digits, got %s", quoteShort(senderPK))
	}
	e := &Envelope{
		V:                 Version,
		ThreadID:          d.ThreadID,
		Verb:              d.Verb,
		Lamport:           d.Lamport,
		SenderPK:          senderPK,
		Capability:        d.Capability,
		ContentRefs:       d.ContentRefs,
		Payload:           payload,
		PolicyCapsuleHash: d.PolicyCapsuleHash,
		PolicyEvalDigest:  d.PolicyEvalDigest,
	}
	if e.ContentRefs == nil {
		e.ContentRefs = []string{}
	}
	e.canonPayload = payload
	if err := e.checkDraft(); err != nil {
		return nil, err
	}
	e.PayloadHash = e.ComputePayloadHash()
	var form [2048]byte
	var id [RefLen]byte
	signing := appendSigningForm(form[:0], e)
	e.ID = string(appendHashRef(id[:0], signing))
	// The size it will have once signed, without writing its wire form
	// (SignPrepared writes it with the signature).
	if err := e.checkSizesOf(signedWireLen(len(signing), e)); err != nil {
		return nil, err
	}
	return e, nil
}

// SignPrepared signs an envelope from Prepare with the sender's key, which
// must match its sender_pk.
func SignPrepared(e *Envelope, key ed25519.PrivateKey) error {
	if len(key) != ed25519.PrivateKeySize {
		return fmt.Errorf("sign envelope: private key is %d bytes, want %d", len(key), ed25519.PrivateKeySize)
	}
	if pk := hex.EncodeToString(key.Public().(ed25519.PublicKey)); pk != e.SenderPK {
		return fmt.Errorf("sign envelope: the key is %s's, the envelope's sender is %s", pk, e.SenderPK)
	}
	e.Sig = hex.EncodeToString(ed25519.Sign(key, SignedMessage(e.ID)))
	e.wire = nil
	return e.checkSizes()
}

func (e *Envelope) checkDraft() error {
	if !e.Verb.Known() {
		return Reject(CodeUnknownVerb, "verb", "%s is not a verb of protocol version %d", quoteShort(string(e.Verb)), Version)
	}
	if e.Lamport > MaxSafeInteger {
		return Reject(CodeMalformed, "lamport", "must be at most 2^53, got %d", e.Lamport)
	}
	for _, f := range []struct{ name, value string }{
		{"thread_id", e.ThreadID}, {"capability", e.Capability},
		{"policy_capsule_hash", e.PolicyCapsuleHash}, {"policy_eval_digest", e.PolicyEvalDigest},
	} {
		if f.value != "" && !IsRef(f.value) {
			return Reject(CodeMalformed, f.name, "must be \"\" or a ref (sha256: and 64 lowercase hex digits), got %s", quoteShort(f.value))
		}
	}
	for i, r := range e.ContentRefs {
		if !IsRef(r) {
			return Reject(CodeMalformed, fmt.Sprintf("content_refs[%d]", i), "must be a ref, got %s", quoteShort(r))
		}
	}
	if !utf8.ValidString(string(e.Verb)) {
		return Reject(CodeMalformed, "verb", "not valid UTF-8")
	}
	return nil
}

// CanonicalPayload returns the JCS bytes of a payload: v is a
// json.RawMessage or []byte of JSON text, or a value encoding/json marshals;
// nil is {}. The payload must be a JSON object whose integers stay within
// +/-2^53 (PROTOCOL.md section 1): a larger integer would be silently
// rounded by every JCS implementation, so it is refused here instead.
func CanonicalPayload(v any) ([]byte, error) {
	var (
		text []byte
		err  error
	)
	switch p := v.(type) {
	case nil:
		return []byte("{}"), nil
	case map[string]any:
		if p != nil {
			if canon, ok := appendCanonicalValue(make([]byte, 0, 256), p); ok {
				return canon, nil
			}
		}
		if text, err = json.Marshal(v); err != nil {
			return nil, Reject(CodeMalformed, "payload", "cannot encode: %v", err)
		}
	case json.RawMessage:
		text = p
	case []byte:
		text = p
	default:
		if text, err = json.Marshal(v); err != nil {
			return nil, Reject(CodeMalformed, "payload", "cannot encode: %v", err)
		}
	}
	// isCanonical and jcs.Transform below refuse text that is not JSON, so
	// only a literal long enough to be beyond 2^53 needs the full walk.
	if err := refuseUnsafeIntegers(text, "payload"); err != nil {
		return nil, err
	}
	var canon []byte
	if isCanonical(text) {
		// jcs.Transform would return the same bytes; copy them, as it would.
		canon = bytes.Clone(text)
	} else if canon, err = jcs.Transform(text); err != nil {
		return nil, Reject(CodeMalformed, "payload", "not canonicalizable JSON: %v", err)
	}
	if len(canon) == 0 || canon[0] != '{' {
		return nil, Reject(CodeMalformed, "payload", "must be a JSON object")
	}
	// A float whose value is an integer beyond 2^53 (1e20) is written by
	// JCS as an integer literal (100000000000000000000): refused too, or the
	// envelope would be refused by every reader of its canonical form.
	if err := refuseUnsafeIntegers(canon, "payload"); err != nil {
		return nil, err
	}
	return canon, nil
}

// CheckSafeIntegers walks JSON text and refuses any number written as an
// integer literal of magnitude above 2^53, naming its path under root ("":
// the text's own members).
func CheckSafeIntegers(text []byte, root string) error {
	if !mayHoldUnsafeInteger(text) && json.Valid(text) {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return Reject(CodeMalformed, root, "not valid JSON: %v", err)
	}
	return walkSafeIntegers(v, root)
}

// refuseUnsafeIntegers is CheckSafeIntegers for text already known to be
// JSON (or judged so later): the walk runs only when the cheap scan finds
// an integer literal long enough to be beyond 2^53.
func refuseUnsafeIntegers(text []byte, root string) error {
	if !mayHoldUnsafeInteger(text) {
		return nil
	}
	return CheckSafeIntegers(text, root)
}

// maxSafeDigits is the most digits an integer literal can have and be
// within 2^53 whatever its digits (10^15 < 2^53 < 10^16).
const maxSafeDigits = 15

// mayHoldUnsafeInteger reports whether JSON text has, outside its strings,
// an integer literal (no fraction, no exponent) of more than maxSafeDigits
// digits: the only way it can hold an integer beyond 2^53. A cheap scan (no
// decoding), so that the common payload skips walkSafeIntegers.
func mayHoldUnsafeInteger(text []byte) bool {
	inString, escaped := false, false
	inNumber, isFloat, digits := false, false, 0
	for _, c := range text {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch {
		case '0' <= c && c <= '9':
			if !inNumber {
				inNumber, isFloat, digits = true, false, 0
			}
			if !isFloat {
				digits++
			}
		case c == '-' && !inNumber:
			inNumber, isFloat, digits = true, false, 0
		case inNumber && (c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-'):
			isFloat = true // a float by its spelling
		default:
			if inNumber && !isFloat && digits > maxSafeDigits {
				return true
			}
			inNumber = false
			inString = c == '"'
		}
	}
	return inNumber && !isFloat && digits > maxSafeDigits
}

func walkSafeIntegers(v any, path string) error {
	switch x := v.(type) {
	case map[string]any:
		for k, child := range x {
			at := k
			if path != "" {
				at = path + "." + k
			}
			if err := walkSafeIntegers(child, at); err != nil {
				return err
			}
		}
	case []any:
		for i, child := range x {
			if err := walkSafeIntegers(child, path+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
	case json.Number:
		if !safeNumber(string(x)) {
			return Reject(CodeMalformed, path, "integer %s is beyond +/-2^53; write it as a string", quoteShort(string(x)))
		}
	}
	return nil
}

// safeNumber reports whether a JSON number literal survives JCS unchanged in
// meaning. An integer literal (digits only) must stay within +/-2^53: beyond
// that, JCS's IEEE-754 rendering would silently change the integer the
// signer wrote. A literal with a fraction or exponent is a float by its own
// spelling, and JCS renders it consistently on every implementation.
func safeNumber(lit string) bool {
	if !isIntegerLiteral(lit) {
		return true
	}
	n, err := strconv.ParseInt(lit, 10, 64)
	return err == nil && -MaxSafeInteger <= n && n <= MaxSafeInteger
}

func isIntegerLiteral(lit string) bool {
	for i := 0; i < len(lit); i++ {
		if c := lit[i]; !(c == '-' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}
