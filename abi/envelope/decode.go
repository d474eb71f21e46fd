package envelope

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"

	"github.com/gowebpki/jcs"
)

// fieldNames are the envelope's fields in JCS (byte) order, indexed by the
// f* constants of scan.go.
var fieldNames = []string{
	"capability", "content_refs", "id", "lamport", "payload", "payload_hash",
	"policy_capsule_hash", "policy_eval_digest", "sender_pk", "sig", "thread_id", "v", "verb",
}

// Decode parses wire text into an Envelope and runs the first check of
// section 2, malformed: the text must be JSON that RFC 8785 accepts (valid
// UTF-8, no duplicate keys, numbers it can render), an object with exactly the
// envelope's fields, each of its JSON type; no integer beyond +/-2^53
// anywhere (PROTOCOL.md section 1), as written or as JCS renders a float;
// lamport a non-negative integer up to 2^53; thread_id, capability,
// policy_capsule_hash and policy_eval_digest "" or a ref; every
// content_refs entry a ref. id, payload_hash, sig and sender_pk are only
// required to be strings here: their content is what the later checks
// (payload_hash_mismatch, id_mismatch, bad_signature) judge.
//
// Text longer than MaxInputBytes is too_large without being parsed.
// Decode does not check the version, verb, sizes, hashes or signature: use
// [Verify] for the whole stateless check.
//
// The envelope shares no memory with wire, which the caller may reuse.
func Decode(wire []byte) (*Envelope, error) {
	if len(wire) > MaxInputBytes {
		return nil, Reject(CodeTooLarge, "", "%d bytes of input, more than the %d this receiver parses", len(wire), MaxInputBytes)
	}
	if e, ok := decodeCanonical(wire, false); ok {
		return e, nil
	}
	return decodeAny(wire)
}

// DecodeShared is Decode for wire text the caller keeps and never changes
// (a trail read for replay): an envelope whose text is already canonical
// keeps wire's memory (Wire() and Payload are parts of it) instead of a
// copy. The checks and answers are Decode's.
func DecodeShared(wire []byte) (*Envelope, error) {
	if len(wire) > MaxInputBytes {
		return Decode(wire)
	}
	if e, ok := decodeCanonical(wire, true); ok {
		return e, nil
	}
	return decodeAny(wire)
}

// decodeCanonical is Decode's fast path, for the usual wire text: already in
// JCS form, with every field well typed. It gives the envelope decodeAny
// would, or false for anything else, which decodeAny then judges: the slow
// path is the reference for every rejection and its message.
func decodeCanonical(wire []byte, share bool) (*Envelope, bool) {
	var raw [numFields][]byte
	if !scanEnvelope(wire, &raw) {
		return nil, false
	}
	if refuseUnsafeIntegers(raw[fPayload], "payload") != nil {
		return nil, false // decodeAny refuses an integer beyond 2^53
	}
	if share {
		n, p := len(wire), raw[fPayload]
		raw[fPayload] = p[:len(p):len(p)] // an append to Payload copies
		e := &Envelope{wire: wire[:n:n]}
		if decodeFields(e, &raw, decodeRefListCanonical) != nil {
			return nil, false
		}
		return e, true
	}
	// The text is its own canonical form. One allocation holds a copy of it
	// and one of the payload, so that the envelope shares no memory with the
	// caller's buffer, nor Payload with Wire(), just as on the slow path.
	n := len(wire)
	buf := make([]byte, n+len(raw[fPayload]))
	copy(buf, wire)
	copy(buf[n:], raw[fPayload])
	raw[fPayload] = buf[n:]
	e := &Envelope{wire: buf[:n:n]}
	if decodeFields(e, &raw, decodeRefListCanonical) != nil {
		return nil, false
	}
	return e, true
}

// decodeAny is Decode's general path: canonicalize with jcs, then decode the
// canonical text generically.
func decodeAny(wire []byte) (*Envelope, error) {
	// An integer beyond 2^53 is malformed (PROTOCOL.md section 1), as the
	// signer refuses it: canonicalized, it would be rounded to another
	// integer (9007199254740993 to ...992), and the envelope would be
	// checked against what its sender did not write. So is a float JCS
	// writes as such an integer (1e20).
	if err := refuseUnsafeIntegers(wire, ""); err != nil {
		return nil, err
	}
	canon, err := jcs.Transform(wire)
	if err != nil {
		return nil, Reject(CodeMalformed, "", "not canonicalizable JSON: %v", err)
	}
	if err := refuseUnsafeIntegers(canon, ""); err != nil {
		return nil, err
	}
	if len(canon) == 0 || canon[0] != '{' {
		return nil, Reject(CodeMalformed, "", "an envelope must be a JSON object")
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(canon, &members); err != nil {
		return nil, Reject(CodeMalformed, "", "not a JSON object: %v", err)
	}
	if err := checkFieldSet(members); err != nil {
		return nil, err
	}
	var raw [numFields][]byte
	for i, name := range fieldNames {
		raw[i] = members[name]
	}
	e := &Envelope{wire: canon}
	if err := decodeFields(e, &raw, decodeRefList); err != nil {
		return nil, err
	}
	return e, nil
}

// decodeFields decodes the raw canonical values of the envelope's fields
// (indexed as fieldNames) into e, checking them in a fixed order. raw's
// payload becomes e.Payload. refList decodes content_refs.
func decodeFields(e *Envelope, raw *[numFields][]byte, refList func(json.RawMessage) ([]string, error)) error {
	strs := [...]struct {
		field int
		dst   *string
		ref   bool // must be "" or a ref
	}{
		{fID, &e.ID, false},
		{fThreadID, &e.ThreadID, true},
		{fSenderPK, &e.SenderPK, false},
		{fCapability, &e.Capability, true},
		{fPayloadHash, &e.PayloadHash, false},
		{fPolicyCapsuleHash, &e.PolicyCapsuleHash, true},
		{fPolicyEvalDigest, &e.PolicyEvalDigest, true},
		{fSig, &e.Sig, false},
	}
	for _, f := range strs {
		name := fieldNames[f.field]
		s, err := decodeString(raw[f.field], name)
		if err != nil {
			return err
		}
		if f.ref && s != "" && !IsRef(s) {
			return Reject(CodeMalformed, name, "must be \"\" or a ref (sha256: and 64 lowercase hex digits), got %s", quoteShort(s))
		}
		*f.dst = s
	}
	verb, err := decodeString(raw[fVerb], "verb")
	if err != nil {
		return err
	}
	e.Verb = Verb(verb)

	if e.V, err = decodeVersion(raw[fV]); err != nil {
		return err
	}
	if e.Lamport, err = decodeLamport(raw[fLamport]); err != nil {
		return err
	}
	if e.ContentRefs, err = refList(raw[fContentRefs]); err != nil {
		return err
	}
	payload := raw[fPayload]
	if payload[0] != '{' {
		return Reject(CodeMalformed, "payload", "must be a JSON object, got %s", jsonKind(payload))
	}
	e.Payload, e.canonPayload = payload, payload
	return nil
}

func checkFieldSet(members map[string]json.RawMessage) error {
	if len(members) != len(fieldNames) {
		var unknown []string
		for k := range members {
			if !isFieldName(k) {
				unknown = append(unknown, k)
			}
		}
		if len(unknown) > 0 {
			sort.Strings(unknown)
			return Reject(CodeMalformed, unknown[0], "unknown field (an envelope has exactly the fields of PROTOCOL.md section 2)")
		}
	}
	for _, name := range fieldNames {
		if _, ok := members[name]; !ok {
			return Reject(CodeMalformed, name, "missing (every field is always present)")
		}
	}
	return nil
}

func isFieldName(k string) bool {
	i := sort.SearchStrings(fieldNames, k)
	return i < len(fieldNames) && fieldNames[i] == k
}

// decodeString reads a canonical JSON string. Canonical strings without a
// backslash are their bytes between the quotes.
func decodeString(raw json.RawMessage, field string) (string, error) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", Reject(CodeMalformed, field, "must be a string, got %s", jsonKind(raw))
	}
	inner := raw[1 : len(raw)-1]
	for _, c := range inner {
		if c == '\\' {
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return "", Reject(CodeMalformed, field, "bad string: %v", err)
			}
			return s, nil
		}
	}
	return string(inner), nil
}

// decodeVersion accepts any JSON number; a number that is not an integer
// comes back as -1, which Verify reports as bad_version.
func decodeVersion(raw json.RawMessage) (int64, error) {
	if !isNumber(raw) {
		return 0, Reject(CodeMalformed, "v", "must be a number, got %s", jsonKind(raw))
	}
	v, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return -1, nil
	}
	return v, nil
}

func decodeLamport(raw json.RawMessage) (uint64, error) {
	if !isNumber(raw) {
		return 0, Reject(CodeMalformed, "lamport", "must be a number, got %s", jsonKind(raw))
	}
	l, err := strconv.ParseUint(string(raw), 10, 64)
	if err != nil || l > MaxSafeInteger {
		return 0, Reject(CodeMalformed, "lamport", "must be an integer from 0 to 2^53, got %s", raw)
	}
	return l, nil
}

func decodeRefList(raw json.RawMessage) ([]string, error) {
	if raw[0] != '[' {
		return nil, Reject(CodeMalformed, "content_refs", "must be a list of refs, got %s", jsonKind(raw))
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, Reject(CodeMalformed, "content_refs", "bad list: %v", err)
	}
	refs := make([]string, len(items))
	for i, item := range items {
		field := fmt.Sprintf("content_refs[%d]", i)
		s, err := decodeString(item, field)
		if err != nil {
			return nil, err
		}
		if !IsRef(s) {
			return nil, Reject(CodeMalformed, field, "must be a ref (sha256: and 64 lowercase hex digits), got %s", quoteShort(s))
		}
		refs[i] = s
	}
	return refs, nil
}

// decodeRefListCanonical is decodeRefList for canonical text, reading the
// usual list (refs only, which need no escapes) without a generic decode.
// Anything else goes to decodeRefList.
func decodeRefListCanonical(raw json.RawMessage) ([]string, error) {
	if string(raw) == "[]" {
		return []string{}, nil
	}
	const item = len(`"`) + RefLen + len(`",`) // each ref, and its comma or the closing bracket
	if len(raw) < 1+item || raw[0] != '[' || (len(raw)-1)%item != 0 {
		return decodeRefList(raw)
	}
	refs := make([]string, (len(raw)-1)/item)
	for i := range refs {
		it := raw[1+i*item : 1+(i+1)*item]
		end := byte(',')
		if i == len(refs)-1 {
			end = ']'
		}
		if it[0] != '"' || it[1+RefLen] != '"' || it[2+RefLen] != end {
			return decodeRefList(raw)
		}
		if refs[i] = string(it[1 : 1+RefLen]); !IsRef(refs[i]) {
			return decodeRefList(raw)
		}
	}
	return refs, nil
}

func isNumber(raw json.RawMessage) bool {
	return len(raw) > 0 && (raw[0] == '-' || '0' <= raw[0] && raw[0] <= '9')
}

func jsonKind(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "a list"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// quoteShort quotes s for an error message, cut to 80 bytes so that a hostile
// field cannot flood a log.
func quoteShort(s string) string {
	const max = 80
	if len(s) > max {
		return strconv.Quote(s[:max]) + fmt.Sprintf(" (%d bytes)", len(s))
	}
	return strconv.Quote(s)
}
