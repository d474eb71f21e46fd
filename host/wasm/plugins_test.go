package wasm_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/canswarm/swarmhost/abi"
	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/internal/plugintest"
)

func goPlugin(t testing.TB, name string) string { return plugintest.Path(t, name) }

func TestMain(m *testing.M) {
	code := m.Run()
	plugintest.Cleanup()
	os.Exit(code)
}

func agentInput(t testing.TB, e *envelope.Envelope, self string, thread abi.ThreadView) []byte {
	t.Helper()
	b, err := json.Marshal(abi.AgentInput{Envelope: e.Wire(), SelfPK: self, Thread: thread})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The Go plugins run on both engines with the same output and the same gas,
// call after call.
func TestGoPluginsDeterministic(t *testing.T) {
	client := ed25519Key(1)
	need, err := envelope.Sign(envelope.Draft{Verb: envelope.VerbNeed, Lamport: 1, Payload: map[string]any{
		"capability": "classify", "input": []string{"the invoice is overdue", "thanks, great job", "my parcel is late"}, "k": 1, "n": 1}}, client)
	if err != nil {
		t.Fatal(err)
	}
	worker := strings.Repeat("ab", 32)
	decide, err := envelope.Sign(envelope.Draft{ThreadID: need.ID, Verb: envelope.VerbDecide, Lamport: 5, Payload: map[string]any{
		"epoch": 1, "proposal": need.ID, "worker_pk": worker, "verifiers": []string{"cd"}, "considered": []string{}, "fence": 7}}, client)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		plugin string
		input  []byte
		want   []string // verbs of the actions
	}{
		{"echo", agentInput(t, need, worker, abi.ThreadView{State: "OPEN", Epoch: 1}), []string{"UPDATE_PLAN"}},
		{"classifier", agentInput(t, need, worker, abi.ThreadView{State: "OPEN", Epoch: 1}), []string{"PROPOSE"}},
		{"classifier", agentInput(t, decide, worker, abi.ThreadView{State: "DECIDED", Epoch: 1, Fence: 7, Need: need.Payload}), []string{"CLAIM", "COMMIT"}},
	}
	for _, c := range cases {
		t.Run(c.plugin, func(t *testing.T) {
			var outputs [][]byte
			var gasUsed []uint64
			for _, engine := range engines {
				rt := newRuntime(t, engine)
				m := load(t, rt, goPlugin(t, c.plugin))
				e, _ := env(t)
				for i := 0; i < 2; i++ {
					res, err := m.Handle(context.Background(), c.input, 2_000_000_000, e)
					if err != nil {
						t.Fatalf("%s: %v", engine, err)
					}
					if res.Parsed == nil || res.Parsed.Error != "" {
						t.Fatalf("%s: output %s", engine, res.Output)
					}
					var verbs []string
					for _, a := range res.Parsed.Actions {
						verbs = append(verbs, a.Verb)
					}
					if strings.Join(verbs, ",") != strings.Join(c.want, ",") {
						t.Fatalf("%s: actions %v, want %v", engine, verbs, c.want)
					}
					outputs = append(outputs, res.Output)
					gasUsed = append(gasUsed, res.GasUsed)
				}
			}
			for i := range outputs {
				if !bytes.Equal(outputs[i], outputs[0]) || gasUsed[i] != gasUsed[0] {
					t.Fatalf("runs differ: gas %v\noutputs %q", gasUsed, outputs)
				}
			}
			t.Logf("%s: %d gas", c.plugin, gasUsed[0])
		})
	}
}
