package envelope

// DecodeFast is Decode's fast path alone: ok is false where Decode would fall
// back to the slow path.
func DecodeFast(wire []byte) (e *Envelope, ok bool) {
	if len(wire) > MaxInputBytes {
		return nil, false
	}
	return decodeCanonical(wire, false)
}

// DecodeSlow is Decode with the fast path turned off: jcs.Transform and a
// generic decode, the reference for every verdict.
func DecodeSlow(wire []byte) (*Envelope, error) {
	if len(wire) > MaxInputBytes {
		return Decode(wire)
	}
	return decodeAny(wire)
}

// SignedWireLen is the length Prepare checks: what e's wire form will be
// once signed.
func SignedWireLen(e *Envelope) int { return signedWireLen(len(e.SigningForm()), e) }
