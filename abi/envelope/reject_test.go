package envelope_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/canswarm/swarmhost/abi/envelope"
)

func testKey(n byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{n}, ed25519.SeedSize))
}

func ref(c byte) string { return "sha256:" + strings.Repeat(string(rune(c)), 64) }

func sampleEnvelope(t testing.TB) *envelope.Envelope {
	t.Helper()
	e, err := envelope.Sign(envelope.Draft{
		ThreadID:          ref('a'),
		Verb:              envelope.VerbPropose,
		Lamport:           7,
		Capability:        ref('c'),
		ContentRefs:       []string{ref('d')},
		PolicyCapsuleHash: ref('e'),
		Payload:           map[string]any{"epoch": 1, "bid": map[string]any{"price": 3, "eta_ms": 250}},
	}, testKey(1))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// mutate decodes the wire text to a generic object, applies f and encodes it
// again: one field changed, everything else as signed.
func mutate(t *testing.T, wire []byte, f func(m map[string]any)) []byte {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(wire))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	f(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSignVerifyRoundTrip(t *testing.T) {
	e := sampleEnvelope(t)
	got, err := envelope.Verify(e.Wire())
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != e.ID || got.Sig != e.Sig || got.Lamport != 7 || got.Verb != envelope.VerbPropose {
		t.Fatalf("round trip: %+v", got)
	}
	if !bytes.Equal(got.Wire(), e.Wire()) {
		t.Fatal("wire bytes changed in a round trip")
	}
	// Whitespace and key order do not matter: the canonical form does.
	var m map[string]any
	_ = json.Unmarshal(e.Wire(), &m)
	pretty, _ := json.MarshalIndent(m, "", "   ")
	again, err := envelope.Verify(pretty)
	if err != nil {
		t.Fatalf("pretty-printed envelope: %v", err)
	}
	if !bytes.Equal(again.Wire(), e.Wire()) {
		t.Fatal("pretty-printed envelope did not canonicalize to the signed bytes")
	}
}

// Each stateless rejection code, provoked by changing one field of a valid
// envelope (or the text itself, for malformed and too_large).
func TestEachCodeFromOneChange(t *testing.T) {
	e := sampleEnvelope(t)
	wire := e.Wire()
	manyRefs := make([]any, envelope.MaxContentRefs+1)
	for i := range manyRefs {
		manyRefs[i] = ref('f')
	}
	cases := []struct {
		name  string
		wire  []byte
		code  envelope.Code
		field string
	}{
		{"truncated text", wire[:len(wire)/2], envelope.CodeMalformed, ""},
		{"not an object", []byte(`[1,2]`), envelope.CodeMalformed, ""},
		{"duplicate key", append([]byte(`{"v":1,`), wire[1:]...), envelope.CodeMalformed, ""},
		{"field missing", mutate(t, wire, func(m map[string]any) { delete(m, "policy_eval_digest") }), envelope.CodeMalformed, "policy_eval_digest"},
		{"unknown field", mutate(t, wire, func(m map[string]any) { m["extra"] = 1 }), envelope.CodeMalformed, "extra"},
		{"lamport a string", mutate(t, wire, func(m map[string]any) { m["lamport"] = "7" }), envelope.CodeMalformed, "lamport"},
		{"lamport negative", mutate(t, wire, func(m map[string]any) { m["lamport"] = -1 }), envelope.CodeMalformed, "lamport"},
		{"payload a list", mutate(t, wire, func(m map[string]any) { m["payload"] = []any{} }), envelope.CodeMalformed, "payload"},
		{"content_refs null", mutate(t, wire, func(m map[string]any) { m["content_refs"] = nil }), envelope.CodeMalformed, "content_refs"},
		{"content ref not a ref", mutate(t, wire, func(m map[string]any) { m["content_refs"] = []any{"x"} }), envelope.CodeMalformed, "content_refs[0]"},
		{"thread_id not a ref", mutate(t, wire, func(m map[string]any) { m["thread_id"] = "need-1" }), envelope.CodeMalformed, "thread_id"},
		{"version 2", mutate(t, wire, func(m map[string]any) { m["v"] = 2 }), envelope.CodeBadVersion, "v"},
		{"version 1.5", mutate(t, wire, func(m map[string]any) { m["v"] = 1.5 }), envelope.CodeBadVersion, "v"},
		{"unknown verb", mutate(t, wire, func(m map[string]any) { m["verb"] = "GOSSIP" }), envelope.CodeUnknownVerb, "verb"},
		{"too many refs", mutate(t, wire, func(m map[string]any) { m["content_refs"] = manyRefs }), envelope.CodeTooLarge, "content_refs"},
		{"payload over 32 KiB", mutate(t, wire, func(m map[string]any) { m["payload"] = map[string]any{"x": strings.Repeat("a", 33<<10)} }), envelope.CodeTooLarge, "payload"},
		{"envelope over the input bound", append(bytes.Repeat([]byte(" "), envelope.MaxInputBytes), wire...), envelope.CodeTooLarge, ""},
		{"payload edited", mutate(t, wire, func(m map[string]any) { m["payload"] = map[string]any{"epoch": 2} }), envelope.CodePayloadHashMismatch, "payload_hash"},
		{"payload_hash edited", mutate(t, wire, func(m map[string]any) { m["payload_hash"] = ref('0') }), envelope.CodePayloadHashMismatch, "payload_hash"},
		{"id edited", mutate(t, wire, func(m map[string]any) { m["id"] = ref('0') }), envelope.CodeIDMismatch, "id"},
		{"lamport edited", mutate(t, wire, func(m map[string]any) { m["lamport"] = 8 }), envelope.CodeIDMismatch, "id"},
		{"thread edited", mutate(t, wire, func(m map[string]any) { m["thread_id"] = ref('b') }), envelope.CodeIDMismatch, "id"},
		{"sender edited", mutate(t, wire, func(m map[string]any) { m["sender_pk"] = strings.Repeat("0", 64) }), envelope.CodeIDMismatch, "id"},
		{"content ref edited", mutate(t, wire, func(m map[string]any) { m["content_refs"] = []any{ref('9')} }), envelope.CodeIDMismatch, "id"},
		{"sig edited", mutate(t, wire, func(m map[string]any) {
			s := m["sig"].(string)
			m["sig"] = "0" + s[1:]
			if s[0] == '0' {
				m["sig"] = "1" + s[1:]
			}
		}), envelope.CodeBadSignature, "sig"},
		{"sig upper case", mutate(t, wire, func(m map[string]any) { m["sig"] = strings.ToUpper(m["sig"].(string)) }), envelope.CodeBadSignature, "sig"},
		{"sig empty", mutate(t, wire, func(m map[string]any) { m["sig"] = "" }), envelope.CodeBadSignature, "sig"},
	}
	seen := map[envelope.Code]bool{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := envelope.Verify(c.wire)
			var re *envelope.RejectError
			if !errors.As(err, &re) {
				t.Fatalf("want a *RejectError with %s, got %v", c.code, err)
			}
			if re.Code != c.code {
				t.Fatalf("code %s (%v), want %s", re.Code, err, c.code)
			}
			if c.field != "" && re.Field != c.field {
				t.Fatalf("field %q (%v), want %q", re.Field, err, c.field)
			}
			seen[re.Code] = true
		})
	}
	for _, code := range envelope.Codes[:7] {
		if !seen[code] {
			t.Errorf("no case provokes %s", code)
		}
	}
}

// A signature that verifies is the only thing that makes an envelope with a
// correct id acceptable: a different signer's valid signature is refused.
func TestSignatureByAnotherKey(t *testing.T) {
	e := sampleEnvelope(t)
	other := sampleEnvelope(t)
	other2, _ := envelope.Sign(envelope.Draft{ThreadID: e.ThreadID, Verb: e.Verb, Lamport: e.Lamport, Capability: e.Capability,
		ContentRefs: e.ContentRefs, PolicyCapsuleHash: e.PolicyCapsuleHash, Payload: json.RawMessage(e.Payload)}, testKey(2))
	_ = other
	forged := mutate(t, e.Wire(), func(m map[string]any) { m["sig"] = other2.Sig })
	if code := envelope.CodeOf(mustVerifyErr(t, forged)); code != envelope.CodeBadSignature {
		t.Fatalf("got %s", code)
	}
}

func mustVerifyErr(t *testing.T, wire []byte) error {
	t.Helper()
	_, err := envelope.Verify(wire)
	if err == nil {
		t.Fatal("verified, want a rejection")
	}
	return err
}

func TestSignRefusesWhatVerifyRejects(t *testing.T) {
	key := testKey(1)
	cases := []struct {
		name string
		d    envelope.Draft
		code envelope.Code
	}{
		{"unknown verb", envelope.Draft{Verb: "GOSSIP"}, envelope.CodeUnknownVerb},
		{"thread not a ref", envelope.Draft{Verb: envelope.VerbNeed, ThreadID: "x"}, envelope.CodeMalformed},
		{"content ref not a ref", envelope.Draft{Verb: envelope.VerbNeed, ContentRefs: []string{"x"}}, envelope.CodeMalformed},
		{"payload not an object", envelope.Draft{Verb: envelope.VerbNeed, Payload: []int{1}}, envelope.CodeMalformed},
		{"integer beyond 2^53", envelope.Draft{Verb: envelope.VerbNeed, Payload: json.RawMessage(`{"n":9007199254740993}`)}, envelope.CodeMalformed},
		{"huge integer", envelope.Draft{Verb: envelope.VerbNeed, Payload: json.RawMessage(`{"n":[1,123456789012345678901234567890]}`)}, envelope.CodeMalformed},
		{"lamport beyond 2^53", envelope.Draft{Verb: envelope.VerbNeed, Lamport: envelope.MaxSafeInteger + 1}, envelope.CodeMalformed},
		{"payload too large", envelope.Draft{Verb: envelope.VerbNeed, Payload: map[string]string{"x": strings.Repeat("y", envelope.MaxPayloadBytes)}}, envelope.CodeTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := envelope.Sign(c.d, key)
			if got := envelope.CodeOf(err); got != c.code {
				t.Fatalf("got %s (%v), want %s", got, err, c.code)
			}
		})
	}
	// Integers at the bound are fine, and so are floats.
	if _, err := envelope.Sign(envelope.Draft{Verb: envelope.VerbNeed, Payload: json.RawMessage(`{"a":9007199254740992,"b":-9007199254740992,"c":0.5,"d":1e-7}`)}, key); err != nil {
		t.Fatal(err)
	}
}

func TestNeedThreadIsItsOwnID(t *testing.T) {
	need, err := envelope.Sign(envelope.Draft{Verb: envelope.VerbNeed, Payload: map[string]any{"capability": "classify"}}, testKey(3))
	if err != nil {
		t.Fatal(err)
	}
	if need.Thread() != need.ID {
		t.Fatalf("a NEED's thread is its own id: %s vs %s", need.Thread(), need.ID)
	}
	p := sampleEnvelope(t)
	if p.Thread() != p.ThreadID {
		t.Fatal("a PROPOSE's thread is its thread_id")
	}
}

func TestRejectErrorText(t *testing.T) {
	err := envelope.Reject(envelope.CodeStaleFence, "payload.fence", "fence %d is older than %d", 3, 5)
	if got, want := err.Error(), "stale_fence: payload.fence: fence 3 is older than 5"; got != want {
		t.Fatalf("%q want %q", got, want)
	}
	if envelope.CodeOf(fmt.Errorf("wrapped: %w", err)) != envelope.CodeStaleFence {
		t.Fatal("CodeOf must see through wrapping")
	}
	for _, c := range envelope.Codes {
		if !c.Valid() {
			t.Fatalf("%s not valid", c)
		}
	}
	if envelope.Code("nope").Valid() {
		t.Fatal("unknown code valid")
	}
}
