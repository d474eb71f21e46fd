package host_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/consensus"
	"github.com/canswarm/swarmhost/consensus/shard"
	"github.com/canswarm/swarmhost/host"
	"github.com/canswarm/swarmhost/host/api"
	"github.com/canswarm/swarmhost/host/audit"
	"github.com/canswarm/swarmhost/host/bus"
	"github.com/canswarm/swarmhost/host/protocol"
	"github.com/canswarm/swarmhost/host/replay"
	"github.com/nats-io/nats.go/jetstream"
)

// A running node retires a NEED that ended RetainEnded ago at its next
// checkpoint: the summary stays (state, result, every accepted envelope's
// id), an envelope that comes late is rejected wrong_state and recorded,
// the trail replays, and a restart rebuilds the thread retired.
func TestEndedThreadsAreRetiredAtCheckpoints(t *testing.T) {
	dir := t.TempDir()
	cfg := host.Config{CheckpointEvery: 150 * time.Millisecond, RetainEnded: time.Millisecond}
	h, id := finishedFlow(t, dir, cfg)
	info, _ := h.Need(id)
	whole := info
	for deadline := time.Now().Add(20 * time.Second); !info.Retired; info, _ = h.Need(id) {
		if time.Now().After(deadline) {
			h.Close()
			t.Fatal("the final NEED was not retired by the checkpoints that followed")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Retired, it is asked of its shard's GC too: the shard keeps its id
	// only, not its record.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		_, found, collected, err := h.Consensus.Get(context.Background(), id)
		if err != nil {
			h.Close()
			t.Fatal(err)
		}
		if collected && !found {
			break
		}
		if time.Now().After(deadline) {
			h.Close()
			t.Fatalf("the retired NEED is still in its shard (found %v, collected %v)", found, collected)
		}
	}
	if st, err := h.Consensus.Status(context.Background()); err != nil || st.Collected == 0 {
		h.Close()
		t.Fatalf("consensus status says %d NEEDs collected (%v), want the retired one", st.Collected, err)
	}
	accepted := 0
	for _, r := range trailLines(t, h, id) {
		if r.Kind == audit.KindEnvelope && r.Verdict == audit.Accepted {
			accepted++
		}
	}
	if info.Phase != protocol.PhaseFinal || info.Result != whole.Result || info.Finalize != whole.Finalize ||
		len(info.Envelopes) != accepted || info.EnvelopesInTrail != accepted {
		h.Close()
		t.Fatalf("retired summary %+v, want the thread as it finalized (%+v) with all %d envelopes its trail accepted",
			info, whole, accepted)
	}
	// The core no longer lists them; the node reads them from the trail,
	// the same as the core listed them while the thread was whole.
	if len(whole.Envelopes) > accepted || !slices.Equal(info.Envelopes[:len(whole.Envelopes)], whole.Envelopes) {
		h.Close()
		t.Fatalf("a retired thread's envelopes from its trail %+v, the core listed %+v before", info.Envelopes, whole.Envelopes)
	}

	// A late ATTEST from a verifier of the flow: rejected, recorded.
	vKey, vTok, ok := h.AgentKey("verifier-a.wasm")
	if !ok {
		h.Close()
		t.Fatal("no verifier-a.wasm")
	}
	late, err := envelope.Sign(envelope.Draft{ThreadID: id, Verb: envelope.VerbAttest, Lamport: 1 << 40, Capability: vTok,
		PolicyEvalDigest: envelope.HashRef([]byte("late")),
		Payload:          map[string]any{"commit": info.Commit, "epoch": info.Epoch, "verdict": "pass"}}, vKey.Private)
	if err != nil {
		h.Close()
		t.Fatal(err)
	}
	if _, err := h.Bus.Publish(context.Background(), late); err != nil {
		h.Close()
		t.Fatal(err)
	}
	if verdict := recordedVerdict(t, h, id, late.ID); verdict != "rejected wrong_state" {
		h.Close()
		t.Fatalf("the ATTEST sent after the NEED was retired was recorded %q, want rejected wrong_state", verdict)
	}
	h.Close()

	if _, err := replay.Run(context.Background(), replay.Options{DataDir: dir}); err != nil {
		t.Fatalf("replay of a trail with retired threads: %v", err)
	}
	h = openAt(t, dir, honest, host.Config{CheckpointEvery: -1})
	defer h.Close()
	if again, ok := h.Need(id); !ok || !again.Retired || again.Phase != protocol.PhaseFinal || len(again.Envelopes) != accepted {
		t.Fatalf("rebuilt from the trail, the NEED is %+v, want it final and retired as before", again)
	}
	// A retired thread whose trail cannot be read says so, rather than
	// listing no envelope as if it had none.
	name, _ := audit.FileName(id)
	path := filepath.Join(dir, "audit", name)
	if err := os.Rename(path, path+".away"); err != nil {
		t.Fatal(err)
	}
	info, _ = h.Need(id)
	os.Rename(path+".away", path)
	if info.EnvelopesError == "" || len(info.Envelopes) != 0 {
		t.Fatalf("a retired thread whose trail is gone: %d envelopes, error %q; want none and an error", len(info.Envelopes), info.EnvelopesError)
	}
}

// A NEED that ended leaves no timer behind: its lease and deadline timers
// are stopped, not left to fire into a core that ignores them (each a
// goroutine held until its time, a deadline possibly hours away).
func TestEndedThreadsStopTheirTimers(t *testing.T) {
	h := openAt(t, t.TempDir(), honest, host.Config{})
	defer h.Close()
	flow := func(i int) {
		id, err := h.Submit(context.Background(), api.NeedRequest{Capability: "classify", Input: items, K: 3, N: 3,
			BidWindowMS: 100, LeaseMS: 600_000, MaxEpochs: 3, DeadlineMS: 3_600_000, Nonce: fmt.Sprint(t.Name(), i)})
		if err != nil {
			t.Fatal(err)
		}
		if info := wait(t, h, id); info.Phase != protocol.PhaseFinal {
			t.Fatalf("flow %d ended %s", i, info.Phase)
		}
	}
	flow(0) // warm
	time.Sleep(300 * time.Millisecond)
	before := runtime.NumGoroutine()
	const flows = 10
	for i := 1; i <= flows; i++ {
		flow(i)
	}
	time.Sleep(300 * time.Millisecond)
	// Each flow arms a window, a lease and a deadline timer; a few
	// goroutines come and go on their own (the bus, the shards).
	if grew := runtime.NumGoroutine() - before; grew >= flows {
		t.Fatalf("%d goroutines more after %d finished flows: their timers are still waiting", grew, flows)
	}
}

// Config.BusMaxAge bounds the bus stream's age (the audit trail is the
// record); a bound shorter than the stream's dedup window is refused when
// the node opens, naming both.
func TestBusMaxAgeBoundsTheStream(t *testing.T) {
	cfg := streamConfig(t, host.Config{BusMaxAge: 48 * time.Hour})
	if cfg.MaxAge != 48*time.Hour {
		t.Fatalf("the stream keeps envelopes for %v, want 48h", cfg.MaxAge)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := host.Open(ctx, host.Config{DataDir: t.TempDir(), WasmCacheDir: wasmCache, BusMaxAge: time.Hour})
	if err == nil || !strings.Contains(err.Error(), "MaxAge 1h0m0s is shorter than the dedup window 24h0m0s") {
		t.Fatalf("opening with a 1h bus bound: %v, want it refused for the 24h dedup window", err)
	}
}

// Config.BusDedupWindow sets how long the stream remembers envelope ids
// (its memory of them is the server's, ~120 B an envelope), and with it
// the shortest bound of the stream's age.
func TestBusDedupWindowSetsTheStreams(t *testing.T) {
	cfg := streamConfig(t, host.Config{BusDedupWindow: 10 * time.Minute, BusMaxAge: time.Hour})
	if cfg.Duplicates != 10*time.Minute || cfg.MaxAge != time.Hour {
		t.Fatalf("the stream's dedup window is %v and age bound %v, want 10m and 1h", cfg.Duplicates, cfg.MaxAge)
	}
}

// streamConfig opens a node with cfg (no plugins) and returns the
// configuration of the bus stream it made.
func streamConfig(t *testing.T, cfg host.Config) jetstream.StreamConfig {
	t.Helper()
	h := openAt(t, t.TempDir(), nil, cfg)
	defer h.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := h.Bus.JetStream().Stream(ctx, bus.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return info.Config
}

// A NEED its shard collected while this node's thread of it is still open
// (a node caught up by a consensus snapshot taken after the GC, which a
// single node cannot produce: the command is handed to the loop as the
// feed would) ends abandoned with the reason; the GC is recorded, the
// trail replays, and a restart rebuilds the thread as it ended. A GC of a
// NEED whose thread ended here records nothing.
func TestCollectedNeedEndsAnOpenThread(t *testing.T) {
	dir := t.TempDir()
	h, ended := finishedFlow(t, dir, host.Config{CheckpointEvery: -1})
	open, err := h.Submit(context.Background(), api.NeedRequest{Capability: "classify", Input: items, K: 3, N: 3,
		BidWindowMS: 600_000, LeaseMS: 10_000, MaxEpochs: 3, DeadlineMS: 3_600_000, Nonce: t.Name() + "-open"})
	if err != nil {
		h.Close()
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if info, ok := h.Need(open); ok && info.Phase == protocol.PhaseOpen {
			break
		}
		if time.Now().After(deadline) {
			h.Close()
			t.Fatal("the second NEED never opened")
		}
	}
	linesBefore := len(trailLines(t, h, ended))
	for _, need := range []string{ended, open} {
		b, _ := shard.BucketOf(need)
		host.TakeApplied(h, consensus.Applied{Index: 1 << 40, Recovered: true, Command: (&shard.GC{Bucket: b,
			Needs: []string{need}}).Encode(), Result: shard.Result{Accepted: true, Op: shard.OpGC, Dropped: 1},
			Collected: []string{need}})
	}
	info := wait(t, h, open)
	if info.Phase != protocol.PhaseAbandoned || !strings.Contains(info.Abandoned, "collected") {
		h.Close()
		t.Fatalf("the open NEED its shard collected is %s (%q), want abandoned for it", info.Phase, info.Abandoned)
	}
	// Wait reports the end once its round's lines are durable (the loop
	// steps an input, then writes its line with the step's verdict): the
	// line is in the file.
	collected := 0
	for _, r := range trailLines(t, h, open) {
		if r.Kind == host.KindCollected {
			collected++
		}
	}
	if collected != 1 {
		h.Close()
		t.Fatalf("%d collected lines on the open NEED's thread, want 1", collected)
	}
	// Nothing of the GC reaches the thread of a NEED that ended here (other
	// late lines may: a verifier's call answering after the FINALIZE).
	for _, r := range trailLines(t, h, ended)[linesBefore:] {
		if r.Kind == host.KindCollected || bytes.Contains(r.Envelope, []byte(`"collected"`)) {
			h.Close()
			t.Fatalf("the GC of a NEED that ended here wrote a %s line: %s", r.Kind, r.Envelope)
		}
	}
	if info, _ := h.Need(ended); info.Phase != protocol.PhaseFinal {
		h.Close()
		t.Fatalf("the GC of a NEED that ended final left it %s", info.Phase)
	}
	h.Close()

	if _, err := replay.Run(context.Background(), replay.Options{DataDir: dir, NoRerun: true}); err != nil {
		t.Fatalf("replay of a trail with a collected line: %v", err)
	}
	h = openAt(t, dir, honest, host.Config{CheckpointEvery: -1})
	defer h.Close()
	if again, ok := h.Need(open); !ok || again.Phase != protocol.PhaseAbandoned || again.Abandoned != info.Abandoned {
		t.Fatalf("rebuilt from the trail, the NEED is %+v, want it abandoned as before", again)
	}
}

// A checkpoint's GC that fails (the shards unreachable for a while) is
// asked again until it is applied: the core asks for it once, and a GC
// lost would leave the retired NEED's record in its shard for good.
func TestAFailedGCIsAskedAgain(t *testing.T) {
	var failed atomic.Int32
	cfg := host.WithProposeFault(host.Config{CheckpointEvery: 150 * time.Millisecond, RetainEnded: time.Millisecond},
		func(op string) error {
			if op == "GC" && failed.Add(1) <= 2 {
				return errors.New("shards unreachable (test)")
			}
			return nil
		})
	h, id := finishedFlow(t, t.TempDir(), cfg)
	defer h.Close()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		_, found, collected, err := h.Consensus.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if collected && !found {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %d failed GC attempts the retired NEED is still in its shard (found %v, collected %v)", failed.Load(), found, collected)
		}
	}
	if n := failed.Load(); n < 3 {
		t.Fatalf("%d GC proposals, want the two that failed and one more", n)
	}
}

// An envelope delivered again after the core forgot it (its thread
// retired; the swarm thread compacted at a retiring checkpoint) is a
// duplicate, as it was while the core held it: no line, rather than a
// rejection (wrong_state, stale_lamport) recorded as if it had been
// refused. Such copies come with a restart's consumer reset or a
// redelivery; here each accepted envelope is published again raw.
func TestForgottenEnvelopesDeliveredAgainAreDuplicates(t *testing.T) {
	h, id := finishedFlow(t, t.TempDir(), host.Config{CheckpointEvery: 150 * time.Millisecond, RetainEnded: time.Millisecond})
	defer h.Close()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if info, _ := h.Need(id); info.Retired {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the final NEED was not retired by the checkpoints that followed")
		}
	}
	time.Sleep(500 * time.Millisecond) // checkpoints since: the swarm thread compacted
	// The lines a delivery may write on the NEED's thread.
	needLines := func() (lines []string) {
		for _, r := range trailLines(t, h, id) {
			if r.Kind == audit.KindEnvelope || r.Kind == host.KindHeld || r.Kind == host.KindClock {
				lines = append(lines, r.Kind+" "+r.Verdict+" "+r.Reason)
			}
		}
		return lines
	}
	before := needLines()
	again := append(acceptedEnvelopes(t, h, id), acceptedEnvelopes(t, h, protocol.SwarmThread)...)
	swarmAccepted := map[string]bool{}
	for _, e := range acceptedEnvelopes(t, h, protocol.SwarmThread) {
		swarmAccepted[e.ID] = true
	}
	if len(swarmAccepted) < 2 {
		t.Fatalf("the swarm thread accepted %d envelopes: no checkpoint to deliver again", len(swarmAccepted))
	}
	for _, e := range again {
		subject, err := bus.SubjectOf(e)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.Bus.PublishRaw(context.Background(), subject, e.Wire(), "again-"+e.ID); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(2 * time.Second)
	if after := needLines(); len(after) != len(before) {
		t.Fatalf("the retired thread's envelopes delivered again added %d lines: %q", len(after)-len(before), after[len(before):])
	}
	for _, r := range trailLines(t, h, protocol.SwarmThread) {
		if r.Kind != audit.KindEnvelope || r.Verdict != audit.Rejected {
			continue
		}
		if e, err := envelope.Decode(r.Envelope); err == nil && swarmAccepted[e.ID] {
			t.Fatalf("the swarm thread recorded its own accepted %s %s again, rejected %s", e.Verb, e.ID, r.Reason)
		}
	}
}
