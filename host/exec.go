package host

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/canswarm/swarmhost/abi"
	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/policy"
	"github.com/canswarm/swarmhost/host/policy/compile"
	"github.com/canswarm/swarmhost/host/protocol"
	"github.com/canswarm/swarmhost/host/wasm"
)

// PolicyGas is the gas budget of one capsule evaluation.
const PolicyGas = 200_000_000

// runAgent runs a local agent on its input in the background and steps the
// outcome.
func (h *Host) runAgent(a *protocol.RunAgent) {
	la := h.id.agents[a.Agent]
	if la == nil {
		h.push(item{in: &protocol.AgentDone{At: nowMS(), ReqID: a.ReqID, Fault: "no such local agent"}})
		return
	}
	var in abi.AgentInput
	json.Unmarshal(a.Input, &in)
	env, _ := envelope.Decode(in.Envelope)
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		h.agentS <- struct{}{}
		defer func() { <-h.agentS }()
		done := &protocol.AgentDone{ReqID: a.ReqID}
		mod, release, err := h.Agents.Acquire(la.file)
		if err != nil {
			done.Fault = err.Error()
		} else {
			res, err := mod.Handle(h.ctx, a.Input, a.Gas, h.agentEnv(a.Thread, env, la))
			release()
			switch {
			case err != nil:
				done.Fault = err.Error()
				if f, ok := err.(*wasm.Fault); ok {
					done.GasUsed = f.GasUsed
				}
			default:
				done.Output, done.GasUsed = res.Output, res.GasUsed
			}
		}
		done.At = nowMS()
		h.push(item{in: done})
	}()
}

// agentEnv is what an agent's host functions reach: the CAS, its log, the
// thread's capsule (policy_eval: a null input means the protocol's standard
// input for the envelope being handled, section 7), and the plan.
func (h *Host) agentEnv(thread string, e *envelope.Envelope, la *localAgent) *wasm.Env {
	return &wasm.Env{
		CAS: h.CAS,
		Log: func(level int32, msg string) { h.log.Info("agent", "agent", la.info.Name, "level", level, "msg", msg) },
		PolicyEval: func(ctx context.Context, request []byte) ([]byte, uint64, string, error) {
			var req abi.PolicyRequest
			if err := json.Unmarshal(request, &req); err != nil || req.Entrypoint == "" {
				return nil, 0, "", fmt.Errorf("policy_eval request must be {\"entrypoint\", \"input\"}: %v", err)
			}
			h.mu.Lock()
			std, ok := h.core.PolicyRequestFor(thread, e, req.Entrypoint)
			h.mu.Unlock()
			if !ok || e == nil {
				return nil, 0, "", fmt.Errorf("policy_eval: no thread to evaluate for")
			}
			pol, err := h.policy(ctx, std.Capsule)
			if err != nil {
				return nil, 0, "", err
			}
			input := []byte(req.Input)
			if len(input) == 0 || string(input) == "null" {
				if input, err = h.policyInput(ctx, std); err != nil {
					return nil, 0, "", err
				}
			}
			res, err := pol.Eval(ctx, req.Entrypoint, input, wasm.RemainingGas(ctx))
			if err != nil {
				return nil, 0, "", err
			}
			answer, err := json.Marshal(res)
			return answer, res.GasUsed, res.Digest, err
		},
		PlanQuery: func(ctx context.Context, request []byte) ([]byte, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			return h.core.Plan().QueryJSON(request)
		},
	}
}

// evalPolicy evaluates a capsule in the background and steps the outcome.
func (h *Host) evalPolicy(a *protocol.EvalPolicy, _ any) {
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		h.agentS <- struct{}{}
		defer func() { <-h.agentS }()
		done := &protocol.PolicyDone{ReqID: a.ReqID}
		res, err := h.evaluate(h.ctx, a)
		if err != nil {
			done.Err = err.Error()
			done.Result = json.RawMessage("null")
		} else {
			done.Result, done.GasUsed, done.Digest = res.Result, res.GasUsed, res.Digest
		}
		done.At = nowMS()
		h.push(item{in: done})
	}()
}

// evaluate runs one EvalPolicy. An entrypoint the capsule does not define
// (route is optional) is undefined: result null.
func (h *Host) evaluate(ctx context.Context, a *protocol.EvalPolicy) (*policy.Result, error) {
	pol, err := h.policy(ctx, a.Capsule)
	if err != nil {
		return nil, err
	}
	input, err := h.policyInput(ctx, a)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(pol.Entrypoints(), a.Entrypoint) {
		digest, err := policy.Digest(a.Capsule, a.Entrypoint, envelope.HashRef(input), json.RawMessage("null"), 0)
		if err != nil {
			return nil, err
		}
		return &policy.Result{Result: json.RawMessage("null"), Digest: digest}, nil
	}
	return pol.Eval(ctx, a.Entrypoint, input, PolicyGas)
}

// policyInput is JCS {entrypoint, envelope (without sig), context} with the
// context's CAS refs resolved (PROTOCOL.md section 7).
func (h *Host) policyInput(ctx context.Context, a *protocol.EvalPolicy) ([]byte, error) {
	var env map[string]json.RawMessage
	if err := json.Unmarshal(a.Envelope.Wire(), &env); err != nil {
		return nil, fmt.Errorf("policy input: %w", err)
	}
	delete(env, "sig")
	c := map[string]json.RawMessage{}
	for k, v := range a.Context {
		c[k] = v
	}
	for name, ref := range a.Resolve {
		c[name] = json.RawMessage("null")
		b, err := h.CAS.Get(ctx, ref)
		if err == nil && json.Valid(b) {
			c[name] = b
		}
	}
	return envelope.CanonicalPayload(map[string]any{"entrypoint": a.Entrypoint, "envelope": env, "context": c})
}

// policy loads (once) the capsule at ref from the CAS.
func (h *Host) policy(ctx context.Context, ref string) (*policy.Policy, error) {
	if v, ok := h.policies.Load(ref); ok {
		return v.(*policy.Policy), nil
	}
	if !envelope.IsRef(ref) {
		return nil, fmt.Errorf("capsule %q is not a ref", ref)
	}
	b, err := h.CAS.Get(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("capsule %s: %w", ref, err)
	}
	c, err := compile.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("capsule %s: %w", ref, err)
	}
	p, err := policy.Load(ctx, h.Runtime, ref, c.Wasm())
	if err != nil {
		return nil, fmt.Errorf("capsule %s: %w", ref, err)
	}
	if prev, loaded := h.policies.LoadOrStore(ref, p); loaded {
		p.Close(ctx)
		return prev.(*policy.Policy), nil
	}
	return p, nil
}
