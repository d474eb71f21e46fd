package host_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host"
	"github.com/canswarm/swarmhost/host/audit"
	"github.com/canswarm/swarmhost/host/cas"
	"github.com/canswarm/swarmhost/host/keys"
	"github.com/canswarm/swarmhost/host/protocol"
	"github.com/canswarm/swarmhost/host/replay"
)

// A node reads its own trail to start without verifying every signature
// again (host.ReadTrail), but checks each thread's chain: it decodes the
// same envelopes ReadTrailAll verifies, and a line edited since the node
// wrote it stops the start, naming the thread and where the chain breaks.
func TestRestartChecksTheChainNotTheSignatures(t *testing.T) {
	dir := t.TempDir()
	h, id := finishedFlow(t, dir, host.Config{CheckpointEvery: -1})
	h.Close()

	auditDir := filepath.Join(dir, "audit")
	fast, err := host.ReadTrail(auditDir, func(string) []byte { return nil })
	if err != nil {
		t.Fatal(err)
	}
	verified, err := host.ReadTrailAll(auditDir, func(string) []byte { return nil })
	if err != nil {
		t.Fatal(err)
	}
	accepted := func(inputs []host.TrailInput) []string {
		var ids []string
		for _, ti := range inputs {
			if r, ok := ti.Input.(*protocol.Received); ok && r.Env != nil && ti.Record.Verdict == audit.Accepted {
				ids = append(ids, r.Env.ID+" "+string(r.Env.Payload))
			}
		}
		return ids
	}
	if a, b := accepted(fast), accepted(verified); len(a) == 0 || strings.Join(a, "\n") != strings.Join(b, "\n") {
		t.Fatalf("read to start: %d accepted envelopes, verified: %d, or they differ", len(a), len(b))
	}

	// An agent line in the middle of the NEED's thread, edited: its
	// record is no envelope (no signature to fail), the chain catches it.
	name, _ := audit.FileName(id)
	path := filepath.Join(auditDir, name)
	text, _ := os.ReadFile(path)
	lines := bytes.Split(bytes.TrimSuffix(text, []byte("\n")), []byte("\n"))
	edited := -1
	for i := 1; i < len(lines)-1; i++ {
		if bytes.Contains(lines[i], []byte(`"kind":"agent"`)) && bytes.Contains(lines[i], []byte(`"gas_used":`)) {
			lines[i] = bytes.Replace(lines[i], []byte(`"gas_used":`), []byte(`"gas_used":1`), 1)
			edited = i
			break
		}
	}
	if edited < 0 {
		t.Fatal("no agent line with gas_used in the middle of the NEED's thread")
	}
	os.WriteFile(path, append(bytes.Join(lines, []byte("\n")), '\n'), 0o644)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var logged bytes.Buffer
	h2, err := host.Open(ctx, host.Config{DataDir: dir, WasmCacheDir: wasmCache, CheckpointEvery: -1,
		Log: slog.New(slog.NewTextHandler(&logged, nil))})
	if err == nil {
		h2.Close()
		t.Fatal("a node started on a trail with an edited line")
	}
	if want := "audit " + id + ": the chain breaks at line"; !strings.Contains(err.Error(), want) {
		t.Fatalf("start on an edited trail: %v; want it to say %q", err, want)
	}
	// The failed start closed what it had opened without asking its loop,
	// which never ran, for a last CHECKPOINT (it waited 10 s for one).
	if strings.Contains(logged.String(), "checkpoint") {
		t.Fatalf("a failed start waited for a checkpoint: %s", logged.String())
	}
}

// One node per data folder, whatever its bus: a second node on a folder in
// use is refused before it touches anything, also when it would have used
// another NATS server (the embedded one's lock is on its own store only).
func TestOneNodePerDataFolder(t *testing.T) {
	dir := t.TempDir()
	h := openAt(t, dir, nil, host.Config{CheckpointEvery: -1})
	defer h.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, url := range []string{"", h.Bus.Embedded().ClientURL()} {
		h2, err := host.Open(ctx, host.Config{DataDir: dir, NATSURL: url, ConsensusOff: true, WasmCacheDir: wasmCache})
		if err == nil {
			h2.Close()
			t.Fatalf("a second node (nats %q) opened on a data folder in use", url)
		}
		if !errors.Is(err, host.ErrDataInUse) {
			t.Fatalf("a second node (nats %q): %v, want ErrDataInUse", url, err)
		}
	}
}

// A torn round: a crash while a round's lines were written kept an input's
// line and lost the line of the envelope the rules made of it (here the
// shard's FINALIZE applied, the host's FINALIZE envelope not written).
// The restarted node makes that envelope again, the same one, id and all,
// and its trail replays; without it the replay ends on "an envelope the
// rules emit and the trail lacks", and the thread shows no FINALIZE.
func TestTornRoundIsMadeWhole(t *testing.T) {
	dir := t.TempDir()
	h, id := finishedFlow(t, dir, host.Config{CheckpointEvery: -1})
	h.Close()

	// The node is killed rather than closed: no closing CHECKPOINT. And
	// the bus never had the envelopes lost (a round's envelopes leave once
	// its lines are durable): its stream goes, the node publishes its
	// trail's latest envelopes again when it starts.
	auditDir := filepath.Join(dir, "audit")
	if err := os.RemoveAll(filepath.Join(dir, "nats")); err != nil {
		t.Fatal(err)
	}
	cutThread(t, auditDir, protocol.SwarmThread, func(rec *audit.Record) bool { return rec.Kind == host.KindCheckpoint })
	// The FINALIZE's round as a crash leaves it: the input that made it
	// (the shard's FINALIZE applied) durable, the FINALIZE's line not, nor
	// anything after it.
	var lost *envelope.Envelope
	cutThread(t, auditDir, id, func(rec *audit.Record) bool {
		if rec.Kind == audit.KindEnvelope {
			if e, err := envelope.Verify(rec.Envelope); err == nil && e.Verb == envelope.VerbFinalize {
				lost = e
			}
		}
		return lost != nil
	})
	if lost == nil {
		t.Fatal("the NEED's thread has no FINALIZE")
	}

	h2 := openAt(t, dir, nil, host.Config{CheckpointEvery: -1})
	var found *envelope.Envelope
	deadline := time.Now().Add(30 * time.Second)
	for found == nil && time.Now().Before(deadline) {
		for _, e := range acceptedEnvelopes(t, h2, id) {
			if e.Verb == envelope.VerbFinalize {
				found = e
			}
		}
		if found == nil {
			time.Sleep(20 * time.Millisecond)
		}
	}
	h2.Close()
	if found == nil {
		t.Fatal("the restarted node did not make the FINALIZE the torn round lost")
	}
	if found.ID != lost.ID || found.Sig != lost.Sig {
		t.Fatalf("the FINALIZE made again is %s, the lost one was %s: not the same envelope", found.ID, lost.ID)
	}
	var out bytes.Buffer
	if _, err := replay.Run(context.Background(), replay.Options{DataDir: dir, Out: &out, NoRerun: true}); err != nil {
		t.Fatalf("the trail made whole does not replay: %v\n%s", err, out.String())
	}
}

// cutThread cuts a thread's file before the first line cut says is lost,
// as a crash leaves a round's lines not yet durable, and writes the head
// of what is kept (heads never run ahead of their lines).
func cutThread(t *testing.T, auditDir, thread string, cut func(*audit.Record) bool) {
	t.Helper()
	name, err := audit.FileName(thread)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(auditDir, name)
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSuffix(text, []byte("\n")), []byte("\n"))
	n := len(lines)
	for i, l := range lines {
		rec, err := audit.ParseLine(l)
		if err != nil {
			t.Fatal(err)
		}
		if cut(rec) {
			n = i
			break
		}
	}
	if n == 0 {
		t.Fatalf("cutThread %s: nothing would be kept", thread)
	}
	kept := lines[:n]
	if err := os.WriteFile(path, append(bytes.Join(kept, []byte("\n")), '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	head, _ := json.Marshal(map[string]any{"seq": len(kept), "hash": audit.LineHash(kept[len(kept)-1])})
	if err := os.WriteFile(strings.TrimSuffix(path, ".jsonl")+".head", head, 0o644); err != nil {
		t.Fatal(err)
	}
}

// An envelope of a local agent that its host stepped back and rejected was
// written (rejected), not lost: a restart does not publish it again. (The
// node steps its own rejected envelopes when it rebuilds, which takes
// them off the core's list of envelopes still to publish.)
func TestRestartDoesNotResendRejectedOwnEnvelopes(t *testing.T) {
	dir := t.TempDir()
	plugins := map[string]string{"wrongbid.wasm": "wrongbid"}
	for file, name := range honest {
		plugins[file] = name
	}
	h := openAt(t, dir, plugins, host.Config{CheckpointEvery: -1})
	id := submit(t, h, 3, 3, 10_000)
	if info := wait(t, h, id); info.Phase != protocol.PhaseFinal {
		h.Close()
		t.Fatalf("ended %s", info.Phase)
	}
	wrongbid, _, _ := h.AgentKey("wrongbid.wasm")
	rejectedBids := func(h *host.Host) int {
		n := 0
		for _, r := range trailLines(t, h, id) {
			if r.Kind == audit.KindEnvelope && r.Verdict == audit.Rejected &&
				strings.Contains(string(r.Envelope), wrongbid.PublicHex()) {
				n++
			}
		}
		return n
	}
	before := rejectedBids(h)
	h.Close()
	if before == 0 {
		t.Fatal("the wrong bid was not recorded rejected")
	}

	h2 := openAt(t, dir, nil, host.Config{CheckpointEvery: -1})
	defer h2.Close()
	// A second NEED taken to its end: the start's round is long done.
	id2 := submit(t, h2, 3, 3, 10_000)
	if id2 == id {
		t.Fatal("the second NEED is the first")
	}
	if info := wait(t, h2, id2); info.Phase != protocol.PhaseFinal {
		t.Fatalf("the second NEED ended %s", info.Phase)
	}
	if after := rejectedBids(h2); after != before {
		t.Fatalf("the first NEED's thread records %d rejected bids after the restart, %d before: the restart sent them again", after, before)
	}
}

// Another sender's envelope the trail records rejected stays rejected at a
// restart: a start reads only this host's own rejected envelopes. Here a
// client's NEED came before its capability token was in the CAS (rejected
// bad_capability); the token put there since must not make the restarted
// node admit and run it, which it would if it judged the line again.
func TestRestartDoesNotJudgeOthersRejectedEnvelopesAgain(t *testing.T) {
	dir := t.TempDir()
	h := openAt(t, dir, honest, host.Config{CheckpointEvery: -1})
	root, err := keys.Load(filepath.Join(dir, "keys", "root.json"), nil)
	if err != nil {
		h.Close()
		t.Fatal(err)
	}
	client, err := keys.Generate(nil)
	if err != nil {
		h.Close()
		t.Fatal(err)
	}
	elsewhere, err := cas.NewFileStore(t.TempDir())
	if err != nil {
		h.Close()
		t.Fatal(err)
	}
	ctx := context.Background()
	_, tokenRef, err := keys.IssueAndStore(ctx, elsewhere, root, client.Public, []envelope.Role{envelope.RoleClient}, nil, 0)
	if err != nil {
		h.Close()
		t.Fatal(err)
	}
	need, err := envelope.Sign(envelope.Draft{Verb: envelope.VerbNeed, Lamport: 1, Capability: tokenRef, PolicyCapsuleHash: h.DefaultCapsule(),
		Payload: json.RawMessage(`{"capability":"classify","input":["where is my parcel"],"k":1,"n":1,"bid_window_ms":100,"lease_ms":10000,"max_epochs":3,"deadline_ms":60000,"nonce":"late token"}`)},
		client.Private)
	if err != nil {
		h.Close()
		t.Fatal(err)
	}
	if _, err := h.Bus.Publish(ctx, need); err != nil {
		h.Close()
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if info, _ := h.Need(need.ID); info.Phase == protocol.PhaseRejected {
			break
		}
		if time.Now().After(deadline) {
			h.Close()
			t.Fatal("the NEED without its token in the CAS was not recorded rejected")
		}
	}
	if verdict := recordedVerdict(t, h, need.ID, need.ID); verdict != "rejected bad_capability" {
		h.Close()
		t.Fatalf("the NEED without its token in the CAS was recorded %q, want rejected bad_capability", verdict)
	}
	tokenBytes, err := elsewhere.Get(ctx, tokenRef)
	if err != nil {
		h.Close()
		t.Fatal(err)
	}
	if _, err := h.CAS.Put(ctx, tokenBytes); err != nil {
		h.Close()
		t.Fatal(err)
	}
	h.Close()

	h2 := openAt(t, dir, nil, host.Config{CheckpointEvery: -1})
	defer h2.Close()
	// A NEED of the host's own taken to its end: the start is long done.
	if info := wait(t, h2, submit(t, h2, 1, 1, 10_000)); info.Phase != protocol.PhaseFinal {
		t.Fatalf("the host's own NEED ended %s", info.Phase)
	}
	if info, _ := h2.Need(need.ID); info.Phase != protocol.PhaseRejected || len(info.Envelopes) != 0 {
		t.Fatalf("after the restart the NEED its trail rejected is %s with %d envelopes, want rejected and none", info.Phase, len(info.Envelopes))
	}
}
