package host

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/canswarm/swarmhost/abi"
	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/audit"
	"github.com/canswarm/swarmhost/host/cas"
	"github.com/canswarm/swarmhost/host/policy"
	"github.com/canswarm/swarmhost/host/policy/compile"
	"github.com/canswarm/swarmhost/host/protocol"
	"github.com/canswarm/swarmhost/host/wasm"
)

// PolicyGas is the gas budget of one capsule evaluation.
const PolicyGas = 200_000_000

// runAgent runs a local agent on its input in the background and steps the
// outcome. It runs the module the core named when it asked for the run
// (RunAgent.Module): held since (taken now, on the loop, before a reload
// stepped after this run can let it go) or, when no configuration of this
// process holds it (a run asked for again at a start, whose plugin was
// replaced or removed while the node was stopped), loaded from the CAS, as
// replay loads it.
func (h *Host) runAgent(a *protocol.RunAgent) {
	la := h.id.agent(a.Agent)
	name, ref := short(a.Agent), a.Module
	if la != nil {
		name, ref = la.info.Name, cmp.Or(ref, la.info.Module)
	}
	h.wg.Add(1)
	if ref == "" {
		// Pushed from a goroutine, as every outcome is: this runs on the
		// loop, which would wait on itself were the input queue full.
		go func() {
			defer h.wg.Done()
			h.push(item{in: &protocol.AgentDone{At: nowMS(), ReqID: a.ReqID, Fault: "no such local agent"}})
		}()
		return
	}
	mod, release, err := h.mods.take(ref)
	if err != nil {
		mod = nil // loaded from the CAS below
	}
	go func() {
		defer h.wg.Done()
		defer func() {
			if release != nil {
				release()
			}
		}()
		// A call that met a store that did not answer is not an outcome
		// replay could reproduce (its store answers): it is made again.
		var done *protocol.AgentDone
		start := time.Now()
		h.untilStoreAnswers(a.Thread, "agent call "+name, func() (bool, string) {
			if mod == nil {
				var err error
				if mod, release, err = h.loadModule(ref, name); err != nil {
					done = &protocol.AgentDone{ReqID: a.ReqID, Fault: fmt.Sprintf("agent %s's module %s: %v", name, ref, err)}
					return cas.Unavailable(err), done.Fault
				}
			}
			var storeFailed bool
			done, storeFailed = h.callAgent(name, mod, a)
			return storeFailed, done.Fault
		})
		h.metrics.agentSeconds.WithLabelValues(name).Observe(since(start))
		h.metrics.agentCalls.WithLabelValues(name, result(done.Fault != "", "fault")).Inc()
		h.metrics.agentGas.WithLabelValues(name).Add(float64(done.GasUsed))
		done.At = nowMS()
		h.push(item{in: done})
	}()
}

// loadModule loads an agent's module from the CAS by ref, for one run; the
// function returned closes it.
func (h *Host) loadModule(ref, name string) (*wasm.Module, func(), error) {
	b, err := h.CAS.Get(h.ctx, ref)
	if err != nil {
		return nil, nil, err
	}
	m, err := h.Runtime.Load(h.ctx, name, b)
	if err != nil {
		return nil, nil, err
	}
	return m, func() { m.Close(context.Background()) }, nil
}

// callAgent makes one call of a RunAgent; storeFailed reports whether the
// store failed to answer any of the call's host calls (cas.Unavailable).
func (h *Host) callAgent(name string, mod *wasm.Module, a *protocol.RunAgent) (done *protocol.AgentDone, storeFailed bool) {
	h.agentS <- struct{}{}
	defer func() { <-h.agentS }()
	done = &protocol.AgentDone{ReqID: a.ReqID}
	store := &watchedStore{Store: h.CAS}
	env := AgentEnv(store, func(ctx context.Context, ref string) (*policy.Policy, error) {
		p, err := h.policy(ctx, ref)
		if errors.Is(err, errStoreFailed) {
			store.failed.Store(true)
		}
		return p, err
	}, a.Policy(), h.agentLog(name), h.planQuery)
	env.PlanQuery = RecordPlanAnswers(env.PlanQuery, &done.PlanAnswers)
	res, err := mod.Handle(h.ctx, a.Input(), a.Gas, env)
	switch {
	case err != nil:
		done.Fault = err.Error()
		if f, ok := err.(*wasm.Fault); ok {
			done.GasUsed = f.GasUsed
		}
	default:
		done.Output, done.GasUsed = RecordedOutput(res.Output), res.GasUsed
	}
	return done, store.failed.Load()
}

// watchedStore notes whether the store failed to answer an operation.
type watchedStore struct {
	cas.Store
	failed atomic.Bool
}

func (s *watchedStore) note(err error) {
	if cas.Unavailable(err) {
		s.failed.Store(true)
	}
}

func (s *watchedStore) Put(ctx context.Context, data []byte) (string, error) {
	ref, err := s.Store.Put(ctx, data)
	s.note(err)
	return ref, err
}

func (s *watchedStore) Get(ctx context.Context, ref string) ([]byte, error) {
	b, err := s.Store.Get(ctx, ref)
	s.note(err)
	return b, err
}

func (s *watchedStore) Has(ctx context.Context, ref string) (bool, error) {
	ok, err := s.Store.Has(ctx, ref)
	s.note(err)
	return ok, err
}

// agentLog is an agent's log host call.
func (h *Host) agentLog(name string) func(int32, string) {
	return func(level int32, msg string) { h.log.Info("agent", "agent", name, "level", level, "msg", msg) }
}

// planQuery answers an agent's plan_query from the live plan.
func (h *Host) planQuery(request []byte) ([]byte, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.core.Plan().QueryJSON(request)
}

// RecordPlanAnswers wraps a plan_query function so that every call it
// answers is appended to answers (one agent call's, in order).
func RecordPlanAnswers(query func(context.Context, []byte) ([]byte, error), answers *[]protocol.PlanAnswer) func(context.Context, []byte) ([]byte, error) {
	return func(ctx context.Context, req []byte) ([]byte, error) {
		ans, err := query(ctx, req)
		pa := protocol.PlanAnswer{Request: append(json.RawMessage(nil), req...)}
		if err != nil {
			pa.Err = err.Error()
		} else {
			pa.Answer = append(json.RawMessage(nil), ans...)
		}
		*answers = append(*answers, pa)
		return ans, err
	}
}

// RecordedPlanAnswers is a plan_query function that answers from an agent
// call's recorded answers, in order, for the same call run again; a
// request that is not the recorded one (or one too many) fails and is
// noted in *mismatch.
func RecordedPlanAnswers(answers []protocol.PlanAnswer, mismatch *string) func(context.Context, []byte) ([]byte, error) {
	next := 0
	return func(_ context.Context, req []byte) ([]byte, error) {
		if next >= len(answers) {
			*mismatch = fmt.Sprintf("plan_query %s: the live call made only %d", clip(req), len(answers))
			return nil, errors.New(*mismatch)
		}
		pa := answers[next]
		next++
		if !bytes.Equal(pa.Request, req) {
			*mismatch = fmt.Sprintf("plan_query %d is %s, live it was %s", next, clip(req), clip(pa.Request))
			return nil, errors.New(*mismatch)
		}
		if pa.Err != "" {
			return nil, errors.New(pa.Err)
		}
		return pa.Answer, nil
	}
}

func clip(b []byte) string {
	if len(b) > 120 {
		return string(b[:120]) + "..."
	}
	return string(b)
}

// AgentEnv builds an agent's host functions from their parts: the CAS,
// its log, the thread's capsule (policy_eval with a null input evaluates
// std, the protocol's standard input for the envelope being handled,
// section 7), and the plan. The live node and replay share it.
func AgentEnv(store cas.Store, policyOf func(context.Context, string) (*policy.Policy, error), std *protocol.EvalPolicy,
	log func(int32, string), planQuery func([]byte) ([]byte, error)) *wasm.Env {
	return &wasm.Env{
		CAS: store,
		Log: log,
		PolicyEval: func(ctx context.Context, request []byte) ([]byte, uint64, string, error) {
			var req abi.PolicyRequest
			if err := json.Unmarshal(request, &req); err != nil || req.Entrypoint == "" {
				return nil, 0, "", fmt.Errorf("policy_eval request must be {\"entrypoint\", \"input\"}: %v", err)
			}
			if std == nil {
				return nil, 0, "", fmt.Errorf("policy_eval: the thread has no capsule")
			}
			pol, err := policyOf(ctx, std.Capsule)
			if err != nil {
				return nil, 0, "", err
			}
			input := []byte(req.Input)
			if len(input) == 0 || string(input) == "null" {
				e := *std
				e.Entrypoint = req.Entrypoint
				if input, err = PolicyInput(ctx, store, &e); err != nil {
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
		PlanQuery: func(ctx context.Context, request []byte) ([]byte, error) { return planQuery(request) },
	}
}

// evalPolicy evaluates a capsule in the background and steps the outcome.
// An evaluation the store could not serve (the capsule or a context blob
// unread: not missing, which is an answer, but no answer) is no outcome:
// stepped, it would refuse a NEED at admit or invalidate an honest COMMIT
// because the store was electing a leader. It is tried again, with
// backoff, until it gets an answer or its thread ended; only the outcome
// is recorded (replay evaluates the recorded input once).
func (h *Host) evalPolicy(a *protocol.EvalPolicy, _ any) {
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		done := &protocol.PolicyDone{ReqID: a.ReqID}
		var res *policy.Result
		var err error
		start := time.Now()
		defer func() {
			h.metrics.policySeconds.WithLabelValues(a.Entrypoint).Observe(since(start))
			h.metrics.evaluations.WithLabelValues(a.Entrypoint, result(err != nil, "error")).Inc()
			h.metrics.policyGas.WithLabelValues(a.Entrypoint).Add(float64(done.GasUsed))
		}()
		h.untilStoreAnswers(a.Thread, "policy evaluation "+a.Entrypoint, func() (bool, string) {
			h.agentS <- struct{}{}
			res, err = h.evaluate(h.ctx, a)
			<-h.agentS
			return errors.Is(err, errStoreFailed), fmt.Sprint(err)
		})
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

// errStoreFailed marks an evaluation error that is the store's failure to
// answer (cas.Unavailable), not the evaluation's.
var errStoreFailed = errors.New("the store did not answer")

// storeFailed wraps a store's error when it is a failure to answer.
func storeFailed(err error) error {
	if cas.Unavailable(err) {
		return fmt.Errorf("%w: %w", errStoreFailed, err)
	}
	return err
}

// untilStoreAnswers makes attempts (an evaluation, an agent call) until one
// is not failed by the store, the node closes or the thread ended, waiting
// 250 ms doubling to 30 s between them; detail is logged with each retry.
func (h *Host) untilStoreAnswers(thread, what string, attempt func() (storeFailed bool, detail string)) {
	for n := 0; ; n++ {
		failed, detail := attempt()
		if !failed || h.ctx.Err() != nil || h.threadEnded(thread) {
			return
		}
		wait := min(250*time.Millisecond<<min(n, 7), 30*time.Second)
		h.log.Warn(what+": the store did not answer; trying again", "thread", short(thread), "attempt", n+1,
			"in", wait, "error", detail)
		select {
		case <-h.ctx.Done():
		case <-time.After(wait):
		}
	}
}

// threadEnded reports whether the core ended the thread (its outcomes are
// no longer waited for).
func (h *Host) threadEnded(thread string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.core.Ended(thread)
}

// evaluate runs one EvalPolicy.
func (h *Host) evaluate(ctx context.Context, a *protocol.EvalPolicy) (*policy.Result, error) {
	pol, err := h.policy(ctx, a.Capsule)
	if err != nil {
		return nil, err
	}
	return Evaluate(ctx, h.CAS, pol, a)
}

// Evaluate runs an EvalPolicy on a loaded capsule: the standard input with
// its refs resolved from store, PolicyGas of budget. An entrypoint the
// capsule does not define (route is optional) is undefined: result null,
// no gas. The live node and replay share it.
func Evaluate(ctx context.Context, store cas.Store, pol *policy.Policy, a *protocol.EvalPolicy) (*policy.Result, error) {
	input, err := PolicyInput(ctx, store, a)
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

// PolicyInput is JCS {entrypoint, envelope (without sig), context} with the
// context's CAS refs resolved (PROTOCOL.md section 7).
func PolicyInput(ctx context.Context, store cas.Store, a *protocol.EvalPolicy) ([]byte, error) {
	c := make(map[string]json.RawMessage, len(a.Context)+len(a.Resolve))
	for k, v := range a.Context {
		c[k] = v
	}
	for name, ref := range a.Resolve {
		// A blob the store does not hold is null: what the capsule judges
		// (a COMMIT whose result is nowhere does not verify). A store that
		// could not answer is not an answer: the evaluation fails with its
		// error rather than judge null (a verify evaluation would then
		// invalidate an honest COMMIT because the store was electing a
		// leader).
		c[name] = json.RawMessage("null")
		b, err := store.Get(ctx, ref)
		switch {
		case err == nil && json.Valid(b):
			c[name] = b
		case err != nil && !errors.Is(err, cas.ErrNotFound):
			return nil, fmt.Errorf("policy input: context %q (%s): %w", name, ref, storeFailed(err))
		}
	}
	if input, ok := appendPolicyInput(nil, a.Entrypoint, a.Envelope, c); ok {
		return envelope.CanonicalPayload(json.RawMessage(input)) // its integer checks; canonical text is kept as it is
	}
	return policyInputSlow(a.Entrypoint, a.Envelope, c)
}

// appendPolicyInput writes {context, entrypoint, envelope (without sig)}
// directly in its RFC 8785 form when every part is plain: context values
// already canonical (payloads, the NEED's input, blobs stored canonical)
// under ASCII keys, and an entrypoint of valid UTF-8. Otherwise it declines and
// policyInputSlow decides (TestPolicyInputAgreesWithJCS holds the two
// byte for byte equal).
func appendPolicyInput(b []byte, entrypoint string, e *envelope.Envelope, context map[string]json.RawMessage) ([]byte, bool) {
	if !utf8.ValidString(entrypoint) {
		return nil, false
	}
	keys := make([]string, 0, len(context))
	for k, v := range context {
		if n, ok := envelope.ScanCanonicalValue(v); !ok || n != len(v) || !isASCII(k) {
			return nil, false
		}
		keys = append(keys, k)
	}
	sort.Strings(keys) // ASCII keys: byte order is JCS's UTF-16 order
	b = append(b, `{"context":{`...)
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = envelope.AppendJCSString(b, k)
		b = append(b, ':')
		b = append(b, context[k]...)
	}
	b = append(b, `},"entrypoint":`...)
	b = envelope.AppendJCSString(b, entrypoint)
	b = append(b, `,"envelope":`...)
	b = envelope.AppendUnsigned(b, e)
	return append(b, '}'), true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// policyInputSlow is the input as JCS of encoding/json's encoding.
func policyInputSlow(entrypoint string, e *envelope.Envelope, c map[string]json.RawMessage) ([]byte, error) {
	var env map[string]json.RawMessage
	if err := json.Unmarshal(e.Wire(), &env); err != nil {
		return nil, fmt.Errorf("policy input: %w", err)
	}
	delete(env, "sig")
	return envelope.CanonicalPayload(map[string]any{"entrypoint": entrypoint, "envelope": env, "context": c})
}

// policy loads (once) the capsule at ref from the CAS.
func (h *Host) policy(ctx context.Context, ref string) (*policy.Policy, error) {
	if v, ok := h.policies.Load(ref); ok {
		return v.(*policy.Policy), nil
	}
	p, err := LoadCapsule(ctx, h.Runtime, h.CAS, ref)
	if err != nil {
		return nil, err
	}
	if prev, loaded := h.policies.LoadOrStore(ref, p); loaded {
		p.Close(ctx)
		return prev.(*policy.Policy), nil
	}
	return p, nil
}

// LoadCapsule reads the capsule at ref from the CAS (verified on read) and
// loads it on rt.
func LoadCapsule(ctx context.Context, rt *wasm.Runtime, store cas.Store, ref string) (*policy.Policy, error) {
	if !envelope.IsRef(ref) {
		return nil, fmt.Errorf("capsule %q is not a ref", ref)
	}
	b, err := store.Get(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("capsule %s: %w", ref, storeFailed(err))
	}
	c, err := compile.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("capsule %s: %w", ref, err)
	}
	p, err := policy.Load(ctx, rt, ref, c.Wasm())
	if err != nil {
		return nil, fmt.Errorf("capsule %s: %w", ref, err)
	}
	return p, nil
}

// RecordedOutput is an agent's output as the core and the trail take it:
// its JSON when it is JSON (nil for none), else the bytes as a JSON string,
// which the core refuses as not an AgentOutput.
func RecordedOutput(out []byte) json.RawMessage {
	if len(out) == 0 {
		return nil
	}
	if json.Valid(out) {
		return out
	}
	return audit.RawText(out)
}
