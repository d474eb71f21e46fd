package replay

import (
	"bytes"
	"context"
	"fmt"

	"github.com/canswarm/swarmhost/host"
	"github.com/canswarm/swarmhost/host/policy"
	"github.com/canswarm/swarmhost/host/protocol"
	"github.com/canswarm/swarmhost/host/wasm"
)

// rerunAgent runs the agent again on the input the rules asked for, with
// the module recorded in the configuration, and compares its output and gas
// with what the trail records.
func (r *replayer) rerunAgent(ti host.TrailInput, rec *protocol.AgentDone) error {
	run := r.runs[rec.ReqID]
	diverge := func(expected, found string) error {
		return &Divergence{Thread: ti.Thread, Line: ti.Line, Expected: expected, Found: found}
	}
	if run == nil {
		return diverge("the outcome of agent call "+rec.ReqID, "the rules asked for no such call")
	}
	delete(r.runs, rec.ReqID)
	info, ok := r.agents[run.Agent]
	if !ok || info.Module == "" {
		return diverge("a run of agent "+run.Agent, "no module recorded for it")
	}
	mod, err := r.module(info.Module, info.Name)
	if err != nil {
		return diverge("agent "+info.Name+"'s module "+info.Module, err.Error())
	}
	env := host.AgentEnv(r.store, r.policy, run.Policy, func(int32, string) {}, func(req []byte) ([]byte, error) {
		return r.core.Plan().QueryJSON(req)
	})
	res, err := mod.Handle(r.ctx, run.Input, run.Gas, env)
	var out []byte
	var gas uint64
	fault := ""
	if err != nil {
		fault = err.Error()
		if f, ok := err.(*wasm.Fault); ok {
			gas = f.GasUsed
		}
	} else {
		out, gas = host.RecordedOutput(res.Output), res.GasUsed
	}
	if fault != rec.Fault || gas != rec.GasUsed || !bytes.Equal(canon(out), canon(rec.Output)) {
		return diverge(fmt.Sprintf("agent %s: output %s, gas %d, fault %q", info.Name, trim(rec.Output), rec.GasUsed, rec.Fault),
			fmt.Sprintf("output %s, gas %d, fault %q", trim(out), gas, fault))
	}
	r.report.Agents++
	return nil
}

// reevaluate evaluates the capsule again on the evaluation the rules asked
// for and compares result, gas and digest with the trail.
func (r *replayer) reevaluate(ti host.TrailInput, rec *protocol.PolicyDone) error {
	ev := r.evals[rec.ReqID]
	diverge := func(expected, found string) error {
		return &Divergence{Thread: ti.Thread, Line: ti.Line, Expected: expected, Found: found}
	}
	if ev == nil {
		return diverge("the outcome of evaluation "+rec.ReqID, "the rules asked for no such evaluation")
	}
	delete(r.evals, rec.ReqID)
	want := fmt.Sprintf("%s: result %s, gas %d, digest %s, error %q", ev.Entrypoint, trim(rec.Result), rec.GasUsed, rec.Digest, rec.Err)
	pol, err := r.policy(r.ctx, ev.Capsule)
	if err != nil {
		if rec.Err != "" {
			r.report.Evals++
			return nil // it failed live too (a missing capsule)
		}
		return diverge(want, "the capsule cannot be loaded: "+err.Error())
	}
	res, err := host.Evaluate(r.ctx, r.store, pol, ev)
	if err != nil {
		if rec.Err == err.Error() {
			r.report.Evals++
			return nil
		}
		return diverge(want, "error "+err.Error())
	}
	if res.Digest != rec.Digest || res.GasUsed != rec.GasUsed || !bytes.Equal(res.Result, rec.Result) || rec.Err != "" {
		return diverge(want, fmt.Sprintf("result %s, gas %d, digest %s", trim(res.Result), res.GasUsed, res.Digest))
	}
	r.report.Evals++
	return nil
}

func (r *replayer) module(ref, name string) (*wasm.Module, error) {
	if m := r.modules[ref]; m != nil {
		return m, nil
	}
	b, err := r.store.Get(r.ctx, ref)
	if err != nil {
		return nil, err
	}
	m, err := r.rt.Load(r.ctx, name, b)
	if err != nil {
		return nil, err
	}
	r.modules[ref] = m
	return m, nil
}

func (r *replayer) policy(_ context.Context, ref string) (*policy.Policy, error) {
	if p := r.policies[ref]; p != nil {
		return p, nil
	}
	p, err := host.LoadCapsule(r.ctx, r.rt, r.store, ref)
	if err != nil {
		return nil, err
	}
	r.policies[ref] = p
	return p, nil
}

func trim(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "..."
	}
	if len(b) == 0 {
		return "nothing"
	}
	return string(b)
}
