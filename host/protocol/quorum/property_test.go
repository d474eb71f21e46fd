package quorum_test

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/canswarm/swarmhost/host/protocol/quorum"
)

func drawPool(t *rapid.T) []string {
	return pks(rapid.SliceOfDistinct(rapid.IntRange(0, 30), rapid.ID[int]).Draw(t, "pool")...)
}

// Choose returns n distinct members of the pool, never the worker, the
// heaviest ones, whatever the order and repeats of the pool.
func TestPropertyChoose(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		pool := drawPool(t)
		exclude := pk(rapid.IntRange(0, 35).Draw(t, "worker"))
		n := rapid.IntRange(1, 8).Draw(t, "n")
		got, err := quorum.Choose(need, pool, exclude, n)
		eligible := slices.DeleteFunc(slices.Clone(pool), func(v string) bool { return v == exclude })
		if len(eligible) < n {
			if err == nil {
				t.Fatalf("chose %d of %d eligible", n, len(eligible))
			}
			return
		}
		if err != nil || len(got) != n {
			t.Fatalf("got %v, %v", got, err)
		}
		for i, v := range got {
			if v == exclude || !slices.Contains(pool, v) || slices.Contains(got[:i], v) {
				t.Fatalf("chose %s: worker, outsider or repeat", v)
			}
			if i > 0 {
				a, b := quorum.Weight(need, got[i-1]), quorum.Weight(need, v)
				if bytes.Compare(a[:], b[:]) <= 0 {
					t.Fatal("not heaviest first")
				}
			}
		}
		last := quorum.Weight(need, got[n-1])
		for _, v := range eligible {
			if w := quorum.Weight(need, v); !slices.Contains(got, v) && bytes.Compare(w[:], last[:]) > 0 {
				t.Fatalf("left out %s, heavier than a chosen one", v)
			}
		}
		shuffled := rapid.Permutation(append(slices.Clone(pool), rapid.SliceOf(rapid.SampledFrom(pool)).Draw(t, "repeats")...)).Draw(t, "order")
		if again, err := quorum.Choose(need, shuffled, exclude, n); err != nil || !slices.Equal(again, got) {
			t.Fatalf("reordered pool: %v, %v; want %v", again, err, got)
		}
		// Stability: removing a verifier not chosen changes nothing; n+1
		// extends the choice of n.
		if drop := slices.DeleteFunc(slices.Clone(eligible), func(v string) bool { return slices.Contains(got, v) }); len(drop) > 0 {
			d := rapid.SampledFrom(drop).Draw(t, "drop")
			smaller := slices.DeleteFunc(slices.Clone(pool), func(v string) bool { return v == d })
			if again, err := quorum.Choose(need, smaller, exclude, n); err != nil || !slices.Equal(again, got) {
				t.Fatalf("without %s: %v, %v; want %v", d, again, err, got)
			}
			if more, err := quorum.Choose(need, pool, exclude, n+1); err != nil || !slices.Equal(more[:n], got) {
				t.Fatalf("n+1: %v, %v; want a prefix %v", more, err, got)
			}
		}
	})
}

// op is an Add (inv false) or an Invalidate of att.ID.
type op struct {
	att quorum.Attestation
	inv bool
}

func (o op) GoString() string {
	if o.inv {
		return "invalidate " + o.att.ID[7:15]
	}
	return fmt.Sprintf("add %s %s %s %s %s", o.att.ID[7:15], o.att.VerifierPK[:6], o.att.Commit[7:13], o.att.Verdict, o.att.Digest[7:13])
}

// drawAtt draws an attestation from a verifier in 0..7, of which the tally
// names 0..n-1, usually for the right commit and the expected digest.
func drawAtt(t *rapid.T, i int) quorum.Attestation {
	a := quorum.Attestation{ID: ref(fmt.Sprint("att ", i)), VerifierPK: pk(rapid.IntRange(0, 7).Draw(t, "verifier")),
		Commit: commit, Verdict: rapid.SampledFrom([]string{"pass", "pass", "pass", "fail"}).Draw(t, "verdict"), Digest: digest}
	if rapid.IntRange(0, 9).Draw(t, "other commit") == 0 {
		a.Commit = ref("other commit")
	}
	if rapid.IntRange(0, 4).Draw(t, "other digest") == 0 {
		a.Digest = ref("other digest")
	}
	return a
}

// P3: whenever the quorum is reached, Attestations names k distinct
// verifiers of the DECIDE, each with a counted pass with the expected
// digest; a failed tally stays failed, and is never reached.
func TestPropertyQuorumIntegrity(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 6).Draw(t, "n")
		k := rapid.IntRange(1, n).Draw(t, "k")
		tl, err := quorum.NewTally(pks(slices.Collect(func(y func(int) bool) {
			for i := range n {
				y(i)
			}
		})...), k, commit, digest)
		if err != nil {
			t.Fatal(err)
		}
		added := map[string]quorum.Attestation{}
		invalid := map[string]bool{}
		var history []quorum.Attestation
		failed := false
		for i := range rapid.IntRange(0, 20).Draw(t, "steps") {
			switch c := rapid.IntRange(0, 9).Draw(t, "op"); {
			case c < 2 && len(history) > 0:
				a := rapid.SampledFrom(history).Draw(t, "target")
				if err := tl.Invalidate(a.ID); err != nil {
					t.Fatal(err)
				}
				invalid[a.ID] = true
			case c < 4 && len(history) > 0:
				a := rapid.SampledFrom(history).Draw(t, "repeat")
				if out, err := tl.Add(a); err != nil || out != quorum.OutcomeDuplicate {
					t.Fatalf("repeat: %s, %v", out, err)
				}
			default:
				a := drawAtt(t, i)
				if _, err := tl.Add(a); err == nil {
					added[a.ID] = a
					history = append(history, a)
				}
			}
			if tl.Reached() && tl.Failed() || failed && !tl.Failed() {
				t.Fatalf("reached %v, failed %v (failed before: %v)", tl.Reached(), tl.Failed(), failed)
			}
			failed = tl.Failed()
			ids := tl.Attestations()
			if !tl.Reached() {
				if ids != nil {
					t.Fatalf("attestations %v without quorum", ids)
				}
				continue
			}
			seen := map[string]bool{}
			for j, id := range ids {
				a, ok := added[id]
				v := a.VerifierPK
				if !ok || invalid[id] || seen[v] || a.Verdict != "pass" || a.Digest != digest || a.Commit != commit ||
					!slices.Contains(pks(0, 1, 2, 3, 4, 5)[:n], v) || j > 0 && ids[j-1] >= id {
					t.Fatalf("attestation %s (%+v) in %v", id, a, ids)
				}
				seen[v] = true
			}
			if len(ids) != k {
				t.Fatalf("%d attestations, k = %d", len(ids), k)
			}
		}
	})
}

// The same set of adds and invalidations, in any order (an invalidation
// after its target), gives the same tally.
func TestPropertyTallyOrder(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 6).Draw(t, "n")
		k := rapid.IntRange(1, n).Draw(t, "k")
		var atts []quorum.Attestation
		byVer := map[string]bool{}
		for i := range rapid.IntRange(0, 10).Draw(t, "adds") {
			a := drawAtt(t, i)
			if !byVer[a.VerifierPK] { // one per verifier, or order decides which counts
				byVer[a.VerifierPK] = true
				atts = append(atts, a)
			}
		}
		var targets []string
		if len(atts) > 0 {
			for _, a := range rapid.SliceOfN(rapid.SampledFrom(atts), 0, 3).Draw(t, "invalidate") {
				targets = append(targets, a.ID)
			}
		}
		type result struct {
			reached, failed bool
			final, counted  []string
		}
		run := func(label string) result {
			var ops []op
			for _, a := range rapid.Permutation(atts).Draw(t, label) {
				ops = append(ops, op{att: a})
				if rapid.Bool().Draw(t, label+" repeat") {
					ops = append(ops, op{att: a})
				}
			}
			for _, id := range targets {
				at := slices.IndexFunc(ops, func(o op) bool { return o.att.ID == id })
				pos := rapid.IntRange(at+1, len(ops)).Draw(t, label+" at")
				ops = slices.Insert(ops, pos, op{att: quorum.Attestation{ID: id}, inv: true})
			}
			tl, _ := quorum.NewTally(pks(0, 1, 2, 3, 4, 5)[:n], k, commit, digest)
			for _, o := range ops {
				if o.inv {
					// A refused target is unknown in every order.
					if err := tl.Invalidate(o.att.ID); err != nil && !errors.Is(err, quorum.ErrUnknownAttestation) {
						t.Fatal(err)
					}
				} else {
					tl.Add(o.att)
				}
			}
			return result{tl.Reached(), tl.Failed(), tl.Attestations(), tl.Counted()}
		}
		a, b := run("first"), run("second")
		if a.reached != b.reached || a.failed != b.failed || !slices.Equal(a.final, b.final) || !slices.Equal(a.counted, b.counted) {
			t.Fatalf("%+v vs %+v", a, b)
		}
	})
}
