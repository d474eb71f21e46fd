package quorum_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/protocol/quorum"
)

func att(id string, v int, verdict, dig string) quorum.Attestation {
	return quorum.Attestation{ID: ref(id), VerifierPK: pk(v), Commit: commit, Verdict: verdict, Digest: dig}
}

func newTally(t *testing.T, k int, vs ...int) *quorum.Tally {
	t.Helper()
	tl, err := quorum.NewTally(pks(vs...), k, commit, digest)
	if err != nil {
		t.Fatal(err)
	}
	return tl
}

func add(t *testing.T, tl *quorum.Tally, a quorum.Attestation, want quorum.Outcome) {
	t.Helper()
	if got, err := tl.Add(a); err != nil || got != want {
		t.Fatalf("Add(%s): %s, %v; want %s", a.ID, got, err, want)
	}
}

func TestTallyQuorum(t *testing.T) {
	tl := newTally(t, 2, 1, 2, 3)
	add(t, tl, att("a", 1, "pass", digest), quorum.OutcomePass)
	add(t, tl, att("a", 1, "pass", digest), quorum.OutcomeDuplicate)
	if tl.Reached() || tl.Failed() || tl.Attestations() != nil {
		t.Fatal("one pass of two reached or failed")
	}
	add(t, tl, att("b", 2, "pass", ref("other")), quorum.OutcomeMismatch)
	if tl.Reached() || tl.Failed() {
		t.Fatal("a mismatch counted")
	}
	add(t, tl, att("c", 3, "pass", digest), quorum.OutcomePass)
	want := []string{ref("a"), ref("c")}
	slices.Sort(want)
	if !tl.Reached() || tl.Failed() || !slices.Equal(tl.Attestations(), want) {
		t.Fatalf("reached %v, attestations %v", tl.Reached(), tl.Attestations())
	}
	if err := tl.Invalidate(ref("c")); err != nil {
		t.Fatal(err)
	}
	if err := tl.Invalidate(ref("c")); err != nil {
		t.Fatal("a second INVALIDATE is an error:", err)
	}
	if tl.Reached() || !tl.Failed() || len(tl.Pending()) != 0 {
		t.Fatalf("after invalidation: reached %v, failed %v", tl.Reached(), tl.Failed())
	}
	if _, err := tl.Add(att("c2", 3, "pass", digest)); !errors.Is(err, quorum.ErrAlreadyAttested) {
		t.Fatalf("an invalidated verifier attested again: %v", err)
	}
	add(t, tl, att("c", 3, "pass", digest), quorum.OutcomeDuplicate)
	if tl.Reached() {
		t.Fatal("a duplicate revived an invalidated attestation")
	}
	if err := tl.Invalidate(ref("zz")); !errors.Is(err, quorum.ErrUnknownAttestation) {
		t.Fatal(err)
	}
}

// With more than k counted, FINALIZE names the k smallest ids.
func TestTallyAttestationsAreTheKSmallest(t *testing.T) {
	tl := newTally(t, 2, 1, 2, 3, 4)
	var ids []string
	for i, name := range []string{"w", "x", "y", "z"} {
		add(t, tl, att(name, i+1, "pass", digest), quorum.OutcomePass)
		ids = append(ids, ref(name))
	}
	slices.Sort(ids)
	if got := tl.Attestations(); !slices.Equal(got, ids[:2]) || !slices.Equal(tl.Counted(), ids) {
		t.Fatalf("attestations %v, counted %v; want %v", got, tl.Counted(), ids)
	}
}

func TestTallyFails(t *testing.T) {
	tl := newTally(t, 2, 1, 2, 3)
	add(t, tl, att("a", 1, "fail", digest), quorum.OutcomeFail)
	if tl.Failed() {
		t.Fatal("failed with two verifiers pending")
	}
	add(t, tl, att("b", 2, "pass", ref("x")), quorum.OutcomeMismatch)
	if !tl.Failed() || tl.Reached() || !slices.Equal(tl.Pending(), pks(3)) {
		t.Fatalf("failed %v, pending %v", tl.Failed(), tl.Pending())
	}
}

func TestTallyRefusals(t *testing.T) {
	other := att("o", 1, "pass", digest)
	other.Commit = ref("other commit")
	tests := []struct {
		name string
		a    quorum.Attestation
		kind error
		code envelope.Code
	}{
		{"verdict", att("x", 1, "maybe", digest), quorum.ErrMalformed, envelope.CodeMalformed},
		{"id", quorum.Attestation{ID: "x", VerifierPK: pk(1), Commit: commit, Verdict: "pass", Digest: digest}, quorum.ErrMalformed, envelope.CodeMalformed},
		{"digest", att("x", 1, "fail", ""), quorum.ErrMalformed, envelope.CodeMalformed},
		{"same id, other content", att("a", 2, "fail", digest), quorum.ErrMalformed, envelope.CodeIDMismatch},
		{"another commit", other, quorum.ErrWrongCommit, envelope.CodeWrongState},
		{"a verifier not in the DECIDE", att("x", 9, "pass", digest), quorum.ErrUnauthorized, envelope.CodeUnauthorized},
		{"a second attestation", att("x", 1, "fail", digest), quorum.ErrAlreadyAttested, envelope.CodeWrongState},
	}
	tl := newTally(t, 1, 1, 2)
	add(t, tl, att("a", 1, "pass", digest), quorum.OutcomePass)
	for _, tc := range tests {
		out, err := tl.Add(tc.a)
		if !errors.Is(err, tc.kind) || envelope.CodeOf(err) != tc.code || out != "" {
			t.Errorf("%s: %q, %v; want %v (%s)", tc.name, out, err, tc.kind, tc.code)
		}
	}
	if !slices.Equal(tl.Counted(), []string{ref("a")}) || !slices.Equal(tl.Pending(), pks(2)) {
		t.Fatalf("a refusal changed the tally: %v %v", tl.Counted(), tl.Pending())
	}
}

func TestNewTallyRefusals(t *testing.T) {
	for _, tc := range []struct {
		name      string
		vs        []string
		k         int
		commit, d string
	}{
		{"k = 0", pks(1), 0, commit, digest},
		{"k > n", pks(1, 2), 3, commit, digest},
		{"no verifiers", nil, 1, commit, digest},
		{"a verifier twice", pks(1, 1), 1, commit, digest},
		{"a bad key", []string{"x"}, 1, commit, digest},
		{"a bad commit", pks(1), 1, "c", digest},
		{"a bad digest", pks(1), 1, commit, ""},
	} {
		if _, err := quorum.NewTally(tc.vs, tc.k, tc.commit, tc.d); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
}
