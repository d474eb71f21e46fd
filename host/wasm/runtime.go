package wasm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/canswarm/swarmhost/host/wasm/gas"
)

// Engine selects wazero's execution engine.
type Engine string

// The engines. Gas is identical on both: it is counted by the instrumented
// code, not by the engine.
const (
	EngineCompiler    Engine = "compiler"
	EngineInterpreter Engine = "interpreter"
)

// Config is a runtime's limits and where it caches compiled code.
type Config struct {
	Engine Engine // default compiler
	// CacheDir holds wazero's compiled-code cache; "" keeps it in memory.
	CacheDir string
	// MemoryLimitPages caps every module's memory (64 KiB pages).
	MemoryLimitPages uint32
	// InitGas is the budget of a module's _initialize.
	InitGas uint64
	// MaxOutputBytes caps an AgentOutput (or a manifest).
	MaxOutputBytes uint32
	// MaxHostCalls caps host function calls per call.
	MaxHostCalls int
	// MaxCallDepth is the instrumenter's call-depth limit (0: its default).
	MaxCallDepth uint32
	// PoolSize is how many initialised instances each module keeps ready.
	PoolSize int
	// FreshInstances initialises every instance of an agent by running its
	// _initialize, instead of starting it from an image of an instance that
	// did (see image.go): slower; for tests that compare the two.
	FreshInstances bool
	// Costs are the instruction costs (nil: gas.V1); HostCosts the host
	// functions' (nil: HostCostsV1).
	Costs     *gas.CostTable
	HostCosts *HostCosts
	// Log receives what plugins write to stdout and stderr; nil drops it.
	Log func(module string, line string)
}

// Defaults of Config.
const (
	DefaultMemoryLimitPages = 1024 // 64 MiB
	DefaultInitGas          = 2_000_000_000
	DefaultMaxOutputBytes   = 1 << 20
	DefaultMaxHostCalls     = 10_000
	DefaultPoolSize         = 2
)

func (c *Config) fill() {
	if c.Engine == "" {
		c.Engine = EngineCompiler
	}
	if c.MemoryLimitPages == 0 {
		c.MemoryLimitPages = DefaultMemoryLimitPages
	}
	if c.InitGas == 0 {
		c.InitGas = DefaultInitGas
	}
	if c.MaxOutputBytes == 0 {
		c.MaxOutputBytes = DefaultMaxOutputBytes
	}
	if c.MaxHostCalls == 0 {
		c.MaxHostCalls = DefaultMaxHostCalls
	}
	if c.PoolSize == 0 {
		c.PoolSize = DefaultPoolSize
	}
	if c.Costs == nil {
		c.Costs = &gas.V1
	}
	if c.HostCosts == nil {
		c.HostCosts = &HostCostsV1
	}
}

// Runtime compiles and runs plugins. It is safe for concurrent use.
type Runtime struct {
	cfg   Config
	rt    wazero.Runtime
	cache wazero.CompilationCache
	// unmetered skips the instrumenter: only for the differential tests,
	// which compare metered and unmetered runs of the same module.
	unmetered bool
	// live counts the operations running WebAssembly: Close waits for them,
	// since closing the runtime unmaps the memories they run in.
	live liveness
	// instHits counts loads that took their instrumented module from the
	// cache (instcache.go).
	instHits atomic.Int64
	// instanceSeq numbers instances: wazero wants every live instance's
	// name unique in the runtime, and pooled instances of two modules
	// loaded under one name live side by side.
	instanceSeq atomic.Uint64
}

// InstrumentedCacheHits says how many loads took their instrumented module
// from the cache in Config.CacheDir instead of instrumenting it.
func (r *Runtime) InstrumentedCacheHits() int64 { return r.instHits.Load() }

// liveness counts operations in progress and refuses new ones once closed.
// Operations nest (a policy evaluated from inside an agent call), which a
// sync.RWMutex would not allow while a Close waits.
type liveness struct {
	mu     sync.Mutex
	cond   sync.Cond
	n      int
	closed bool
}

// enter starts an operation; false when the runtime is closed.
func (l *liveness) enter() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.n++
	return true
}

func (l *liveness) exit() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n--; l.n == 0 && l.cond.L != nil {
		l.cond.Broadcast()
	}
}

// close refuses new operations and waits until those in progress end.
func (l *liveness) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	if l.cond.L == nil {
		l.cond.L = &l.mu
	}
	for l.n > 0 {
		l.cond.Wait()
	}
}

// errRuntimeClosed is what an operation started after Close returns.
var errRuntimeClosed = errors.New("the wasm runtime is closed")

// NewRuntime builds a runtime with the swarm_v1, swarm_gas and (determinised)
// WASI host modules defined.
func NewRuntime(ctx context.Context, cfg Config) (*Runtime, error) {
	cfg.fill()
	var rc wazero.RuntimeConfig
	switch cfg.Engine {
	case EngineCompiler:
		rc = wazero.NewRuntimeConfigCompiler()
	case EngineInterpreter:
		rc = wazero.NewRuntimeConfigInterpreter()
	default:
		return nil, fmt.Errorf("wasm runtime: engine %q: use %q or %q", cfg.Engine, EngineCompiler, EngineInterpreter)
	}
	rc = rc.WithMemoryLimitPages(cfg.MemoryLimitPages).WithCloseOnContextDone(false)
	r := &Runtime{cfg: cfg}
	if cfg.CacheDir != "" {
		cache, err := wazero.NewCompilationCacheWithDir(cfg.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("wasm runtime: compilation cache %s: %w", cfg.CacheDir, err)
		}
		r.cache = cache
		rc = rc.WithCompilationCache(cache)
	}
	r.rt = wazero.NewRuntimeWithConfig(ctx, rc)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, r.rt); err != nil {
		r.rt.Close(ctx)
		return nil, fmt.Errorf("wasm runtime: WASI: %w", err)
	}
	if err := instantiateHostModules(ctx, r.rt); err != nil {
		r.rt.Close(ctx)
		return nil, err
	}
	return r, nil
}

// compile compiles a module with wazero, its functions on every core
// (wazero's machine code does not depend on how many compile it).
func (r *Runtime) compile(ctx context.Context, module []byte) (wazero.CompiledModule, error) {
	// wazero v1.12.0 publishes a module it read from the compilation
	// cache in memory before compiling its entry preambles, so a second
	// CompileModule of the same bytes meanwhile returns it unfinished and
	// instantiating it panics in moduleEngine.NewFunction (index out of
	// range, entryPreamblesPtrs; wazero/wazero#2547, open). A restarted
	// node loads a capsule for several evaluations at once, and the same
	// plugin under several names: compiling the same bytes one at a time
	// is the workaround (distinct modules still compile side by side).
	lock := sameModule(module)
	lock.Lock()
	defer lock.Unlock()
	return r.rt.CompileModule(experimental.WithCompilationWorkers(ctx, runtime.GOMAXPROCS(0)), module)
}

// compiling holds a mutex per module content (its SHA-256), shared by every
// runtime: they may share a compilation cache folder.
var compiling sync.Map

func sameModule(module []byte) *sync.Mutex {
	mu, _ := compiling.LoadOrStore(sha256.Sum256(module), new(sync.Mutex))
	return mu.(*sync.Mutex)
}

// Config returns the runtime's configuration, defaults filled in.
func (r *Runtime) Config() Config { return r.cfg }

// Close releases every compiled module and instance.
func (r *Runtime) Close(ctx context.Context) error {
	// Calls in progress end first (gas bounds them): wazero frees every
	// instance's memory when the runtime closes.
	r.live.close()
	err := r.rt.Close(ctx)
	if r.cache != nil {
		r.cache.Close(ctx)
	}
	return err
}

// lineWriter forwards a plugin's stdout or stderr to the log, line by line,
// bounded so that a chatty plugin cannot exhaust the host.
type lineWriter struct {
	module, stream string
	log            func(module, line string)
	buf            []byte
	total          int
	tail           []byte // the last bytes written, for fault details
}

const maxPluginOutput = 64 << 10

func (w *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	w.tail = append(w.tail, p...)
	if len(w.tail) > 512 {
		w.tail = w.tail[len(w.tail)-512:]
	}
	if w.log == nil || w.total >= maxPluginOutput {
		return n, nil
	}
	w.total += len(p)
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.log(w.module, w.stream+": "+string(w.buf[:i]))
		w.buf = w.buf[i+1:]
	}
	return n, nil
}

var _ io.Writer = (*lineWriter)(nil)

// clone is a copy of the writer's state, forwarding to the same log.
func (w *lineWriter) clone() *lineWriter {
	c := *w
	c.buf = append([]byte(nil), w.buf...)
	c.tail = append([]byte(nil), w.tail...)
	return &c
}
