package jsontext

import (
	"bytes"
	"encoding/json"
)

// HasKeys reports whether raw, one valid JSON object, has a member under
// each of keys (a missing one is returned).
func HasKeys(raw []byte, keys ...string) (missing string, ok bool) {
	if len(keys) > 64 {
		return hasKeysSplit(raw, keys)
	}
	var found uint64
	EachMember(raw, func(quoted []byte, _ json.RawMessage) bool {
		for i, k := range keys {
			if KeyIs(quoted, k) {
				found |= 1 << i
			}
		}
		return true
	})
	for i, k := range keys {
		if found&(1<<i) == 0 {
			return k, false
		}
	}
	return "", true
}

// EachMember calls f with each member of raw in order, under the terms of
// SplitObject: its key as written, quotes included (KeyIs compares it),
// and its value's text; it stops, returning false, when f does. Unlike
// SplitObject it allocates nothing.
func EachMember(raw []byte, f func(quotedKey []byte, value json.RawMessage) bool) bool {
	i := skipSpace(raw, 0) + 1 // past {
	for {
		i = skipSpace(raw, i)
		if raw[i] == '}' {
			return true
		}
		if raw[i] == ',' {
			i = skipSpace(raw, i+1)
		}
		end := skipString(raw, i)
		key := raw[i:end]
		i = skipSpace(raw, skipSpace(raw, end)+1) // past :
		vend := skipValue(raw, i)
		if !f(key, raw[i:vend:vend]) {
			return false
		}
		i = vend
	}
}

// KeyIs reports whether a quoted key, as EachMember gives it, is name once
// decoded.
func KeyIs(quoted []byte, name string) bool {
	if bytes.IndexByte(quoted, '\\') < 0 {
		return len(quoted) == len(name)+2 && string(quoted[1:len(quoted)-1]) == name
	}
	return decodeKey(quoted) == name
}

// hasKeysSplit is HasKeys for more keys than its bit set holds.
func hasKeysSplit(raw []byte, keys []string) (missing string, ok bool) {
	members := SplitObject(raw)
	for _, k := range keys {
		found := false
		for _, m := range members {
			if m.Key == k {
				found = true
				break
			}
		}
		if !found {
			return k, false
		}
	}
	return "", true
}

// Member is one member of a JSON object: its key, decoded, and its
// value's text.
type Member struct {
	Key string
	Raw json.RawMessage
}

// SplitObject returns the members of raw, in order. raw must be one valid
// UTF-8 JSON text whose value is an object: nothing is validated again
// (the caller has, e.g. with json.Valid and utf8.Valid). It is what decoding
// the members with a json.Decoder gives (FuzzSplitAgreesWithDecoder),
// without the decoder's per-token allocations.
func SplitObject(raw []byte) []Member {
	var members []Member
	walk(raw, '}', func(i int) int {
		end := skipString(raw, i)
		key := raw[i:end]
		i = skipSpace(raw, skipSpace(raw, end)+1) // past :
		vend := skipValue(raw, i)
		members = append(members, Member{Key: decodeKey(key), Raw: raw[i:vend:vend]})
		return vend
	})
	return members
}

// SplitArray returns the elements of raw, one valid UTF-8 JSON text whose
// value is an array, under the same terms as SplitObject.
func SplitArray(raw []byte) []json.RawMessage {
	var elems []json.RawMessage
	walk(raw, ']', func(i int) int {
		end := skipValue(raw, i)
		elems = append(elems, raw[i:end:end])
		return end
	})
	return elems
}

// walk calls elem with the start of each member or element of the object
// or array raw (which closes with closing); elem returns where it ends.
func walk(raw []byte, closing byte, elem func(start int) (end int)) {
	i := skipSpace(raw, 0) + 1 // past { or [
	for {
		i = skipSpace(raw, i)
		if raw[i] == closing {
			return
		}
		if raw[i] == ',' {
			i = skipSpace(raw, i+1)
		}
		i = elem(i)
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

// EachElement calls f with the text of each element of raw, one valid JSON
// array, in order (under the terms of SplitArray); it stops, returning
// false, when f does. It allocates nothing.
func EachElement(raw []byte, f func(value json.RawMessage) bool) bool {
	i := skipSpace(raw, 0) + 1 // past [
	for {
		i = skipSpace(raw, i)
		if raw[i] == ']' {
			return true
		}
		if raw[i] == ',' {
			i = skipSpace(raw, i+1)
		}
		end := skipValue(raw, i)
		if !f(raw[i:end:end]) {
			return false
		}
		i = end
	}
}

// PlainString is the value of v when it is a JSON string of printable
// ASCII without escapes: the string any decoder gives for it.
func PlainString(v []byte) (string, bool) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return "", false
	}
	for _, c := range v[1 : len(v)-1] {
		if c < 0x20 || c >= 0x7f || c == '\\' || c == '"' {
			return "", false
		}
	}
	return string(v[1 : len(v)-1]), true
}
