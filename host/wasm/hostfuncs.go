package wasm

import (
	"context"
	"errors"
	"fmt"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/canswarm/swarmhost/abi"
	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/cas"
	"github.com/canswarm/swarmhost/host/wasm/gas"
)

// Env is what a call's host functions reach. Any field may be nil: the
// function then answers ErrUnavailable (policy_eval, plan_query, cas_*) or
// drops the line (log).
type Env struct {
	CAS cas.Store
	Log func(level int32, msg string)
	// PolicyEval evaluates the thread's capsule: request and answer are the
	// JSON of abi.PolicyRequest and abi.PolicyResult; gasUsed is charged to
	// the calling plugin.
	PolicyEval func(ctx context.Context, request []byte) (answer []byte, gasUsed uint64, digest string, err error)
	// PlanQuery answers a read of the shared plan.
	PlanQuery func(ctx context.Context, request []byte) ([]byte, error)
}

// MaxLogLine bounds one log line from a plugin.
const MaxLogLine = 4096

// instantiateHostModules defines the swarm_gas and swarm_v1 modules on rt.
func instantiateHostModules(ctx context.Context, rt wazero.Runtime) error {
	g := rt.NewHostModuleBuilder(gas.ImportModule)
	g.NewFunctionBuilder().WithGoFunction(api.GoFunc(func(ctx context.Context, stack []uint64) {
		stack[0] = stateOf(ctx).left
	}), nil, []api.ValueType{api.ValueTypeI64}).Export("get")
	g.NewFunctionBuilder().WithGoFunction(api.GoFunc(func(ctx context.Context, stack []uint64) {
		s := stateOf(ctx)
		if v := stack[0]; v <= s.left {
			s.left = v
		} else {
			// The instrumented code only ever spends: a counter that grew
			// was tampered with.
			panic(&Fault{Kind: FaultTrap, Detail: fmt.Sprintf("gas counter raised from %d to %d", s.left, v)})
		}
	}), []api.ValueType{api.ValueTypeI64}, nil).Export("set")
	g.NewFunctionBuilder().WithGoFunction(api.GoFunc(func(ctx context.Context, _ []uint64) {
		stateOf(ctx).left = 0
		panic(errOutOfGas)
	}), nil, nil).Export("exhausted")
	g.NewFunctionBuilder().WithGoFunction(api.GoFunc(func(ctx context.Context, _ []uint64) {
		panic(errTooDeep)
	}), nil, nil).Export("too_deep")
	if _, err := g.Instantiate(ctx); err != nil {
		return fmt.Errorf("define %s: %w", gas.ImportModule, err)
	}

	i32, i64 := api.ValueTypeI32, api.ValueTypeI64
	b := rt.NewHostModuleBuilder(abi.HostModule)
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(hostCASGet), []api.ValueType{i32, i32, i32, i32}, []api.ValueType{i64}).Export(abi.HostCASGet)
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(hostCASPut), []api.ValueType{i32, i32, i32}, []api.ValueType{i32}).Export(abi.HostCASPut)
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(hostLog), []api.ValueType{i32, i32, i32}, nil).Export(abi.HostLog)
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(hostPolicyEval), []api.ValueType{i32, i32, i32, i32}, []api.ValueType{i64}).Export(abi.HostPolicyEval)
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(hostPlanQuery), []api.ValueType{i32, i32, i32, i32}, []api.ValueType{i64}).Export(abi.HostPlanQuery)
	if _, err := b.Instantiate(ctx); err != nil {
		return fmt.Errorf("define %s: %w", abi.HostModule, err)
	}
	return nil
}

// read copies guest memory, ending the call with a bad-pointer fault when
// the range is outside it.
func read(m api.Module, fn string, ptr, n uint32) []byte {
	b, ok := m.Memory().Read(ptr, n)
	if !ok {
		panic(&Fault{Kind: FaultBadPointer, Detail: fmt.Sprintf("%s: [%d, %d+%d) is outside the %d bytes of memory", fn, ptr, ptr, n, m.Memory().Size())})
	}
	return append([]byte(nil), b...)
}

func write(m api.Module, fn string, ptr uint32, data []byte) {
	if !m.Memory().Write(ptr, data) {
		panic(&Fault{Kind: FaultBadPointer, Detail: fmt.Sprintf("%s: [%d, %d+%d) is outside the %d bytes of memory", fn, ptr, ptr, len(data), m.Memory().Size())})
	}
}

// answer applies the length rule of ABI.md: copy when it fits, and return
// the full length either way.
func answer(m api.Module, s *callState, fn string, data []byte, outPtr, outCap uint32) uint64 {
	if uint64(len(data)) <= uint64(outCap) {
		s.charge(s.costs.PerByte * uint64(len(data)))
		write(m, fn, outPtr, data)
	}
	return uint64(len(data))
}

func code(c int64) uint64 { return uint64(c) }

// code32 is an i32 result's negative code, as the stack holds it.
func code32(c int32) uint64 { return uint64(uint32(c)) }

func hostCASGet(ctx context.Context, m api.Module, stack []uint64) {
	s := stateOf(ctx)
	s.enter()
	refPtr, refLen, outPtr, outCap := uint32(stack[0]), uint32(stack[1]), uint32(stack[2]), uint32(stack[3])
	if refLen > 2*uint32(envelope.RefLen) {
		stack[0] = code(abi.ErrBadArgument)
		return
	}
	ref := string(read(m, abi.HostCASGet, refPtr, refLen))
	if !envelope.IsRef(ref) {
		stack[0] = code(abi.ErrBadArgument)
		return
	}
	if s.env == nil || s.env.CAS == nil {
		stack[0] = code(abi.ErrUnavailable)
		return
	}
	data, err := s.env.CAS.Get(ctx, ref)
	switch {
	case errors.Is(err, cas.ErrNotFound), errors.Is(err, cas.ErrCorrupt):
		stack[0] = code(abi.ErrNotFound)
		return
	case err != nil:
		panic(fmt.Errorf("cas_get %s: %w", ref, err)) // the host's store failed: not the plugin's fault, but the call cannot go on
	}
	stack[0] = answer(m, s, abi.HostCASGet, data, outPtr, outCap)
}

func hostCASPut(ctx context.Context, m api.Module, stack []uint64) {
	s := stateOf(ctx)
	s.enter()
	ptr, n, refOut := uint32(stack[0]), uint32(stack[1]), uint32(stack[2])
	if n > cas.MaxBlobBytes {
		stack[0] = code32(abi.ErrTooLarge)
		return
	}
	s.charge(s.costs.CASPut + s.costs.PerByte*uint64(n))
	data := read(m, abi.HostCASPut, ptr, n)
	if s.env == nil || s.env.CAS == nil {
		stack[0] = code32(abi.ErrUnavailable)
		return
	}
	ref, err := s.env.CAS.Put(ctx, data)
	if err != nil {
		panic(fmt.Errorf("cas_put: %w", err))
	}
	write(m, abi.HostCASPut, refOut, []byte(ref))
	stack[0] = 0
}

func hostLog(ctx context.Context, m api.Module, stack []uint64) {
	s := stateOf(ctx)
	s.enter()
	level, ptr, n := int32(stack[0]), uint32(stack[1]), uint32(stack[2])
	n = min(n, MaxLogLine)
	s.charge(s.costs.PerByte * uint64(n))
	line := read(m, abi.HostLog, ptr, n)
	if s.env != nil && s.env.Log != nil {
		s.env.Log(level, string(line))
	}
}

func hostPolicyEval(ctx context.Context, m api.Module, stack []uint64) {
	s := stateOf(ctx)
	s.enter()
	reqPtr, reqLen, outPtr, outCap := uint32(stack[0]), uint32(stack[1]), uint32(stack[2]), uint32(stack[3])
	s.charge(s.costs.PerByte * uint64(reqLen))
	ans, rc := s.policyEval(ctx, read(m, abi.HostPolicyEval, reqPtr, reqLen), true)
	if rc != 0 {
		stack[0] = code(rc)
		return
	}
	stack[0] = answer(m, s, abi.HostPolicyEval, ans, outPtr, outCap)
}

func hostPlanQuery(ctx context.Context, m api.Module, stack []uint64) {
	s := stateOf(ctx)
	s.enter()
	reqPtr, reqLen, outPtr, outCap := uint32(stack[0]), uint32(stack[1]), uint32(stack[2]), uint32(stack[3])
	s.charge(s.costs.PerByte * uint64(reqLen))
	req := read(m, abi.HostPlanQuery, reqPtr, reqLen)
	if s.env == nil || s.env.PlanQuery == nil {
		stack[0] = code(abi.ErrUnavailable)
		return
	}
	ans, err := s.env.PlanQuery(ctx, req)
	if err != nil {
		stack[0] = code(abi.ErrBadArgument)
		return
	}
	stack[0] = answer(m, s, abi.HostPlanQuery, ans, outPtr, outCap)
}
