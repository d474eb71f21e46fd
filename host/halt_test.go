package host_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host"
	"github.com/canswarm/swarmhost/host/api"
	"github.com/canswarm/swarmhost/host/audit"
	"github.com/canswarm/swarmhost/host/protocol"
	"github.com/canswarm/swarmhost/host/replay"
)

// A node whose trail refuses a line stops itself (nothing stepped is acted
// on without its line, nothing unrecorded acknowledged); restarted on the
// same data, it gets the NEED again from the bus and finalizes it, and the
// trail replays: nothing accepted is lost.
func TestTrailWriteFailureStopsTheNodeAndLosesNothing(t *testing.T) {
	dir := t.TempDir()
	h := openAt(t, dir, honest, host.Config{})
	t0 := time.Now()
	h.Trail.FailWrites(errors.New("no space left on device (injected)"))
	id := submit(t, h, 3, 3, 10_000)
	select {
	case <-h.Halted():
	case <-time.After(30 * time.Second):
		h.Close()
		t.Fatal("the node went on without its trail")
	}
	if err := h.Err(); err == nil || !strings.Contains(err.Error(), "no space left on device (injected)") {
		t.Fatalf("Err() = %v", err)
	}
	if info, ok := h.Need(id); ok && info.Phase == protocol.PhaseFinal {
		t.Fatal("the NEED finalized on a node whose trail took nothing")
	}
	h.Close()
	t.Logf("halted and closed after %v: %v", time.Since(t0), h.Err())

	h = openAt(t, dir, honest, host.Config{})
	t.Logf("reopened after %v", time.Since(t0))
	info := wait(t, h, id)
	t.Logf("finalized after %v", time.Since(t0))
	if info.Phase != protocol.PhaseFinal {
		h.Close()
		t.Fatalf("after the restart the NEED ended %s", info.Phase)
	}
	time.Sleep(200 * time.Millisecond)
	h.Close()
	var out strings.Builder
	if _, err := replay.Run(context.Background(), replay.Options{DataDir: dir, Out: &out, NoRerun: true}); err != nil {
		t.Fatalf("replay after the restart: %v", err)
	}
}

// A running node writes a CHECKPOINT every CheckpointEvery (when
// something happened since the last), and replay from the last one re-runs
// only what came after it.
func TestPeriodicCheckpoints(t *testing.T) {
	dir, swarm := oneFlowThenIdle(t, host.Config{CheckpointEvery: 300 * time.Millisecond}, 700*time.Millisecond)
	n := 0
	for _, l := range swarm {
		if l.Kind == host.KindCheckpoint {
			n++
		}
	}
	if n < 2 { // one after the flow while running, and the one on the clean stop
		t.Fatalf("%d checkpoints on the swarm thread, want a periodic one too", n)
	}
	rep, err := replay.Run(context.Background(), replay.Options{DataDir: dir, FromCheckpoint: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Checkpoint == "" || rep.Agents != 0 {
		t.Fatalf("from the last checkpoint: %+v", rep)
	}
}

// A periodic checkpoint is written when an input other than a periodic
// one came since the last, or an ended thread is due to retire; an idle
// node skips the others, unrecorded. The checkpoint of a clean stop is
// written whatever.
func TestIdleNodeSkipsCheckpoints(t *testing.T) {
	dir := t.TempDir()
	h, id := finishedFlow(t, dir, host.Config{CheckpointEvery: -1, RetainEnded: time.Millisecond})
	defer h.Close()
	planFinal(t, h, id)
	count := func() int {
		n := 0
		for _, l := range trailLines(t, h, protocol.SwarmThread) {
			if l.Kind == host.KindCheckpoint {
				n++
			}
		}
		return n
	}
	host.TickCheckpoint(h)
	if n := count(); n != 1 {
		t.Fatalf("%d checkpoints after the first tick that followed a flow, want 1", n)
	}
	if info, _ := h.Need(id); !info.Retired {
		t.Fatalf("the NEED ended 1 ms before was not retired by the checkpoint: %+v", info)
	}
	// The retired NEED's GC comes back from its shard (an input): the
	// next tick may write one more. Then nothing comes, and none is.
	settled := 0
	for tick := 1; settled == 0; tick++ {
		n := count()
		host.TickCheckpoint(h)
		if count() == n {
			settled = count()
		} else if tick > 3 {
			t.Fatalf("%d ticks of an idle node each wrote a checkpoint", tick)
		}
	}
	for range 5 {
		host.TickCheckpoint(h)
	}
	if n := count(); n != settled {
		t.Fatalf("%d checkpoints after five ticks of an idle node, %d before", n, settled)
	}
	h.Close()
	if n := count(); n != settled+1 {
		t.Fatalf("%d checkpoints after a clean stop, want the %d before and the stop's", n, settled)
	}
	if _, err := replay.Run(context.Background(), replay.Options{DataDir: dir}); err != nil {
		t.Fatalf("replay of a trail with checkpoints skipped: %v", err)
	}
}

// oneFlowThenIdle runs a node with cfg through one flow to its FINALIZE,
// lets it idle (its periodic inputs go on), stops it, and returns its data
// folder and the lines of its swarm thread.
func oneFlowThenIdle(t *testing.T, cfg host.Config, idle time.Duration) (string, []*audit.Record) {
	t.Helper()
	dir := t.TempDir()
	h, _ := finishedFlow(t, dir, cfg)
	time.Sleep(idle)
	h.Close()
	return dir, trailLines(t, h, protocol.SwarmThread)
}

// A running node's ReconcileEvery timer offers a RECONCILE of the plan:
// the offer is an input of its trail (a reconcile line), its RECONCILE
// envelope is accepted back, and replay publishes the same offers.
func TestPeriodicReconcileOffers(t *testing.T) {
	dir, swarm := oneFlowThenIdle(t, host.Config{ReconcileEvery: 50 * time.Millisecond}, 300*time.Millisecond)
	due, offers := 0, 0
	for _, l := range swarm {
		switch {
		case l.Kind == host.KindReconcile:
			due++
		case l.Kind == audit.KindEnvelope && l.Verdict == audit.Accepted && strings.Contains(string(l.Envelope), `"verb":"RECONCILE"`):
			offers++
		}
	}
	if due < 1 || offers < due {
		t.Fatalf("%d reconcile lines and %d RECONCILE envelopes accepted on the swarm thread, want the timer's offers", due, offers)
	}
	if _, err := replay.Run(context.Background(), replay.Options{DataDir: dir}); err != nil {
		t.Fatalf("replay of a trail with RECONCILE offers: %v", err)
	}
}

// An anti-entropy tick offers only when the plan changed since the node's
// last offer (or another host showed a different one): an idle node
// records nothing at the ticks between, but for every
// ReconcileAnywayAfter-th, which offers again whatever the plan.
func TestIdleNodeOffersReconcileRarely(t *testing.T) {
	dir := t.TempDir()
	h, id := finishedFlow(t, dir, host.Config{ReconcileEvery: -1})
	defer h.Close()
	planFinal(t, h, id) // the planner's last op is in: the plan stays
	offers := func() []string {
		var digests []string
		for _, l := range trailLines(t, h, protocol.SwarmThread) {
			if l.Kind == audit.KindEnvelope && l.Verdict == audit.Accepted && strings.Contains(string(l.Envelope), `"verb":"RECONCILE"`) {
				e, err := envelope.Verify(l.Envelope)
				if err != nil {
					t.Fatal(err)
				}
				var p struct {
					PlanDigest string `json:"plan_digest"`
				}
				if err := json.Unmarshal(e.Payload, &p); err != nil {
					t.Fatal(err)
				}
				digests = append(digests, p.PlanDigest)
			}
		}
		return digests
	}
	host.TickReconcile(h)
	first := offers()
	if len(first) != 1 {
		t.Fatalf("the first tick made %d offers, want one: the node had never offered its plan", len(first))
	}
	// The ticks after it are skipped but for the ReconcileAnywayAfter-th,
	// which offers the same plan again.
	for i := 1; i < host.ReconcileAnywayAfter; i++ {
		host.TickReconcile(h)
		if got := offers(); len(got) != len(first) {
			t.Fatalf("tick %d after an offer of an unchanged plan offered it: %d offers, %d before", i, len(got), len(first))
		}
	}
	host.TickReconcile(h)
	got := offers()
	if len(got) != len(first)+1 || got[len(got)-1] != first[len(first)-1] {
		t.Fatalf("tick %d in a row of an unchanged plan: offers %v, before it %v; want the same digest offered again",
			host.ReconcileAnywayAfter, got, first)
	}
	h.Close()
	if _, err := replay.Run(context.Background(), replay.Options{DataDir: dir}); err != nil {
		t.Fatalf("replay of a trail with ticks skipped: %v", err)
	}
}

// GET /healthz says ok while a node works, and why not once it stopped
// itself (its trail refused a line).
func TestHealthSaysWhyANodeStopped(t *testing.T) {
	h := openAt(t, t.TempDir(), honest, host.Config{})
	defer h.Close()
	get := func() (int, string) {
		resp, err := http.Get(h.API.URL() + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(); code != http.StatusOK || !strings.Contains(body, `"status":"ok"`) {
		t.Fatalf("a working node's /healthz: %d %s", code, body)
	}
	h.Trail.FailWrites(errors.New("no space left on device (injected)"))
	submit(t, h, 3, 3, 10_000)
	select {
	case <-h.Halted():
	case <-time.After(30 * time.Second):
		t.Fatal("the node went on without its trail")
	}
	if code, body := get(); code != http.StatusServiceUnavailable || !strings.Contains(body, "no space left on device (injected)") {
		t.Fatalf("a stopped node's /healthz: %d %s, want 503 saying why", code, body)
	}
}

// A loop stuck in a step (here: the core's lock held) while inputs wait
// shows at /healthz once it took none for the stall time; it is healthy
// again when the loop goes on.
func TestHealthSaysWhenTheLoopIsStuck(t *testing.T) {
	h := openAt(t, t.TempDir(), honest, host.Config{})
	defer h.Close()
	defer host.SetStallAfter(host.SetStallAfter(200 * time.Millisecond))
	unlock := host.LockCore(h)
	locked := true
	defer func() {
		if locked {
			unlock()
		}
	}()
	for i := range 3 { // the first holds the loop, the others wait
		if _, err := h.Submit(context.Background(), api.NeedRequest{Capability: "classify", Input: items, K: 3, N: 3,
			BidWindowMS: 100, LeaseMS: 10_000, MaxEpochs: 3, DeadlineMS: 60_000, Nonce: fmt.Sprint("stuck ", i)}); err != nil {
			t.Fatal(err)
		}
	}
	var err error
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if err = h.Health(); err != nil {
			break
		}
	}
	if err == nil || !strings.Contains(err.Error(), "the loop has taken no input for") {
		t.Fatalf("Health() = %v with the loop stuck and inputs waiting", err)
	}
	unlock()
	locked = false
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if err = h.Health(); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Health() = %v after the loop went on", err)
		}
	}
}

// The default capsule is built from the embedded classify policy alone: a
// file left beside the copy of its source in DATA/policies/classify (an
// edit, an extra rule) does not change the capsule every NEED gets.
func TestDefaultCapsuleIgnoresFilesLeftInItsFolder(t *testing.T) {
	clean := openAt(t, t.TempDir(), nil, host.Config{})
	want := clean.DefaultCapsule()
	clean.Close()
	dir := t.TempDir()
	src := filepath.Join(dir, "policies", "classify")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "extra.rego"), []byte("package swarm.extra\n\nx := 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := openAt(t, dir, nil, host.Config{})
	defer h.Close()
	if got := h.DefaultCapsule(); got != want {
		t.Fatalf("default capsule with a file left in its folder: %s, want %s", got, want)
	}
}
