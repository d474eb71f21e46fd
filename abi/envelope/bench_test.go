package envelope_test

import (
	"crypto/ed25519"
	"strings"
	"testing"

	"github.com/canswarm/swarmhost/abi/envelope"
)

// 1 KiB payload, as docs/PERFORMANCE.md states.
func benchDraft() envelope.Draft {
	return envelope.Draft{
		ThreadID: ref('a'), Verb: envelope.VerbCommit, Lamport: 42, Capability: ref('c'),
		ContentRefs: []string{ref('d')}, PolicyCapsuleHash: ref('e'),
		Payload: map[string]any{"epoch": 1, "fence": 17, "result": ref('d'), "note": strings.Repeat("x", 1024-80)},
	}
}

func BenchmarkEnvelopeSign(b *testing.B) {
	key := testKey(1)
	d := benchDraft()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := envelope.Sign(d, key); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEd25519Sign(b *testing.B) {
	key := testKey(1)
	msg := envelope.SignedMessage(ref('a'))
	for b.Loop() {
		ed25519.Sign(key, msg)
	}
}

func BenchmarkEnvelopeVerify(b *testing.B) {
	e, err := envelope.Sign(benchDraft(), testKey(1))
	if err != nil {
		b.Fatal(err)
	}
	wire := e.Wire()
	b.SetBytes(int64(len(wire)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := envelope.Verify(wire); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEd25519Verify(b *testing.B) {
	key := testKey(1)
	msg := envelope.SignedMessage(ref('a'))
	sig := ed25519.Sign(key, msg)
	pk := key.Public().(ed25519.PublicKey)
	for b.Loop() {
		if !ed25519.Verify(pk, msg, sig) {
			b.Fatal("verify")
		}
	}
}
