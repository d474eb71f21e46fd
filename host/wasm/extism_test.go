package wasm_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/canswarm/swarmhost/abi"
	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/wasm"
)

// An AssemblyScript plugin built with the official @extism/as-pdk runs
// through extism/go-sdk with the same host functions, gas and limits:
// deterministic gas on both engines, exact budgets, out of gas typed.
func TestExtismPlugin(t *testing.T) {
	need, err := envelope.Sign(envelope.Draft{Verb: envelope.VerbNeed, Lamport: 1,
		Payload: map[string]any{"capability": "echo", "input": "hi"}}, ed25519Key(3))
	if err != nil {
		t.Fatal(err)
	}
	input := agentInput(t, need, strings.Repeat("ab", 32), abi.ThreadView{State: "OPEN", Epoch: 1})
	gasBy := map[wasm.Engine]uint64{}
	for _, engine := range engines {
		t.Run(string(engine), func(t *testing.T) {
			rt := newRuntime(t, engine)
			m := load(t, rt, "testdata/as-echo.wasm")
			if !m.Extism() || m.Manifest().Name != "as-echo" {
				t.Fatalf("extism %v, manifest %+v", m.Extism(), m.Manifest())
			}
			e, logs := env(t)
			res, err := m.Handle(context.Background(), input, 10_000_000, e)
			if err != nil {
				t.Fatal(err)
			}
			if res.Parsed == nil || len(res.Parsed.Actions) != 1 || res.Parsed.Actions[0].Verb != "UPDATE_PLAN" {
				t.Fatalf("output %s", res.Output)
			}
			// The plugin stored the NEED's payload through swarm_cas_put.
			ref := res.Parsed.Actions[0].ContentRefs[0]
			blob, err := e.CAS.Get(context.Background(), ref)
			if err != nil || string(blob) != string(need.Payload) {
				t.Fatalf("stored %q (%v), want the payload %s", blob, err, need.Payload)
			}
			if len(*logs) == 0 {
				t.Fatal("swarm_log reached nobody")
			}
			again, err := m.Handle(context.Background(), input, 10_000_000, e)
			if err != nil || again.GasUsed != res.GasUsed {
				t.Fatalf("second call: %d vs %d gas (%v)", again.GasUsed, res.GasUsed, err)
			}
			if _, err := m.Handle(context.Background(), input, res.GasUsed, e); err != nil {
				t.Fatalf("exact budget: %v", err)
			}
			_, err = m.Handle(context.Background(), input, res.GasUsed-1, e)
			if f, ok := wasm.AsFault(err); !ok || f.Kind != wasm.FaultOutOfGas {
				t.Fatalf("one gas short: %v", err)
			}
			gasBy[engine] = res.GasUsed
			var out map[string]any
			if err := json.Unmarshal(res.Output, &out); err != nil {
				t.Fatal(err)
			}
		})
	}
	if gasBy[wasm.EngineCompiler] != gasBy[wasm.EngineInterpreter] {
		t.Fatalf("gas differs between engines: %v", gasBy)
	}
}
