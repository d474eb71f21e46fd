package envelope

import (
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
)

// Verify decodes wire text and runs every stateless check of PROTOCOL.md
// section 2 in its order: malformed, bad_version, unknown_verb, too_large,
// payload_hash_mismatch, id_mismatch, bad_signature. It returns the envelope
// and nil, or the envelope as far as it could be decoded (nil when malformed)
// and the first failure as a *RejectError.
func Verify(wire []byte) (*Envelope, error) {
	e, err := Decode(wire)
	if err != nil {
		return nil, err
	}
	return e, e.Check()
}

// Check runs the stateless checks after malformed on a decoded envelope, in
// the order of section 2.
func (e *Envelope) Check() error {
	if e.V != Version {
		if e.V == -1 {
			return Reject(CodeBadVersion, "v", "version is not an integer; this receiver speaks version %d", Version)
		}
		return Reject(CodeBadVersion, "v", "version %d; this receiver speaks version %d", e.V, Version)
	}
	if !e.Verb.Known() {
		return Reject(CodeUnknownVerb, "verb", "%s is not a verb of protocol version %d", quoteShort(string(e.Verb)), Version)
	}
	if err := e.checkSizes(); err != nil {
		return err
	}
	// The hashes are compared as bytes on the stack; strings are made only
	// for a rejection.
	var buf [RefLen]byte
	if got := appendHashRef(buf[:0], e.Payload); string(got) != e.PayloadHash {
		return Reject(CodePayloadHashMismatch, "payload_hash", "is %s but the payload hashes to %s", quoteShort(e.PayloadHash), string(got))
	}
	if got := e.appendID(buf[:0]); string(got) != e.ID {
		return Reject(CodeIDMismatch, "id", "is %s but the signing form hashes to %s", quoteShort(e.ID), string(got))
	}
	return e.checkSignature()
}

func (e *Envelope) checkSizes() error { return e.checkSizesOf(len(e.Wire())) }

// checkSizesOf checks the limits of section 2 for an envelope whose wire
// form is wireLen bytes long.
func (e *Envelope) checkSizesOf(wireLen int) error {
	if n := wireLen; n > MaxEnvelopeBytes {
		return Reject(CodeTooLarge, "", "envelope is %d bytes in JCS form, limit %d", n, MaxEnvelopeBytes)
	}
	if n := len(e.Payload); n > MaxPayloadBytes {
		return Reject(CodeTooLarge, "payload", "%d bytes in JCS form, limit %d (put bigger data in the CAS)", n, MaxPayloadBytes)
	}
	if n := len(e.ContentRefs); n > MaxContentRefs {
		return Reject(CodeTooLarge, "content_refs", "%d refs, limit %d", n, MaxContentRefs)
	}
	return nil
}

func (e *Envelope) checkSignature() error {
	// Key, signature and message are decoded into arrays on the stack.
	var pk [ed25519.PublicKeySize]byte
	if err := decodePublicKey(pk[:], e.SenderPK); err != nil {
		return Reject(CodeBadSignature, "sender_pk", "%v", err)
	}
	if len(e.Sig) != 2*ed25519.SignatureSize || !isLowerHex(e.Sig) {
		return Reject(CodeBadSignature, "sig", "must be %d lowercase hex digits", 2*ed25519.SignatureSize)
	}
	var sig [ed25519.SignatureSize]byte
	decodeLowerHex(sig[:], e.Sig)
	var msg [len(signingDomain) + RefLen]byte // e.ID matched the computed id: it is RefLen bytes
	if !ed25519.Verify(pk[:], appendSignedMessage(msg[:0], e.ID), sig[:]) {
		return Reject(CodeBadSignature, "sig", "does not verify under sender_pk %s", e.SenderPK)
	}
	return nil
}

// DecodePublicKey parses a public key written as 64 lowercase hex digits.
func DecodePublicKey(s string) (ed25519.PublicKey, error) {
	pk := make([]byte, ed25519.PublicKeySize)
	if err := decodePublicKey(pk, s); err != nil {
		return nil, err
	}
	return pk, nil
}

func decodePublicKey(dst []byte, s string) error {
	if !IsPublicKey(s) {
		return fmt.Errorf("a public key is 64 lowercase hex digits, got %s", quoteShort(s))
	}
	decodeLowerHex(dst, s)
	return nil
}

// EncodePublicKey writes a public key as 64 lowercase hex digits.
func EncodePublicKey(pk ed25519.PublicKey) string { return hex.EncodeToString(pk) }
