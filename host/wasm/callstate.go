package wasm

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/tetratelabs/wazero/api"

	"github.com/canswarm/swarmhost/abi"
)

// callState is one plugin call's accounting, reachable from the host
// functions through the call's context.
type callState struct {
	budget    uint64
	left      uint64 // remaining gas, as last synchronised with the module
	hostCalls int
	maxCalls  int
	env       *Env
	costs     *HostCosts
	// lastPolicy memoises the last policy_eval answer, so that a guest that
	// calls again with a bigger buffer (the length rule) is not charged, and
	// does not evaluate, twice.
	lastPolicyReq, lastPolicyAnswer []byte
	digests                         map[string]bool // evaluation digests made during the call
	// mod is the plugin's instance on the Extism path, noted by gasCatcher so
	// that its remaining-gas global can be read after a trap.
	mod api.Module
	// opa is set during a policy evaluation, for the opa_host functions.
	opa *opaCall
}

type callStateKey struct{}

func withCallState(ctx context.Context, s *callState) context.Context {
	return context.WithValue(ctx, callStateKey{}, s)
}

// stateOf returns the call's state. A module called without one (the
// _initialize call runs with its own) is a host bug, reported as a panic
// that wazero turns into the call's error.
func stateOf(ctx context.Context) *callState {
	s, ok := ctx.Value(callStateKey{}).(*callState)
	if !ok {
		panic(fmt.Errorf("swarm: host function called outside a metered call"))
	}
	return s
}

// charge takes n gas or aborts the call.
func (s *callState) charge(n uint64) {
	if n > s.left {
		s.left = 0
		panic(errOutOfGas)
	}
	s.left -= n
}

// enter counts a host call, charging its base cost.
func (s *callState) enter() {
	s.hostCalls++
	if s.maxCalls > 0 && s.hostCalls > s.maxCalls {
		panic(errHostCallLimit)
	}
	s.charge(s.costs.Base)
}

func (s *callState) used() uint64 { return s.budget - s.left }

// RemainingGas is the gas left to the plugin call running in ctx, for host
// code (a policy evaluation) that spends from the caller's budget; 0 outside
// a call.
func RemainingGas(ctx context.Context) uint64 {
	if s, ok := ctx.Value(callStateKey{}).(*callState); ok {
		return s.left
	}
	return 0
}

// ResultBytesLeft is how many bytes of result a host function running in
// ctx can still be charged for: the gas left over the per-byte cost (the
// largest uint64 outside a call, or with no per-byte cost). A host function
// whose result it can size before making it (an OPA builtin that expands a
// small argument into a large value) returns ErrResultOverBudget rather
// than make one it could not pay for.
func ResultBytesLeft(ctx context.Context) uint64 {
	s, ok := ctx.Value(callStateKey{}).(*callState)
	if !ok || s.costs.PerByte == 0 {
		return math.MaxUint64
	}
	return s.left / s.costs.PerByte
}

// ErrResultOverBudget is what a host function returns for a result it
// would make over ResultBytesLeft: the call runs out of gas, before the
// work, as it would have after it.
var ErrResultOverBudget = errors.New("the result would cost more gas than is left")

// policyEval evaluates a policy_eval request for either path: it charges the
// evaluation's gas (running out there is running out for the plugin) and
// remembers the digest. With memo (the native path, whose length rule makes
// a guest retry with a bigger buffer) a repeat of the last request is
// answered from memory. A negative code says why there is no answer.
func (s *callState) policyEval(ctx context.Context, req []byte, memo bool) ([]byte, int64) {
	if s.env == nil || s.env.PolicyEval == nil {
		return nil, abi.ErrUnavailable
	}
	if memo && s.lastPolicyReq != nil && string(req) == string(s.lastPolicyReq) {
		return s.lastPolicyAnswer, 0
	}
	ans, gasUsed, digest, err := s.env.PolicyEval(ctx, req)
	if f, ok := AsFault(err); ok && f.Kind == FaultOutOfGas {
		s.charge(s.left + 1) // the evaluation spent the caller's budget
	}
	if err != nil {
		return nil, abi.ErrBadArgument
	}
	s.charge(gasUsed)
	s.lastPolicyReq, s.lastPolicyAnswer = req, ans
	if s.digests == nil {
		s.digests = map[string]bool{}
	}
	s.digests[digest] = true
	return ans, 0
}

// result is what a call that returned out produced: its gas, the digests
// of the evaluations it made, and its output parsed (a bad output is a
// fault).
func (s *callState) result(out []byte) (*Result, error) {
	r := &Result{GasUsed: s.used()}
	for d := range s.digests {
		r.PolicyDigests = append(r.PolicyDigests, d)
	}
	sort.Strings(r.PolicyDigests)
	if len(out) == 0 {
		return r, nil
	}
	parsed, err := parseOutput(out)
	if err != nil {
		return nil, &Fault{Kind: FaultBadOutput, Detail: err.Error(), GasUsed: s.used(), Budget: s.budget}
	}
	r.Output, r.Parsed = out, parsed
	return r, nil
}
