package envelope

import (
	"crypto/ed25519"
	"strconv"
)

// This file writes the fixed-schema parts of an envelope in RFC 8785 form
// without a generic JSON round trip. Every key is ASCII, so JCS's UTF-16
// key order is plain byte order, fixed at compile time; strings are escaped
// as RFC 8785 section 3.2.2.2 says; integers are plain decimals (JCS renders
// every integer up to 2^53 that way). The payload is already JCS bytes.
// Tests check this writer against jcs.Transform on random envelopes.

const hexDigits = "0123456789abcdef"

// AppendJCSString appends s as an RFC 8785 string literal. s must be valid
// UTF-8 (callers check); bytes >= 0x80 are copied as they are.
func AppendJCSString(b []byte, s string) []byte { return appendJCSString(b, s) }

func appendJCSString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"':
			b = append(b, '\\', '"')
		case '\\':
			b = append(b, '\\', '\\')
		case '\b':
			b = append(b, '\\', 'b')
		case '\t':
			b = append(b, '\\', 't')
		case '\n':
			b = append(b, '\\', 'n')
		case '\f':
			b = append(b, '\\', 'f')
		case '\r':
			b = append(b, '\\', 'r')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

func appendStringList(b []byte, list []string) []byte {
	b = append(b, '[')
	for i, s := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJCSString(b, s)
	}
	return append(b, ']')
}

// appendSigningForm appends JCS of the envelope without id, sig and payload.
func appendSigningForm(b []byte, e *Envelope) []byte { return appendFields(b, e, false) }

// wireSizeHint is about the length of the envelope's JCS form (exact unless
// strings need escapes): a capacity for appendWire.
func wireSizeHint(e *Envelope) int {
	n := 256 + len(e.Payload) + len(e.Capability) + len(e.ID) + len(e.PayloadHash) +
		len(e.PolicyCapsuleHash) + len(e.PolicyEvalDigest) + len(e.SenderPK) + len(e.Sig) +
		len(e.ThreadID) + len(e.Verb)
	for _, r := range e.ContentRefs {
		n += len(r) + 3
	}
	return n
}

// signedWireLen is the length of e's wire form once signed, from the
// length of its signing form: the wire form adds three members, id,
// payload and sig, each a comma, its key and its value (id and sig are hex,
// quoted as they are).
func signedWireLen(signingFormLen int, e *Envelope) int {
	payload := len(e.Payload)
	if payload == 0 {
		payload = len("{}")
	}
	return signingFormLen + len(`,"id":""`) + len(e.ID) + len(`,"payload":`) + payload +
		len(`,"sig":""`) + 2*ed25519.SignatureSize
}

// appendWire appends the JCS form of the whole envelope.
func appendWire(b []byte, e *Envelope) []byte { return appendFields(b, e, true) }

// AppendUnsigned appends the JCS form of the envelope without its sig
// member: what a policy evaluation sees of it (PROTOCOL.md section 7).
func AppendUnsigned(b []byte, e *Envelope) []byte { return appendMembers(b, e, true, false) }

// appendFields writes the envelope's fields in JCS key order; whole adds id,
// payload and sig (the wire form), without them it is the signing form.
func appendFields(b []byte, e *Envelope, whole bool) []byte { return appendMembers(b, e, whole, whole) }

// appendMembers is appendFields with the sig member apart: withIDPayload
// adds id and payload, withSig the signature.
func appendMembers(b []byte, e *Envelope, withIDPayload, withSig bool) []byte {
	b = append(b, `{"capability":`...)
	b = appendJCSString(b, e.Capability)
	b = append(b, `,"content_refs":`...)
	b = appendStringList(b, e.ContentRefs)
	if withIDPayload {
		b = append(b, `,"id":`...)
		b = appendJCSString(b, e.ID)
	}
	b = append(b, `,"lamport":`...)
	b = strconv.AppendUint(b, e.Lamport, 10)
	if withIDPayload {
		b = append(b, `,"payload":`...)
		if len(e.Payload) == 0 {
			b = append(b, "{}"...)
		} else {
			b = append(b, e.Payload...)
		}
	}
	b = append(b, `,"payload_hash":`...)
	b = appendJCSString(b, e.PayloadHash)
	b = append(b, `,"policy_capsule_hash":`...)
	b = appendJCSString(b, e.PolicyCapsuleHash)
	b = append(b, `,"policy_eval_digest":`...)
	b = appendJCSString(b, e.PolicyEvalDigest)
	b = append(b, `,"sender_pk":`...)
	b = appendJCSString(b, e.SenderPK)
	if withSig {
		b = append(b, `,"sig":`...)
		b = appendJCSString(b, e.Sig)
	}
	b = append(b, `,"thread_id":`...)
	b = appendJCSString(b, e.ThreadID)
	b = append(b, `,"v":`...)
	b = strconv.AppendInt(b, e.V, 10)
	b = append(b, `,"verb":`...)
	b = appendJCSString(b, string(e.Verb))
	return append(b, '}')
}
