package consensus_test

import (
	"github.com/canswarm/swarmhost/consensus/softsettings"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/consensus"
	"github.com/canswarm/swarmhost/consensus/shard"
)

// A single host decides, rejects a conflicting DECIDE with wrong_state, and
// after a restart from the same folder keeps every decision: repeats are
// answered as before and conflicts are still refused.
func TestSingleHostRestartKeepsDecisions(t *testing.T) {
	dir := t.TempDir()
	n := openSingle(t, dir, 4)
	const needs = 40
	first := map[int]shard.Result{}
	for i := range needs {
		res := mustPropose(t, n, decide(needID(i), 1, 1))
		if !res.Accepted || res.Fence == 0 {
			t.Fatalf("need %d: first DECIDE not accepted: %+v", i, res)
		}
		first[i] = res
	}
	if res := mustPropose(t, n, decide(needID(0), 1, 2)); res.Accepted || res.Reason != envelope.CodeWrongState {
		t.Fatalf("conflicting DECIDE: got %+v, want wrong_state", res)
	}
	mustPropose(t, n, release(needID(1), 1, shard.ReasonExpired))
	mustPropose(t, n, finalize(needID(2), 1, 1))
	st, err := n.Status(ctxT(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if st.Decided != needs || st.Finalized != 1 {
		t.Fatalf("status before restart: decided %d finalized %d, want %d and 1", st.Decided, st.Finalized, needs)
	}
	n.Close()

	n = openSingle(t, dir, 0) // the stored shard count
	defer n.Close()
	if n.Shards() != 4 {
		t.Fatalf("restarted with %d shards, created with 4", n.Shards())
	}
	for i := range needs {
		res := mustPropose(t, n, decide(needID(i), 1, 1))
		if string(res.Encode()) != string(first[i].Encode()) {
			t.Fatalf("need %d: repeat after restart answered %s, first answer %s", i, res.Encode(), first[i].Encode())
		}
		if res := mustPropose(t, n, decide(needID(i), 1, 3)); res.Accepted {
			t.Fatalf("need %d: a conflicting DECIDE was accepted after restart", i)
		}
	}
	rec, found, _, err := n.Get(ctxT(t, 10*time.Second), needID(1))
	if err != nil || !found || rec.Epoch != 2 || rec.State != shard.StateOpen {
		t.Fatalf("released NEED after restart: %+v found=%v err=%v, want epoch 2 open", rec, found, err)
	}
	rec, found, _, err = n.Get(ctxT(t, 10*time.Second), needID(2))
	if err != nil || !found || !rec.Finalized {
		t.Fatalf("finalized NEED after restart: %+v found=%v err=%v", rec, found, err)
	}
	st, err = n.Status(ctxT(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if st.Decided != needs || st.Finalized != 1 {
		t.Fatalf("status after restart: decided %d finalized %d, want %d and 1", st.Decided, st.Finalized, needs)
	}
}

// Snapshots: with a small snapshot interval the log is compacted and a
// restart recovers from the snapshot plus the tail.
func TestRestartFromSnapshot(t *testing.T) {
	dir := t.TempDir()
	open := func() *consensus.Node {
		n, err := consensus.Open(ctxT(t, 30*time.Second), consensus.Config{Dir: dir, Shards: 1, SnapshotEntries: 8})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	n := open()
	for i := range 50 {
		if res := mustPropose(t, n, decide(needID(i), 1, 1)); !res.Accepted {
			t.Fatalf("need %d: %+v", i, res)
		}
	}
	n.Close()
	n = open()
	defer n.Close()
	for i := range 50 {
		rec, found, _, err := n.Get(ctxT(t, 10*time.Second), needID(i))
		if err != nil || !found || rec.Decision == nil || rec.Decision.DecideID != decide(needID(i), 1, 1).DecideID {
			t.Fatalf("need %d after restart: %+v found=%v err=%v", i, rec, found, err)
		}
	}
}

// The accepted stream carries every accepted command once per apply, with
// the answer.
func TestAppliedStream(t *testing.T) {
	n := openSingle(t, t.TempDir(), 2)
	defer n.Close()
	d := decide(needID(7), 1, 1)
	mustPropose(t, n, d)
	mustPropose(t, n, decide(needID(7), 1, 2)) // rejected: not in the stream
	mustPropose(t, n, finalize(needID(7), 1, 1))
	var got []shard.Op
	for len(got) < 2 {
		select {
		case a := <-n.Applied():
			if !a.Result.Accepted {
				t.Fatalf("a rejected command in the stream: %+v", a)
			}
			got = append(got, a.Result.Op)
		case <-ctxT(t, 10*time.Second).Done():
			t.Fatalf("stream gave %v, want DECIDE and FINALIZE", got)
		}
	}
	if got[0] != shard.OpDecide || got[1] != shard.OpFinalize {
		t.Fatalf("stream order %v", got)
	}
}

// A cluster's shard count is fixed at creation.
func TestShardCountFixedAtCreation(t *testing.T) {
	dir := t.TempDir()
	n := openSingle(t, dir, 2)
	n.Close()
	if _, err := consensus.Open(ctxT(t, 10*time.Second), consensus.Config{Dir: dir, Shards: 8}); err == nil {
		t.Fatal("reopening with another shard count succeeded")
	}
	if _, err := consensus.Open(ctxT(t, 10*time.Second), consensus.Config{Dir: t.TempDir(), Shards: 3}); err == nil {
		t.Fatal("3 shards (not a power of two) accepted")
	}
}

func TestParsePeers(t *testing.T) {
	p, err := consensus.ParsePeers("1=127.0.0.1:7001, 2=127.0.0.1:7002,3=h:1")
	if err != nil || len(p) != 3 || p[2] != "127.0.0.1:7002" {
		t.Fatalf("%v %v", p, err)
	}
	if got := consensus.FormatPeers(p); got != "1=127.0.0.1:7001,2=127.0.0.1:7002,3=h:1" {
		t.Fatal(got)
	}
	for _, bad := range []string{"1", "0=a:1", "x=a:1", "1=a:1,1=b:2", "1=nohostport"} {
		if _, err := consensus.ParsePeers(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// The shipped soft settings were read by dragonboat, and the working
// directory is back where the process started (package softsettings).
func TestSoftSettingsUsedAndWorkingDirectoryRestored(t *testing.T) {
	if softsettings.Used != "embedded" {
		t.Fatalf("soft settings came from %q, want the embedded file", softsettings.Used)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(wd) != "consensus" {
		t.Fatalf("working directory %s: not the package folder go test started in", wd)
	}
}

func FuzzParsePeers(f *testing.F) {
	f.Add("1=127.0.0.1:7001,2=127.0.0.1:7002")
	f.Add("3=h:1")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := consensus.ParsePeers(s)
		if err != nil {
			return
		}
		again, err := consensus.ParsePeers(consensus.FormatPeers(p))
		if err != nil || len(again) != len(p) {
			t.Fatalf("%q: formatted %q does not parse back: %v", s, consensus.FormatPeers(p), err)
		}
		for id, addr := range p {
			if id == 0 || again[id] != addr {
				t.Fatalf("%q: member %d=%s lost", s, id, addr)
			}
		}
	})
}
