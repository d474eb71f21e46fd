package envelope

import (
	"encoding/json"
	"slices"
	"strconv"
	"unicode/utf8"
)

// appendCanonicalValue appends the JCS of v's encoding/json encoding when v
// is built only of what it writes directly: nil, bools, strings of valid
// UTF-8, integers (and integral float64s) within ±2^53, []string, []any,
// map[string]any with ASCII keys, and json.RawMessage already canonical.
// Otherwise it returns false and CanonicalPayload takes its general path
// (json.Marshal, then jcs.Transform), whose answer, or error, stands. A
// host's payloads are such maps; writing them directly spares encoding
// them with reflection and canonicalising the text again.
// TestCanonicalValueAgreesWithJCS holds the two paths equal.
func appendCanonicalValue(b []byte, v any) ([]byte, bool) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), true
	case bool:
		return strconv.AppendBool(b, x), true
	case string:
		if !utf8.ValidString(x) {
			return b, false
		}
		return appendJCSString(b, x), true
	case int:
		return appendSafeInt(b, int64(x))
	case int64:
		return appendSafeInt(b, x)
	case int32:
		return appendSafeInt(b, int64(x))
	case uint32:
		return appendSafeInt(b, int64(x))
	case uint64:
		if x > MaxSafeInteger {
			return b, false
		}
		return appendSafeInt(b, int64(x))
	case float64:
		if x != float64(int64(x)) {
			return b, false
		}
		return appendSafeInt(b, int64(x))
	case []string:
		if x == nil {
			return append(b, "null"...), true
		}
		b = append(b, '[')
		for i, s := range x {
			if i > 0 {
				b = append(b, ',')
			}
			if !utf8.ValidString(s) {
				return b, false
			}
			b = appendJCSString(b, s)
		}
		return append(b, ']'), true
	case []any:
		if x == nil {
			return append(b, "null"...), true
		}
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var ok bool
			if b, ok = appendCanonicalValue(b, e); !ok {
				return b, false
			}
		}
		return append(b, ']'), true
	case map[string]any:
		if x == nil {
			return append(b, "null"...), true
		}
		var keysBuf [16]string
		keys := keysBuf[:0]
		for k := range x {
			for i := 0; i < len(k); i++ {
				if k[i] >= utf8.RuneSelf {
					return b, false // JCS orders such keys by UTF-16 units
				}
			}
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(appendJCSString(b, k), ':')
			var ok bool
			if b, ok = appendCanonicalValue(b, x[k]); !ok {
				return b, false
			}
		}
		return append(b, '}'), true
	case json.RawMessage:
		if x == nil {
			return append(b, "null"...), true
		}
		if n, ok := ScanCanonicalValue(x); !ok || n != len(x) || mayHoldUnsafeInteger(x) {
			return b, false
		}
		return append(b, x...), true
	}
	return b, false
}

func appendSafeInt(b []byte, n int64) ([]byte, bool) {
	if n < -MaxSafeInteger || n > MaxSafeInteger {
		return b, false
	}
	return strconv.AppendInt(b, n, 10), true
}
