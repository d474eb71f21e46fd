package rapidjson

import (
	"bytes"
	"encoding/json"

	"github.com/gowebpki/jcs"
	"pgregory.net/rapid"
)

// Value draws a JSON value: null, a string, a float, an integer (beyond
// 2^53 at times), a list of strings, or an object of strings and safe
// integers.
func Value() *rapid.Generator[any] {
	return rapid.OneOf(
		rapid.Just[any](nil),
		rapid.Map(rapid.String(), func(s string) any { return s }),
		rapid.Map(rapid.Float64(), func(f float64) any { return f }),
		rapid.Map(rapid.Int64(), func(n int64) any { return n }),
		rapid.Map(rapid.SliceOfN(rapid.String(), 0, 4), func(s []string) any { return s }),
		rapid.Map(rapid.MapOf(rapid.String(), rapid.OneOf(rapid.Map(rapid.String(), func(s string) any { return s }),
			rapid.Map(rapid.Int64Range(-1<<53, 1<<53), func(n int64) any { return n }))), func(m map[string]any) any { return m }),
	)
}

// Form says how Text writes a value.
type Form int

// The forms of Text.
const (
	Canonical Form = iota // RFC 8785, as jcs.Transform writes it
	Marshal               // encoding/json's: HTML escapes, Go's floats
	Indented              // encoding/json's, indented
	Absent                // no text at all (a nil json.RawMessage)
)

// Text draws a value and writes it in one of forms (all four when none is
// given).
func Text(forms ...Form) *rapid.Generator[json.RawMessage] {
	if len(forms) == 0 {
		forms = []Form{Canonical, Marshal, Indented, Absent}
	}
	return rapid.Custom(func(t *rapid.T) json.RawMessage {
		raw, err := json.Marshal(Value().Draw(t, "value"))
		if err != nil {
			return nil
		}
		switch rapid.SampledFrom(forms).Draw(t, "form") {
		case Marshal:
			return raw
		case Indented:
			var indented bytes.Buffer
			json.Indent(&indented, raw, "", "  ")
			return indented.Bytes()
		case Absent:
			return nil
		default:
			if canon, err := jcs.Transform(raw); err == nil {
				return canon
			}
			return raw
		}
	})
}
