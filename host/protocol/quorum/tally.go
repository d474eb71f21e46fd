package quorum

import (
	"errors"
	"fmt"
	"slices"

	"github.com/canswarm/swarmhost/abi/envelope"
)

// The verdicts of an ATTEST.
const (
	VerdictPass = "pass"
	VerdictFail = "fail"
)

// Errors of Add and Invalidate; those of Add also carry an
// *envelope.RejectError.
var (
	ErrMalformed          = errors.New("quorum: malformed attestation")
	ErrWrongCommit        = errors.New("quorum: attestation for another commit")
	ErrUnauthorized       = errors.New("quorum: verifier not named by the DECIDE")
	ErrAlreadyAttested    = errors.New("quorum: verifier already attested this commit")
	ErrUnknownAttestation = errors.New("quorum: unknown attestation")
)

// Attestation is what the tally needs of an ATTEST envelope.
type Attestation struct {
	ID         string // the envelope id
	VerifierPK string // its sender_pk
	Commit     string // payload.commit: the COMMIT envelope's id
	Verdict    string // payload.verdict: VerdictPass or VerdictFail
	Digest     string // its policy_eval_digest
}

// Outcome is what an accepted attestation did.
type Outcome string

// The outcomes of Add.
const (
	OutcomePass      Outcome = "pass"      // counts toward the quorum
	OutcomeMismatch  Outcome = "mismatch"  // a pass with an unexpected digest: not counted, challenge it
	OutcomeFail      Outcome = "fail"      // a fail verdict: not counted
	OutcomeDuplicate Outcome = "duplicate" // already added: no effect
)

type record struct {
	att         Attestation
	outcome     Outcome
	invalidated bool
}

// Tally counts the attestations of one COMMIT. The zero value is not usable;
// use NewTally.
type Tally struct {
	verifiers []string // in DECIDE order
	named     map[string]bool
	k         int
	commit    string
	digest    string
	byID      map[string]*record
	byVer     map[string]*record
}

// NewTally returns the tally for commitID, attested by the verifiers of the
// DECIDE, k of which must pass with expectedDigest, the host's own
// evaluation digest.
func NewTally(verifiers []string, k int, commitID, expectedDigest string) (*Tally, error) {
	t := &Tally{verifiers: slices.Clone(verifiers), named: map[string]bool{}, k: k,
		commit: commitID, digest: expectedDigest, byID: map[string]*record{}, byVer: map[string]*record{}}
	for _, v := range verifiers {
		if !envelope.IsPublicKey(v) {
			return nil, fmt.Errorf("quorum: verifier %q is not a public key", v)
		}
		if t.named[v] {
			return nil, fmt.Errorf("quorum: verifier %s named twice", v)
		}
		t.named[v] = true
	}
	switch {
	case k < 1 || k > len(verifiers):
		return nil, fmt.Errorf("quorum: k = %d with %d verifiers", k, len(verifiers))
	case !envelope.IsRef(commitID):
		return nil, fmt.Errorf("quorum: commit %q is not a ref", commitID)
	case !envelope.IsRef(expectedDigest):
		return nil, fmt.Errorf("quorum: expected digest %q is not a ref", expectedDigest)
	}
	return t, nil
}

type rejection struct {
	kind error
	re   *envelope.RejectError
}

func (e *rejection) Error() string   { return "quorum: " + e.re.Error() }
func (e *rejection) Unwrap() []error { return []error{e.kind, e.re} }

func reject(kind error, code envelope.Code, field, detail string, args ...any) error {
	return &rejection{kind, envelope.Reject(code, field, detail, args...)}
}

// Add records an attestation (see the package documentation for the rules).
func (t *Tally) Add(a Attestation) (Outcome, error) {
	const bad = envelope.CodeMalformed
	switch {
	case !envelope.IsRef(a.ID):
		return "", reject(ErrMalformed, bad, "id", "not a ref: %q", a.ID)
	case !envelope.IsPublicKey(a.VerifierPK):
		return "", reject(ErrMalformed, bad, "sender_pk", "not a public key: %q", a.VerifierPK)
	case !envelope.IsRef(a.Commit):
		return "", reject(ErrMalformed, bad, "payload.commit", "not a ref: %q", a.Commit)
	case a.Verdict != VerdictPass && a.Verdict != VerdictFail:
		return "", reject(ErrMalformed, bad, "payload.verdict", "%q is neither pass nor fail", a.Verdict)
	case !envelope.IsRef(a.Digest):
		return "", reject(ErrMalformed, bad, "policy_eval_digest", "not a ref: %q", a.Digest)
	}
	if r, ok := t.byID[a.ID]; ok {
		if r.att != a {
			return "", reject(ErrMalformed, envelope.CodeIDMismatch, "id", "%s already names another attestation", a.ID)
		}
		return OutcomeDuplicate, nil
	}
	switch {
	case a.Commit != t.commit:
		return "", reject(ErrWrongCommit, envelope.CodeWrongState, "payload.commit", "attests %s, not %s", a.Commit, t.commit)
	case !t.named[a.VerifierPK]:
		return "", reject(ErrUnauthorized, envelope.CodeUnauthorized, "sender_pk", "verifier %s is not named by the DECIDE", a.VerifierPK)
	case t.byVer[a.VerifierPK] != nil:
		return "", reject(ErrAlreadyAttested, envelope.CodeWrongState, "sender_pk", "verifier %s already attested in %s", a.VerifierPK, t.byVer[a.VerifierPK].att.ID)
	}
	r := &record{att: a, outcome: OutcomeFail}
	if a.Verdict == VerdictPass {
		r.outcome = OutcomeMismatch
		if a.Digest == t.digest {
			r.outcome = OutcomePass
		}
	}
	t.byID[a.ID], t.byVer[a.VerifierPK] = r, r
	return r.outcome, nil
}

// Invalidate applies an upheld challenge against the attestation attID: it
// no longer counts. Invalidating twice is no error.
func (t *Tally) Invalidate(attID string) error {
	r, ok := t.byID[attID]
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownAttestation, attID)
	}
	r.invalidated = true
	return nil
}

// Counted returns the ids of the attestations that count (pass, expected
// digest, not invalidated), sorted ascending.
func (t *Tally) Counted() []string {
	ids := []string{}
	for id, r := range t.byID {
		if r.outcome == OutcomePass && !r.invalidated {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// Reached reports whether k attestations count.
func (t *Tally) Reached() bool { return len(t.Counted()) >= t.k }

// Attestations returns FINALIZE's attestations[]: the k smallest counted ids,
// sorted ascending, or nil when the quorum is not reached.
func (t *Tally) Attestations() []string {
	ids := t.Counted()
	if len(ids) < t.k {
		return nil
	}
	return ids[:t.k:t.k]
}

// Pending returns the verifiers that have not attested yet, in DECIDE order.
func (t *Tally) Pending() []string {
	var out []string
	for _, v := range t.verifiers {
		if t.byVer[v] == nil {
			out = append(out, v)
		}
	}
	return out
}

// Failed reports whether the quorum can no longer be reached: the counted
// attestations and the pending verifiers together are fewer than k.
func (t *Tally) Failed() bool { return len(t.Counted())+len(t.Pending()) < t.k }
