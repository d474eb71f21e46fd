package host_test

import (
	"bytes"
	"context"
	"encoding/json"
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
	"github.com/canswarm/swarmhost/internal/plugintest"
)

var wasmCache string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "swarmhost-wasm-cache-")
	if err != nil {
		panic(err)
	}
	wasmCache = dir
	code := m.Run()
	os.RemoveAll(dir)
	plugintest.Cleanup()
	os.Exit(code)
}

// node starts a host with the given plugins (file name -> first-party
// plugin or fixture name).
func node(t *testing.T, plugins map[string]string) *host.Host {
	t.Helper()
	return nodeTB(t, plugins)
}

func nodeTB(t testing.TB, plugins map[string]string) *host.Host {
	t.Helper()
	h := openAt(t, t.TempDir(), plugins, host.Config{})
	t.Cleanup(func() { h.Close() })
	return h
}

// openAt opens a node on dir with the given plugins (copied into
// dir/plugins) and cfg's other settings; the caller closes it.
func openAt(t testing.TB, dir string, plugins map[string]string, cfg host.Config) *host.Host {
	t.Helper()
	pdir := filepath.Join(dir, "plugins")
	os.MkdirAll(pdir, 0o755)
	for file, name := range plugins {
		b, err := os.ReadFile(plugintest.Path(t, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(pdir, file), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg.DataDir, cfg.WasmCacheDir = dir, wasmCache
	h, err := host.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

var items = json.RawMessage(`["where is my parcel","refund the invoice","great service"]`)

func submit(t *testing.T, h *host.Host, k, n, leaseMS uint64) string {
	t.Helper()
	id, err := h.Submit(context.Background(), api.NeedRequest{Capability: "classify", Input: items, K: k, N: n,
		BidWindowMS: 100, LeaseMS: leaseMS, MaxEpochs: 3, DeadlineMS: 60_000, Nonce: t.Name()})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func wait(t *testing.T, h *host.Host, id string) protocol.ThreadInfo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	info, err := h.Wait(ctx, id)
	if err != nil {
		t.Fatalf("NEED %s: %v; thread: %+v", id, err, info)
	}
	return info
}

// verbs counts a thread's accepted envelopes by verb.
func verbs(info protocol.ThreadInfo) map[string]int {
	m := map[string]int{}
	for _, e := range info.Envelopes {
		m[e.Verb]++
	}
	return m
}

// outcomes returns the outcome lines of a thread's trail.
// finishedFlow opens a node on dir with cfg and the honest plugins and
// takes one NEED (k = n = 3) to its FINALIZE; the node is left open.
func finishedFlow(t *testing.T, dir string, cfg host.Config) (*host.Host, string) {
	t.Helper()
	h := openAt(t, dir, honest, cfg)
	id := submit(t, h, 3, 3, 10_000)
	if info := wait(t, h, id); info.Phase != protocol.PhaseFinal {
		h.Close()
		t.Fatalf("ended %s", info.Phase)
	}
	return h, id
}

// acceptedEnvelopes is the envelopes the thread's trail accepted so far,
// in trail order.
func acceptedEnvelopes(t *testing.T, h *host.Host, thread string) []*envelope.Envelope {
	t.Helper()
	var out []*envelope.Envelope
	for _, r := range trailLines(t, h, thread) {
		if r.Kind != audit.KindEnvelope || r.Verdict != audit.Accepted {
			continue
		}
		e, err := envelope.Verify(r.Envelope)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

func trailLines(t *testing.T, h *host.Host, thread string) []*audit.Record {
	t.Helper()
	name, err := audit.FileName(thread)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(h.Trail.Dir(), name))
	if err != nil {
		t.Fatal(err)
	}
	// A line the node is writing meanwhile (no newline yet) is left out.
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[:i+1]
	} else {
		b = nil
	}
	var out []*audit.Record
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if l == "" {
			continue
		}
		r, err := audit.ParseLine([]byte(l))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// verifyTrail stops the node (a live trail is being written) and verifies
// its trail.
func verifyTrail(t *testing.T, h *host.Host) {
	t.Helper()
	h.Close()
	if _, err := audit.Verify(h.Trail.Dir()); err != nil {
		t.Fatalf("the trail does not verify: %v", err)
	}
}

var honest = map[string]string{
	"classifier-a.wasm": "classifier", "classifier-b.wasm": "classifier",
	"verifier-a.wasm": "verifier", "verifier-b.wasm": "verifier", "verifier-c.wasm": "verifier",
	"planner.wasm": "planner",
}

// A NEED finalizes with k = 3 on real components: bids, a DECIDE through
// the shard, CLAIM, COMMIT, three ATTESTs with the host's digest, FINALIZE;
// the planner's task reaches final in the plan.
func TestFlowFinalizesWithK3(t *testing.T) {
	h := node(t, honest)
	id := submit(t, h, 3, 3, 10_000)
	info := wait(t, h, id)
	if info.Phase != protocol.PhaseFinal {
		t.Fatalf("ended %s: %+v", info.Phase, info)
	}
	v := verbs(info)
	for verb, n := range map[string]int{"NEED": 1, "PROPOSE": 2, "DECIDE": 1, "CLAIM": 1, "COMMIT": 1, "ATTEST": 3, "FINALIZE": 1} {
		if v[verb] != n {
			t.Errorf("%s: %d accepted, want %d (%v)", verb, v[verb], n, v)
		}
	}
	if len(info.Attestation) != 3 {
		t.Fatalf("FINALIZE rests on %d attestations, want 3", len(info.Attestation))
	}
	blob, err := h.CAS.Get(context.Background(), info.Result)
	if err != nil || !strings.Contains(string(blob), `"labels"`) {
		t.Fatalf("result %s: %s %v", info.Result, blob, err)
	}
	planFinal(t, h, id)
	// Its DECIDE, FINALIZE and its agents' envelopes came back from the
	// stream and were taken as it signed them; the trail verifies below.
	if n := h.OwnEnvelopesTrusted(); n < 8 {
		t.Errorf("%d of the node's own envelopes taken back without a second verification, want its 8 at least", n)
	}
	verifyTrail(t, h)
}

// planFinal waits until the planner has marked the NEED's task final.
func planFinal(t *testing.T, h *host.Host, id string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := h.PlanQuery([]byte(`{"task":"` + id + `"}`))
		if err == nil && strings.Contains(string(b), `"state":"final"`) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the plan task never reached final: %s %v", b, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A NEED the capsule's admit denies (n above its bound of 7) is refused
// with the reason the compiled capsule gives, and nothing else happens on
// its thread.
func TestFlowAdmitDenied(t *testing.T) {
	h := node(t, honest)
	id := submit(t, h, 1, 8, 10_000)
	info := wait(t, h, id)
	const want = "the capsule's admit denied the NEED: k 1, n 8: whole numbers with 1 <= k <= n <= 7"
	if info.Phase != protocol.PhaseRefused || info.Refusal != want {
		t.Fatalf("want refused by admit, %q; got %s %q", want, info.Phase, info.Refusal)
	}
	if v := verbs(info); len(v) != 1 || v["NEED"] != 1 {
		t.Fatalf("a refused NEED drew envelopes: %v", v)
	}
	found := false
	for _, r := range trailLines(t, h, id) {
		if r.Kind == host.KindOutcome && strings.Contains(string(r.Envelope), "need_refused") {
			found = true
		}
	}
	if !found {
		t.Fatal("no need_refused outcome in the trail")
	}
}

// A worker that wins and never CLAIMs lets its lease expire: the host
// RELEASEs (expired), epoch 2 opens without it, the other worker
// finalizes; a COMMIT for epoch 1 arriving after that is rejected
// stale_fence.
func TestFlowLeaseExpiresThenStaleCommitRejected(t *testing.T) {
	h := node(t, map[string]string{"staller.wasm": "staller", "classifier-a.wasm": "classifier",
		"verifier-a.wasm": "verifier", "verifier-b.wasm": "verifier"})
	id := submit(t, h, 2, 2, 400)
	info := wait(t, h, id)
	if info.Phase != protocol.PhaseFinal || info.Epoch != 2 {
		t.Fatalf("want FINAL in epoch 2, got %s epoch %d", info.Phase, info.Epoch)
	}
	stallerKey, stallerTok, _ := h.AgentKey("staller.wasm")
	classifier := h.AgentKeys()["classifier-a.wasm"]
	if info.Decision.WorkerPK != classifier {
		t.Fatalf("epoch 2 went to %s, not the classifier", info.Decision.WorkerPK)
	}
	var release, decide1 bool
	for _, r := range trailLines(t, h, id) {
		if r.Kind == host.KindConsensus && strings.Contains(string(r.Envelope), `"op":"RELEASE"`) &&
			strings.Contains(string(r.Envelope), `"reason":"expired"`) {
			release = true
		}
		if r.Kind == audit.KindEnvelope && r.Verdict == audit.Accepted && strings.Contains(string(r.Envelope), `"verb":"DECIDE"`) &&
			strings.Contains(string(r.Envelope), stallerKey.PublicHex()) {
			decide1 = true
		}
	}
	if !release || !decide1 {
		t.Fatalf("epoch 1 decided for the staller: %v; released as expired: %v", decide1, release)
	}

	// The staller's COMMIT for epoch 1, with epoch 1's fence, arrives late.
	var fence1 uint64
	for _, r := range trailLines(t, h, id) {
		var a protocol.Applied
		if r.Kind == host.KindConsensus && json.Unmarshal(r.Envelope, &a) == nil && a.Cmd.Op == "DECIDE" && a.Cmd.Epoch == 1 {
			fence1 = a.Fence
		}
	}
	ref, err := h.CAS.Put(context.Background(), []byte(`{"labels":["other","other","other"]}`))
	if err != nil {
		t.Fatal(err)
	}
	late, err := envelope.Sign(envelope.Draft{ThreadID: id, Verb: envelope.VerbCommit, Lamport: 1 << 40,
		Capability: stallerTok, ContentRefs: []string{ref}, PolicyCapsuleHash: h.DefaultCapsule(),
		Payload: map[string]any{"epoch": 1, "fence": fence1, "result": ref, "telemetry": map[string]any{"gas_used": 0, "wall_ms": 0}}},
		stallerKey.Private)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Bus.Publish(context.Background(), late); err != nil {
		t.Fatal(err)
	}
	if verdict := recordedVerdict(t, h, id, late.ID); verdict != "rejected stale_fence" {
		t.Fatalf("the late COMMIT was recorded %q, want rejected stale_fence", verdict)
	}
	verifyTrail(t, h)
}

// recordedVerdict waits up to 20 s for the thread's trail to record the
// envelope and returns its "verdict reason", or "" if it never does.
func recordedVerdict(t *testing.T, h *host.Host, thread, envelopeID string) string {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		for _, r := range trailLines(t, h, thread) {
			if r.Kind == audit.KindEnvelope && strings.Contains(string(r.Envelope), envelopeID) {
				return r.Verdict + " " + r.Reason
			}
		}
	}
	return ""
}

// A verifier that attests a digest nobody computed is challenged by an
// honest verifier and INVALIDATEd; the FINALIZE rests only on the honest
// attestations.
func TestFlowLyingVerifierInvalidated(t *testing.T) {
	h := node(t, map[string]string{"classifier-a.wasm": "classifier", "verifier-a.wasm": "verifier",
		"verifier-b.wasm": "verifier", "liar.wasm": "liar"})
	id := submit(t, h, 2, 3, 10_000)
	info := wait(t, h, id)
	if info.Phase != protocol.PhaseFinal {
		t.Fatalf("ended %s", info.Phase)
	}
	liarAttest := waitInvalidated(t, h, id, h.AgentKeys()["liar.wasm"])
	info, _ = h.Need(id)
	if v := verbs(info); v["CHALLENGE"] < 1 || v["INVALIDATE"] != 1 {
		t.Fatalf("want a CHALLENGE and one INVALIDATE, got %v", v)
	}
	if len(info.Attestation) != 2 {
		t.Fatalf("FINALIZE rests on %v, want the 2 honest attestations", info.Attestation)
	}
	for _, a := range info.Attestation {
		if a == liarAttest {
			t.Fatalf("FINALIZE counts the liar's attestation %s", a)
		}
	}
	verifyTrail(t, h)
}

// Delivering the same envelope again has no second effect: one record in
// the trail, one envelope in the thread.
func TestFlowDuplicateDeliveriesHaveNoEffect(t *testing.T) {
	h := node(t, honest)
	id := submit(t, h, 3, 3, 10_000)
	wait(t, h, id)
	planFinal(t, h, id)
	info, _ := h.Need(id)
	// The lines a delivery may write: its envelope's (accepted or
	// rejected), a held one, a clock line. (An agent's answer on the
	// thread may still come after the FINALIZE, a line of its own.)
	deliveryLines := func() int {
		n := 0
		for _, r := range trailLines(t, h, id) {
			if r.Kind == audit.KindEnvelope || r.Kind == host.KindHeld || r.Kind == host.KindClock {
				n++
			}
		}
		return n
	}
	before := deliveryLines()
	// Republish every accepted envelope of the thread on the bus, raw (the
	// stream's own de-duplication is bypassed by a new message id).
	for _, r := range trailLines(t, h, id) {
		if r.Kind != audit.KindEnvelope || r.Verdict != audit.Accepted {
			continue
		}
		e, err := envelope.Verify(r.Envelope)
		if err != nil {
			t.Fatal(err)
		}
		subject := "swarm.env." + strings.TrimPrefix(id, "sha256:") + "." + string(e.Verb)
		if _, err := h.Bus.PublishRaw(context.Background(), subject, r.Envelope, "dup-"+e.ID); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(2 * time.Second)
	after, _ := h.Need(id)
	if len(after.Envelopes) != len(info.Envelopes) {
		t.Fatalf("duplicates changed the thread: %d envelopes, was %d", len(after.Envelopes), len(info.Envelopes))
	}
	if n := deliveryLines(); n != before {
		t.Fatalf("duplicates added %d trail lines", n-before)
	}
}
