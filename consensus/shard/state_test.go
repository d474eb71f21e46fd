package shard_test

import (
	"reflect"
	"testing"

	"github.com/canswarm/swarmhost/consensus/shard"
)

func TestLookup(t *testing.T) {
	N := needID(1)
	r := newReplica()
	if _, ok := r.m.Lookup(N); ok {
		t.Fatal("an unseen NEED is tracked")
	}
	r.apply(decide(N, 2, 0)) // rejected: takes no space
	if _, ok := r.m.Lookup(N); ok || r.m.Stats().Needs != 0 {
		t.Fatal("a rejected command created a record")
	}
	d1, rel, d2, fin := decide(N, 1, 0), release(N, 1, shard.ReasonYielded, 0), decide(N, 2, 1), finalize(N, 2, 1)
	r.mustAccept(t, d1, rel, d2) // indices 2, 3, 4
	rec, ok := r.m.Lookup(N)
	want := shard.Record{Need: N, Bucket: bucket(N), Epoch: 2, State: shard.StateDecided, Decision: d2, Fence: 4,
		Epochs: []shard.EpochRecord{{Epoch: 1, Decide: d1, Fence: 2, Release: rel}, {Epoch: 2, Decide: d2, Fence: 4}}}
	if !ok || !reflect.DeepEqual(rec, want) {
		t.Fatalf("got  %+v\nwant %+v", rec, want)
	}
	rec.Decision.Verifiers[0] = "changed" // a copy
	r.mustAccept(t, fin)                  // index 5
	rec, _ = r.m.Lookup(N)
	want.State, want.Finalized, want.Finalize, want.FinishedAt = shard.StateFinal, true, fin, 5
	if !reflect.DeepEqual(rec, want) {
		t.Fatalf("got  %+v\nwant %+v", rec, want)
	}

	A := needID(2)
	r.mustAccept(t, release(A, 1, shard.ReasonNoBids, 0), release(A, 2, shard.ReasonNoBids, 2)) // 6, 7
	rec, _ = r.m.Lookup(A)
	if rec.State != shard.StateAbandoned || rec.Epoch != 2 || rec.Decision != nil || rec.FinishedAt != 7 || len(rec.Epochs) != 2 {
		t.Fatalf("abandoned: %+v", rec)
	}
	if st := r.m.Stats(); st != (shard.Stats{Needs: 2, Decided: 2, Finalized: 1, Abandoned: 1, LastIndex: 7}) {
		t.Fatalf("stats %+v", st)
	}
}

// An abandoned NEED whose last epoch was decided has no standing decision.
func TestLookupAbandonedAfterDecide(t *testing.T) {
	N := needID(1)
	r := newReplica()
	r.mustAccept(t, decide(N, 1, 0), release(N, 1, shard.ReasonExpired, 1))
	rec, _ := r.m.Lookup(N)
	if rec.State != shard.StateAbandoned || rec.Decision != nil || rec.Fence != 0 || rec.Epochs[0].Fence != 1 {
		t.Fatalf("%+v", rec)
	}
}

func TestGC(t *testing.T) {
	A := needID(1)
	B, C, D := sameBucketNeed(A, 0), sameBucketNeed(A, 1), sameBucketNeed(A, 2)
	E := otherBucketNeed(A)
	r := newReplica()
	r.mustAccept(t,
		decide(A, 1, 0), finalize(A, 1, 0), // 1, 2: A final at 2
		release(B, 1, shard.ReasonNoBids, 1), // 3: B abandoned at 3
		decide(C, 1, 0),                      // 4: C live
		decide(E, 1, 0), finalize(E, 1, 0),   // 5, 6: E final, other bucket
		decide(D, 1, 0), finalize(D, 1, 0), // 7, 8: D final at 8
	)
	gcBefore := &shard.GC{Bucket: bucket(A), Before: 8}
	if res := r.apply(gcBefore); !res.Accepted || res.Dropped != 2 || res.Op != shard.OpGC {
		t.Fatalf("GC before 8: %s", res.Encode())
	}
	for need, tracked := range map[string]bool{A: false, B: false, C: true, D: true, E: true} {
		if _, ok := r.m.Lookup(need); ok != tracked || r.m.Collected(need) == tracked {
			t.Fatalf("%s tracked %v, want %v", need, ok, tracked)
		}
	}
	if res := r.apply(gcBefore); !res.Accepted || res.Dropped != 0 {
		t.Fatalf("repeated GC: %s", res.Encode())
	}
	unknown := sameBucketNeed(A, 3)
	if res := r.apply(&shard.GC{Bucket: bucket(A), Needs: []string{C, D, unknown, A}}); !res.Accepted || res.Dropped != 1 {
		t.Fatalf("GC of C, D, unknown, A: %s", res.Encode())
	}
	if st := r.m.Stats(); st != (shard.Stats{Needs: 2, Decided: 2, Finalized: 1, Collected: 3, LastIndex: 11}) {
		t.Fatalf("stats %+v", st)
	}
	// A collected NEED can never be decided again, not even at epoch 1.
	for _, c := range []shard.Command{decide(A, 1, 1), decide(A, 1, 0), release(B, 1, shard.ReasonNoBids, 1), finalize(D, 1, 0)} {
		if res := r.apply(c); res.Accepted || res.Reason != wrongState {
			t.Fatalf("%s after GC: %s", c.Encode(), res.Encode())
		}
	}
	if r.m.Collected("junk") {
		t.Fatal("Collected(junk)")
	}
}

// Readers may run while commands are applied (go test -race).
func TestConcurrentReaders(t *testing.T) {
	m := shard.New()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 300 {
			N := needID(i % 7)
			m.Apply(uint64(3*i+1), decide(N, 1, 0).Encode())
			m.Apply(uint64(3*i+2), finalize(N, 1, 0).Encode())
			m.Apply(uint64(3*i+3), (&shard.GC{Bucket: bucket(N), Needs: []string{N}}).Encode())
		}
	}()
	for {
		select {
		case <-done:
			if st := m.Stats(); st.Collected != 7 || st.LastIndex != 900 {
				t.Fatalf("stats %+v", st)
			}
			return
		default:
			m.Lookup(needID(1))
			m.Stats()
			m.Collected(needID(2))
			save(t, m)
		}
	}
}
