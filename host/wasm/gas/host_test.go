package gas

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// The test host: the swarm_gas imports keep the remaining gas in a meter
// reachable from the context; exhausted and too_deep panic with a sentinel,
// which wazero returns wrapped (fmt.Errorf("%w (recovered by wazero)...")).

var (
	errOutOfGas = errors.New("test host: out of gas")
	errTooDeep  = errors.New("test host: call depth exceeded")
)

type meterState struct {
	left int64 // remaining gas, as the host sees it
}

type meterKey struct{}

func withMeter(ctx context.Context, m *meterState) context.Context {
	return context.WithValue(ctx, meterKey{}, m)
}

func meterOf(ctx context.Context) *meterState {
	m, _ := ctx.Value(meterKey{}).(*meterState)
	return m
}

type engine struct {
	name     string
	compiler bool
}

var engines = []engine{{"compiler", true}, {"interpreter", false}}

// compiled caches compiled modules per runtime: decoding and validating a
// several-MB module is not free, and tests instantiate many times.
var compiledCache sync.Map // compiledKey -> wazero.CompiledModule

type compiledKey struct {
	r    wazero.Runtime
	hash [32]byte
}

// newHost makes a runtime with the swarm_gas, env and WASI host modules.
func newHost(tb testing.TB, compiler bool) (context.Context, wazero.Runtime) {
	tb.Helper()
	ctx := context.Background()
	cfg := wazero.NewRuntimeConfigInterpreter()
	if compiler {
		cfg = wazero.NewRuntimeConfigCompiler()
	}
	cfg = cfg.WithMemoryLimitPages(4096) // 256 MiB
	r := wazero.NewRuntimeWithConfig(ctx, cfg)
	tb.Cleanup(func() {
		compiledCache.Range(func(k, _ any) bool {
			if k.(compiledKey).r == r {
				compiledCache.Delete(k)
			}
			return true
		})
		r.Close(ctx)
	})
	_, err := r.NewHostModuleBuilder(ImportModule).
		NewFunctionBuilder().WithGoFunction(api.GoFunc(func(ctx context.Context, stack []uint64) {
		stack[0] = uint64(meterOf(ctx).left)
	}), nil, []api.ValueType{api.ValueTypeI64}).Export(ImportGet).
		NewFunctionBuilder().WithGoFunction(api.GoFunc(func(ctx context.Context, stack []uint64) {
		meterOf(ctx).left = int64(stack[0])
	}), []api.ValueType{api.ValueTypeI64}, nil).Export(ImportSet).
		NewFunctionBuilder().WithFunc(func(context.Context) { panic(errOutOfGas) }).Export(ImportExhausted).
		NewFunctionBuilder().WithFunc(func(context.Context) { panic(errTooDeep) }).Export(ImportTooDeep).
		Instantiate(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	_, err = r.NewHostModuleBuilder("env").
		NewFunctionBuilder().WithFunc(func(_ context.Context, a, b int32) int32 { return a + b }).Export("add").
		NewFunctionBuilder().WithFunc(func(ctx context.Context, n int64) {
		// A host function that charges gas: 10 per unit.
		if m := meterOf(ctx); m != nil {
			if m.left < 10*n {
				panic(errOutOfGas)
			}
			m.left -= 10 * n
		}
	}).Export("burn").
		NewFunctionBuilder().WithFunc(func(ctx context.Context, m api.Module, k int32) int32 {
		// Calls back into the calling module, as a host function may.
		res, err := m.ExportedFunction("sum").Call(ctx, uint64(k))
		if err != nil {
			panic(err)
		}
		return int32(res[0])
	}).Export("reenter").
		Instantiate(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	return ctx, r
}

// instance is one instantiated corpus module.
type instance struct {
	mod     api.Module
	metered bool
	ctx     context.Context
}

func instantiate(tb testing.TB, ctx context.Context, r wazero.Runtime, wasm []byte, metered bool, budget int64) (*instance, int64, error) {
	tb.Helper()
	key := compiledKey{r, sha256.Sum256(wasm)}
	var cm wazero.CompiledModule
	if v, ok := compiledCache.Load(key); ok {
		cm = v.(wazero.CompiledModule)
	} else {
		var err error
		if cm, err = r.CompileModule(ctx, wasm); err != nil {
			tb.Fatalf("compile: %v", err)
		}
		compiledCache.Store(key, cm)
	}
	m := &meterState{left: budget}
	ictx := withMeter(ctx, m)
	mod, err := r.InstantiateModule(ictx, cm, wazero.NewModuleConfig().WithName("").WithStartFunctions())
	if err != nil {
		return nil, 0, err
	}
	used := int64(0)
	if metered {
		used = budget - m.left
	}
	return &instance{mod: mod, metered: metered, ctx: ctx}, used, nil
}

// outcome is what one call did.
type outcome struct {
	results []uint64
	trap    string // the first line of the error, "" if none
	used    int64  // gas used (metered instances)
	err     error
}

func (o outcome) String() string {
	if o.trap != "" {
		return fmt.Sprintf("trap %q, gas %d", o.trap, o.used)
	}
	return fmt.Sprintf("%v, gas %d", o.results, o.used)
}

// call runs fn with a budget and reports what happened.
func (in *instance) call(tb testing.TB, fn string, budget int64, args ...uint64) outcome {
	tb.Helper()
	f := in.mod.ExportedFunction(fn)
	if f == nil {
		tb.Fatalf("no export %q", fn)
	}
	m := &meterState{left: budget}
	ctx := in.ctx
	if in.metered {
		ctx = withMeter(ctx, m)
	}
	res, err := f.Call(ctx, args...)
	o := outcome{results: res, err: err}
	if err != nil {
		o.trap, _, _ = strings.Cut(err.Error(), "\n")
		o.results = nil
	}
	if f.Definition().ModuleName() != in.mod.Name() {
		// A re-exported host function: no wasm runs, the host keeps the count.
		o.used = budget - m.left
		return o
	}
	if in.metered {
		left := int64(in.mod.ExportedGlobal(GasGlobalExport).Get())
		if err == nil && left != m.left {
			tb.Fatalf("%s: the gas global (%d) and the host counter (%d) disagree after a call", fn, left, m.left)
		}
		if err != nil && errors.Is(err, errOutOfGas) {
			left = 0 // the whole budget is gone
		}
		o.used = budget - min(left, m.left)
	}
	return o
}
