package envelope_test

import (
	"crypto/ed25519"
	"testing"

	"github.com/canswarm/swarmhost/abi/envelope"
)

// PayloadIsCanonical holds for what Decode and Prepare make, and no longer
// once Payload is another slice.
func TestPayloadIsCanonical(t *testing.T) {
	key := ed25519.NewKeyFromSeed(make([]byte, 32))
	e, err := envelope.Sign(envelope.Draft{Verb: envelope.VerbNeed, Lamport: 1, Payload: map[string]any{"b": 1, "a": "x"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	d, err := envelope.Decode(e.Wire())
	if err != nil {
		t.Fatal(err)
	}
	if !e.PayloadIsCanonical() || !d.PayloadIsCanonical() {
		t.Fatalf("signed %v, decoded %v: want both canonical", e.PayloadIsCanonical(), d.PayloadIsCanonical())
	}
	d.Payload = []byte(`{"a": "x", "b": 1}`)
	if d.PayloadIsCanonical() {
		t.Fatal("a payload set by hand is taken as canonical")
	}
	if (&envelope.Envelope{}).PayloadIsCanonical() {
		t.Fatal("an empty envelope's payload is taken as canonical")
	}
}
