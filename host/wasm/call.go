package wasm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"

	"github.com/canswarm/swarmhost/abi"
	"github.com/canswarm/swarmhost/host/wasm/gas"
)

// Result is what a successful call produced.
type Result struct {
	// Output is the AgentOutput's JSON as the plugin wrote it; nil when the
	// plugin had nothing to say.
	Output []byte
	// Parsed is Output decoded; nil with Output.
	Parsed *abi.AgentOutput
	// GasUsed counts the instrumented instructions and the host functions'
	// charges of this call.
	GasUsed uint64
	// PolicyDigests are the evaluation digests of the policy_eval calls the
	// plugin made, sorted: the ones an action may cite.
	PolicyDigests []string
}

// Handle runs swarm_handle on input (an AgentInput's JSON) with a gas budget
// and the given host environment, on a fresh instance.
func (m *Module) Handle(ctx context.Context, input []byte, budget uint64, env *Env) (*Result, error) {
	if m.ext != nil {
		return m.handleExtism(ctx, input, budget, env)
	}
	if !m.rt.live.enter() {
		return nil, errRuntimeClosed
	}
	defer m.rt.live.exit()
	inst, err := m.take(ctx)
	if err != nil {
		return nil, err
	}
	inst.clean = false
	defer func() {
		if !m.recycle(inst) {
			inst.Close(ctx)
		}
	}()
	st := m.newCallState(budget, env)
	cctx := withCallState(ctx, st)

	res, err := inst.ExportedFunction(abi.ExportAlloc).Call(cctx, uint64(len(input)))
	if err != nil {
		return nil, m.classify(inst, st, fmt.Errorf("%s: %w", abi.ExportAlloc, err))
	}
	ptr := uint32(res[0])
	if !inst.Memory().Write(ptr, input) {
		return nil, &Fault{Kind: FaultBadPointer, GasUsed: st.used(), Budget: budget,
			Detail: fmt.Sprintf("%s(%d) returned %d: the input does not fit in the %d bytes of memory there", abi.ExportAlloc, len(input), ptr, inst.Memory().Size())}
	}
	res, err = inst.ExportedFunction(abi.ExportHandle).Call(cctx, uint64(ptr), uint64(len(input)))
	if err != nil {
		return nil, m.classify(inst, st, fmt.Errorf("%s: %w", abi.ExportHandle, err))
	}
	out, err := m.readPacked(inst, st, res[0])
	if err != nil {
		return nil, err
	}
	inst.clean = true
	return st.result(out)
}

// readPacked reads the (ptr << 32 | len) answer of describe or handle; 0 is
// no output.
func (m *Module) readPacked(inst *instance, st *callState, packed uint64) ([]byte, error) {
	if packed == 0 {
		return nil, nil
	}
	ptr, n := uint32(packed>>32), uint32(packed)
	if n > m.rt.cfg.MaxOutputBytes {
		return nil, &Fault{Kind: FaultOutputTooLarge, GasUsed: st.used(), Budget: st.budget,
			Detail: fmt.Sprintf("the output is %d bytes, the limit is %d", n, m.rt.cfg.MaxOutputBytes)}
	}
	b, ok := inst.Memory().Read(ptr, n)
	if !ok {
		return nil, &Fault{Kind: FaultBadPointer, GasUsed: st.used(), Budget: st.budget,
			Detail: fmt.Sprintf("the output [%d, %d+%d) is outside the %d bytes of memory", ptr, ptr, n, inst.Memory().Size())}
	}
	return append([]byte(nil), b...), nil
}

// parseOutput decodes an AgentOutput strictly.
func parseOutput(out []byte) (*abi.AgentOutput, error) {
	if !json.Valid(out) {
		return nil, fmt.Errorf("the output is not JSON: %q", clip(out))
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.DisallowUnknownFields()
	var o abi.AgentOutput
	if err := dec.Decode(&o); err != nil {
		return nil, fmt.Errorf("the output is not an AgentOutput: %v", err)
	}
	for i, a := range o.Actions {
		if a.Verb == "" {
			return nil, fmt.Errorf("action %d has no verb", i)
		}
		if len(a.Payload) == 0 || a.Payload[0] != '{' {
			return nil, fmt.Errorf("action %d (%s): payload must be a JSON object", i, a.Verb)
		}
	}
	return &o, nil
}

func clip(b []byte) string {
	if len(b) > 80 {
		return string(b[:80]) + "…"
	}
	return string(b)
}

// classify turns the error of a native call into a *Fault.
func (m *Module) classify(inst *instance, st *callState, err error) error {
	return m.rt.faultOf(st, err, inst.ExportedGlobal(gas.GasGlobalExport), func(err error) (FaultKind, string) {
		var exit *sys.ExitError
		if errors.As(err, &exit) {
			detail := fmt.Sprintf("the plugin exited with code %d%s", exit.ExitCode(), stderrTail(inst))
			if strings.Contains(detail, "out of memory") || memoryAtLimit(inst.Memory(), m.rt.cfg.MemoryLimitPages) {
				return FaultMemoryLimit, detail
			}
			return FaultExit, detail
		}
		detail := firstLine(err.Error()) + stderrTail(inst)
		if memoryAtLimit(inst.Memory(), m.rt.cfg.MemoryLimitPages) {
			return FaultMemoryLimit, fmt.Sprintf("memory at its limit of %d pages: %s", m.rt.cfg.MemoryLimitPages, detail)
		}
		return FaultTrap, detail
	})
}

// faultOf classifies a failed call: the causes every path shares (gas,
// depth, host-call limit, a fault a host function raised), and, through
// other, what is particular to the path. gasLeft, when the module exposes
// it, holds exactly what was left when a trap happened.
func (r *Runtime) faultOf(st *callState, err error, gasLeft api.Global, other func(error) (FaultKind, string)) error {
	if gasLeft != nil && st.left != 0 {
		if left := gasLeft.Get(); left <= st.left {
			st.left = left
		}
	}
	f := &Fault{Budget: st.budget}
	var fault *Fault
	switch {
	case errors.Is(err, errOutOfGas):
		st.left = 0
		f.Kind = FaultOutOfGas
	case errors.Is(err, errTooDeep):
		f.Kind, f.Detail = FaultStackDepth, fmt.Sprintf("more than %d nested calls (the call depth limit)", r.depthLimit())
	case errors.Is(err, errHostCallLimit):
		f.Kind, f.Detail = FaultHostCallLimit, fmt.Sprintf("more than %d host calls in one call", r.cfg.MaxHostCalls)
	case errors.As(err, &fault):
		f.Kind, f.Detail = fault.Kind, fault.Detail
	default:
		f.Kind, f.Detail = other(err)
	}
	f.GasUsed = st.used()
	return f
}

func (r *Runtime) depthLimit() uint32 {
	if r.cfg.MaxCallDepth != 0 {
		return r.cfg.MaxCallDepth
	}
	return gas.DefaultMaxCallDepth
}

func memoryAtLimit(mem api.Memory, limit uint32) bool {
	return mem != nil && mem.Size() >= limit*65536
}

// stderrTail is the end of what the plugin wrote to stderr (a Go panic's
// message, say), for a fault's detail.
func stderrTail(inst *instance) string {
	tail := strings.TrimSpace(string(inst.stderr.tail))
	if tail == "" {
		return ""
	}
	return ": " + strings.Join(strings.Fields(tail), " ")
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
