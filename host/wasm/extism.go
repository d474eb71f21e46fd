package wasm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	extism "github.com/extism/go-sdk"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"

	"github.com/canswarm/swarmhost/abi"
	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/cas"
	"github.com/canswarm/swarmhost/host/wasm/gas"
)

// The Extism path. A module that imports extism:host/env was built with an
// Extism PDK: it exports describe and handle (no parameters, Extism input and
// output) and reaches the swarm host functions as Extism host functions in
// extism:host/user, with i64 Extism-memory offsets:
//
//	swarm_cas_get(ref) -> blob | 0 (not found) | negative code
//	swarm_cas_put(data) -> ref | negative code
//	swarm_log(level, msg)              level is a plain integer 0..3
//	swarm_policy_eval(request) -> answer | negative code
//	swarm_plan_query(request) -> answer | negative code
//
// It is instrumented by the same gas instrumenter, charged by the same host
// functions (callState) and limited by the same limits. Every call runs on
// a fresh instance, as on the native path. What extism adds that could leak
// the outside world is switched off: HTTP (no allowed hosts, 0-byte bodies),
// vars (MaxVarBytes 0), config, paths, timeouts; WASI, for modules that
// import it, is the same closed world as the native path's.

// extismPlugin is a compiled Extism plugin.
type extismPlugin struct {
	compiled *extism.CompiledPlugin
	wasi     bool
	hasInit  bool
}

// maxExtismInput bounds an Extism call's input: it must fit in extism's
// kernel memory, which silently drops an input that does not.
const maxExtismInput = 8 << 20

func (r *Runtime) loadExtism(ctx context.Context, name string, wasm []byte, info *gas.ModuleInfo) (*Module, error) {
	if err := checkExtismImports(info); err != nil {
		return nil, fmt.Errorf("load %s: %w", name, err)
	}
	exports := map[string]gas.Export{}
	for _, ex := range info.Exports {
		exports[ex.Name] = ex
	}
	for _, fn := range []string{"describe", "handle"} {
		if ex, ok := exports[fn]; !ok || ex.Kind != "func" || ex.Signature != "func() -> i32" {
			return nil, fmt.Errorf("load %s: an Extism plugin must export %s as func() -> i32 (got %q)", name, fn, ex.Signature)
		}
	}
	sum, ref := moduleSum(wasm)
	instrumented, _, err := r.instrument(wasm, sum, gas.Options{Costs: r.cfg.Costs, MaxCallDepth: r.cfg.MaxCallDepth})
	if err != nil {
		return nil, fmt.Errorf("load %s: instrument: %w", name, err)
	}
	ep := &extismPlugin{}
	for _, im := range info.Imports {
		if im.Module == "wasi_snapshot_preview1" {
			ep.wasi = true
		}
	}
	if ex, ok := exports[abi.ExportInitialize]; ok && ex.Kind == "func" {
		ep.hasInit = true
	}
	rc := wazero.NewRuntimeConfigCompiler()
	if r.cfg.Engine == EngineInterpreter {
		rc = wazero.NewRuntimeConfigInterpreter()
	}
	rc = rc.WithCoreFeatures(api.CoreFeaturesV2 &^ api.CoreFeatureSIMD).
		WithMemoryLimitPages(max(r.cfg.MemoryLimitPages, 17)).WithCloseOnContextDone(false)
	if r.cache != nil {
		rc = rc.WithCompilationCache(r.cache)
	}
	manifest := extism.Manifest{
		Wasm:   []extism.Wasm{extism.WasmData{Data: instrumented, Name: "main"}},
		Memory: &extism.ManifestMemory{}, // vars off, HTTP bodies 0 bytes, the runtime's page limit
	}
	lctx := experimental.WithFunctionListenerFactory(ctx, gasCatcher{})
	cp, err := extism.NewCompiledPlugin(lctx, manifest, extism.PluginConfig{RuntimeConfig: rc, EnableWasi: ep.wasi}, extismHostFunctions())
	if err != nil {
		return nil, fmt.Errorf("load %s: extism: %w", name, err)
	}
	ep.compiled = cp
	m := &Module{rt: r, name: name, ref: ref, info: info, ext: ep}
	man, err := m.describeExtism(ctx)
	if err != nil {
		cp.Close(ctx)
		return nil, fmt.Errorf("load %s: %w", name, err)
	}
	m.manifest = man
	return m, nil
}

func checkExtismImports(info *gas.ModuleInfo) error {
	for _, im := range info.Imports {
		switch im.Module {
		case ExtismModule, "wasi_snapshot_preview1":
		case "extism:host/user":
			switch im.Name {
			case "swarm_cas_get", "swarm_cas_put", "swarm_log", "swarm_policy_eval", "swarm_plan_query":
			default:
				return fmt.Errorf("imports extism:host/user.%s, which swarmhost does not provide", im.Name)
			}
		case gas.ImportModule:
			return fmt.Errorf("imports %s.%s: that module is reserved for the gas meter", im.Module, im.Name)
		default:
			return fmt.Errorf("imports %s.%s: an Extism plugin may import only extism:host/env, extism:host/user and wasi_snapshot_preview1", im.Module, im.Name)
		}
	}
	return nil
}

// extismCall runs one export on a fresh instance.
func (m *Module) extismCall(ctx context.Context, fn string, input []byte, budget uint64, env *Env) ([]byte, *callState, error) {
	if len(input) > maxExtismInput {
		return nil, nil, &Fault{Kind: FaultOutputTooLarge, Detail: fmt.Sprintf("the input is %d bytes, an Extism call takes at most %d", len(input), maxExtismInput)}
	}
	ep := m.ext
	st := m.newCallState(budget, env)
	stderr := &lineWriter{module: m.name, stream: "stderr", log: m.rt.cfg.Log}
	stdout := &lineWriter{module: m.name, stream: "stdout", log: m.rt.cfg.Log}
	initState := m.newCallState(m.rt.cfg.InitGas, nil)
	// extism's host-function wrapper insists on a plugin in the context,
	// even for a start section run while instantiating.
	ictx := withCallState(context.WithValue(ctx, extism.PluginCtxKey("plugin"), &extism.Plugin{}), initState)
	inst, err := ep.compiled.Instance(ictx, extism.PluginInstanceConfig{
		ModuleConfig: deterministicWASI(wazero.NewModuleConfig(), stdout, stderr),
	})
	if err != nil {
		return nil, st, fmt.Errorf("extism instance: %w", err)
	}
	defer inst.Close(ctx)
	if ep.hasInit && !ep.wasi {
		// Without WASI extism does not run _initialize; with WASI it runs it
		// by itself before the first call (and counts it in that call).
		if rc, _, err := inst.CallWithContext(withCallState(ctx, initState), abi.ExportInitialize, nil); err != nil || rc != 0 {
			return nil, st, fmt.Errorf("%s: %w", abi.ExportInitialize, m.classifyExtism(inst, initState, rc, err, stderr))
		}
	}
	rc, out, err := inst.CallWithContext(withCallState(ctx, st), fn, input)
	if err != nil || rc != 0 {
		return nil, st, m.classifyExtism(inst, st, rc, err, stderr)
	}
	if uint32(len(out)) > m.rt.cfg.MaxOutputBytes || len(out) > int(m.rt.cfg.MaxOutputBytes) {
		return nil, st, &Fault{Kind: FaultOutputTooLarge, GasUsed: st.used(), Budget: budget,
			Detail: fmt.Sprintf("the output is %d bytes, the limit is %d", len(out), m.rt.cfg.MaxOutputBytes)}
	}
	return out, st, nil
}

func (m *Module) describeExtism(ctx context.Context) (abi.Manifest, error) {
	out, _, err := m.extismCall(ctx, "describe", nil, m.rt.cfg.InitGas, nil)
	if err != nil {
		return abi.Manifest{}, fmt.Errorf("describe: %w", err)
	}
	var man abi.Manifest
	if err := json.Unmarshal(out, &man); err != nil {
		return abi.Manifest{}, fmt.Errorf("describe: the manifest is not the JSON of ABI.md: %w", err)
	}
	return man, validateManifest(man)
}

func (m *Module) handleExtism(ctx context.Context, input []byte, budget uint64, env *Env) (*Result, error) {
	out, st, err := m.extismCall(ctx, "handle", input, budget, env)
	if err != nil {
		return nil, err
	}
	return st.result(out)
}

// classifyExtism turns an Extism call's failure into a *Fault.
func (m *Module) classifyExtism(inst *extism.Plugin, st *callState, rc uint32, err error, stderr *lineWriter) error {
	if err == nil {
		err = fmt.Errorf("returned %d: %s", rc, inst.GetError())
	}
	var gasLeft api.Global
	if st.mod != nil {
		gasLeft = st.mod.ExportedGlobal(gas.GasGlobalExport)
	}
	return m.rt.faultOf(st, err, gasLeft, func(err error) (FaultKind, string) {
		var exit *sys.ExitError
		if errors.As(err, &exit) {
			return FaultExit, fmt.Sprintf("the plugin exited with code %d", exit.ExitCode())
		}
		detail := firstLine(err.Error())
		if msg := inst.GetError(); msg != "" && !strings.Contains(detail, msg) {
			detail += ": " + msg
		}
		return FaultTrap, detail
	})
}

// gasCatcher notes, on the first call into the plugin's main module, which
// module instance it is, so that the remaining-gas global can be read after
// a trap (extism does not expose the module otherwise).
type gasCatcher struct{}

func (gasCatcher) NewFunctionListener(def api.FunctionDefinition) experimental.FunctionListener {
	if len(def.ExportNames()) == 0 || def.GoFunction() != nil {
		return nil
	}
	return gasCatcher{}
}

func (gasCatcher) Before(ctx context.Context, mod api.Module, _ api.FunctionDefinition, _ []uint64, _ experimental.StackIterator) {
	if s, ok := ctx.Value(callStateKey{}).(*callState); ok && s.mod == nil && mod.ExportedGlobal(gas.GasGlobalExport) != nil {
		s.mod = mod
	}
}

func (gasCatcher) After(context.Context, api.Module, api.FunctionDefinition, []uint64) {}

func (gasCatcher) Abort(context.Context, api.Module, api.FunctionDefinition, error) {}

// extismHostFunctions are the gas imports and the swarm_* functions.
func extismHostFunctions() []extism.HostFunction {
	i64 := extism.ValueTypeI64
	gasFns := []extism.HostFunction{
		extism.NewHostFunctionWithStack("get", func(ctx context.Context, _ *extism.CurrentPlugin, st []uint64) {
			st[0] = stateOf(ctx).left
		}, nil, []extism.ValueType{i64}),
		extism.NewHostFunctionWithStack("set", func(ctx context.Context, _ *extism.CurrentPlugin, st []uint64) {
			s := stateOf(ctx)
			if st[0] > s.left {
				panic(&Fault{Kind: FaultTrap, Detail: fmt.Sprintf("gas counter raised from %d to %d", s.left, st[0])})
			}
			s.left = st[0]
		}, []extism.ValueType{i64}, nil),
		extism.NewHostFunctionWithStack("exhausted", func(ctx context.Context, _ *extism.CurrentPlugin, _ []uint64) {
			stateOf(ctx).left = 0
			panic(errOutOfGas)
		}, nil, nil),
		extism.NewHostFunctionWithStack("too_deep", func(ctx context.Context, _ *extism.CurrentPlugin, _ []uint64) {
			panic(errTooDeep)
		}, nil, nil),
	}
	for i := range gasFns {
		gasFns[i].SetNamespace(gas.ImportModule)
	}
	user := []extism.HostFunction{
		extism.NewHostFunctionWithStack("swarm_cas_get", extismCASGet, []extism.ValueType{i64}, []extism.ValueType{i64}),
		extism.NewHostFunctionWithStack("swarm_cas_put", extismCASPut, []extism.ValueType{i64}, []extism.ValueType{i64}),
		extism.NewHostFunctionWithStack("swarm_log", extismLog, []extism.ValueType{i64, i64}, nil),
		extism.NewHostFunctionWithStack("swarm_policy_eval", extismPolicyEval, []extism.ValueType{i64}, []extism.ValueType{i64}),
		extism.NewHostFunctionWithStack("swarm_plan_query", extismPlanQuery, []extism.ValueType{i64}, []extism.ValueType{i64}),
	}
	return append(gasFns, user...)
}

// extismRead reads an argument block, charging per byte.
func extismRead(s *callState, p *extism.CurrentPlugin, off uint64) []byte {
	b, err := p.ReadBytes(off)
	if err != nil {
		return nil
	}
	s.charge(s.costs.PerByte * uint64(len(b)))
	return b
}

// extismAnswer writes an answer block, charging per byte; 0-length answers
// and a full kernel are reported as codes.
func extismAnswer(s *callState, p *extism.CurrentPlugin, data []byte) uint64 {
	s.charge(s.costs.PerByte * uint64(len(data)))
	off, err := p.Alloc(uint64(len(data)))
	if err != nil || (off == 0 && len(data) > 0) {
		return code(abi.ErrTooLarge)
	}
	if !p.Memory().Write(uint32(off), data) {
		return code(abi.ErrTooLarge)
	}
	return off
}

func extismCASGet(ctx context.Context, p *extism.CurrentPlugin, st []uint64) {
	s := stateOf(ctx)
	s.enter()
	ref := string(extismRead(s, p, st[0]))
	if !envelope.IsRef(ref) {
		st[0] = code(abi.ErrBadArgument)
		return
	}
	if s.env == nil || s.env.CAS == nil {
		st[0] = code(abi.ErrUnavailable)
		return
	}
	data, err := s.env.CAS.Get(ctx, ref)
	switch {
	case errors.Is(err, cas.ErrNotFound), errors.Is(err, cas.ErrCorrupt):
		st[0] = 0
		return
	case err != nil:
		panic(fmt.Errorf("swarm_cas_get %s: %w", ref, err))
	}
	st[0] = extismAnswer(s, p, data)
}

func extismCASPut(ctx context.Context, p *extism.CurrentPlugin, st []uint64) {
	s := stateOf(ctx)
	s.enter()
	s.charge(s.costs.CASPut)
	data := extismRead(s, p, st[0])
	if len(data) > cas.MaxBlobBytes {
		st[0] = code(abi.ErrTooLarge)
		return
	}
	if s.env == nil || s.env.CAS == nil {
		st[0] = code(abi.ErrUnavailable)
		return
	}
	ref, err := s.env.CAS.Put(ctx, data)
	if err != nil {
		panic(fmt.Errorf("swarm_cas_put: %w", err))
	}
	st[0] = extismAnswer(s, p, []byte(ref))
}

func extismLog(ctx context.Context, p *extism.CurrentPlugin, st []uint64) {
	s := stateOf(ctx)
	s.enter()
	line := extismRead(s, p, st[1])
	if len(line) > MaxLogLine {
		line = line[:MaxLogLine]
	}
	if s.env != nil && s.env.Log != nil {
		s.env.Log(int32(st[0]), string(line))
	}
}

func extismPolicyEval(ctx context.Context, p *extism.CurrentPlugin, st []uint64) {
	s := stateOf(ctx)
	s.enter()
	ans, rc := s.policyEval(ctx, extismRead(s, p, st[0]), false)
	if rc != 0 {
		st[0] = code(rc)
		return
	}
	st[0] = extismAnswer(s, p, ans)
}

func extismPlanQuery(ctx context.Context, p *extism.CurrentPlugin, st []uint64) {
	s := stateOf(ctx)
	s.enter()
	req := extismRead(s, p, st[0])
	if s.env == nil || s.env.PlanQuery == nil {
		st[0] = code(abi.ErrUnavailable)
		return
	}
	ans, err := s.env.PlanQuery(ctx, req)
	if err != nil {
		st[0] = code(abi.ErrBadArgument)
		return
	}
	st[0] = extismAnswer(s, p, ans)
}
