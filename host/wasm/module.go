package wasm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/canswarm/swarmhost/abi"
	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/wasm/gas"
)

// ErrExtism marks a module that imports extism:host/env: an Extism plugin,
// which runs through the Extism path rather than the native one.
var ErrExtism = errors.New("an Extism plugin (imports extism:host/env)")

// ExtismModule is the import module that marks an Extism plugin.
const ExtismModule = "extism:host/env"

// Module is a loaded, instrumented, compiled agent plugin.
type Module struct {
	rt       *Runtime
	name     string
	ref      string // hash of the module as given
	compiled wazero.CompiledModule
	manifest abi.Manifest
	info     *gas.ModuleInfo
	ext      *extismPlugin // set for an Extism plugin; compiled is nil then
	image    *image        // set when instances start from an image

	mu      sync.Mutex
	pool    []*instance
	filling bool
	closed  bool
	wg      sync.WaitGroup
	// recycled counts instances put back in the pool after a call.
	recycled atomic.Int64
}

// Recycled says how many instances were put back in the image's state
// after a call and used again, instead of being closed (image.go).
func (m *Module) Recycled() int64 { return m.recycled.Load() }

// Name is the name the module was loaded under.
func (m *Module) Name() string { return m.name }

// Ref is the hash of the module's bytes as loaded (before instrumentation).
func (m *Module) Ref() string { return m.ref }

// Manifest is what the agent described itself as.
func (m *Module) Manifest() abi.Manifest { return m.manifest }

// Extism reports whether the module is an Extism plugin (run through
// extism/go-sdk) rather than a native swarm_v1 one.
func (m *Module) Extism() bool { return m.ext != nil }

// FromImage reports whether the module's instances start from an image of
// an initialised instance rather than running _initialize (image.go).
func (m *Module) FromImage() bool { return m.image != nil }

// Info is what the decoder saw of the module's interface (gas.InspectInterface):
// imports, exports, memories, tables; not the features its bodies use.
func (m *Module) Info() *gas.ModuleInfo { return m.info }

// Load validates, instruments and compiles a module, then asks it to
// describe itself. name is for messages and logs (the file name).
func (r *Runtime) Load(ctx context.Context, name string, wasm []byte) (*Module, error) {
	info, err := gas.InspectInterface(wasm)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", name, err)
	}
	if err := checkImports(info); errors.Is(err, ErrExtism) {
		return r.loadExtism(ctx, name, wasm, info)
	} else if err != nil {
		return nil, fmt.Errorf("load %s: %w", name, err)
	}
	if err := checkExports(info); err != nil {
		return nil, fmt.Errorf("load %s: %w", name, err)
	}
	sum, ref := moduleSum(wasm)
	instrumented, imageErr := wasm, errors.New("the module is not metered")
	if !r.unmetered {
		if instrumented, imageErr, err = r.instrument(wasm, sum, gas.Options{Costs: r.cfg.Costs, MaxCallDepth: r.cfg.MaxCallDepth,
			ExportGlobals: true}); err != nil {
			return nil, fmt.Errorf("load %s: instrument: %w", name, err)
		}
	}
	compiled, err := r.compile(ctx, instrumented)
	if err != nil {
		return nil, fmt.Errorf("load %s: compile: %w", name, err)
	}
	m := &Module{rt: r, name: name, ref: ref, compiled: compiled, info: info}
	// The image first: describe then runs on an instance made from it
	// rather than running _initialize a second time.
	if !r.cfg.FreshInstances && imageErr == nil {
		if m.image, err = m.buildImage(ctx, instrumented); err != nil {
			compiled.Close(ctx)
			return nil, fmt.Errorf("load %s: %w", name, err)
		}
	}
	manifest, err := m.describe(ctx)
	if err != nil {
		compiled.Close(ctx)
		return nil, fmt.Errorf("load %s: %w", name, err)
	}
	m.manifest = manifest
	return m, nil
}

// checkImports admits the swarm_v1 functions and WASI, refuses the
// instrumenter's own module (a plugin must not reach its gas counter) and
// anything else by name.
func checkImports(info *gas.ModuleInfo) error {
	for _, im := range info.Imports {
		switch im.Module {
		case abi.HostModule:
			switch im.Name {
			case abi.HostCASGet, abi.HostCASPut, abi.HostLog, abi.HostPolicyEval, abi.HostPlanQuery:
			default:
				return fmt.Errorf("imports %s.%s, which swarm_v1 does not have", im.Module, im.Name)
			}
		case "wasi_snapshot_preview1":
		case ExtismModule:
			return ErrExtism
		case gas.ImportModule:
			return fmt.Errorf("imports %s.%s: that module is reserved for the gas meter", im.Module, im.Name)
		default:
			return fmt.Errorf("imports %s.%s: a plugin may import only swarm_v1 and wasi_snapshot_preview1", im.Module, im.Name)
		}
	}
	return nil
}

// checkExports requires the exports of ABI.md with their signatures.
func checkExports(info *gas.ModuleInfo) error {
	want := map[string]string{
		abi.ExportAlloc:    "func(i32) -> i32",
		abi.ExportDescribe: "func() -> i64",
		abi.ExportHandle:   "func(i32, i32) -> i64",
	}
	have := map[string]gas.Export{}
	for _, ex := range info.Exports {
		have[ex.Name] = ex
	}
	if ex, ok := have[abi.ExportMemory]; !ok || ex.Kind != "memory" {
		return fmt.Errorf("does not export its memory as %q", abi.ExportMemory)
	}
	for _, name := range []string{abi.ExportAlloc, abi.ExportDescribe, abi.ExportHandle} {
		ex, ok := have[name]
		if !ok || ex.Kind != "func" {
			return fmt.Errorf("does not export the function %s: %s (ABI.md)", name, want[name])
		}
		if ex.Signature != want[name] {
			return fmt.Errorf("exports %s as %s, ABI.md says %s", name, ex.Signature, want[name])
		}
	}
	if ex, ok := have[abi.ExportInitialize]; ok && (ex.Kind != "func" || ex.Signature != "func()") {
		return fmt.Errorf("exports %s as %s, want func()", abi.ExportInitialize, ex.Signature)
	}
	return nil
}

// describe runs swarm_describe and validates the manifest.
func (m *Module) describe(ctx context.Context) (abi.Manifest, error) {
	if !m.rt.live.enter() {
		return abi.Manifest{}, errRuntimeClosed
	}
	defer m.rt.live.exit()
	inst, err := m.instantiate(ctx)
	if err != nil {
		return abi.Manifest{}, err
	}
	defer inst.Close(ctx)
	st := m.newCallState(m.rt.cfg.InitGas, nil)
	res, err := inst.ExportedFunction(abi.ExportDescribe).Call(withCallState(ctx, st))
	if err != nil {
		return abi.Manifest{}, fmt.Errorf("describe: %w", m.classify(inst, st, err))
	}
	text, err := m.readPacked(inst, st, res[0])
	if err != nil {
		return abi.Manifest{}, fmt.Errorf("describe: %w", err)
	}
	if text == nil {
		return abi.Manifest{}, errors.New("describe returned no manifest")
	}
	var man abi.Manifest
	dec := json.NewDecoder(strings.NewReader(string(text)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&man); err != nil {
		return abi.Manifest{}, fmt.Errorf("describe: the manifest is not the JSON of ABI.md: %w", err)
	}
	return man, validateManifest(man)
}

func validateManifest(man abi.Manifest) error {
	if man.Name == "" {
		return errors.New("manifest: name is empty")
	}
	if man.ABI != abi.Version {
		return fmt.Errorf("manifest: abi %d, this host speaks abi %d", man.ABI, abi.Version)
	}
	for _, r := range man.Roles {
		if !envelope.Role(r).Known() {
			return fmt.Errorf("manifest: unknown role %q", r)
		}
	}
	for _, v := range man.Verbs {
		if !envelope.Verb(v).Known() {
			return fmt.Errorf("manifest: unknown verb %q", v)
		}
	}
	return nil
}

// instance is a module instance and its WASI state: what it wrote, its
// clock and random stream.
type instance struct {
	api.Module
	stdout, stderr *lineWriter
	clock          *fakeClock
	rand           *randStream
	// globals are the image's globals in this instance, in the image's
	// order (set only for an instance made from an image).
	globals []api.MutableGlobal
	// clean says the instance's last call returned normally: only then
	// may it be recycled (image.go).
	clean bool
	// mem is the linear memory of an instance from an image.
	mem imageMemory
}

// instantiate makes an initialised instance: from the module's image when
// it has one, else a fresh one that runs its _initialize.
func (m *Module) instantiate(ctx context.Context) (*instance, error) {
	if !m.rt.live.enter() {
		return nil, errRuntimeClosed
	}
	defer m.rt.live.exit()
	if m.image != nil {
		return m.fromImage(ctx)
	}
	return m.initialise(ctx, nil)
}

// initialise makes a fresh instance and runs its _initialize; before, when
// not nil, receives a copy of the memory as instantiated, before
// _initialize (for an image).
func (m *Module) initialise(ctx context.Context, before *[]byte) (*instance, error) {
	stdout := &lineWriter{module: m.name, stream: "stdout", log: m.rt.cfg.Log}
	stderr := &lineWriter{module: m.name, stream: "stderr", log: m.rt.cfg.Log}
	clock, rand := &fakeClock{t: 1_000_000}, &randStream{}
	cfg := wasiWith(wazero.NewModuleConfig().
		WithName(fmt.Sprintf("%s#%d", m.name, m.rt.instanceSeq.Add(1))).
		WithStartFunctions(), stdout, stderr, clock, rand)
	// A start section, metered like everything else, runs while
	// instantiating: with the init budget, shared with _initialize.
	st := m.newCallState(m.rt.cfg.InitGas, nil)
	mod, err := m.rt.rt.InstantiateModule(withLinearMemory(withCallState(ctx, st)), m.compiled, cfg)
	if err != nil {
		return nil, fmt.Errorf("instantiate: %w", err)
	}
	inst := &instance{Module: mod, stdout: stdout, stderr: stderr, clock: clock, rand: rand}
	if before != nil {
		if mem := mod.Memory(); mem != nil {
			b, _ := mem.Read(0, mem.Size())
			*before = append([]byte(nil), b...)
		}
	}
	if init := inst.ExportedFunction(abi.ExportInitialize); init != nil {
		if _, err := init.Call(withCallState(ctx, st)); err != nil {
			fault := m.classify(inst, st, err)
			inst.Close(ctx)
			return nil, fmt.Errorf("%s: %w", abi.ExportInitialize, fault)
		}
	}
	return inst, nil
}

func (m *Module) newCallState(budget uint64, env *Env) *callState {
	return &callState{budget: budget, left: budget, maxCalls: m.rt.cfg.MaxHostCalls, env: env, costs: m.rt.cfg.HostCosts}
}

// take returns an initialised instance, from the pool when one is ready,
// and starts refilling the pool in the background.
func (m *Module) take(ctx context.Context) (*instance, error) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, fmt.Errorf("module %s is closed", m.name)
	}
	var inst *instance
	if n := len(m.pool); n > 0 {
		inst, m.pool = m.pool[n-1], m.pool[:n-1]
	}
	// Instances that start from an image mostly come back after their
	// call (recycle): the pool is refilled only once it is empty.
	if !m.filling && (m.image == nil || len(m.pool) == 0) {
		m.filling = true
		m.wg.Add(1)
		go m.refill()
	}
	m.mu.Unlock()
	if inst != nil {
		return inst, nil
	}
	return m.instantiate(ctx)
}

// refill tops the pool up to PoolSize.
func (m *Module) refill() {
	defer m.wg.Done()
	ctx := context.Background()
	for {
		m.mu.Lock()
		if m.closed || len(m.pool) >= m.rt.cfg.PoolSize {
			m.filling = false
			m.mu.Unlock()
			return
		}
		m.mu.Unlock()
		inst, err := m.instantiate(ctx)
		m.mu.Lock()
		if err != nil || m.closed {
			m.filling = false
			m.mu.Unlock()
			if inst != nil {
				inst.Close(ctx)
			}
			return
		}
		m.pool = append(m.pool, inst)
		m.mu.Unlock()
	}
}

// Close releases the module's instances and compiled code.
func (m *Module) Close(ctx context.Context) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	pool := m.pool
	m.pool = nil
	m.mu.Unlock()
	m.wg.Wait()
	for _, inst := range pool {
		inst.Close(ctx)
	}
	if m.ext != nil {
		return m.ext.compiled.Close(ctx)
	}
	return m.compiled.Close(ctx)
}
