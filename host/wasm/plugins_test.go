package wasm_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/canswarm/swarmhost/abi"
	"github.com/canswarm/swarmhost/abi/envelope"
)

var (
	pluginsOnce sync.Once
	pluginsDir  string
	pluginsErr  error
)

// goPlugin builds a first-party plugin with the standard toolchain, as
// `make plugins` does, once per test process.
func goPlugin(t testing.TB, name string) string {
	t.Helper()
	pluginsOnce.Do(func() {
		pluginsDir, pluginsErr = os.MkdirTemp("", "swarm-plugins-")
		if pluginsErr != nil {
			return
		}
		for _, p := range []string{"echo", "classifier", "verifier"} {
			cmd := exec.Command("go", "build", "-trimpath", "-buildmode=c-shared", "-ldflags=-s -w",
				"-o", filepath.Join(pluginsDir, p+".wasm"), "./plugins/"+p)
			cmd.Dir = "../.."
			cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
			if out, err := cmd.CombinedOutput(); err != nil {
				pluginsErr = &buildError{p, string(out), err}
				return
			}
		}
	})
	if pluginsErr != nil {
		t.Fatal(pluginsErr)
	}
	return filepath.Join(pluginsDir, name+".wasm")
}

type buildError struct {
	plugin, out string
	err         error
}

func (e *buildError) Error() string { return "build " + e.plugin + ": " + e.err.Error() + "\n" + e.out }

func TestMain(m *testing.M) {
	code := m.Run()
	if pluginsDir != "" {
		os.RemoveAll(pluginsDir)
	}
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
