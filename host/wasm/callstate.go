package wasm

import (
	"context"
	"fmt"

	"github.com/tetratelabs/wazero/api"
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
