package envelope

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

// The cheap scan never lets an unsafe integer through: CheckSafeIntegers
// (and so CanonicalPayload) refuses exactly what the full walk refuses, on
// JSON with integer literals of every length, in and out of strings; and
// its output passes it again.
func TestSafeIntegerScanAgreesWithTheWalk(t *testing.T) {
	literal := rapid.Custom(func(t *rapid.T) string {
		digits := rapid.StringMatching(`[1-9][0-9]{0,19}`).Draw(t, "digits")
		switch rapid.IntRange(0, 3).Draw(t, "form") {
		case 1:
			return "-" + digits
		case 2:
			return digits + ".5"
		case 3:
			return digits + "e2"
		}
		return digits
	})
	rapid.Check(t, func(t *rapid.T) {
		var b strings.Builder
		b.WriteString(`{"a":[`)
		for i, n := range rapid.SliceOfN(literal, 1, 4).Draw(t, "numbers") {
			if i > 0 {
				b.WriteString(",")
			}
			if rapid.Bool().Draw(t, "quoted") {
				b.WriteString(`"x\"` + n + `"`)
			} else {
				b.WriteString(n)
			}
		}
		b.WriteString(`]}`)
		text := []byte(b.String())
		dec := json.NewDecoder(bytes.NewReader(text))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("test JSON %s: %v", text, err)
		}
		walk := walkSafeIntegers(v, "payload")
		check := CheckSafeIntegers(text, "payload")
		if (walk == nil) != (check == nil) {
			t.Fatalf("%s: the walk says %v, CheckSafeIntegers says %v", text, walk, check)
		}
		canon, canonErr := CanonicalPayload(json.RawMessage(text))
		if walk != nil && canonErr == nil {
			t.Fatalf("%s: CanonicalPayload took an integer the walk refuses (%v)", text, walk)
		}
		// What CanonicalPayload gives, it takes again unchanged: a float such
		// as 1e20 is written by JCS as an integer literal beyond 2^53, so it
		// must be refused the first time.
		if canonErr == nil {
			again, err := CanonicalPayload(json.RawMessage(canon))
			if err != nil || !bytes.Equal(again, canon) {
				t.Fatalf("%s: canonical form %s is not taken again: %v", text, canon, err)
			}
		}
	})
}
