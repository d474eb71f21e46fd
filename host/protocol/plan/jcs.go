package plan

import (
	"bytes"
	"cmp"
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"github.com/canswarm/swarmhost/abi/envelope"
)

// This file writes the RFC 8785 (JCS) form of the plan's own objects without
// a generic JSON round trip: strings escaped as RFC 8785 section 3.2.2.2
// says, integers as plain decimals, object members sorted by the UTF-16
// code units of their keys. Opaque JSON values (a spec, an annotation's
// value) are canonicalized once, on the way in, by envelope.CanonicalPayload.
// Tests check every writer's output with envelope.IsCanonical.

// appendString appends s as an RFC 8785 string literal. s must be valid
// UTF-8 (every string the package stores is checked on the way in).
func appendString(b []byte, s string) []byte { return envelope.AppendJCSString(b, s) }

// appendKey appends "key": to b.
func appendKey(b []byte, key string) []byte {
	return append(appendString(b, key), ':')
}

// appendStrings appends a JSON array of strings, in the order given.
func appendStrings(b []byte, list []string) []byte {
	b = append(b, '[')
	for i, s := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

func appendUint(b []byte, n uint64) []byte { return strconv.AppendUint(b, n, 10) }

// compareJCS orders two valid UTF-8 strings by their UTF-16 code units, the
// order RFC 8785 sorts object keys in. It differs from byte order only where
// a character beyond U+FFFF (a surrogate pair, 0xD800..0xDBFF first) meets
// one in U+E000..U+FFFF. The package uses it for every sorted list too, so
// that one order rules the whole canonical state.
func compareJCS(a, b string) int {
	for a != "" && b != "" {
		ra, na := utf8.DecodeRuneInString(a)
		rb, nb := utf8.DecodeRuneInString(b)
		if ra != rb {
			ha, la := utf16Units(ra)
			hb, lb := utf16Units(rb)
			if ha != hb {
				return cmp.Compare(ha, hb)
			}
			return cmp.Compare(la, lb)
		}
		a, b = a[na:], b[nb:]
	}
	return cmp.Compare(len(a), len(b))
}

// utf16Units returns r's UTF-16 code units: (r, 0) inside the BMP, the
// surrogate pair beyond it.
func utf16Units(r rune) (hi, lo rune) {
	if r < 0x10000 {
		return r, 0
	}
	r -= 0x10000
	return 0xD800 + r>>10, 0xDC00 + r&0x3FF
}

// canonicalValue returns the RFC 8785 form of one JSON value of any type.
// JCS of {"v":X} is `{"v":` + JCS(X) + `}`, so the value is wrapped, handed
// to envelope.CanonicalPayload (which also refuses integers beyond +/-2^53)
// and unwrapped. A value whose canonical form holds an integer beyond
// +/-2^53 is refused too. A nil or empty value is JSON null.
func canonicalValue(raw []byte) (json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return json.RawMessage("null"), nil
	}
	if !json.Valid(raw) {
		return nil, errInvalidJSON
	}
	wrapped := make([]byte, 0, len(raw)+6)
	wrapped = append(append(append(wrapped, `{"v":`...), raw...), '}')
	canon, err := envelope.CanonicalPayload(json.RawMessage(wrapped))
	if err != nil {
		return nil, err
	}
	// A number spelled as a float (1e20) passes the check above but is
	// rendered by RFC 8785 as an integer literal (100000000000000000000);
	// beyond 2^53 the canonical form would then be refused when read back.
	// Refuse it now, so that every value kept re-reads as itself.
	if err := envelope.CheckSafeIntegers(canon, "canonical form"); err != nil {
		return nil, err
	}
	const prefix = `{"v":`
	if !bytes.HasPrefix(canon, []byte(prefix)) || canon[len(canon)-1] != '}' {
		return nil, errInvalidJSON // cannot happen: one member named "v"
	}
	return json.RawMessage(canon[len(prefix) : len(canon)-1]), nil
}
