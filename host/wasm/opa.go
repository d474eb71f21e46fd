package wasm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/canswarm/swarmhost/host/wasm/gas"
)

// BuiltinFunc evaluates an OPA builtin that the policy's wasm calls out for:
// args and the result are JSON values; a nil result is undefined.
type BuiltinFunc func(ctx context.Context, name string, args []json.RawMessage) (json.RawMessage, error)

// OPAModule is a policy compiled to WebAssembly by OPA, run on this runtime
// through the OPA wasm ABI, gas-metered by the same instrumenter as agents.
// Eval is safe for concurrent use: instances come from a pool. An instance
// is reused only when its evaluation neither faulted nor grew its memory;
// opa_eval starts every evaluation from the same heap pointer, so the next
// one then runs exactly as on a fresh instance.
type OPAModule struct {
	rt          *Runtime
	name        string
	compiled    wazero.CompiledModule
	glue        wazero.CompiledModule // exports the memory the policy imports
	minPages    uint32
	builtin     BuiltinFunc
	entrypoints map[string]int32
	builtinIDs  map[int32]string

	mu   sync.Mutex
	pool []*opaInstance
}

type opaInstance struct {
	glue, mod api.Module
	dataAddr  uint32
	heapBase  uint32
	// funcs caches exported function handles: on wazero's compiler each
	// ExportedFunction lookup builds a new call engine (microseconds).
	funcs map[string]api.Function
}

// opaCall is what the opa_host functions need during an evaluation.
type opaCall struct {
	inst    *opaInstance
	names   map[int32]string
	builtin BuiltinFunc
}

var opaHostOnce sync.Map // *Runtime -> error

// LoadOPA instruments and compiles an OPA wasm module. builtin serves the
// builtins the module calls out for (nil: any such call fails).
func (r *Runtime) LoadOPA(ctx context.Context, name string, module []byte, builtin BuiltinFunc) (*OPAModule, error) {
	if err := r.defineOPAHost(ctx); err != nil {
		return nil, err
	}
	info, err := gas.InspectInterface(module)
	if err != nil {
		return nil, fmt.Errorf("load policy %s: %w", name, err)
	}
	var minPages uint32 = 1
	for _, im := range info.Imports {
		switch {
		case im.Module == "env" && im.Kind == "memory":
			if len(info.Memories) > 0 {
				minPages = uint32(info.Memories[0].MinPages)
			}
		case im.Module == "env" && im.Kind == "func":
			if !isOPAHostFunc(im.Name) {
				return nil, fmt.Errorf("load policy %s: imports env.%s, which the OPA wasm ABI does not have", name, im.Name)
			}
		default:
			return nil, fmt.Errorf("load policy %s: imports %s.%s; an OPA policy module imports only env", name, im.Module, im.Name)
		}
	}
	if minPages > r.cfg.MemoryLimitPages {
		return nil, fmt.Errorf("load policy %s: needs %d pages of memory, the limit is %d", name, minPages, r.cfg.MemoryLimitPages)
	}
	instrumented, _, err := r.instrument(module, sha256.Sum256(module), gas.Options{Costs: r.cfg.Costs, MaxCallDepth: r.cfg.MaxCallDepth})
	if err != nil {
		return nil, fmt.Errorf("load policy %s: instrument: %w", name, err)
	}
	compiled, err := r.compile(ctx, instrumented)
	if err != nil {
		return nil, fmt.Errorf("load policy %s: compile: %w", name, err)
	}
	startPages := min(minPages+opaHeadroomPages, r.cfg.MemoryLimitPages)
	glue, err := r.compile(ctx, glueModule(startPages, r.cfg.MemoryLimitPages))
	if err != nil {
		compiled.Close(ctx)
		return nil, fmt.Errorf("load policy %s: glue: %w", name, err)
	}
	m := &OPAModule{rt: r, name: name, compiled: compiled, glue: glue, minPages: minPages, builtin: builtin}
	inst, err := m.instantiate(ctx, true)
	if err != nil {
		compiled.Close(ctx)
		glue.Close(ctx)
		return nil, fmt.Errorf("load policy %s: %w", name, err)
	}
	m.put(inst)
	return m, nil
}

func isOPAHostFunc(name string) bool {
	for _, f := range opaHostFuncs {
		if f.name == name {
			return true
		}
	}
	return false
}

// Entrypoints lists the module's entrypoints, sorted.
func (m *OPAModule) Entrypoints() []string {
	var out []string
	for e := range m.entrypoints {
		out = append(out, e)
	}
	sort.Strings(out)
	return out
}

// Close releases the module and its instances.
func (m *OPAModule) Close(ctx context.Context) error {
	m.mu.Lock()
	pool := m.pool
	m.pool = nil
	m.mu.Unlock()
	for _, inst := range pool {
		inst.mod.Close(ctx)
		inst.glue.Close(ctx)
	}
	m.glue.Close(ctx)
	return m.compiled.Close(ctx)
}

// instantiate makes an instance and loads its data ({}), reading the
// builtin and entrypoint tables the first time.
func (m *OPAModule) instantiate(ctx context.Context, first bool) (*opaInstance, error) {
	if !m.rt.live.enter() {
		return nil, errRuntimeClosed
	}
	defer m.rt.live.exit()
	glue, err := m.rt.rt.InstantiateModule(withLinearMemory(ctx), m.glue, wazero.NewModuleConfig().WithName(""))
	if err != nil {
		return nil, fmt.Errorf("policy glue: %w", err)
	}
	st := &callState{budget: m.rt.cfg.InitGas, left: m.rt.cfg.InitGas, costs: m.rt.cfg.HostCosts}
	// The module's start function (metered like everything else) runs while
	// instantiating, with the init budget.
	rctx := experimental.WithImportResolver(withCallState(ctx, st), func(name string) api.Module {
		if name == "env" {
			return glue
		}
		return nil
	})
	mod, err := m.rt.rt.InstantiateModule(rctx, m.compiled, wazero.NewModuleConfig().WithName("").WithStartFunctions())
	if err != nil {
		glue.Close(ctx)
		return nil, fmt.Errorf("instantiate policy: %w", err)
	}
	inst := &opaInstance{glue: glue, mod: mod, funcs: map[string]api.Function{}}
	st.opa = &opaCall{inst: inst, names: m.builtinIDs, builtin: m.builtin}
	cctx := withCallState(ctx, st)
	fail := func(err error) (*opaInstance, error) {
		mod.Close(ctx)
		glue.Close(ctx)
		return nil, err
	}
	if first {
		if m.builtinIDs, err = readIDTable(cctx, inst, "builtins"); err != nil {
			return fail(err)
		}
		eps, err := readIDTable(cctx, inst, "entrypoints")
		if err != nil {
			return fail(err)
		}
		m.entrypoints = map[string]int32{}
		for id, name := range eps {
			m.entrypoints[name] = id
		}
		st.opa.names = m.builtinIDs
	}
	addr, err := inst.writeValue(cctx, []byte("{}"))
	if err != nil {
		return fail(fmt.Errorf("load policy data: %w", err))
	}
	inst.dataAddr = addr
	res, err := inst.call(cctx, "opa_heap_ptr_get")
	if err != nil {
		return fail(err)
	}
	inst.heapBase = uint32(res)
	return inst, nil
}

// readIDTable reads the JSON object {name: id} an export returns.
func readIDTable(ctx context.Context, inst *opaInstance, export string) (map[int32]string, error) {
	addr, err := inst.call(ctx, export)
	if err != nil {
		return nil, err
	}
	text, err := inst.dump(ctx, uint32(addr))
	if err != nil {
		return nil, err
	}
	var table map[string]int32
	if err := json.Unmarshal(text, &table); err != nil {
		return nil, fmt.Errorf("policy %s table: %w", export, err)
	}
	out := map[int32]string{}
	for name, id := range table {
		out[id] = name
	}
	return out, nil
}

func (inst *opaInstance) call(ctx context.Context, export string, args ...uint64) (uint64, error) {
	f, ok := inst.funcs[export]
	if !ok {
		if f = inst.mod.ExportedFunction(export); f == nil {
			return 0, fmt.Errorf("the policy module does not export %s (OPA wasm ABI)", export)
		}
		inst.funcs[export] = f
	}
	res, err := f.Call(ctx, args...)
	if err != nil {
		return 0, err
	}
	if len(res) == 0 {
		return 0, nil
	}
	return res[0], nil
}

// writeValue parses JSON text into an OPA value inside the instance.
func (inst *opaInstance) writeValue(ctx context.Context, text []byte) (uint32, error) {
	addr, err := inst.call(ctx, "opa_malloc", uint64(len(text)))
	if err != nil {
		return 0, err
	}
	if !inst.mod.Memory().Write(uint32(addr), text) {
		return 0, fmt.Errorf("opa_malloc(%d) returned %d, outside memory", len(text), addr)
	}
	v, err := inst.call(ctx, "opa_json_parse", addr, uint64(len(text)))
	if err != nil {
		return 0, err
	}
	if v == 0 {
		return 0, fmt.Errorf("the policy module could not parse a JSON value")
	}
	return uint32(v), nil
}

// dump serialises an OPA value to JSON text.
func (inst *opaInstance) dump(ctx context.Context, value uint32) ([]byte, error) {
	addr, err := inst.call(ctx, "opa_json_dump", uint64(value))
	if err != nil {
		return nil, err
	}
	return readCString(inst.mod.Memory(), uint32(addr))
}

// opaHeadroomPages is how far beyond the module's minimum every policy
// instance's memory starts (16 MiB). OPA's allocator learns the memory's
// size once, in the module's start function, and grows memory only beyond
// it; an evaluation that grows memory is not reused (see EvalRaw), so the
// headroom is what lets most evaluations reuse their instance. It is part
// of the gas semantics (a grow is charged per page), so it is a constant.
const opaHeadroomPages = 256

// maxResultBytes bounds a NUL-terminated string read from a policy.
const maxResultBytes = 16 << 20

func readCString(mem api.Memory, addr uint32) ([]byte, error) {
	size := mem.Size()
	if addr >= size {
		return nil, fmt.Errorf("string at %d is outside the %d bytes of memory", addr, size)
	}
	end := min(size, addr+maxResultBytes)
	b, _ := mem.Read(addr, end-addr)
	i := bytes.IndexByte(b, 0)
	if i < 0 {
		return nil, fmt.Errorf("string at %d has no end within %d bytes", addr, len(b))
	}
	return append([]byte(nil), b[:i]...), nil
}

func (m *OPAModule) take(ctx context.Context) (*opaInstance, error) {
	m.mu.Lock()
	if n := len(m.pool); n > 0 {
		inst := m.pool[n-1]
		m.pool = m.pool[:n-1]
		m.mu.Unlock()
		return inst, nil
	}
	m.mu.Unlock()
	return m.instantiate(ctx, false)
}

func (m *OPAModule) put(inst *opaInstance) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pool = append(m.pool, inst)
}

// OPA result formats of opa_eval.
const (
	OPAFormatJSON  = 0 // JSON: sets become arrays, in the module's hash order
	OPAFormatValue = 1 // Rego value syntax: sets stay sets, for the caller to order
)

// Eval evaluates an entrypoint on input (JSON text) with a gas budget. The
// result is the rule's value, or null where the rule is undefined.
func (m *OPAModule) Eval(ctx context.Context, entrypoint string, input []byte, budget uint64) (json.RawMessage, uint64, error) {
	text, gasUsed, err := m.EvalRaw(ctx, entrypoint, input, budget, OPAFormatJSON)
	if err != nil {
		return nil, gasUsed, err
	}
	var sets []struct {
		Result json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(text, &sets); err != nil {
		return nil, gasUsed, &Fault{Kind: FaultBadOutput, Detail: fmt.Sprintf("the result set is not JSON: %v", err), GasUsed: gasUsed, Budget: budget}
	}
	switch len(sets) {
	case 0:
		return json.RawMessage("null"), gasUsed, nil
	case 1:
		return sets[0].Result, gasUsed, nil
	}
	return nil, gasUsed, &Fault{Kind: FaultBadOutput, Detail: fmt.Sprintf("%d result sets; an entrypoint rule has one", len(sets)), GasUsed: gasUsed, Budget: budget}
}

// EvalRaw evaluates an entrypoint and returns opa_eval's result-set text in
// the given format ([] when undefined, [{"result": ...}] otherwise).
func (m *OPAModule) EvalRaw(ctx context.Context, entrypoint string, input []byte, budget uint64, format int) ([]byte, uint64, error) {
	id, ok := m.entrypoints[entrypoint]
	if !ok {
		return nil, 0, fmt.Errorf("policy %s has no entrypoint %q (it has %v)", m.name, entrypoint, m.Entrypoints())
	}
	if !json.Valid(input) {
		return nil, 0, fmt.Errorf("policy input is not JSON")
	}
	if !m.rt.live.enter() {
		return nil, 0, errRuntimeClosed
	}
	defer m.rt.live.exit()
	inst, err := m.take(ctx)
	if err != nil {
		return nil, 0, err
	}
	st := &callState{budget: budget, left: budget, costs: m.rt.cfg.HostCosts, maxCalls: m.rt.cfg.MaxHostCalls,
		opa: &opaCall{inst: inst, names: m.builtinIDs, builtin: m.builtin}}
	cctx := withCallState(ctx, st)
	pagesBefore := inst.mod.Memory().Size()
	result, err := m.eval(cctx, st, inst, id, input, format)
	if err != nil || inst.mod.Memory().Size() != pagesBefore {
		// Not reused: a faulted instance's heap may be anywhere, and one
		// whose memory grew would not charge the next evaluation for the
		// growth this one paid for. Every evaluation thus starts from an
		// instance in the state of a fresh one, and its gas is a function of
		// the policy and the input alone.
		inst.mod.Close(ctx)
		inst.glue.Close(ctx)
	} else {
		m.put(inst)
	}
	if err != nil {
		return nil, st.used(), err
	}
	return result, st.used(), nil
}

func (m *OPAModule) eval(ctx context.Context, st *callState, inst *opaInstance, id int32, input []byte, format int) (result []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(error); ok {
				err = m.classifyOPA(inst, st, e)
				return
			}
			panic(r)
		}
	}()
	mem := inst.mod.Memory()
	st.charge(st.costs.Base + st.costs.PerByte*uint64(len(input)))
	end := uint64(inst.heapBase) + uint64(len(input))
	if end > uint64(mem.Size()) {
		pages := uint32((end - uint64(mem.Size()) + 65535) / 65536)
		st.charge(uint64(pages) * uint64(m.rt.cfg.Costs.PerPage))
		if _, ok := mem.Grow(pages); !ok {
			return nil, &Fault{Kind: FaultMemoryLimit, GasUsed: st.used(), Budget: st.budget,
				Detail: fmt.Sprintf("an input of %d bytes does not fit in %d pages", len(input), m.rt.cfg.MemoryLimitPages)}
		}
	}
	mem.Write(inst.heapBase, input)
	addr, err := inst.call(ctx, "opa_eval", 0, uint64(id), uint64(inst.dataAddr), uint64(inst.heapBase), uint64(len(input)), end, uint64(format))
	if err != nil {
		return nil, m.classifyOPA(inst, st, err)
	}
	text, err := readCString(mem, uint32(addr))
	if err != nil {
		return nil, &Fault{Kind: FaultBadOutput, Detail: err.Error(), GasUsed: st.used(), Budget: st.budget}
	}
	return text, nil
}

func (m *OPAModule) classifyOPA(inst *opaInstance, st *callState, err error) error {
	return m.rt.faultOf(st, err, inst.mod.ExportedGlobal(gas.GasGlobalExport), func(err error) (FaultKind, string) {
		if memoryAtLimit(inst.mod.Memory(), m.rt.cfg.MemoryLimitPages) {
			return FaultMemoryLimit, firstLine(err.Error())
		}
		return FaultTrap, firstLine(err.Error())
	})
}

// defineOPAHost defines the opa_host module once per runtime.
func (r *Runtime) defineOPAHost(ctx context.Context) error {
	v, _ := opaHostOnce.LoadOrStore(r, &sync.Once{})
	var err error
	v.(*sync.Once).Do(func() {
		b := r.rt.NewHostModuleBuilder(opaHostModule)
		for _, f := range opaHostFuncs {
			params := make([]api.ValueType, f.params)
			for i := range params {
				params[i] = api.ValueTypeI32
			}
			var results []api.ValueType
			if f.results == 1 {
				results = []api.ValueType{api.ValueTypeI32}
			}
			name := f.name
			b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, mod api.Module, stack []uint64) {
				opaHostCall(ctx, mod, name, stack)
			}), params, results).Export(name)
		}
		_, err = b.Instantiate(ctx)
	})
	if err != nil {
		return fmt.Errorf("define %s: %w", opaHostModule, err)
	}
	return nil
}

func opaHostCall(ctx context.Context, mod api.Module, name string, stack []uint64) {
	s := stateOf(ctx)
	s.enter()
	call := s.opa
	switch name {
	case "opa_abort":
		msg, _ := readCString(mod.Memory(), uint32(stack[0]))
		panic(&Fault{Kind: FaultTrap, Detail: "opa_abort: " + string(msg)})
	case "opa_println":
		return // print output is not part of an evaluation's result
	}
	if call == nil {
		panic(&Fault{Kind: FaultTrap, Detail: name + " outside an evaluation"})
	}
	id := int32(uint32(stack[0]))
	bname, ok := call.names[id]
	if !ok {
		panic(&Fault{Kind: FaultTrap, Detail: fmt.Sprintf("%s: unknown builtin id %d", name, id)})
	}
	if call.builtin == nil {
		panic(&Fault{Kind: FaultTrap, Detail: fmt.Sprintf("builtin %s is not served by this host", bname)})
	}
	args := make([]json.RawMessage, 0, len(stack)-2)
	for _, a := range stack[2:] {
		text, err := call.inst.dump(ctx, uint32(a))
		if err != nil {
			panic(&Fault{Kind: FaultTrap, Detail: fmt.Sprintf("builtin %s: argument: %v", bname, err)})
		}
		s.charge(s.costs.PerByte * uint64(len(text)))
		args = append(args, text)
	}
	res, err := call.builtin(ctx, bname, args)
	if errors.Is(err, ErrResultOverBudget) {
		s.charge(s.left + 1) // out of gas before the work rather than after
	}
	if err != nil {
		panic(&Fault{Kind: FaultTrap, Detail: fmt.Sprintf("builtin %s: %v", bname, err)})
	}
	if res == nil {
		stack[0] = 0 // undefined
		return
	}
	s.charge(s.costs.PerByte * uint64(len(res)))
	addr, err := call.inst.writeValue(ctx, res)
	if err != nil {
		panic(&Fault{Kind: FaultTrap, Detail: fmt.Sprintf("builtin %s: result: %v", bname, err)})
	}
	stack[0] = uint64(addr)
}
