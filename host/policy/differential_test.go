package policy_test

import (
	"context"
	"encoding/json"
	"os"
	"sort"
	"testing"
	"testing/fstest"

	"github.com/gowebpki/jcs"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/compile"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/canswarm/swarmhost/host/policy"
	"github.com/canswarm/swarmhost/host/wasm"
)

var diffInputs = []string{
	`{"user":{"name":"ada","role":"admin","groups":["dev"]},"numbers":[4,1,8,3,2],"people":[{"name":"bo","age":17},{"name":"cy","age":40}],
	  "words":["hello","world","hello"],"csv":"a,b,c","padded":"  x  ","table":{"k":"v","n":1},"key":"k"}`,
	`{"user":{"name":"bob","role":"user","groups":["ops","qa"]},"numbers":[-3,5,7],"people":[],
	  "words":["Zebra","or"],"csv":"x","padded":"y","table":{},"key":"missing"}`,
}

// rules lists the rule names of a Rego module.
func rules(t *testing.T, src string) []string {
	t.Helper()
	mod, err := ast.ParseModuleWithOpts("differential.rego", src, ast.ParserOptions{RegoVersion: ast.RegoV1})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var names []string
	for _, r := range mod.Rules {
		n := r.Head.Name.String()
		if n == "" {
			n = r.Head.Reference[len(r.Head.Reference)-1].Value.(ast.String).String()
		}
		if !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// Differential: every (rule, input) pair gives the same value through our
// metered evaluation of the compiled wasm as through OPA's own evaluator.
func TestDifferentialAgainstOPA(t *testing.T) {
	src, err := os.ReadFile("testdata/differential.rego")
	if err != nil {
		t.Fatal(err)
	}
	names := rules(t, string(src))
	var eps []string
	for _, n := range names {
		eps = append(eps, "swarm/"+n)
	}
	c := compile.New().WithTarget(compile.TargetWasm).WithEntrypoints(eps...).WithRegoVersion(ast.RegoV1).
		WithFS(fstest.MapFS{"differential.rego": {Data: src}}).WithPaths(".")
	if err := c.Build(context.Background()); err != nil {
		t.Fatal(err)
	}
	module := c.Bundle().WasmModules[0].Raw
	ctx := context.Background()
	rt, err := wasm.NewRuntime(ctx, wasm.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	p, err := policy.Load(ctx, rt, "sha256:"+string(make([]byte, 0)), module)
	if err != nil {
		t.Fatal(err)
	}
	pairs := 0
	for _, name := range names {
		query, err := rego.New(rego.Query("data.swarm."+name), rego.Module("differential.rego", string(src))).PrepareForEval(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i, in := range diffInputs {
			var inValue any
			if err := json.Unmarshal([]byte(in), &inValue); err != nil {
				t.Fatal(err)
			}
			rs, err := query.Eval(ctx, rego.EvalInput(inValue))
			if err != nil {
				t.Fatalf("%s, input %d: OPA: %v", name, i, err)
			}
			want := "null"
			if len(rs) == 1 && len(rs[0].Expressions) == 1 {
				b, _ := json.Marshal(rs[0].Expressions[0].Value)
				canon, _ := jcs.Transform(b)
				want = string(canon)
			}
			got, err := p.Eval(ctx, name, []byte(in), 50_000_000)
			if err != nil {
				t.Fatalf("%s, input %d: %v", name, i, err)
			}
			if string(got.Result) != want {
				t.Errorf("%s, input %d: ours %s, OPA's %s", name, i, got.Result, want)
			}
			pairs++
		}
	}
	if pairs < 40 {
		t.Fatalf("only %d pairs", pairs)
	}
	t.Logf("%d (rule, input) pairs agree", pairs)
}
