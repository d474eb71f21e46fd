package shard_test

import (
	"reflect"
	"strconv"
	"testing"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/consensus/shard"
)

const (
	wrongState = envelope.CodeWrongState
	staleFence = envelope.CodeStaleFence
)

// ok and no build expected results; Detail is checked separately.
func ok(op shard.Op, need string, epoch, fence uint64, decideID string) shard.Result {
	return shard.Result{Accepted: true, Op: op, Need: need, Epoch: epoch, Fence: fence, DecideID: decideID}
}

func no(op shard.Op, need string, code envelope.Code, epoch, fence uint64, decideID string) shard.Result {
	return shard.Result{Op: op, Need: need, Reason: code, Epoch: epoch, Fence: fence, DecideID: decideID}
}

func released(need string, epoch, fence uint64, decideID string, next uint64) shard.Result {
	r := ok(shard.OpRelease, need, epoch, fence, decideID)
	r.NextEpoch, r.Abandoned = next, next == 0
	return r
}

// TestRules: every rule and every rejection of doc.go. setup is applied at
// indices 1, 2, ... (all accepted), cmd at the next index.
func TestRules(t *testing.T) {
	N := needID(1)
	d1, d1b, d2 := decide(N, 1, 0), decide(N, 1, 1), decide(N, 2, 1)
	rel1 := release(N, 1, shard.ReasonExpired, 3)
	fin1 := finalize(N, 1, 0)
	gcN := &shard.GC{Bucket: bucket(N), Needs: []string{N}}
	D, DID := shard.OpDecide, d1.DecideID
	R, F := shard.OpRelease, shard.OpFinalize
	cases := []struct {
		name  string
		setup []shard.Command
		cmd   shard.Command
		want  shard.Result
	}{
		{"decide: unseen NEED, epoch 1", nil, d1, ok(D, N, 1, 1, DID)},
		{"decide: unseen NEED, future epoch", nil, decide(N, 2, 0), no(D, N, wrongState, 1, 0, "")},
		{"decide: repeat", []shard.Command{d1, decide(needID(2), 1, 0)}, d1, ok(D, N, 1, 1, DID)},
		{"decide: conflict in the same epoch", []shard.Command{d1}, d1b, no(D, N, wrongState, 1, 1, DID)},
		{"decide: released epoch", []shard.Command{d1, rel1}, d1b, no(D, N, staleFence, 2, 0, "")},
		{"decide: repeat of a released epoch", []shard.Command{d1, rel1}, d1, ok(D, N, 1, 1, DID)},
		{"decide: the epoch a RELEASE opened", []shard.Command{d1, rel1}, d2, ok(D, N, 2, 3, d2.DecideID)},
		{"decide: future epoch", []shard.Command{d1}, decide(N, 3, 0), no(D, N, wrongState, 1, 1, DID)},
		{"decide: repeat after FINALIZE", []shard.Command{d1, fin1}, d1, ok(D, N, 1, 1, DID)},
		{"decide: final NEED", []shard.Command{d1, fin1}, d1b, no(D, N, wrongState, 1, 1, DID)},
		{"decide: final NEED, next epoch", []shard.Command{d1, fin1}, d2, no(D, N, wrongState, 1, 1, DID)},
		{"decide: abandoned NEED", []shard.Command{release(N, 1, shard.ReasonNoBids, 1)}, d1, no(D, N, wrongState, 1, 0, "")},
		{"decide: collected NEED", []shard.Command{d1, fin1, gcN}, d1, no(D, N, wrongState, 0, 0, "")},

		{"release: unseen NEED", nil, release(N, 1, shard.ReasonNoBids, 0), released(N, 1, 0, "", 2)},
		{"release: decided epoch", []shard.Command{d1}, rel1, released(N, 1, 1, DID, 2)},
		{"release: no_bids of a decided epoch", []shard.Command{d1}, release(N, 1, shard.ReasonNoBids, 0), no(R, N, wrongState, 1, 1, DID)},
		{"release: repeat", []shard.Command{d1, rel1, d2}, rel1, released(N, 1, 1, DID, 2)},
		{"release: another of a released epoch", []shard.Command{d1, rel1}, release(N, 1, shard.ReasonYielded, 3), no(R, N, staleFence, 2, 0, "")},
		{"release: same reason, other max_epochs", []shard.Command{d1, rel1}, release(N, 1, shard.ReasonExpired, 0), no(R, N, staleFence, 2, 0, "")},
		{"release: future epoch", nil, release(N, 2, shard.ReasonExpired, 0), no(R, N, wrongState, 1, 0, "")},
		{"release: max_epochs used up", []shard.Command{release(N, 1, shard.ReasonNoBids, 2)}, release(N, 2, shard.ReasonExpired, 2), released(N, 2, 0, "", 0)},
		{"release: max_epochs exceeded", []shard.Command{release(N, 1, shard.ReasonNoBids, 0)}, release(N, 2, shard.ReasonExpired, 1), released(N, 2, 0, "", 0)},
		{"release: repeat of the abandoning one", []shard.Command{release(N, 1, shard.ReasonNoBids, 1)}, release(N, 1, shard.ReasonNoBids, 1), released(N, 1, 0, "", 0)},
		{"release: abandoned NEED", []shard.Command{release(N, 1, shard.ReasonNoBids, 1)}, release(N, 1, shard.ReasonExpired, 1), no(R, N, wrongState, 1, 0, "")},
		{"release: final NEED", []shard.Command{d1, fin1}, rel1, no(R, N, wrongState, 1, 1, DID)},
		{"release: collected NEED", []shard.Command{d1, fin1, gcN}, rel1, no(R, N, wrongState, 0, 0, "")},

		{"finalize: unseen NEED", nil, fin1, no(F, N, wrongState, 1, 0, "")},
		{"finalize: decided epoch", []shard.Command{d1}, fin1, ok(F, N, 1, 1, DID)},
		{"finalize: repeat", []shard.Command{d1, fin1}, fin1, ok(F, N, 1, 1, DID)},
		{"finalize: another", []shard.Command{d1, fin1}, finalize(N, 1, 1), no(F, N, wrongState, 1, 1, DID)},
		{"finalize: undecided epoch", []shard.Command{d1, rel1}, finalize(N, 2, 0), no(F, N, wrongState, 2, 0, "")},
		{"finalize: released epoch", []shard.Command{d1, rel1, d2}, fin1, no(F, N, staleFence, 2, 3, d2.DecideID)},
		{"finalize: future epoch", []shard.Command{d1}, finalize(N, 2, 0), no(F, N, wrongState, 1, 1, DID)},
		{"finalize: abandoned NEED", []shard.Command{d1, release(N, 1, shard.ReasonExpired, 1)}, fin1, no(F, N, wrongState, 1, 0, "")},
		{"finalize: collected NEED", []shard.Command{d1, fin1, gcN}, fin1, no(F, N, wrongState, 0, 0, "")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newReplica()
			r.mustAccept(t, tc.setup...)
			before, _ := r.m.Lookup(N)
			statsBefore := r.m.Stats()
			got := r.apply(tc.cmd)
			if (got.Detail == "") != got.Accepted {
				t.Errorf("detail %q on accepted=%v", got.Detail, got.Accepted)
			}
			got.Detail = ""
			if got != tc.want {
				t.Fatalf("got  %s\nwant %s", got.Encode(), tc.want.Encode())
			}
			after, _ := r.m.Lookup(N)
			statsAfter := r.m.Stats()
			statsBefore.LastIndex, statsAfter.LastIndex = 0, 0
			changed := !reflect.DeepEqual(before, after) || statsBefore != statsAfter
			isRepeat := false
			for _, s := range tc.setup {
				isRepeat = isRepeat || string(s.Encode()) == string(tc.cmd.Encode())
			}
			if want := got.Accepted && !isRepeat; changed != want {
				t.Errorf("state changed: %v, want %v", changed, want)
			}
		})
	}
}

// A repeat gets the first answer byte for byte, however it is spelled.
func TestRepeatIsByteIdentical(t *testing.T) {
	N := needID(1)
	r := newReplica()
	first := r.apply(decide(N, 1, 0)).Encode()
	r.mustAccept(t, release(N, 1, shard.ReasonExpired, 0), decide(N, 2, 1))
	respelled := []byte(` { "worker_pk":"` + pk(0) + `", "op" : "DECIDE", "epoch":1,"bucket":` +
		strconv.Itoa(int(bucket(N))) + `, "need":"` + N + `","proposal":"` + ref("proposal", N, 1, 0) +
		`","verifiers":["` + pk(100) + `","` + pk(200) + `"],"decide_id":"` + ref("decide", N, 1, 0) + `"}` + "\n")
	if again := r.applyBytes(respelled).Encode(); string(again) != string(first) {
		t.Fatalf("repeat answered %s, first %s", again, first)
	}
}

func TestIndexMustIncrease(t *testing.T) {
	m := shard.New()
	N := needID(1)
	if res := m.Apply(0, decide(N, 1, 0).Encode()); res.Accepted || res.Reason != wrongState {
		t.Fatalf("index 0: %s", res.Encode())
	}
	if res := m.Apply(5, decide(N, 1, 0).Encode()); !res.Accepted || res.Fence != 5 {
		t.Fatalf("index 5: %s", res.Encode())
	}
	for _, i := range []uint64{5, 4} {
		if res := m.Apply(i, release(N, 1, shard.ReasonExpired, 0).Encode()); res.Accepted || res.Reason != wrongState {
			t.Fatalf("index %d: %s", i, res.Encode())
		}
	}
	if rec, _ := m.Lookup(N); rec.Epoch != 1 || m.Stats().LastIndex != 5 {
		t.Fatalf("a refused index changed the state: %+v %+v", rec, m.Stats())
	}
	// A rejected command still advances the index.
	m.Apply(9, []byte("junk"))
	if m.Stats().LastIndex != 9 {
		t.Fatalf("last index %d, want 9", m.Stats().LastIndex)
	}
}
