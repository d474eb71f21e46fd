// Package quorum chooses the verifiers of a decision and counts their
// attestations (PROTOCOL.md sections 5 and 11, P3). It is pure: the same
// inputs give the same answers on every host and under replay.
//
// # Choosing verifiers
//
// [Choose] picks n verifiers for a NEED from the live verifier pool by
// rendezvous (highest-random-weight) hashing. The weight of verifier v is
// [Weight](need, v): the SHA-256 of the ASCII bytes need id + "\n" + v
// (the NEED id in its "sha256:..." spelling, v as 64 lowercase hex),
// compared as a 32-byte big-endian number. The pool is de-duplicated, the
// worker (exclude) is removed, and the n heaviest verifiers are returned,
// heaviest first (weight descending; equal weights, which would take a
// SHA-256 collision, by key ascending). The choice depends on the set of
// keys only, and is stable: adding or removing a verifier that was not
// chosen does not change it, and removing a chosen one replaces only that
// one. Fewer than n eligible verifiers is [ErrPoolTooSmall].
//
// # Counting attestations
//
// A [Tally] counts the ATTESTs for one COMMIT against the verifiers and k
// of its DECIDE and the host's own evaluation digest of the commit's
// result. [Tally.Add] checks an attestation in this order, the first
// failure being the answer; a refused attestation changes nothing:
//
//  1. malformed: id, commit and digest must be refs, the verifier a public
//     key, the verdict "pass" or "fail" (errors.Is ErrMalformed; code
//     malformed).
//  2. The id of an attestation already added: with the same content,
//     OutcomeDuplicate, no effect (an invalidated one stays invalidated);
//     with other content, which no real envelope can have, ErrMalformed
//     with code id_mismatch.
//  3. Another commit: ErrWrongCommit, code wrong_state.
//  4. A verifier the DECIDE does not name: ErrUnauthorized, code
//     unauthorized.
//  5. A verifier that already attested this commit (one per verifier per
//     commit, whatever the verdict, even if that attestation was since
//     invalidated): ErrAlreadyAttested, code wrong_state.
//
// Errors carry an *envelope.RejectError, so envelope.CodeOf gives the code.
// An accepted attestation is recorded and answered:
//
//   - OutcomePass: verdict pass with the expected digest; it counts.
//   - OutcomeMismatch: verdict pass with another digest; it does not count,
//     and the host CHALLENGEs it.
//   - OutcomeFail: verdict fail; it does not count.
//
// [Tally.Invalidate] applies an upheld challenge (INVALIDATE): the
// attestation no longer counts, and its verifier may not attest again.
//
// [Tally.Reached] is true while at least k attestations count; they are
// from k distinct verifiers named by the DECIDE, all pass, all with the
// expected digest (P3). [Tally.Attestations] is then FINALIZE's
// attestations[]: the k smallest ids among the counted attestations, sorted
// ascending. It depends only on the set of attestations added and
// invalidated, not on their order, so replay recomputes it; it may change
// as more passes arrive, so the host takes it when it emits the FINALIZE.
// [Tally.Failed] is true when the counted passes plus the verifiers that
// have not attested yet are fewer than k: quorum can no longer be reached.
//
// The package imports only the standard library and abi/envelope; it reads
// no clock, draws no random number and does no I/O.
package quorum
