package replay_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/canswarm/swarmhost/host"
	"github.com/canswarm/swarmhost/host/api"
	"github.com/canswarm/swarmhost/host/audit"
	"github.com/canswarm/swarmhost/host/protocol"
	"github.com/canswarm/swarmhost/host/replay"
)

// swarmThreadFile is the swarm thread's file, where checkpoints go.
func swarmThreadFile(t *testing.T, dir string) string {
	t.Helper()
	name, err := audit.FileName(protocol.SwarmThread)
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "audit", name)
}

// The demo stops cleanly, so its trail ends with a CHECKPOINT over all of
// it: replayed from there, nothing before is re-run, and the replay is ok.
func TestReplayFromCheckpointSkipsWhatItCovers(t *testing.T) {
	dir := demoTrail(t)
	var out bytes.Buffer
	rep, err := runBoth(t, replay.Options{DataDir: dir, Out: &out, FromCheckpoint: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Checkpoint == "" || rep.Covered == 0 || rep.Agents != 0 || rep.Evals != 0 || rep.Decisions != 2 {
		t.Fatalf("report %+v", rep)
	}
	if !strings.Contains(out.String(), "replay: ok,") || !strings.Contains(out.String(), "from checkpoint "+rep.Checkpoint) {
		t.Fatal(out.String())
	}
}

// A forger who edits a covered line and covers the chain still changes the
// Merkle root the host signed: the replay from that checkpoint names the
// checkpoint's line.
func TestReplayFromCheckpointDetectsCoveredEdits(t *testing.T) {
	dir := demoTrail(t)
	th, p := needThread(t, dir)
	ls := lines(t, p)
	i := find(t, ls, `"kind":"policy"`, `"gas_used":`)
	ls[i] = bytes.Replace(ls[i], []byte(`"gas_used":`), []byte(`"gas_used":1`), 1)
	write(t, p, rechain(t, dir, th, ls))
	_, err := runBoth(t, replay.Options{DataDir: dir, FromCheckpoint: true})
	var div *replay.Divergence
	if !errors.As(err, &div) || div.Thread != protocol.SwarmThread || !strings.Contains(div.Found, "root") {
		t.Fatalf("want a divergence at the swarm thread's checkpoint, got %v", err)
	}
	sw := lines(t, swarmThreadFile(t, dir))
	if want := find(t, sw, `"kind":"checkpoint"`) + 1; div.Line != want {
		t.Fatalf("divergence at line %d, the checkpoint is line %d", div.Line, want)
	}
}

// Lines after the last checkpoint are checked in full: a node run again on
// the demo's data, stopped without its closing checkpoint (the checkpoint's
// lines cut off), replays from the demo's checkpoint with the second run's
// agents re-run, and an edited signature there is found.
func TestReplayFromCheckpointChecksWhatFollows(t *testing.T) {
	dir := demoTrail(t)
	h, err := host.Open(context.Background(), host.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	id, err := h.Submit(context.Background(), api.NeedRequest{Capability: "classify",
		Input: json.RawMessage(`["where is my parcel","refund the invoice"]`), K: 3, N: 3,
		BidWindowMS: 1000, LeaseMS: 30_000, MaxEpochs: 3, DeadlineMS: 600_000, Nonce: "second-run"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := h.Wait(ctx, id); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	h.Close()
	// Cut the second run's closing checkpoint: as after a crash.
	swp := swarmThreadFile(t, dir)
	sw := lines(t, swp)
	last := -1
	for i, l := range sw {
		if bytes.Contains(l, []byte(`"kind":"checkpoint"`)) {
			last = i
		}
	}
	if first := find(t, sw, `"kind":"checkpoint"`); last <= first {
		t.Fatalf("want two checkpoints on the swarm thread, have the one at line %d", first+1)
	}
	write(t, swp, rechain(t, dir, protocol.SwarmThread, sw[:last]))

	rep, err := runBoth(t, replay.Options{DataDir: dir, FromCheckpoint: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Checkpoint == "" || rep.Agents == 0 || rep.Evals == 0 {
		t.Fatalf("want the second run re-run after the demo's checkpoint: %+v", rep)
	}
	full, err := replay.Run(context.Background(), replay.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Agents >= full.Agents || rep.Decisions != full.Decisions {
		t.Fatalf("from the checkpoint %+v, in full %+v", rep, full)
	}

	// An edited signature on the second run's COMMIT, the chain covered.
	threads, _ := audit.Threads(filepath.Join(dir, "audit"))
	for _, th := range threads {
		name, _ := audit.FileName(th)
		p := filepath.Join(dir, "audit", name)
		ls := lines(t, p)
		if !bytes.Contains(bytes.Join(ls, nil), []byte("second-run")) {
			continue
		}
		i := find(t, ls, `"kind":"envelope"`, `"verb":"COMMIT"`)
		j := bytes.Index(ls[i], []byte(`"sig":"`)) + len(`"sig":"`)
		ls[i][j] ^= 1
		write(t, p, rechain(t, dir, th, ls))
		_, err := runBoth(t, replay.Options{DataDir: dir, FromCheckpoint: true})
		var te *audit.TamperError
		if !errors.As(err, &te) || te.Thread != th || te.Line != uint64(i+1) || !strings.Contains(te.Problem, "no longer verifies") {
			t.Fatalf("want the edited signature at %s line %d, got %v", th, i+1, err)
		}
		return
	}
	t.Fatal("no thread of the second run's NEED")
}
