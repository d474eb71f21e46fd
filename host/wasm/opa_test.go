package wasm_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"testing/fstest"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/compile"

	"github.com/canswarm/swarmhost/host/wasm"
)

// An OPA-compiled policy runs through the OPA wasm ABI on this runtime:
// results as OPA defines them, the same gas on every run and both engines,
// exact budgets, out of gas typed, host builtins served by the caller.
func TestOPAModule(t *testing.T) {
	src := `package swarm
default allow := false
allow if { input.x > 1; count(input.items) == 2 }
names contains n if { some n in input.items }
up := upper(input.s)
spin if { every i in numbers.range(1, input.n) { i > 0 } }
host := sprintf("%s-%d", [input.s, input.x])
`
	fsys := fstest.MapFS{"p.rego": {Data: []byte(src)}}
	c := compile.New().WithTarget(compile.TargetWasm).WithEntrypoints("swarm/allow", "swarm/names", "swarm/up", "swarm/spin", "swarm/host").WithRegoVersion(ast.RegoV1).WithFS(fsys).WithPaths(".")
	if err := c.Build(context.Background()); err != nil {
		t.Fatal(err)
	}
	mod := c.Bundle().WasmModules[0].Raw
	// sprintf is not compiled into OPA's wasm: the host serves it.
	builtin := func(_ context.Context, name string, args []json.RawMessage) (json.RawMessage, error) {
		if name != "sprintf" {
			return nil, fmt.Errorf("unexpected builtin %s", name)
		}
		var format string
		var values []any
		json.Unmarshal(args[0], &format)
		json.Unmarshal(args[1], &values)
		return json.Marshal(fmt.Sprintf("%s-%v", values[0], values[1]))
	}
	input := []byte(`{"x":2,"items":["a","b"],"s":"hi","n":50}`)
	cases := []struct{ ep, want string }{
		{"swarm/allow", `true`}, {"swarm/up", `"HI"`}, {"swarm/spin", `true`}, {"swarm/host", `"hi-2"`},
	}
	gasBy := map[wasm.Engine][]uint64{}
	for _, engine := range engines {
		rt := newRuntime(t, engine)
		m, err := rt.LoadOPA(context.Background(), "p", mod, builtin)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close(context.Background())
		for _, c := range cases {
			var first uint64
			for i := 0; i < 2; i++ {
				res, gasUsed, err := m.Eval(context.Background(), c.ep, input, 10_000_000)
				if err != nil || string(res) != c.want {
					t.Fatalf("%s %s: %s (%v), want %s", engine, c.ep, res, err, c.want)
				}
				if i == 0 {
					first = gasUsed
				} else if gasUsed != first {
					t.Fatalf("%s %s: gas %d then %d", engine, c.ep, first, gasUsed)
				}
			}
			gasBy[engine] = append(gasBy[engine], first)
			if _, _, err := m.Eval(context.Background(), c.ep, input, first); err != nil {
				t.Fatalf("%s %s with exactly %d gas: %v", engine, c.ep, first, err)
			}
			_, _, err := m.Eval(context.Background(), c.ep, input, first-1)
			if f, ok := wasm.AsFault(err); !ok || f.Kind != wasm.FaultOutOfGas {
				t.Fatalf("%s %s one gas short: %v", engine, c.ep, err)
			}
		}
		res, _, err := m.Eval(context.Background(), "swarm/names", input, 10_000_000)
		if err != nil || (string(res) != `["a","b"]` && string(res) != `["b","a"]`) {
			t.Fatalf("set result %s (%v)", res, err)
		}
		if res, _, err := m.Eval(context.Background(), "swarm/allow", []byte(`{"x":0}`), 10_000_000); err != nil || string(res) != "false" {
			t.Fatalf("default rule: %s %v", res, err)
		}
		if _, _, err := m.Eval(context.Background(), "swarm/nope", input, 10_000_000); err == nil {
			t.Fatal("unknown entrypoint accepted")
		}
		if _, _, err := m.Eval(context.Background(), "swarm/allow", []byte(`{oops`), 10_000_000); err == nil {
			t.Fatal("input that is not JSON accepted")
		}
	}
	if fmt.Sprint(gasBy[wasm.EngineCompiler]) != fmt.Sprint(gasBy[wasm.EngineInterpreter]) {
		t.Fatalf("gas differs between engines: %v", gasBy)
	}
}
