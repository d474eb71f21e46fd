package wasm_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/canswarm/swarmhost/abi"
	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/wasm"
)

// Differential: the first-party Go plugins and the hand-written good module
// give the same output metered and unmetered (the instrumenter changes gas,
// never behaviour), on both engines.
func TestMeteredEqualsUnmetered(t *testing.T) {
	need, err := envelope.Sign(envelope.Draft{Verb: envelope.VerbNeed, Lamport: 1, Payload: map[string]any{
		"capability": "classify", "input": []string{"refund please", "love it", "where is my parcel"}}}, ed25519Key(4))
	if err != nil {
		t.Fatal(err)
	}
	self := strings.Repeat("ab", 32)
	decide, _ := envelope.Sign(envelope.Draft{ThreadID: need.ID, Verb: envelope.VerbDecide, Lamport: 3, Payload: map[string]any{
		"epoch": 1, "worker_pk": self, "verifiers": []string{self}, "fence": 4}}, ed25519Key(5))
	corpus := []struct {
		file  string
		input []byte
	}{
		{"testdata/good.wasm", []byte(someInput)},
		{goPlugin(t, "echo"), agentInput(t, need, self, abi.ThreadView{State: "OPEN", Epoch: 1})},
		{goPlugin(t, "classifier"), agentInput(t, need, self, abi.ThreadView{State: "OPEN", Epoch: 1})},
		{goPlugin(t, "classifier"), agentInput(t, decide, self, abi.ThreadView{State: "DECIDED", Epoch: 1, Fence: 4, Need: need.Payload})},
		{goPlugin(t, "verifier"), agentInput(t, need, self, abi.ThreadView{State: "OPEN", Epoch: 1})},
	}
	ctx := context.Background()
	for _, engine := range engines {
		metered := newRuntime(t, engine)
		plain, err := wasm.NewUnmeteredRuntime(ctx, wasm.Config{Engine: engine, PoolSize: 1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { plain.Close(ctx) })
		for _, c := range corpus {
			e, _ := env(t)
			a, err := load(t, metered, c.file).Handle(ctx, c.input, 5_000_000_000, e)
			if err != nil {
				t.Fatalf("%s metered: %v", c.file, err)
			}
			b, err := load(t, plain, c.file).Handle(ctx, c.input, 5_000_000_000, e)
			if err != nil {
				t.Fatalf("%s unmetered: %v", c.file, err)
			}
			if !bytes.Equal(a.Output, b.Output) {
				t.Fatalf("%s on %s: metered and unmetered outputs differ:\n%s\n%s", c.file, engine, a.Output, b.Output)
			}
			if a.GasUsed <= b.GasUsed {
				t.Fatalf("%s: metered gas %d is not above the host-only charges %d", c.file, a.GasUsed, b.GasUsed)
			}
		}
	}
}
