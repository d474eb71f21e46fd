package audit

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/gowebpki/jcs"
	"pgregory.net/rapid"
)

// A line written directly in its canonical form is byte for byte the JCS
// of encoding/json's encoding of the record, whatever the body and the
// strings; where the direct writer declines, encode gives the same.
func TestRecordEncodingAgreesWithJCS(t *testing.T) {
	text := rapid.OneOf(rapid.String(), rapid.SampledFrom([]string{"", "envelope", "agent", "accepted", "rejected",
		"stale_fence", "sha256:0f", "<&>\u2028", "tab\tquote\"back\\slash", "caf\u00e9 🙂"}),
		rapid.Custom(func(t *rapid.T) string { return string(rapid.SliceOf(rapid.Byte()).Draw(t, "bytes")) }))
	integer := rapid.OneOf(rapid.Uint64Range(0, 1<<53), rapid.Uint64())
	rapid.Check(t, func(t *rapid.T) {
		r := Record{Seq: integer.Draw(t, "seq"), Prev: text.Draw(t, "prev"), Kind: text.Draw(t, "kind"),
			ReceivedLamport: integer.Draw(t, "lamport"), Envelope: drawBody(t), Verdict: text.Draw(t, "verdict"),
			Reason: text.Draw(t, "reason")}
		slow, err := r.encodeSlow()
		if err != nil {
			if _, ok := r.appendCanonical(nil); ok {
				t.Fatalf("the direct writer took a record encoding/json or JCS refuses (%v): %+v", err, r)
			}
			return
		}
		if fast, ok := r.appendCanonical(nil); ok && !bytes.Equal(fast, slow) {
			t.Fatalf("direct:\n%s\nJCS:\n%s", fast, slow)
		}
		if got, err := r.encode(); err != nil || !bytes.Equal(got, slow) {
			t.Fatalf("encode: %s, %v; JCS: %s", got, err, slow)
		}
	})
}

// drawBody is a record body: canonical JSON (most records), JSON in
// another form, or nothing.
func drawBody(t *rapid.T) json.RawMessage {
	v := rapid.OneOf(
		rapid.Just[any](nil),
		rapid.Map(rapid.String(), func(s string) any { return s }),
		rapid.Map(rapid.Float64(), func(f float64) any { return f }),
		rapid.Map(rapid.Int64(), func(n int64) any { return n }),
		rapid.Map(rapid.MapOf(rapid.String(), rapid.OneOf(rapid.Map(rapid.String(), func(s string) any { return s }),
			rapid.Map(rapid.Int64Range(-1<<53, 1<<53), func(n int64) any { return n }))), func(m map[string]any) any { return m }),
	).Draw(t, "value")
	raw, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	switch rapid.IntRange(0, 3).Draw(t, "form") {
	case 0:
		return raw // encoding/json's form: HTML escapes, Go's floats
	case 1:
		var indented bytes.Buffer
		json.Indent(&indented, raw, "", "  ")
		return indented.Bytes()
	case 2:
		return nil
	default:
		canon, err := jcs.Transform(raw)
		if err != nil {
			return raw
		}
		return canon
	}
}
