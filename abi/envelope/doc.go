// Package envelope is the CAN Swarm wire format: the signed, content-addressed
// envelope of PROTOCOL.md section 2 and the capability tokens of section 4.
//
// # Contract
//
//   - An [Envelope] on the wire is its RFC 8785 (JCS) form, every field present.
//     [Decode] accepts any JSON text whose canonical form is a well-typed
//     envelope and keeps only the canonical form: re-encoding a decoded
//     envelope with [Envelope.Wire] gives the JCS bytes, whatever whitespace or
//     key order the sender used.
//   - The identity of an envelope is its id: "sha256:" + hex SHA-256 of the
//     signing form, the JCS of the envelope without id, sig and payload. The
//     payload is bound through payload_hash, so it may be detached.
//   - The signature is Ed25519 by sender_pk over "CANSWARM-ENVELOPE-V1\n" + id.
//   - [Verify] runs the stateless checks in the order PROTOCOL.md fixes and
//     reports the first failure as a [*RejectError] carrying a [Code]:
//     malformed, bad_version, unknown_verb, too_large, payload_hash_mismatch,
//     id_mismatch, bad_signature. The checks that need state (bad_capability,
//     unauthorized, stale_lamport, wrong_state, stale_fence) belong to the
//     caller; their codes are defined here so that every layer reports the
//     same words. Use [CodeOf] or errors.As to switch on the code.
//   - [Sign] never produces an envelope that [Verify] would reject.
//   - Capability tokens ([Token]) are JCS objects signed by an issuer over
//     "CANSWARM-CAPABILITY-V1\n" + the token's hash without sig; [CheckToken]
//     decides whether a token authorises an envelope.
//
// The package imports only the standard library and github.com/gowebpki/jcs,
// and builds for GOOS=wasip1 GOARCH=wasm, so that agents compiled to
// WebAssembly can use it through the SDK. It does no I/O.
package envelope
