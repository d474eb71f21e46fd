package plan

import (
	"bytes"
	"encoding/json"
)

// splitObject returns the members of raw, in order: raw must be one valid
// JSON text whose value is an object (checkJSON, then jsonKind, say so),
// so nothing is validated again. It is what decoding the members with a
// json.Decoder gives (TestSplitAgreesWithDecoder), without the decoder's
// per-token allocations: a plan op is parsed on every agent output and
// every UPDATE_PLAN received.
func splitObject(raw []byte) []member {
	i := skipSpace(raw, 0) + 1 // past {
	var members []member
	for {
		i = skipSpace(raw, i)
		if raw[i] == '}' {
			return members
		}
		if raw[i] == ',' {
			i = skipSpace(raw, i+1)
		}
		end := skipString(raw, i)
		key := raw[i:end]
		i = skipSpace(raw, end)
		i = skipSpace(raw, i+1) // past :
		vend := skipValue(raw, i)
		members = append(members, member{key: decodeKey(key), raw: raw[i:vend:vend]})
		i = vend
	}
}

// splitArray returns the elements of raw, one valid JSON text whose value
// is an array.
func splitArray(raw []byte) []json.RawMessage {
	i := skipSpace(raw, 0) + 1 // past [
	var elems []json.RawMessage
	for {
		i = skipSpace(raw, i)
		if raw[i] == ']' {
			return elems
		}
		if raw[i] == ',' {
			i = skipSpace(raw, i+1)
		}
		end := skipValue(raw, i)
		elems = append(elems, raw[i:end:end])
		i = end
	}
}

// decodeKey is a quoted key's string; one without escapes is its bytes.
func decodeKey(quoted []byte) string {
	if bytes.IndexByte(quoted, '\\') < 0 {
		return string(quoted[1 : len(quoted)-1])
	}
	var s string
	json.Unmarshal(quoted, &s) // valid: checked with the whole text
	return s
}

func skipSpace(raw []byte, i int) int {
	for i < len(raw) {
		switch raw[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipString returns the index just past the string starting at raw[i].
func skipString(raw []byte, i int) int {
	for i++; i < len(raw); i++ {
		switch raw[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return i
}

// skipValue returns the index just past the value starting at raw[i].
func skipValue(raw []byte, i int) int {
	switch raw[i] {
	case '"':
		return skipString(raw, i)
	case '{', '[':
		depth := 0
		for ; i < len(raw); i++ {
			switch raw[i] {
			case '"':
				i = skipString(raw, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return i
	}
	for i < len(raw) { // a number or a literal
		switch raw[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	return i
}
