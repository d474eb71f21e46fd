package audit_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"pgregory.net/rapid"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/audit"
)

// Whatever heads are set or deleted, in whatever order, again or anew,
// with Root asked in between, the index's root is MerkleRoot of the latest
// head of each thread still there.
func TestHeadIndexRootIsTheMerkleRoot(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var x audit.HeadIndex
		latest := map[string]audit.ThreadHead{}
		steps := rapid.IntRange(0, 60).Draw(t, "steps")
		for i := 0; i < steps; i++ {
			if rapid.IntRange(0, 4).Draw(t, "root?") == 0 {
				var heads []audit.ThreadHead
				for _, h := range latest {
					heads = append(heads, h)
				}
				if got, want := x.Root(), audit.MerkleRoot(heads); got != want {
					t.Fatalf("after %d sets: index root %s, MerkleRoot %s", i, got, want)
				}
				continue
			}
			th := fmt.Sprintf("t%02d", rapid.IntRange(0, 20).Draw(t, "thread"))
			if rapid.IntRange(0, 5).Draw(t, "delete?") == 0 {
				x.Delete(th)
				delete(latest, th)
				continue
			}
			seq := rapid.Uint64Range(1, 1000).Draw(t, "seq")
			h := audit.ThreadHead{Thread: th, Seq: seq, Hash: envelope.HashRef([]byte(fmt.Sprint(th, seq)))}
			x.Set(h.Thread, h.Seq, h.Hash)
			latest[th] = h
		}
		var heads []audit.ThreadHead
		for _, h := range latest {
			heads = append(heads, h)
		}
		if got, want := x.Root(), audit.MerkleRoot(heads); got != want || x.Len() != len(latest) {
			t.Fatalf("index root %s over %d threads, MerkleRoot %s over %d", got, x.Len(), want, len(latest))
		}
	})
}

// A trail's Root is the root of the heads on disk: on a trail opened over
// threads written by another (read at the first Root), and after appends
// to old and new threads (from the trail's own index).
func TestTrailRootFollowsItsHeads(t *testing.T) {
	dir, need := fixture(t)
	tr, err := audit.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	check := func(when string) {
		t.Helper()
		heads, err := audit.Heads(dir)
		if err != nil {
			t.Fatal(err)
		}
		got, err := tr.Root()
		if err != nil {
			t.Fatal(err)
		}
		if want := audit.MerkleRoot(heads); got != want {
			t.Fatalf("%s: Root %s, the heads on disk give %s", when, got, want)
		}
	}
	check("opened over another's threads")
	p, _ := envelope.Sign(envelope.Draft{ThreadID: need, Verb: envelope.VerbPropose, Lamport: 40,
		Payload: map[string]any{"epoch": 1, "bid": map[string]any{"price": 7, "eta_ms": 10}}}, key(7))
	if _, err := tr.AppendEnvelope(p, 40); err != nil {
		t.Fatal(err)
	}
	check("after an append to an old thread")
	other, _ := envelope.Sign(envelope.Draft{Verb: envelope.VerbNeed, Lamport: 41, Payload: map[string]any{"capability": "x"}}, key(8))
	tr.SetGroupCommit(true)
	if _, err := tr.AppendEnvelope(other, 41); err != nil {
		t.Fatal(err)
	}
	if err := tr.Commit(); err != nil {
		t.Fatal(err)
	}
	check("after a group commit of a new thread")
	// A thread file with no head (what the first Root reads must be whole).
	name, _ := audit.FileName("sha256:" + fmt.Sprintf("%064d", 1))
	os.WriteFile(filepath.Join(dir, name), []byte("x\n"), 0o644)
	fresh, _ := audit.Open(dir, nil)
	if _, err := fresh.Root(); err == nil {
		t.Fatal("Root over a thread without a head: no error")
	}
}
