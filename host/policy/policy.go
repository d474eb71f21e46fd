package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/gowebpki/jcs"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
	"github.com/open-policy-agent/opa/v1/topdown/builtins"

	"github.com/canswarm/swarmhost/abi"
	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/policy/compile"
	"github.com/canswarm/swarmhost/host/wasm"
)

// Package is the Rego package every capsule's rules live in.
const Package = "swarm"

// Result is one evaluation (PROTOCOL.md section 7).
type Result struct {
	Result  json.RawMessage `json:"result"`
	GasUsed uint64          `json:"gas_used"`
	Digest  string          `json:"digest"`
}

// Policy is a loaded capsule.
type Policy struct {
	ref    string // the capsule's ref: what digests name
	module *wasm.OPAModule
}

// Load compiles a capsule's wasm on the runtime. ref is the capsule's ref.
func Load(ctx context.Context, rt *wasm.Runtime, ref string, module []byte) (*Policy, error) {
	m, err := rt.LoadOPA(ctx, ref, module, hostBuiltin)
	if err != nil {
		return nil, err
	}
	return &Policy{ref: ref, module: m}, nil
}

// Ref is the capsule's ref.
func (p *Policy) Ref() string { return p.ref }

// Entrypoints lists the capsule's entrypoints by their short names.
func (p *Policy) Entrypoints() []string {
	var out []string
	for _, e := range p.module.Entrypoints() {
		out = append(out, strings.TrimPrefix(e, Package+"/"))
	}
	return out
}

// Close releases the policy.
func (p *Policy) Close(ctx context.Context) error { return p.module.Close(ctx) }

// Eval evaluates an entrypoint ("admit", or "swarm.admit" as PROTOCOL.md
// section 7 names the rule, or "swarm/admit" as the module does) on input.
func (p *Policy) Eval(ctx context.Context, entrypoint string, input []byte, budget uint64) (*Result, error) {
	short := strings.TrimPrefix(strings.TrimPrefix(entrypoint, Package+"/"), Package+".")
	canonInput := input
	if !envelope.IsCanonical(input) { // protocol inputs are JCS already
		var err error
		if canonInput, err = jcs.Transform(input); err != nil {
			return nil, fmt.Errorf("policy input is not JSON: %w", err)
		}
	}
	text, gasUsed, err := p.module.EvalRaw(ctx, Package+"/"+short, canonInput, budget, wasm.OPAFormatValue)
	if err != nil {
		return nil, err
	}
	result, err := resultOf(text)
	if err != nil {
		return nil, &wasm.Fault{Kind: wasm.FaultBadOutput, Detail: err.Error(), GasUsed: gasUsed, Budget: budget}
	}
	digest, err := Digest(p.ref, short, envelope.HashRef(canonInput), result, gasUsed)
	if err != nil {
		return nil, err
	}
	return &Result{Result: result, GasUsed: gasUsed, Digest: digest}, nil
}

// resultOf reads opa_eval's result set, in Rego value syntax, into the
// rule's value as canonical JSON (sets sorted), or null when undefined.
func resultOf(text []byte) (json.RawMessage, error) {
	term, err := readValue(text)
	if err != nil {
		return nil, fmt.Errorf("the result set does not parse: %v", err)
	}
	// The value format writes the result sets as a set (JSON: an array).
	var sets []*ast.Term
	switch v := term.Value.(type) {
	case ast.Set:
		sets = v.Slice()
	case *ast.Array:
		for i := 0; i < v.Len(); i++ {
			sets = append(sets, v.Elem(i))
		}
	default:
		return nil, fmt.Errorf("the result sets are neither a set nor an array: %.200s", text)
	}
	switch len(sets) {
	case 0:
		return json.RawMessage("null"), nil
	case 1:
	default:
		return nil, fmt.Errorf("%d result sets; an entrypoint rule has one", len(sets))
	}
	obj, ok := sets[0].Value.(ast.Object)
	if !ok {
		return nil, fmt.Errorf("a result set is not an object")
	}
	v := obj.Get(ast.StringTerm("result"))
	if v == nil {
		return nil, fmt.Errorf("a result set has no result")
	}
	native, err := ast.JSON(v.Value)
	if err != nil {
		return nil, fmt.Errorf("the result is not JSON: %v", err)
	}
	b, err := json.Marshal(native)
	if err != nil {
		return nil, err
	}
	return jcs.Transform(b)
}

// Digest is PROTOCOL.md section 7's evaluation digest: "sha256:" of JCS
// {capsule, entrypoint, input_hash, result, gas_used}. result must be
// canonical JSON.
func Digest(capsule, entrypoint, inputHash string, result json.RawMessage, gasUsed uint64) (string, error) {
	if !envelope.IsCanonical(result) {
		var err error
		if result, err = jcs.Transform(result); err != nil {
			return "", fmt.Errorf("digest: result: %w", err)
		}
	}
	// A number JCS renders as an integer beyond 2^53 (a time in
	// nanoseconds, say) has no exact canonical form: the digest would hash
	// another number than the one the capsule gave.
	if err := envelope.CheckSafeIntegers(result, "result"); err != nil {
		return "", fmt.Errorf("digest: the %s result: %w (PROTOCOL.md section 1: a capsule gives larger numbers as strings)", entrypoint, err)
	}
	// Keys in JCS order. The strings are refs and entrypoint names, written
	// as they are; the IsCanonical check below refuses any that would need
	// escaping.
	b := make([]byte, 0, 256+len(result))
	b = append(b, `{"capsule":"`...)
	b = append(b, capsule...)
	b = append(b, `","entrypoint":"`...)
	b = append(b, entrypoint...)
	b = append(b, `","gas_used":`...)
	b = strconv.AppendUint(b, gasUsed, 10)
	b = append(b, `,"input_hash":"`...)
	b = append(b, inputHash...)
	b = append(b, '"')
	b = append(b, `,"result":`...)
	b = append(b, result...)
	b = append(b, '}')
	if !envelope.IsCanonical(b) {
		return "", fmt.Errorf("digest: capsule %q or entrypoint %q needs escaping", capsule, entrypoint)
	}
	return envelope.HashRef(b), nil
}

// hostBuiltin serves a builtin the wasm calls out for, with OPA's own
// implementation, the clock pinned to 0 and a zero random source (but for
// time.parse_ns, read in UTC whatever the host's zone: timeParseNS), and
// refuses, out of gas, a result expandedSize says the gas left could not
// pay for. A nil result is undefined.
func hostBuiltin(ctx context.Context, name string, args []json.RawMessage) (json.RawMessage, error) {
	if !compile.Allowed(name) {
		// Parse refuses a manifest that lists it; a module may still call
		// it if its manifest lied (the capsule was not made by policy
		// build): it is not served.
		return nil, fmt.Errorf("%s is not allowed in a capsule, and this module calls it though its manifest does not say so", name)
	}
	if size, ok := expandedSize(name, args); ok && size > wasm.ResultBytesLeft(ctx) {
		return nil, fmt.Errorf("a result of up to %d bytes: %w", size, wasm.ErrResultOverBudget)
	}
	if name == "time.parse_ns" {
		return timeParseNS(args), nil
	}
	fn := topdown.GetBuiltin(name)
	if fn == nil {
		return nil, fmt.Errorf("no implementation of %s", name)
	}
	operands := make([]*ast.Term, len(args))
	for i, a := range args {
		v, err := ast.ValueFromReader(bytes.NewReader(a))
		if err != nil {
			return nil, fmt.Errorf("argument %d: %v", i+1, err)
		}
		operands[i] = ast.NewTerm(v)
	}
	bctx := topdown.BuiltinContext{
		Context: ctx,
		Seed:    zeroReader{},
		Time:    ast.NumberTerm("0"),
		Cache:   builtins.Cache{},
	}
	var out *ast.Term
	err := fn(bctx, operands, func(t *ast.Term) error {
		out = t
		return nil
	})
	if err != nil || out == nil {
		// As in OPA's own evaluator (without strict builtin errors), a
		// builtin that fails makes its expression undefined.
		return nil, nil
	}
	native, err := ast.JSON(out.Value)
	if err != nil {
		return nil, err
	}
	return json.Marshal(native)
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// HostFunc is the policy_eval host function of swarm_v1 for this capsule:
// the request is {"entrypoint", "input"}, the answer {"result", "gas_used",
// "digest"}. The evaluation spends from the calling plugin's remaining gas.
func (p *Policy) HostFunc() func(ctx context.Context, request []byte) ([]byte, uint64, string, error) {
	return func(ctx context.Context, request []byte) ([]byte, uint64, string, error) {
		var req abi.PolicyRequest
		if err := json.Unmarshal(request, &req); err != nil || req.Entrypoint == "" || len(req.Input) == 0 {
			return nil, 0, "", fmt.Errorf("policy_eval request must be {\"entrypoint\", \"input\"}: %v", err)
		}
		res, err := p.Eval(ctx, req.Entrypoint, req.Input, wasm.RemainingGas(ctx))
		if err != nil {
			return nil, 0, "", err
		}
		answer, err := json.Marshal(res)
		if err != nil {
			return nil, 0, "", err
		}
		return answer, res.GasUsed, res.Digest, nil
	}
}
