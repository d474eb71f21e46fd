package envelope_test

import (
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"testing"

	"github.com/gowebpki/jcs"
	"pgregory.net/rapid"

	"github.com/canswarm/swarmhost/abi/envelope"
)

// The hand-written canonical writer must agree with the reference JCS
// implementation on every string, and a whole envelope's Wire() must be a
// fixed point of jcs.Transform.
func TestCanonicalStringMatchesJCS(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := rapid.String().Draw(t, "s")
		text, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		want, err := jcs.Transform(text)
		if err != nil {
			t.Fatal(err)
		}
		got := envelope.AppendJCSString(nil, s)
		if string(got) != string(want) {
			t.Fatalf("writer %q, jcs %q", got, want)
		}
	})
}

func TestWireIsCanonical(t *testing.T) {
	key := testKey(1)
	rapid.Check(t, func(t *rapid.T) {
		d := drawDraft(t)
		e, err := envelope.Sign(d, key)
		if err != nil {
			t.Fatal(err)
		}
		canon, err := jcs.Transform(e.Wire())
		if err != nil {
			t.Fatal(err)
		}
		if string(canon) != string(e.Wire()) {
			t.Fatalf("Wire() is not JCS:\n%s\n%s", e.Wire(), canon)
		}
		got, err := envelope.Verify(e.Wire())
		if err != nil {
			t.Fatalf("signed envelope does not verify: %v\n%s", err, e.Wire())
		}
		if got.ID != e.ID || string(got.Payload) != string(e.Payload) {
			t.Fatal("round trip changed the envelope")
		}
	})
}

// Prepare checks the size limits against the length the envelope's wire
// form will have once signed, computed without writing it: the length it
// has.
func TestPreparedSizeIsTheSignedWiresLength(t *testing.T) {
	key := testKey(1)
	pk := hex.EncodeToString(key.Public().(ed25519.PublicKey))
	rapid.Check(t, func(t *rapid.T) {
		e, err := envelope.Prepare(drawDraft(t), pk)
		if err != nil {
			t.Fatal(err)
		}
		predicted := envelope.SignedWireLen(e)
		if err := envelope.SignPrepared(e, key); err != nil {
			t.Fatal(err)
		}
		if n := len(e.Wire()); n != predicted {
			t.Fatalf("signed wire is %d bytes, Prepare counted %d:\n%s", n, predicted, e.Wire())
		}
	})
}

func drawDraft(t *rapid.T) envelope.Draft {
	ref := rapid.StringMatching(`sha256:[0-9a-f]{64}`)
	maybeRef := rapid.OneOf(rapid.Just(""), ref)
	payload := map[string]any{}
	for i, k := range rapid.SliceOfN(rapid.String(), 0, 5).Draw(t, "keys") {
		switch i % 3 {
		case 0:
			payload[k] = rapid.String().Draw(t, "sv")
		case 1:
			payload[k] = rapid.Int64Range(-envelope.MaxSafeInteger, envelope.MaxSafeInteger).Draw(t, "iv")
		default:
			payload[k] = rapid.SliceOfN(rapid.Float64Range(-1e15, 1e15), 0, 3).Draw(t, "fv")
		}
	}
	return envelope.Draft{
		ThreadID:          maybeRef.Draw(t, "thread"),
		Verb:              rapid.SampledFrom(envelope.Verbs).Draw(t, "verb"),
		Lamport:           rapid.Uint64Range(0, envelope.MaxSafeInteger).Draw(t, "lamport"),
		Capability:        maybeRef.Draw(t, "cap"),
		ContentRefs:       rapid.SliceOfN(ref, 0, 4).Draw(t, "refs"),
		PolicyCapsuleHash: maybeRef.Draw(t, "capsule"),
		PolicyEvalDigest:  maybeRef.Draw(t, "digest"),
		Payload:           payload,
	}
}
