package policy_test

import (
	"context"
	"encoding/json"
	"testing"

	_ "github.com/open-policy-agent/opa/v1/features/wasm" // OPA's own wasm target, the third peer
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/policy"
	"github.com/canswarm/swarmhost/host/wasm"
)

var benchPolicies = []struct {
	name, src, rule, input string
}{
	{"small", `package swarm
default admit := false
admit if {
	input.envelope.verb == "NEED"
	input.envelope.payload.capability == "classify"
	input.envelope.payload.k <= input.envelope.payload.n
}
`, "admit", `{"context":{},"entrypoint":"admit","envelope":{"payload":{"capability":"classify","k":1,"n":3},"verb":"NEED"}}`},
	{"loop", `package swarm
default admit := false
admit if {
	count([x | some x in numbers.range(1, input.n); x % 7 == 3]) > 10
	every w in input.words { count(w) < 20 }
}
`, "admit", `{"n":2000,"words":["alpha","beta","gamma","delta","epsilon","zeta","eta","theta"]}`},
}

// BenchmarkEval: the same policy and input through our metered evaluation of
// the compiled wasm (digest included), OPA's native evaluator
// (PreparedEvalQuery), and OPA's own wasm target; each starts from the
// input's JSON bytes.
func BenchmarkEval(b *testing.B) {
	ctx := context.Background()
	for _, bp := range benchPolicies {
		module := compileRego(b, bp.src, "swarm/"+bp.rule)
		in := []byte(bp.input)
		b.Run(bp.name+"/swarmhost", func(b *testing.B) {
			rt, err := wasm.NewRuntime(ctx, wasm.Config{})
			if err != nil {
				b.Fatal(err)
			}
			defer rt.Close(ctx)
			p, err := policy.Load(ctx, rt, envelope.HashRef([]byte(bp.src)), module)
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if res, err := p.Eval(ctx, bp.rule, in, 1<<40); err != nil || string(res.Result) != "true" {
					b.Fatal(res, err)
				}
			}
		})
		for _, target := range []string{"rego", "wasm"} {
			b.Run(bp.name+"/opa-"+target, func(b *testing.B) {
				q, err := rego.New(rego.Query("data.swarm."+bp.rule), rego.Module("p.rego", bp.src), rego.Target(target)).PrepareForEval(ctx)
				if err != nil {
					b.Fatal(err)
				}
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					var v any
					if err := json.Unmarshal(in, &v); err != nil {
						b.Fatal(err)
					}
					rs, err := q.Eval(ctx, rego.EvalInput(v))
					if err != nil || len(rs) != 1 || rs[0].Expressions[0].Value != true {
						b.Fatal(rs, err)
					}
				}
			})
		}
	}
}
