package host_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host"
	"github.com/canswarm/swarmhost/host/protocol"
)

// A node publishes its own envelopes once the round that made them is
// durable; a crash in between leaves them in its trail but not on the bus.
// Started again, it publishes its latest ones again: here a node whose
// stream is new (its trail, keys and CAS kept, its bus and shards not) puts
// the FINALIZE it recorded on the stream, which then holds it (publishing
// it once more is a duplicate).
func TestOwnEnvelopesArePublishedAgainOnStart(t *testing.T) {
	plugins := map[string]string{"classifier-a.wasm": "classifier", "verifier-a.wasm": "verifier",
		"verifier-b.wasm": "verifier", "verifier-c.wasm": "verifier"}
	dir := t.TempDir()
	h := openAt(t, dir, plugins, host.Config{})
	id := submit(t, h, 3, 3, 30_000)
	if info := wait(t, h, id); info.Phase != protocol.PhaseFinal {
		t.Fatalf("phase %s", info.Phase)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	var finalize *envelope.Envelope
	inputs, err := host.ReadTrail(filepath.Join(dir, "audit"), func(string) []byte { return nil })
	if err != nil {
		t.Fatal(err)
	}
	for _, ti := range inputs {
		if r, ok := ti.Input.(*protocol.Received); ok && r.Env != nil && r.Env.Verb == envelope.VerbFinalize {
			finalize = r.Env
		}
	}
	if finalize == nil {
		t.Fatal("no FINALIZE in the trail")
	}

	moved := t.TempDir()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() == "nats" || e.Name() == "raft" {
			continue // a bus and shards that never saw this node's envelopes
		}
		if err := os.Rename(filepath.Join(dir, e.Name()), filepath.Join(moved, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	h2 := openAt(t, moved, plugins, host.Config{})
	defer h2.Close()
	ack, err := h2.Bus.Publish(context.Background(), finalize)
	if err != nil {
		t.Fatal(err)
	}
	if !ack.Duplicate {
		t.Fatal("the recorded FINALIZE was not published again on start: the stream took it as new")
	}
}
