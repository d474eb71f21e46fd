package audit

import (
	"bytes"
	"testing"

	"pgregory.net/rapid"

	"github.com/canswarm/swarmhost/internal/rapidjson"
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
			ReceivedLamport: integer.Draw(t, "lamport"), Envelope: rapidjson.Text().Draw(t, "body"), Verdict: text.Draw(t, "verdict"),
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
