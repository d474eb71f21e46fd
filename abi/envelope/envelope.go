package envelope

import (
	"crypto/sha256"
	"encoding/hex"
)

// Version is the protocol version this package speaks (the envelope's "v").
const Version = 1

// Size limits of PROTOCOL.md section 2.
const (
	// MaxEnvelopeBytes bounds the JCS form of a whole envelope.
	MaxEnvelopeBytes = 64 << 10
	// MaxPayloadBytes bounds the JCS form of the payload.
	MaxPayloadBytes = 32 << 10
	// MaxContentRefs bounds the content_refs list.
	MaxContentRefs = 64
	// MaxInputBytes is how much raw text Decode parses at all. Anything longer
	// is too_large without being parsed: a receiver must not spend unbounded
	// work on a message that could never be accepted. It is 16 times the
	// envelope limit, so whitespace-padded but canonically small envelopes
	// still get the check order of section 2.
	MaxInputBytes = 16 * MaxEnvelopeBytes
	// MaxSafeInteger is the largest integer a signed object may carry as a
	// number (2^53, JCS number rules).
	MaxSafeInteger = 1 << 53
)

// Verb is one of the message kinds of PROTOCOL.md section 5.
type Verb string

// The verbs of PROTOCOL.md section 5.
const (
	VerbNeed       Verb = "NEED"
	VerbPropose    Verb = "PROPOSE"
	VerbDecide     Verb = "DECIDE"
	VerbClaim      Verb = "CLAIM"
	VerbHeartbeat  Verb = "HEARTBEAT"
	VerbYield      Verb = "YIELD"
	VerbRelease    Verb = "RELEASE"
	VerbCommit     Verb = "COMMIT"
	VerbAttest     Verb = "ATTEST"
	VerbFinalize   Verb = "FINALIZE"
	VerbChallenge  Verb = "CHALLENGE"
	VerbInvalidate Verb = "INVALIDATE"
	VerbUpdatePlan Verb = "UPDATE_PLAN"
	VerbReconcile  Verb = "RECONCILE"
	VerbCheckpoint Verb = "CHECKPOINT"
)

// Verbs lists every verb in the order of PROTOCOL.md section 5.
var Verbs = []Verb{
	VerbNeed, VerbPropose, VerbDecide, VerbClaim, VerbHeartbeat, VerbYield, VerbRelease,
	VerbCommit, VerbAttest, VerbFinalize, VerbChallenge, VerbInvalidate, VerbUpdatePlan,
	VerbReconcile, VerbCheckpoint,
}

// Known reports whether v is a verb of protocol version 1.
func (v Verb) Known() bool {
	switch v {
	case VerbNeed, VerbPropose, VerbDecide, VerbClaim, VerbHeartbeat, VerbYield, VerbRelease,
		VerbCommit, VerbAttest, VerbFinalize, VerbChallenge, VerbInvalidate, VerbUpdatePlan,
		VerbReconcile, VerbCheckpoint:
		return true
	}
	return false
}

// Envelope is a CAN Swarm message (PROTOCOL.md section 2). Field values are
// kept exactly as signed; Payload holds the payload's JCS bytes.
//
// An Envelope obtained from [Decode] or [Sign] carries its canonical wire
// bytes; one built by hand has none until [Envelope.Wire] computes them.
type Envelope struct {
	V                 int64
	ID                string
	ThreadID          string
	Verb              Verb
	Lamport           uint64
	SenderPK          string
	Capability        string
	ContentRefs       []string
	Payload           []byte // JCS of the payload object
	PayloadHash       string
	PolicyCapsuleHash string
	PolicyEvalDigest  string
	Sig               string

	wire []byte // canonical form, set by Decode and Sign
	// canonPayload is Payload as Decode or Prepare made it, canonical:
	// PayloadIsCanonical holds while Payload is still that slice.
	canonPayload []byte
}

// PayloadIsCanonical reports whether Payload is still the slice Decode or
// Prepare gave it, the JCS text of a JSON object, so that a reader need
// not validate it again. The bytes must not have been changed since (a
// Payload is never to be changed in place).
func (e *Envelope) PayloadIsCanonical() bool {
	return len(e.Payload) > 0 && len(e.Payload) == len(e.canonPayload) && &e.Payload[0] == &e.canonPayload[0]
}

// Thread returns the id of the NEED this envelope belongs to: its thread_id,
// or its own id for a NEED (whose thread_id is "").
func (e *Envelope) Thread() string {
	if e.ThreadID == "" && e.Verb == VerbNeed {
		return e.ID
	}
	return e.ThreadID
}

// Wire returns the envelope's JCS form, all fields included. The slice must
// not be modified.
func (e *Envelope) Wire() []byte {
	if e.wire == nil {
		e.wire = appendWire(make([]byte, 0, wireSizeHint(e)), e)
	}
	return e.wire
}

// SigningForm returns the bytes the id hashes: JCS of the envelope without
// id, sig and payload.
func (e *Envelope) SigningForm() []byte { return appendSigningForm(nil, e) }

// ComputeID returns "sha256:" + hex SHA-256 of the signing form.
func (e *Envelope) ComputeID() string {
	var buf [RefLen]byte
	return string(e.appendID(buf[:0]))
}

// appendID appends the id computed from the signing form to dst. The signing
// form is written on the stack unless it is unusually long.
func (e *Envelope) appendID(dst []byte) []byte {
	var form [2048]byte
	return appendHashRef(dst, appendSigningForm(form[:0], e))
}

// ComputePayloadHash returns "sha256:" + hex SHA-256 of the payload's JCS.
func (e *Envelope) ComputePayloadHash() string { return HashRef(e.Payload) }

// SignedMessage returns the bytes the Ed25519 signature covers.
func SignedMessage(id string) []byte {
	return appendSignedMessage(make([]byte, 0, len(signingDomain)+len(id)), id)
}

func appendSignedMessage(dst []byte, id string) []byte {
	return append(append(dst, signingDomain...), id...)
}

const signingDomain = "CANSWARM-ENVELOPE-V1\n"

// RefPrefix starts every hash and content reference.
const RefPrefix = "sha256:"

// RefLen is the length of a ref: "sha256:" and 64 hex digits.
const RefLen = len(RefPrefix) + 64

// HashRef returns the ref of b: "sha256:" + 64 lowercase hex digits.
func HashRef(b []byte) string {
	var buf [RefLen]byte
	return string(appendHashRef(buf[:0], b))
}

// appendHashRef appends the ref of b to dst.
func appendHashRef(dst, b []byte) []byte {
	sum := sha256.Sum256(b)
	return hex.AppendEncode(append(dst, RefPrefix...), sum[:])
}

// IsRef reports whether s is a well-formed ref ("sha256:" + 64 lowercase hex).
func IsRef(s string) bool {
	if len(s) != RefLen || s[:len(RefPrefix)] != RefPrefix {
		return false
	}
	return isLowerHex(s[len(RefPrefix):])
}

// IsPublicKey reports whether s is a well-formed public key (64 lowercase hex).
func IsPublicKey(s string) bool { return len(s) == 64 && isLowerHex(s) }

// decodeLowerHex decodes s, which isLowerHex accepts, into dst, which is
// half its length.
func decodeLowerHex(dst []byte, s string) {
	for i := range dst {
		dst[i] = unhex(s[2*i])<<4 | unhex(s[2*i+1])
	}
}

// isLowerHex reports whether s is all lowercase hex digits. Keys, refs
// and signatures (64 and 128 digits) are checked on every envelope, so it
// takes eight bytes at a time: for a byte b below 0x80, b+k sets the byte's
// top bit exactly when b >= 0x80-k, and no sum carries into the next byte.
func isLowerHex(s string) bool {
	const (
		ones = 0x0101010101010101
		high = 0x80 * ones
	)
	for len(s) >= 8 {
		_ = s[7]
		w := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
			uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
		if w&high != 0 {
			return false
		}
		digit := (w + (0x80-'0')*ones) &^ (w + (0x80-'9'-1)*ones)
		letter := (w + (0x80-'a')*ones) &^ (w + (0x80-'f'-1)*ones)
		if (digit|letter)&high != high {
			return false
		}
		s = s[8:]
	}
	for i := 0; i < len(s); i++ {
		if !isLowerHexDigit(s[i]) {
			return false
		}
	}
	return true
}
