package protocol_test

import (
	"crypto/ed25519"
	"testing"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/protocol"
)

// FuzzStepPayload signs arbitrary payloads of every verb with a principal
// holding every role and steps them into a core that already has a NEED:
// whatever the payload, Step answers (accepted or rejected with a code) and
// never panics.
func FuzzStepPayload(f *testing.F) {
	root := ed25519.NewKeyFromSeed(make([]byte, 32))
	seed := make([]byte, 32)
	seed[0] = 1
	sender := ed25519.NewKeyFromSeed(seed)
	tok, err := envelope.IssueToken(root, sender.Public().(ed25519.PublicKey),
		[]envelope.Role{envelope.RoleClient, envelope.RoleWorker, envelope.RoleVerifier, envelope.RoleHost, envelope.RolePlanner},
		[]string{"classify"}, 0)
	if err != nil {
		f.Fatal(err)
	}
	tokBytes, _ := tok.Canonical()
	tokRef, _ := tok.Ref()
	rootPK := envelope.EncodePublicKey(root.Public().(ed25519.PublicKey))
	capsule := envelope.HashRef([]byte("capsule"))
	for i, p := range []string{`{}`, `{"epoch":1,"bid":{"price":1,"eta_ms":1}}`, `{"epoch":1,"fence":3}`,
		`{"ops":[{"op":"ADD_TASK","task":"t","spec":null}]}`, `{"target":"sha256:` + string(make([]byte, 0)) + `"}`,
		`{"epoch":1,"commit":"x","verdict":"pass"}`, `{"plan_digest":"x","have":["a"]}`} {
		f.Add(uint8(i), []byte(p))
	}
	f.Fuzz(func(t *testing.T, verb uint8, payload []byte) {
		core, err := protocol.New(protocol.Config{HostPK: rootPK, HostCapability: tokRef, Roots: envelope.Roots{rootPK}})
		if err != nil {
			t.Fatal(err)
		}
		need, err := envelope.Sign(envelope.Draft{Verb: envelope.VerbNeed, Lamport: 1, Capability: tokRef,
			PolicyCapsuleHash: capsule, Payload: map[string]any{"capability": "classify", "k": 1, "n": 1, "input": []string{"x"}}}, sender)
		if err != nil {
			t.Fatal(err)
		}
		if v := core.Step(&protocol.Received{Raw: need.Wire(), Env: need, Token: tokBytes}); !v.Accepted {
			t.Fatalf("the NEED: %+v", v)
		}
		core.Advance()
		v := envelope.Verbs[int(verb)%len(envelope.Verbs)]
		thread := need.ID
		if v == envelope.VerbNeed {
			thread = ""
		}
		if v == envelope.VerbReconcile || v == envelope.VerbCheckpoint {
			thread = protocol.SwarmThread
		}
		e, err := envelope.Sign(envelope.Draft{ThreadID: thread, Verb: v, Lamport: 2, Capability: tokRef,
			PolicyCapsuleHash: capsule, Payload: payload}, sender)
		if err != nil {
			return // not a signable payload: the stateless checks refuse it
		}
		got := core.Step(&protocol.Received{Raw: e.Wire(), Env: e, Token: tokBytes})
		if !got.Accepted && !got.Code.Valid() {
			t.Fatalf("%s %s: rejected without a protocol code: %+v", v, payload, got)
		}
		core.Ready()
		core.Advance()
	})
}
