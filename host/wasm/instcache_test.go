package wasm_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/canswarm/swarmhost/host/wasm"
	"github.com/canswarm/swarmhost/host/wasm/gas"
)

// A module loaded a second time with the same cache folder takes its
// instrumented form from the cache, and answers with the output and gas of
// the load that instrumented it; an entry damaged on disk is not used (the
// module is instrumented again and the entry rewritten); another cost
// table is another entry.
func TestInstrumentedCache(t *testing.T) {
	ctx := context.Background()
	data, err := os.ReadFile(goPlugin(t, "echo"))
	if err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	load := func(cfg wasm.Config) (string, int64) {
		t.Helper()
		cfg.CacheDir, cfg.PoolSize = cache, 1
		rt, err := wasm.NewRuntime(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer rt.Close(ctx)
		m, err := rt.Load(ctx, "echo", data)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close(ctx)
		if !m.FromImage() {
			t.Fatal("the echo plugin does not start from an image")
		}
		e, _ := env(t)
		res, err := m.Handle(ctx, []byte(someInput), 200_000_000, e)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("output %s gas %d", res.Output, res.GasUsed), rt.InstrumentedCacheHits()
	}
	entries := func() []string {
		t.Helper()
		names, _ := filepath.Glob(filepath.Join(cache, "swarmhost-instrumented", "*"))
		return names
	}

	first, hits := load(wasm.Config{})
	if hits != 0 || len(entries()) != 1 {
		t.Fatalf("first load: %d cache hits, %d entries; want 0 and 1", hits, len(entries()))
	}
	second, hits := load(wasm.Config{})
	if hits != 1 {
		t.Fatalf("second load: %d cache hits, want 1", hits)
	}
	if first != second {
		t.Fatalf("instrumented: %s\nfrom the cache: %s", first, second)
	}

	entry := entries()[0]
	b, _ := os.ReadFile(entry)
	b[len(b)-100] ^= 0xff
	if err := os.WriteFile(entry, b, 0o600); err != nil {
		t.Fatal(err)
	}
	third, hits := load(wasm.Config{})
	if hits != 0 || third != first {
		t.Fatalf("damaged entry: %d cache hits (want 0), answer %s", hits, third)
	}
	if _, hits := load(wasm.Config{}); hits != 1 {
		t.Fatalf("the damaged entry was not rewritten: %d cache hits", hits)
	}

	costs := gas.V1
	costs.Version = "test-costs"
	costs.Call++
	if _, hits := load(wasm.Config{Costs: &costs}); hits != 0 || len(entries()) != 2 {
		t.Fatalf("another cost table: %d cache hits, %d entries; want 0 and 2", hits, len(entries()))
	}
}
