package host

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/cas"
	"github.com/canswarm/swarmhost/host/protocol"
	"github.com/canswarm/swarmhost/internal/rapidjson"
)

// The policy input written directly is byte for byte what the JCS of
// encoding/json's encoding gives, for random envelopes, entrypoints and
// contexts (canonical values, values in other forms, null); where the
// direct writer declines, PolicyInput's answer is the slow path's.
func TestPolicyInputAgreesWithJCS(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(bytes.NewReader(make([]byte, 64)))
	rapid.Check(t, func(t *rapid.T) {
		payload := map[string]any{}
		for _, k := range rapid.SliceOfN(rapid.String(), 0, 4).Draw(t, "payload keys") {
			payload[k] = rapid.String().Draw(t, "payload value")
		}
		e, err := envelope.Sign(envelope.Draft{ThreadID: envelope.HashRef([]byte(rapid.String().Draw(t, "thread"))),
			Verb: rapid.SampledFrom(envelope.Verbs).Draw(t, "verb"), Lamport: rapid.Uint64Range(1, 1<<53).Draw(t, "lamport"),
			ContentRefs: []string{}, Payload: payload}, key)
		if err != nil {
			t.Skip(err)
		}
		context := map[string]json.RawMessage{}
		allCanonical := rapid.IntRange(0, 3).Draw(t, "all canonical") > 0 // mostly: the direct writer's case
		keys := rapid.SampledFrom([]string{"epoch", "need", "input", "result", "a", "B", "z1"})
		text := rapidjson.Text(rapidjson.Canonical, rapidjson.Marshal, rapidjson.Indented)
		if allCanonical {
			text = rapidjson.Text(rapidjson.Canonical)
		}
		for _, k := range rapid.SliceOfN(rapid.OneOf(keys, keys, rapid.String()), 0, 6).Draw(t, "context keys") {
			context[k] = text.Draw(t, "context value")
		}
		entrypoint := rapid.OneOf(rapid.SampledFrom([]string{"admit", "bid", "verify", "route", ""}), rapid.String()).Draw(t, "entrypoint")
		slow, slowErr := policyInputSlow(entrypoint, e, context)
		direct, ok := appendPolicyInput(nil, entrypoint, e, context)
		if ok {
			// Written canonical as it is (not left for CanonicalPayload's
			// jcs.Transform to mend), and judged as the slow path is.
			_, err := envelope.CanonicalPayload(json.RawMessage(direct))
			if (err == nil) != (slowErr == nil) || (err == nil && !bytes.Equal(direct, slow)) {
				t.Fatalf("direct:\n%s (%v)\nJCS:\n%s (%v)", direct, err, slow, slowErr)
			}
		}
	})
}

// brokenStore answers every Get with err.
type brokenStore struct {
	cas.Store
	err error
}

func (s brokenStore) Get(context.Context, string) ([]byte, error) { return nil, s.err }

// A context blob the store does not hold is null in the input; a store
// that cannot answer fails the input, naming the blob, instead of letting
// the capsule judge null (a verify would invalidate an honest COMMIT).
func TestPolicyInputFailsWhenTheStoreCannotAnswer(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(bytes.NewReader(make([]byte, 64)))
	e, err := envelope.Sign(envelope.Draft{ThreadID: envelope.HashRef([]byte("t")), Verb: envelope.VerbCommit, Lamport: 1,
		ContentRefs: []string{}, Payload: map[string]any{"epoch": 1}}, key)
	if err != nil {
		t.Fatal(err)
	}
	ref := envelope.HashRef([]byte("result"))
	a := &protocol.EvalPolicy{Entrypoint: "verify", Envelope: e, Resolve: map[string]string{"result": ref}}
	fs, err := cas.NewFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	in, err := PolicyInput(context.Background(), fs, a)
	if err != nil || !bytes.Contains(in, []byte(`"context":{"result":null}`)) {
		t.Fatalf("a missing blob: %s, %v; want it null in the context", in, err)
	}
	timeout := fmt.Errorf("cas: get %s: %w", ref, context.DeadlineExceeded)
	if _, err := PolicyInput(context.Background(), brokenStore{fs, timeout}, a); !errors.Is(err, context.DeadlineExceeded) ||
		!strings.Contains(err.Error(), `"result"`) {
		t.Fatalf("a store timing out: %v; want the evaluation to fail, naming the blob", err)
	}
}
