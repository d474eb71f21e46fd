package host_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/canswarm/swarmhost/host"
	"github.com/canswarm/swarmhost/host/api"
	"github.com/canswarm/swarmhost/host/bus"
	"github.com/canswarm/swarmhost/host/protocol"
	"github.com/canswarm/swarmhost/host/replay"
	"github.com/canswarm/swarmhost/internal/plugintest"
	"github.com/canswarm/swarmhost/internal/trailcheck"
)

// Flows on a real node whose bus drops, duplicates, delays and reorders
// deliveries (by seed) all end; then P1, P2 and P7 hold on its trail, and
// the trail replays.
func TestLiveChaos(t *testing.T) {
	for _, seed := range []uint64{1, 2} {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { liveChaos(t, seed) })
	}
}

func liveChaos(t *testing.T, seed uint64) {
	dir := t.TempDir()
	pdir := filepath.Join(dir, "plugins")
	os.MkdirAll(pdir, 0o755)
	for file, name := range map[string]string{"classifier-a.wasm": "classifier", "classifier-b.wasm": "classifier",
		"verifier-a.wasm": "verifier", "verifier-b.wasm": "verifier", "planner.wasm": "planner"} {
		b, err := os.ReadFile(plugintest.Path(t, name))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(pdir, file), b, 0o644)
	}
	chaos := &bus.Chaos{Seed: seed, Drop: 0.1, Dup: 0.15, Delay: 0.15, Reorder: 0.1, MaxDelay: 50 * time.Millisecond}
	// Checkpoints retire each NEED as soon as it ends, so that the late,
	// duplicated and reordered deliveries meet retired threads too.
	h, err := host.Open(context.Background(), host.Config{DataDir: dir, WasmCacheDir: wasmCache, Chaos: chaos,
		CheckpointEvery: 200 * time.Millisecond, RetainEnded: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := 0; i < 4; i++ {
		id, err := h.Submit(context.Background(), api.NeedRequest{Capability: "classify", Input: items, K: 2, N: 2,
			BidWindowMS: 1000, LeaseMS: 5_000, MaxEpochs: 3, DeadlineMS: 60_000, Nonce: fmt.Sprint(seed, i)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	for _, id := range ids {
		info := wait(t, h, id)
		if info.Phase != protocol.PhaseFinal && info.Phase != protocol.PhaseAbandoned {
			t.Fatalf("NEED %s ended %s", id, info.Phase)
		}
		t.Logf("NEED %s: %s epoch %d %s%s", id[7:15], info.Phase, info.Epoch, info.Abandoned, info.Refusal)
	}
	time.Sleep(500 * time.Millisecond)
	for _, id := range ids {
		if info, _ := h.Need(id); !info.Retired {
			h.Close()
			t.Fatalf("NEED %s ended %s but no checkpoint retired it", id, info.Phase)
		}
	}
	h.Close()
	if dr, du, de, re := h.ChaosCounts(); dr == 0 || du == 0 || de == 0 || re == 0 {
		t.Fatalf("chaos did not bite: dropped %d, duplicated %d, delayed %d, reordered %d", dr, du, de, re)
	}

	// P1, P2 over the trail; P7: every envelope the stream holds is in it.
	rep, err := trailcheck.Check(dir)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Finalizes == 0 {
		t.Fatal("no NEED finalized under chaos")
	}
	recorded := rep.IDs
	b, err := bus.Open(context.Background(), bus.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cons, err := b.Subscribe(context.Background(), bus.Filter{}, "p7-check")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		d, err := cons.Next(ctx)
		cancel()
		if err != nil {
			break
		}
		n++
		if d.Envelope != nil && !recorded[d.Envelope.ID] {
			t.Fatalf("P7: envelope %s (%s) is on the bus but not in the trail", d.Envelope.ID, d.Envelope.Verb)
		}
		d.Ack(context.Background())
	}
	if n == 0 {
		t.Fatal("P7: read nothing back from the stream")
	}
	var out strings.Builder
	if _, err := replay.Run(context.Background(), replay.Options{DataDir: dir, Out: &out}); err != nil {
		t.Fatalf("replay of a trail made under chaos: %v", err)
	}
	if !strings.Contains(out.String(), "replay: ok") {
		t.Fatal(out.String())
	}
}
