package policy_test

import (
	"context"
	"strings"
	"testing"

	"github.com/gowebpki/jcs"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/policy"
	"github.com/canswarm/swarmhost/host/wasm"
)

const loopy = `package swarm
default admit := false
admit if {
	every i in numbers.range(1, input.n) { i > 0 }
}
route := count([x | some x in numbers.range(1, input.n); x % 3 == 0])
hog := concat("", [s | some i in numbers.range(1, input.n); s := sprintf("%d-padding-padding-padding", [i])])
`

func load(t *testing.T, engine wasm.Engine, src string, eps ...string) *policy.Policy {
	t.Helper()
	ctx := context.Background()
	rt, err := wasm.NewRuntime(ctx, wasm.Config{Engine: engine, MemoryLimitPages: 256})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(ctx) })
	p, err := policy.Load(ctx, rt, envelope.HashRef([]byte(src)), compileRego(t, src, eps...))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The same digest and gas on two runs and on both engines; exactly enough
// gas passes, one less fails out of gas.
func TestDeterministicDigestAndGas(t *testing.T) {
	input := []byte(`{"n": 300}`)
	var digests []string
	for _, engine := range []wasm.Engine{wasm.EngineCompiler, wasm.EngineInterpreter} {
		p := load(t, engine, loopy, "swarm/admit", "swarm/route")
		for i := 0; i < 2; i++ {
			res, err := p.Eval(context.Background(), "route", input, 100_000_000)
			if err != nil || string(res.Result) != "100" {
				t.Fatalf("%s: %v %v", engine, res, err)
			}
			digests = append(digests, res.Digest)
			if _, err := p.Eval(context.Background(), "route", input, res.GasUsed); err != nil {
				t.Fatalf("exactly %d gas: %v", res.GasUsed, err)
			}
			_, err = p.Eval(context.Background(), "route", input, res.GasUsed-1)
			if f, ok := wasm.AsFault(err); !ok || f.Kind != wasm.FaultOutOfGas {
				t.Fatalf("one gas short: %v", err)
			}
		}
	}
	for _, d := range digests {
		if d != digests[0] || !envelope.IsRef(d) {
			t.Fatalf("digests differ: %v", digests)
		}
	}
	// The digest is PROTOCOL.md section 7's: recompute it.
	canon, _ := jcs.Transform(input) // the input hash is of the input's JCS
	want, _ := policy.Digest(envelope.HashRef([]byte(loopy)), "route", envelope.HashRef(canon), []byte("100"), gasOf(t, input))
	if digests[0] != want {
		t.Fatalf("digest %s, recomputed %s", digests[0], want)
	}
}

func gasOf(t *testing.T, input []byte) uint64 {
	p := load(t, wasm.EngineInterpreter, loopy, "swarm/admit", "swarm/route")
	res, err := p.Eval(context.Background(), "route", input, 100_000_000)
	if err != nil {
		t.Fatal(err)
	}
	return res.GasUsed
}

func TestBadInputsAndRunaways(t *testing.T) {
	p := load(t, wasm.EngineCompiler, loopy, "swarm/admit", "swarm/hog")
	ctx := context.Background()
	if _, err := p.Eval(ctx, "admit", []byte(`{not json`), 1_000_000); err == nil || !strings.Contains(err.Error(), "not JSON") {
		t.Fatalf("input not JSON: %v", err)
	}
	if _, err := p.Eval(ctx, "verify", []byte(`{}`), 1_000_000); err == nil || !strings.Contains(err.Error(), "no entrypoint") {
		t.Fatalf("missing entrypoint: %v", err)
	}
	_, err := p.Eval(ctx, "admit", []byte(`{"n": 100000000}`), 10_000_000)
	if f, ok := wasm.AsFault(err); !ok || f.Kind != wasm.FaultOutOfGas {
		t.Fatalf("exhausting gas: %v", err)
	}
	_, err = p.Eval(ctx, "hog", []byte(`{"n": 2000000}`), 1<<62)
	if f, ok := wasm.AsFault(err); !ok || (f.Kind != wasm.FaultMemoryLimit && f.Kind != wasm.FaultTrap) {
		t.Fatalf("exhausting memory: %v", err)
	}
	// After all that, it still answers.
	if res, err := p.Eval(ctx, "admit", []byte(`{"n": 3}`), 10_000_000); err != nil || string(res.Result) != "true" {
		t.Fatalf("after faults: %v %v", res, err)
	}
}

// An evaluation that outgrows the instance's starting memory is charged the
// same every time, however the evaluations before it went: an instance
// whose memory grew is never reused, and one that did not grow is as fresh.
// The same figures on both engines.
func TestGasIndependentOfEarlierEvaluations(t *testing.T) {
	ctx := context.Background()
	gas := map[string]uint64{} // on both engines alike
	for _, engine := range []wasm.Engine{wasm.EngineCompiler, wasm.EngineInterpreter} {
		rt, err := wasm.NewRuntime(ctx, wasm.Config{Engine: engine})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { rt.Close(ctx) })
		src := loopy + "grow := count([[i, i, i, i] | some i in numbers.range(1, input.n)])\n"
		p, err := policy.Load(ctx, rt, envelope.HashRef([]byte(src)), compileRego(t, src, "swarm/route", "swarm/grow"))
		if err != nil {
			t.Fatal(err)
		}
		small, big := []byte(`{"n": 300}`), []byte(`{"n": 30000}`)
		for _, step := range []struct {
			entrypoint string
			input      []byte
		}{{"route", small}, {"grow", big}, {"route", small}, {"grow", big}, {"grow", big}, {"route", small}} {
			res, err := p.Eval(ctx, step.entrypoint, step.input, 1<<40)
			if err != nil {
				t.Fatalf("%s %s: %v", engine, step.entrypoint, err)
			}
			key := step.entrypoint + string(step.input)
			if g, seen := gas[key]; seen && g != res.GasUsed {
				t.Fatalf("%s: %s used %d gas, earlier %d", engine, step.entrypoint, res.GasUsed, g)
			}
			gas[key] = res.GasUsed
		}
		t.Logf("%s: %v", engine, gas)
	}
}
