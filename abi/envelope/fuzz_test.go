package envelope_test

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"os"
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/canswarm/swarmhost/abi/envelope"
)

// FuzzDecodeEnvelope: whatever the bytes, Verify returns an envelope or a
// *RejectError with a protocol code, never panics; whatever it accepts
// re-encodes to a fixed point that verifies again.
func FuzzDecodeEnvelope(f *testing.F) {
	if fh, err := os.Open("testdata/vectors/envelopes.jsonl"); err == nil {
		sc := bufio.NewScanner(fh)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var c struct{ Envelope string }
			if json.Unmarshal(sc.Bytes(), &c) == nil {
				f.Add([]byte(c.Envelope))
			}
		}
		fh.Close()
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"v":1e400}`))
	f.Fuzz(func(t *testing.T, wire []byte) {
		// A decoded envelope's payload is a valid UTF-8 JSON object, and
		// says so (readers skip validating it again).
		d, err := envelope.Decode(wire)
		if err == nil {
			if !d.PayloadIsCanonical() || !json.Valid(d.Payload) || !utf8.Valid(d.Payload) || d.Payload[0] != '{' {
				t.Fatalf("decoded payload %q: canonical %v", d.Payload, d.PayloadIsCanonical())
			}
		}
		// DecodeShared answers as Decode does.
		shared, serr := envelope.DecodeShared(bytes.Clone(wire))
		if (err == nil) != (serr == nil) || (err != nil && err.Error() != serr.Error()) {
			t.Fatalf("Decode: %v; DecodeShared: %v", err, serr)
		}
		if err == nil && (!reflect.DeepEqual(d, shared) || !bytes.Equal(d.Wire(), shared.Wire())) {
			t.Fatalf("Decode %+v\nDecodeShared %+v", d, shared)
		}
		e, err := envelope.Verify(wire)
		if err != nil {
			if !envelope.CodeOf(err).Valid() {
				t.Fatalf("rejection without a protocol code: %v", err)
			}
			return
		}
		again, err := envelope.Verify(e.Wire())
		if err != nil {
			t.Fatalf("accepted envelope does not verify after re-encoding: %v", err)
		}
		if string(again.Wire()) != string(e.Wire()) {
			t.Fatal("canonical form is not a fixed point")
		}
	})
}

// FuzzParseToken: capability tokens come from the CAS, written by anyone.
func FuzzParseToken(f *testing.F) {
	tok, _ := envelope.IssueToken(testKey(1), testKey(2).Public().(ed25519.PublicKey), []envelope.Role{envelope.RoleWorker}, []string{"classify"}, 0)
	canon, _ := tok.Canonical()
	f.Add(canon)
	f.Add([]byte(`{"v":1}`))
	f.Fuzz(func(t *testing.T, text []byte) {
		tok, err := envelope.ParseToken(text)
		if err != nil {
			if envelope.CodeOf(err) != envelope.CodeBadCapability {
				t.Fatalf("token rejection with code %q: %v", envelope.CodeOf(err), err)
			}
			return
		}
		if _, err := tok.Ref(); err != nil {
			t.Fatalf("parsed token has no ref: %v", err)
		}
	})
}
