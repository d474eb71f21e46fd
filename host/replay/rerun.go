package replay

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"runtime"
	"sync"

	"github.com/canswarm/swarmhost/host"
	"github.com/canswarm/swarmhost/host/policy"
	"github.com/canswarm/swarmhost/host/protocol"
	"github.com/canswarm/swarmhost/host/wasm"
)

// Agent calls and capsule evaluations are run again concurrently, ahead of
// the core: a run's inputs are fixed when the core asks for it (the agent's
// input, gas and capsule; its plan_query answers are the ones recorded with
// its outcome), so it starts at once on a free core, and the stepping
// compares its result when it reaches the recorded outcome's line.

// reruns holds the runs in flight and what they share.
type reruns struct {
	ctx    context.Context
	cancel context.CancelFunc
	slots  chan struct{} // bounds the runs at once to the cores
	wg     sync.WaitGroup

	agents map[string]*agentRun // by request id (the stepping goroutine's)
	evals  map[string]*evalRun

	mu       sync.Mutex                       // the runs load modules and capsules
	modules  map[string]*loaded[*wasm.Module] // by module ref
	policies map[string]*loaded[*policy.Policy]

	recorded map[string]*protocol.AgentDone // every agent outcome in the trail, by request id
}

// loaded is a module or capsule loaded once, by whichever run needs it first.
type loaded[T any] struct {
	once sync.Once
	v    T
	err  error
}

type agentRun struct {
	done     chan struct{}
	name     string
	out      []byte
	gas      uint64
	fault    string
	mismatch string // the rerun's plan_query calls differ from the live ones
	err      error  // the module could not be loaded
}

type evalRun struct {
	done chan struct{}
	res  *policy.Result
	err  error // the evaluation failed
	load error // the capsule could not be loaded
}

func newReruns(ctx context.Context) *reruns {
	rctx, cancel := context.WithCancel(ctx)
	rr := &reruns{ctx: rctx, cancel: cancel, slots: make(chan struct{}, runtime.GOMAXPROCS(0)),
		modules: map[string]*loaded[*wasm.Module]{}, policies: map[string]*loaded[*policy.Policy]{},
		agents: map[string]*agentRun{}, evals: map[string]*evalRun{}, recorded: map[string]*protocol.AgentDone{}}
	return rr
}

// acquire waits for a free core; false when replay is over.
func (rr *reruns) acquire() bool {
	select {
	case rr.slots <- struct{}{}:
		return true
	case <-rr.ctx.Done():
		return false
	}
}

func (rr *reruns) release() { <-rr.slots }

// start runs f in the background on a free core and closes done when it
// returns; when replay is over before a core frees, stopped is told why and
// f does not run.
func (rr *reruns) start(done chan struct{}, stopped func(error), f func()) {
	rr.wg.Add(1)
	go func() {
		defer rr.wg.Done()
		defer close(done)
		if !rr.acquire() {
			stopped(rr.ctx.Err())
			return
		}
		defer rr.release()
		f()
	}()
}

// stop abandons the runs not yet started and waits for the others.
func (rr *reruns) stop() {
	rr.cancel()
	rr.wg.Wait()
}

// startAgent runs the agent again in the background, with the module its
// configuration names.
func (r *replayer) startAgent(run *protocol.RunAgent) *agentRun {
	rr := r.reruns
	ar := &agentRun{done: make(chan struct{})}
	info, known := r.agents[run.Agent]
	ar.name = info.Name
	var answers []protocol.PlanAnswer
	if d := rr.recorded[run.ReqID]; d != nil {
		answers = d.PlanAnswers
	}
	// The module the configuration named when the run was asked for: a
	// reload may have replaced it since.
	module := cmp.Or(run.Module, info.Module)
	if !known || module == "" {
		ar.err = fmt.Errorf("no module recorded for agent %s", run.Agent)
		close(ar.done)
		return ar
	}
	rr.start(ar.done, func(err error) { ar.err = err }, func() {
		mod, err := r.module(module, info.Name)
		if err != nil {
			ar.err = fmt.Errorf("agent %s's module %s: %w", info.Name, module, err)
			return
		}
		env := host.AgentEnv(r.store, r.policy, run.Policy(), func(int32, string) {}, nil)
		env.PlanQuery = host.RecordedPlanAnswers(answers, &ar.mismatch)
		res, err := mod.Handle(rr.ctx, run.Input(), run.Gas, env)
		if err != nil {
			ar.fault = err.Error()
			if f, ok := err.(*wasm.Fault); ok {
				ar.gas = f.GasUsed
			}
			return
		}
		ar.out, ar.gas = host.RecordedOutput(res.Output), res.GasUsed
	})
	return ar
}

// startEval evaluates the capsule again in the background.
func (r *replayer) startEval(ev *protocol.EvalPolicy) *evalRun {
	rr := r.reruns
	er := &evalRun{done: make(chan struct{})}
	rr.start(er.done, func(err error) { er.load = err }, func() {
		pol, err := r.policy(rr.ctx, ev.Capsule)
		if err != nil {
			er.load = err
			return
		}
		er.res, er.err = host.Evaluate(rr.ctx, r.store, pol, ev)
	})
	return er
}

// inFlight takes the run started for a request when the core asked for it,
// or starts it now (asked for inside a checkpoint's cover, where none was).
func inFlight[T any](runs map[string]T, id string, start func() T) T {
	run, started := runs[id]
	delete(runs, id)
	if !started {
		run = start()
	}
	return run
}

// rerunAgent compares the agent run again on the input the rules asked for
// (started when they asked) with the output and gas the trail records.
func (r *replayer) rerunAgent(ti host.TrailInput, rec *protocol.AgentDone) error {
	run := r.runs[rec.ReqID]
	diverge := func(expected, found string) error {
		return &Divergence{Thread: ti.Thread, Line: ti.Line, Expected: expected, Found: found}
	}
	if run == nil {
		return diverge("the outcome of agent call "+rec.ReqID, "the rules asked for no such call")
	}
	delete(r.runs, rec.ReqID)
	ar := inFlight(r.reruns.agents, rec.ReqID, func() *agentRun { return r.startAgent(run) })
	<-ar.done
	if ar.err != nil {
		return diverge("a run of agent "+run.Agent, ar.err.Error())
	}
	if ar.mismatch != "" {
		return diverge(fmt.Sprintf("agent %s's plan_query calls as recorded", ar.name), ar.mismatch)
	}
	if ar.fault != rec.Fault || ar.gas != rec.GasUsed || !bytes.Equal(canon(ar.out), canon(rec.Output)) {
		return diverge(fmt.Sprintf("agent %s: output %s, gas %d, fault %q", ar.name, trim(rec.Output), rec.GasUsed, rec.Fault),
			fmt.Sprintf("output %s, gas %d, fault %q", trim(ar.out), ar.gas, ar.fault))
	}
	r.report.Agents++
	return nil
}

// reevaluate compares the capsule evaluated again on the evaluation the
// rules asked for with the result, gas and digest the trail records.
func (r *replayer) reevaluate(ti host.TrailInput, rec *protocol.PolicyDone) error {
	ev := r.evals[rec.ReqID]
	diverge := func(expected, found string) error {
		return &Divergence{Thread: ti.Thread, Line: ti.Line, Expected: expected, Found: found}
	}
	if ev == nil {
		return diverge("the outcome of evaluation "+rec.ReqID, "the rules asked for no such evaluation")
	}
	delete(r.evals, rec.ReqID)
	er := inFlight(r.reruns.evals, rec.ReqID, func() *evalRun { return r.startEval(ev) })
	<-er.done
	want := fmt.Sprintf("%s: result %s, gas %d, digest %s, error %q", ev.Entrypoint, trim(rec.Result), rec.GasUsed, rec.Digest, rec.Err)
	switch {
	case er.load != nil && rec.Err != "":
		r.report.Evals++
		return nil // it failed live too (a missing capsule)
	case er.load != nil:
		return diverge(want, "the capsule cannot be loaded: "+er.load.Error())
	case er.err != nil && rec.Err == er.err.Error():
		r.report.Evals++
		return nil
	case er.err != nil:
		return diverge(want, "error "+er.err.Error())
	}
	res := er.res
	if res.Digest != rec.Digest || res.GasUsed != rec.GasUsed || !bytes.Equal(res.Result, rec.Result) || rec.Err != "" {
		return diverge(want, fmt.Sprintf("result %s, gas %d, digest %s", trim(res.Result), res.GasUsed, res.Digest))
	}
	r.report.Evals++
	return nil
}

// lazyRuntime is the replay's WebAssembly runtime, made when first asked
// for (safe for the concurrent re-runs).
type lazyRuntime struct {
	cacheDir string
	once     sync.Once
	rt       *wasm.Runtime
	err      error
}

func (l *lazyRuntime) get(ctx context.Context) (*wasm.Runtime, error) {
	l.once.Do(func() {
		if l.rt, l.err = wasm.NewRuntime(ctx, wasm.Config{CacheDir: l.cacheDir}); l.err != nil {
			l.err = fmt.Errorf("replay: starting the WebAssembly runtime to re-run agents and capsules: %w", l.err)
		}
	})
	return l.rt, l.err
}

// close closes the runtime if one was made; only once every re-run is done.
func (l *lazyRuntime) close(ctx context.Context) {
	l.once.Do(func() {}) // none made after this
	if l.rt != nil {
		l.rt.Close(ctx)
	}
}

// module loads an agent's module from the CAS once.
func (r *replayer) module(ref, name string) (*wasm.Module, error) {
	r.reruns.mu.Lock()
	l := r.reruns.modules[ref]
	if l == nil {
		l = &loaded[*wasm.Module]{}
		r.reruns.modules[ref] = l
	}
	r.reruns.mu.Unlock()
	l.once.Do(func() {
		b, err := r.store.Get(r.ctx, ref)
		if err != nil {
			l.err = err
			return
		}
		rt, err := r.rt.get(r.ctx)
		if err != nil {
			l.err = err
			return
		}
		l.v, l.err = rt.Load(r.ctx, name, b)
	})
	return l.v, l.err
}

// policy loads a capsule from the CAS once.
func (r *replayer) policy(_ context.Context, ref string) (*policy.Policy, error) {
	r.reruns.mu.Lock()
	l := r.reruns.policies[ref]
	if l == nil {
		l = &loaded[*policy.Policy]{}
		r.reruns.policies[ref] = l
	}
	r.reruns.mu.Unlock()
	l.once.Do(func() {
		rt, err := r.rt.get(r.ctx)
		if err != nil {
			l.err = err
			return
		}
		l.v, l.err = host.LoadCapsule(r.ctx, rt, r.store, ref)
	})
	return l.v, l.err
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
