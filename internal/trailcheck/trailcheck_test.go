package trailcheck_test

import (
	"crypto/ed25519"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host"
	"github.com/canswarm/swarmhost/host/audit"
	"github.com/canswarm/swarmhost/host/protocol"
	"github.com/canswarm/swarmhost/internal/trailcheck"
)

var need = envelope.HashRef([]byte("need"))

func sign(t *testing.T, key ed25519.PrivateKey, verb envelope.Verb, lamport uint64, payload map[string]any) *envelope.Envelope {
	t.Helper()
	e, err := envelope.Sign(envelope.Draft{ThreadID: need, Verb: verb, Lamport: lamport, Payload: payload,
		ContentRefs: []string{}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// trail writes a host's trail: the shard's DECIDE (fence 3) applied, then
// the envelopes, accepted.
func trail(t *testing.T, envs ...*envelope.Envelope) string {
	t.Helper()
	dir := t.TempDir()
	tr, err := audit.Open(filepath.Join(dir, "audit"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	body, _ := json.Marshal(protocol.Applied{Cmd: protocol.Command{Op: "DECIDE", Need: need, Epoch: 1}, Fence: 3})
	if _, err := tr.Append(need, audit.Entry{Kind: host.KindConsensus, ReceivedLamport: 1, Body: body, Verdict: audit.Accepted}); err != nil {
		t.Fatal(err)
	}
	for i, e := range envs {
		if _, err := tr.AppendEnvelope(e, uint64(2+i)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestChecksP1AndP2(t *testing.T) {
	_, hostA, _ := ed25519.GenerateKey(nil)
	_, hostB, _ := ed25519.GenerateKey(nil)
	_, worker, _ := ed25519.GenerateKey(nil)
	decide := func(k ed25519.PrivateKey, fence uint64) *envelope.Envelope {
		return sign(t, k, envelope.VerbDecide, 5, map[string]any{"epoch": 1, "fence": fence})
	}
	commit := func(fence uint64) *envelope.Envelope {
		return sign(t, worker, envelope.VerbCommit, 7, map[string]any{"epoch": 1, "fence": fence})
	}
	d := decide(hostA, 3)
	rep, err := trailcheck.Check(trail(t, d, commit(3)), trail(t, d, commit(3)))
	if err != nil || rep.Decides != 2 || rep.Fenced != 2 {
		t.Fatalf("good trails: %+v %v", rep, err)
	}
	if _, err := trailcheck.Check(trail(t, d), trail(t, decide(hostB, 3))); err == nil || !strings.Contains(err.Error(), "P1") {
		t.Fatalf("two DECIDEs for one epoch on two hosts: %v", err)
	}
	if _, err := trailcheck.Check(trail(t, d, commit(4))); err == nil || !strings.Contains(err.Error(), "P2") {
		t.Fatalf("a COMMIT with a stale fence: %v", err)
	}
}

// P7 is checked per host: an envelope every host should have (say, read
// back from the stream) is missing from the one trail that lacks it, even
// though the other trail, and so the union IDs, has it.
func TestMissingPerHost(t *testing.T) {
	_, hostA, _ := ed25519.GenerateKey(nil)
	_, worker, _ := ed25519.GenerateKey(nil)
	d := sign(t, hostA, envelope.VerbDecide, 5, map[string]any{"epoch": 1, "fence": 3})
	c := sign(t, worker, envelope.VerbCommit, 7, map[string]any{"epoch": 1, "fence": 3})
	full, partial := trail(t, d, c), trail(t, d)
	rep, err := trailcheck.Check(full, partial)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.IDs[c.ID] || !rep.HostIDs[full][c.ID] || rep.HostIDs[partial][c.ID] || !rep.HostIDs[partial][d.ID] {
		t.Fatalf("ids: union %v, per host %v", rep.IDs, rep.HostIDs)
	}
	stream := []string{d.ID, c.ID}
	if m := rep.Missing(full, stream); len(m) != 0 {
		t.Fatalf("the full trail lacks %v", m)
	}
	if m := rep.Missing(partial, stream); len(m) != 1 || m[0] != c.ID {
		t.Fatalf("the trail without the COMMIT lacks %v, want [%s]", m, c.ID)
	}
	if m := rep.Missing("elsewhere", stream); len(m) != 2 {
		t.Fatalf("a folder not checked lacks %v, want both", m)
	}

	// An envelope rejected because it fails its checks is recorded as the
	// bytes that arrived: it still counts, by the id it claims.
	bad := sign(t, worker, envelope.VerbCommit, 8, map[string]any{"epoch": 1, "fence": 3})
	raw := []byte(strings.Replace(string(bad.Wire()), `"lamport":8`, `"lamport":9`, 1))
	if string(raw) == string(bad.Wire()) {
		t.Fatal("could not spoil the envelope")
	}
	dir := trail(t)
	tr, err := audit.Open(filepath.Join(dir, "audit"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.AppendRejected(raw, envelope.CodeBadSignature, 10); err != nil {
		t.Fatal(err)
	}
	tr.Close()
	if rep, err = trailcheck.Check(dir); err != nil {
		t.Fatal(err)
	}
	if m := rep.Missing(dir, []string{bad.ID}); len(m) != 0 {
		t.Fatalf("a rejected, unverifiable envelope is not counted: %v", rep.HostIDs)
	}
}
