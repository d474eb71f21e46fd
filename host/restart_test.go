package host_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/canswarm/swarmhost/host"
	"github.com/canswarm/swarmhost/host/audit"
	"github.com/canswarm/swarmhost/host/protocol"
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
