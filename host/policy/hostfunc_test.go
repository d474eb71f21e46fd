package policy_test

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/compile"

	"github.com/canswarm/swarmhost/abi"
	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/cas"
	"github.com/canswarm/swarmhost/host/policy"
	"github.com/canswarm/swarmhost/host/wasm"
	"github.com/canswarm/swarmhost/internal/plugintest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	plugintest.Cleanup()
	os.Exit(code)
}

func compileRego(t testing.TB, src string, entrypoints ...string) []byte {
	t.Helper()
	c := compile.New().WithTarget(compile.TargetWasm).WithEntrypoints(entrypoints...).WithRegoVersion(ast.RegoV1).
		WithFS(fstest.MapFS{"p.rego": {Data: []byte(src)}}).WithPaths(".")
	if err := c.Build(context.Background()); err != nil {
		t.Fatal(err)
	}
	return c.Bundle().WasmModules[0].Raw
}

// policy_eval works for agents: the Go verifier evaluates the capsule's
// verify entrypoint through swarm_v1, and its ATTEST carries the digest,
// which the call reports as one it made.
func TestPolicyEvalFromAgent(t *testing.T) {
	ctx := context.Background()
	rt, err := wasm.NewRuntime(ctx, wasm.Config{PoolSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	p, err := policy.Load(ctx, rt, envelope.HashRef([]byte("capsule")), compileRego(t, `package swarm
default verify := false
verify if input.verdict == "pass"
`, "swarm/verify"))
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(plugintest.Path(t, "verifier"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := rt.Load(ctx, "verifier", data)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(ctx)

	store, _ := cas.NewFileStore(t.TempDir())
	self := strings.Repeat("cd", 32)
	texts := []string{"refund please"}
	resultRef, _ := store.Put(ctx, []byte(`{"labels":["billing"]}`))
	need, _ := json.Marshal(map[string]any{"capability": "classify", "input": texts})
	commit, err := envelope.Sign(envelope.Draft{ThreadID: envelope.HashRef([]byte("need")), Verb: envelope.VerbCommit, Lamport: 9,
		ContentRefs: []string{resultRef}, Payload: map[string]any{"epoch": 1, "fence": 3, "result": resultRef}}, testKey(7))
	if err != nil {
		t.Fatal(err)
	}
	decide, _ := json.Marshal(map[string]any{"epoch": 1, "worker_pk": "x", "verifiers": []string{self}, "fence": 3})
	input, _ := json.Marshal(abi.AgentInput{Envelope: commit.Wire(), SelfPK: self,
		Thread: abi.ThreadView{State: "COMMITTED", Epoch: 1, Fence: 3, Need: need, Decide: decide}})

	res, err := m.Handle(ctx, input, 5_000_000_000, &wasm.Env{CAS: store, PolicyEval: p.HostFunc()})
	if err != nil {
		t.Fatal(err)
	}
	if res.Parsed == nil || len(res.Parsed.Actions) != 1 {
		t.Fatalf("output %s", res.Output)
	}
	act := res.Parsed.Actions[0]
	if act.Verb != "ATTEST" || !strings.Contains(string(act.Payload), `"verdict":"pass"`) {
		t.Fatalf("action %+v", act)
	}
	if act.PolicyEvalDigest == "" || len(res.PolicyDigests) != 1 || res.PolicyDigests[0] != act.PolicyEvalDigest {
		t.Fatalf("digest %q, the call made %v", act.PolicyEvalDigest, res.PolicyDigests)
	}
	// The same call again: the same digest and gas.
	again, err := m.Handle(ctx, input, 5_000_000_000, &wasm.Env{CAS: store, PolicyEval: p.HostFunc()})
	if err != nil || again.GasUsed != res.GasUsed || again.Parsed.Actions[0].PolicyEvalDigest != act.PolicyEvalDigest {
		t.Fatalf("second call differs: %v", err)
	}
}
