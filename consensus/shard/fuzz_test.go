package shard_test

import (
	"bytes"
	"testing"

	"github.com/canswarm/swarmhost/consensus/shard"
)

// seeded returns a shard with some state, the same on every call.
func seeded(t testing.TB) *shard.Machine {
	r := richReplica(t)
	return r.m
}

// FuzzApply: whatever the bytes and the index, Apply never panics, answers
// with a result that round-trips and carries a protocol code when rejected,
// answers alike on two replicas, and leaves a state that snapshots and
// restores to the same bytes.
func FuzzApply(f *testing.F) {
	N := needID(1)
	for _, c := range []shard.Command{
		decide(N, 1, 0), decide(N, 1, 1), decide(needID(2), 3, 0), release(N, 1, shard.ReasonNoBids, 2),
		finalize(N, 1, 0), finalize(needID(3), 1, 0), &shard.GC{Bucket: bucket(N), Before: 5},
		&shard.GC{Bucket: bucket(needID(3)), Needs: []string{needID(3)}},
	} {
		f.Add(uint64(100), c.Encode())
	}
	f.Add(uint64(0), []byte(`{"op":"DECIDE"}`))
	f.Add(uint64(3), []byte(`{"op":"GC","bucket":1e3,"needs":null}`))
	f.Fuzz(func(t *testing.T, index uint64, cmd []byte) {
		a, b := seeded(t), seeded(t)
		ra, rb := a.Apply(index, cmd), b.Apply(index, cmd)
		if !bytes.Equal(ra.Encode(), rb.Encode()) {
			t.Fatalf("replicas answer %s and %s", ra.Encode(), rb.Encode())
		}
		if back, err := shard.DecodeResult(ra.Encode()); err != nil || back != ra {
			t.Fatalf("result does not round-trip: %v", err)
		}
		if ra.Accepted != (ra.Reason == "") || (!ra.Accepted && !ra.Reason.Valid()) {
			t.Fatalf("accepted %v, reason %q", ra.Accepted, ra.Reason)
		}
		snap := save(t, a)
		if !bytes.Equal(snap, save(t, b)) {
			t.Fatal("replicas snapshot differently")
		}
		m := shard.New()
		if err := m.Load(bytes.NewReader(snap)); err != nil {
			t.Fatalf("Load of a saved state: %v", err)
		}
		if !bytes.Equal(save(t, m), snap) {
			t.Fatal("Save -> Load -> Save differs")
		}
	})
}

// FuzzLoad: whatever the bytes, Load never panics, and a snapshot it accepts
// is exactly what Save writes for the state loaded.
func FuzzLoad(f *testing.F) {
	f.Add(save(f, seeded(f)))
	f.Add(save(f, shard.New()))
	f.Add([]byte("canswarm-shard-snapshot 1\n{}\n"))
	f.Fuzz(func(t *testing.T, snap []byte) {
		m := shard.New()
		if err := m.Load(bytes.NewReader(snap)); err != nil {
			return
		}
		if again := save(t, m); !bytes.Equal(again, snap) {
			t.Fatalf("accepted a snapshot Save would not write:\n%q\n%q", snap, again)
		}
	})
}
