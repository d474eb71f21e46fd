package wasm_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/canswarm/swarmhost/host/wasm"
)

// BenchmarkHandleNative: one swarm_handle of the hand-written good.wasm
// through the runtime: a fresh instance from the pool, alloc, write, handle,
// read and parse the output, gas accounting.
func BenchmarkHandleNative(b *testing.B) {
	rt := newRuntime(b, wasm.EngineCompiler)
	m := load(b, rt, "testdata/good.wasm")
	e, _ := env(b)
	in := []byte(someInput)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := m.Handle(context.Background(), in, 1_000_000, e); err != nil {
			b.Fatal(err)
		}
	}
}

// rawWazero is the peer: the same uninstrumented module on bare wazero,
// with a no-op log, doing the same alloc/write/handle/read.
func rawWazero(b *testing.B) {
	ctx := context.Background()
	data, err := os.ReadFile("testdata/good.wasm")
	if err != nil {
		b.Fatal(err)
	}
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	if _, err := rt.NewHostModuleBuilder("swarm_v1").NewFunctionBuilder().
		WithFunc(func(level, ptr, n uint32) {}).Export("log").Instantiate(ctx); err != nil {
		b.Fatal(err)
	}
	compiled, err := rt.CompileModule(ctx, data)
	if err != nil {
		b.Fatal(err)
	}
	in := []byte(someInput)
	var mod = mustInstance(b, rt, compiled)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		mod.Close(ctx)
		mod = mustInstance(b, rt, compiled)
		res, err := mod.ExportedFunction("swarm_alloc").Call(ctx, uint64(len(in)))
		if err != nil {
			b.Fatal(err)
		}
		mod.Memory().Write(uint32(res[0]), in)
		out, err := mod.ExportedFunction("swarm_handle").Call(ctx, res[0], uint64(len(in)))
		if err != nil {
			b.Fatal(err)
		}
		if _, ok := mod.Memory().Read(uint32(out[0]>>32), uint32(out[0])); !ok {
			b.Fatal("output")
		}
	}
}

func mustInstance(b *testing.B, rt wazero.Runtime, c wazero.CompiledModule) api.Module {
	b.Helper()
	mod, err := rt.InstantiateModule(context.Background(), c, wazero.NewModuleConfig().WithName(""))
	if err != nil {
		b.Fatal(err)
	}
	return mod
}

// The peer instantiates a fresh instance per call too, as the runtime does
// for determinism (good.wasm's bump allocator would also run out of memory
// on a reused instance).
func BenchmarkHandleRawWazeroFreshInstance(b *testing.B) { rawWazero(b) }

// BenchmarkHandleExtism: the AssemblyScript as-echo through extism/go-sdk
// (a fresh instance per call, as on the native path).
func BenchmarkHandleExtism(b *testing.B) {
	rt := newRuntime(b, wasm.EngineCompiler)
	m := load(b, rt, "testdata/as-echo.wasm")
	e, _ := env(b)
	in := []byte(`{"envelope":{"payload":{"x":1}},"self_pk":"","thread":{}}`)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := m.Handle(context.Background(), in, 100_000_000, e); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadGoPlugin: instrument, compile and describe the Go echo plugin
// with an empty compilation cache (cold) and with a warm one.
func BenchmarkLoadGoPluginCold(b *testing.B) { benchLoad(b, false) }
func BenchmarkLoadGoPluginWarm(b *testing.B) { benchLoad(b, true) }

func benchLoad(b *testing.B, warm bool) {
	ctx := context.Background()
	data, err := os.ReadFile(goPlugin(b, "echo"))
	if err != nil {
		b.Fatal(err)
	}
	cacheDir := b.TempDir()
	if warm {
		rt, _ := wasm.NewRuntime(ctx, wasm.Config{CacheDir: cacheDir, PoolSize: 1})
		if _, err := rt.Load(ctx, "echo", data); err != nil {
			b.Fatal(err)
		}
		rt.Close(ctx)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dir := cacheDir
		if !warm {
			dir = filepath.Join(b.TempDir(), "cache")
		}
		rt, err := wasm.NewRuntime(ctx, wasm.Config{CacheDir: dir, PoolSize: 1})
		if err != nil {
			b.Fatal(err)
		}
		m, err := rt.Load(ctx, "echo", data)
		if err != nil {
			b.Fatal(err)
		}
		m.Close(ctx)
		rt.Close(ctx)
	}
}

// BenchmarkHandleGoPlugin: a call of the Go echo plugin (an SDK agent, the
// Go runtime's data and heap), each on a fresh instance from the pool,
// which refills in the background: what an agent call costs a node.
func BenchmarkHandleGoPlugin(b *testing.B) {
	ctx := context.Background()
	data, err := os.ReadFile(goPlugin(b, "echo"))
	if err != nil {
		b.Fatal(err)
	}
	rt, err := wasm.NewRuntime(ctx, wasm.Config{CacheDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer rt.Close(ctx)
	m, err := rt.Load(ctx, "echo", data)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close(ctx)
	e, _ := env(b)
	b.ResetTimer()
	cpu0 := processCPU()
	for i := 0; i < b.N; i++ {
		if _, err := m.Handle(ctx, []byte(someInput), 100_000_000, e); err != nil {
			b.Fatal(err)
		}
	}
	// The process's CPU time per call, the pool's background work included:
	// what bounds a node's throughput, where ns/op is a call's latency.
	b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(b.N), "cpu-us/op")
}
