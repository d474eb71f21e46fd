package envelope

import (
	"encoding/binary"
	"strconv"
	"unicode/utf8"

	"github.com/gowebpki/jcs"
)

// This file is Decode's fast path: a strict single-pass check that JSON text
// is already exactly in RFC 8785 form, which is what every well-behaved sender
// puts on the wire. When it is, jcs.Transform would return the text unchanged,
// so Decode can skip it, and the scan has already found the raw value of each
// top-level member, so no generic JSON decoding is needed either.
//
// The check is one-sided: it says yes only for text it is sure is canonical,
// and no to anything else, including text it does not bother to judge
// (nesting deeper than maxScanDepth). A no only sends the text down the slow
// path, jcs.Transform and encoding/json, which stays the reference for every
// verdict and error message. Canonical text is:
//
//   - no whitespace anywhere;
//   - object keys in strictly increasing order of their UTF-16 code units
//     (strictly, so a duplicate key is not canonical);
//   - strings of valid UTF-8, with no raw control character, using only the
//     escapes JCS writes: \" \\ \b \t \n \f \r, and \u00xx with lowercase hex
//     for the other characters below U+0020;
//   - numbers exactly as jcs.NumberToJSON renders the double they denote;
//   - the literals true, false and null.

// maxScanDepth bounds the nesting the scan follows (and so its recursion). It
// is jcs's bound (and encoding/json's): depth counts objects and arrays, the
// outermost being 1.
const maxScanDepth = 10000

// The envelope's fields as indexes into fieldNames (JCS order).
const (
	fCapability = iota
	fContentRefs
	fID
	fLamport
	fPayload
	fPayloadHash
	fPolicyCapsuleHash
	fPolicyEvalDigest
	fSenderPK
	fSig
	fThreadID
	fV
	fVerb
	numFields
)

// IsCanonical reports whether text is exactly its own RFC 8785 form: when it
// is true, jcs.Transform(text) returns text unchanged. It is a single pass
// without allocation, for callers (the audit trail) that must insist on
// canonical bytes; false may also mean nesting deeper than jcs accepts.
func IsCanonical(text []byte) bool { return isCanonical(text) }

// isCanonical reports whether text is known to be exactly its own RFC 8785
// form: when it is true, jcs.Transform(text) returns text unchanged.
func isCanonical(text []byte) bool {
	s := canonScanner{in: text}
	return s.value() && s.pos == len(text)
}

// scanEnvelope reports whether text is canonical (as isCanonical) and an
// object whose members are exactly the envelope's fields; if so, it sets
// fields[i] to the raw text of the value of fieldNames[i], a sub-slice of text.
func scanEnvelope(text []byte, fields *[numFields][]byte) bool {
	return ScanCanonicalObject(text, fieldNames[:], fields[:])
}

// ScanCanonicalObject reports whether text is canonical (as IsCanonical)
// and an object whose members are exactly names, in that order (which must
// be JCS order); if so, values[i] is the raw text of the value of names[i],
// a sub-slice of text. values must have len(names) elements. Like
// IsCanonical it is one-sided: false sends the caller to a slow path that
// says what is wrong.
func ScanCanonicalObject(text []byte, names []string, values [][]byte) bool {
	if len(text) == 0 || text[0] != '{' || len(values) != len(names) {
		return false
	}
	s := canonScanner{in: text, names: names, fields: values}
	return s.value() && s.pos == len(text)
}

// ScanCanonicalValue reports the length of the canonical JSON value (as
// IsCanonical would judge it alone) that text starts with; text may go on
// after it. Like IsCanonical it is one-sided: false says only that text
// does not start with a canonical value.
func ScanCanonicalValue(text []byte) (int, bool) {
	s := canonScanner{in: text}
	if !s.value() {
		return 0, false
	}
	return s.pos, true
}

type canonScanner struct {
	in    []byte
	pos   int
	depth int
	// fields, when set, receives the values of the outermost object, whose
	// keys must then be exactly names.
	names  []string
	fields [][]byte
}

func (s *canonScanner) at(c byte) bool { return s.pos < len(s.in) && s.in[s.pos] == c }

func (s *canonScanner) value() bool {
	if s.pos >= len(s.in) {
		return false
	}
	switch s.in[s.pos] {
	case '{':
		return s.object()
	case '[':
		return s.array()
	case '"':
		_, ok := s.str()
		return ok
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	}
	return s.number()
}

func (s *canonScanner) object() bool {
	envelope := s.fields != nil && s.depth == 0
	if s.depth++; s.depth > maxScanDepth {
		return false
	}
	s.pos++ // '{'
	if s.at('}') {
		s.pos++
		s.depth--
		return !envelope
	}
	var prev []byte
	for n := 0; ; n++ {
		if !s.at('"') {
			return false
		}
		key, ok := s.str()
		if !ok || n > 0 && compareKeys(prev, key) >= 0 {
			return false
		}
		prev = key
		if envelope && (n >= len(s.names) || string(key) != s.names[n]) {
			return false
		}
		if !s.at(':') {
			return false
		}
		s.pos++
		start := s.pos
		if !s.value() {
			return false
		}
		if envelope {
			s.fields[n] = s.in[start:s.pos]
		}
		switch {
		case s.at(','):
			s.pos++
		case s.at('}'):
			s.pos++
			s.depth--
			return !envelope || n+1 == len(s.names)
		default:
			return false
		}
	}
}

func (s *canonScanner) array() bool {
	if s.depth++; s.depth > maxScanDepth {
		return false
	}
	s.pos++ // '['
	if s.at(']') {
		s.pos++
		s.depth--
		return true
	}
	for {
		if !s.value() {
			return false
		}
		switch {
		case s.at(','):
			s.pos++
		case s.at(']'):
			s.pos++
			s.depth--
			return true
		default:
			return false
		}
	}
}

// str scans the canonical string literal at s.pos and returns its body, the
// bytes between the quotes.
func (s *canonScanner) str() ([]byte, bool) {
	start := s.pos + 1
	for i := start; i < len(s.in); {
		// Eight plain bytes at a time: most of an envelope's text is hex
		// and plain words (and inside a WebAssembly agent every byte
		// costs gas).
		for i+8 <= len(s.in) && plainWord(binary.LittleEndian.Uint64(s.in[i:])) {
			i += 8
		}
		if i >= len(s.in) {
			break
		}
		if plainStringByte[s.in[i]] {
			i++
			continue
		}
		switch c := s.in[i]; {
		case c == '"':
			s.pos = i + 1
			return s.in[start:i], true
		case c == '\\':
			n := canonicalEscapeLen(s.in[i:])
			if n == 0 {
				return nil, false
			}
			i += n
		case c < 0x20:
			return nil, false
		default:
			r, size := utf8.DecodeRune(s.in[i:])
			if r == utf8.RuneError && size <= 1 {
				return nil, false
			}
			i += size
		}
	}
	return nil, false
}

// plainWord says whether all eight bytes of w stand for themselves in a
// canonical string (as plainStringByte): printable ASCII, no quote, no
// backslash. Each test says exactly whether some byte matches.
func plainWord(w uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	hasZero := func(x uint64) bool { return (x-ones)&^x&highs != 0 }
	return w&highs == 0 && // ASCII only: then the next test is exact too
		(w-0x20*ones)&^w&highs == 0 && // no control character
		!hasZero(w^(0x22*ones)) && !hasZero(w^(0x5c*ones))
}

// plainStringByte says which bytes stand for themselves in a canonical
// string: printable ASCII (DEL included) except the quote and the backslash.
var plainStringByte = func() (plain [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		plain[c] = c != '"' && c != '\\'
	}
	return plain
}()

// canonicalEscapeLen returns the length of the escape sequence that starts b
// (at a backslash) if it is one JCS writes, else 0.
func canonicalEscapeLen(b []byte) int {
	if len(b) < 2 {
		return 0
	}
	switch b[1] {
	case '"', '\\', 'b', 't', 'n', 'f', 'r':
		return 2
	case 'u':
		// \u00xx, lowercase, only for control characters without a short form.
		if len(b) < 6 || b[2] != '0' || b[3] != '0' || (b[4] != '0' && b[4] != '1') || !isLowerHexDigit(b[5]) {
			return 0
		}
		switch unhex(b[4])<<4 | unhex(b[5]) {
		case '\b', '\t', '\n', '\f', '\r':
			return 0
		}
		return 6
	}
	return 0
}

func (s *canonScanner) literal(word string) bool {
	if len(s.in)-s.pos < len(word) || string(s.in[s.pos:s.pos+len(word)]) != word {
		return false
	}
	s.pos += len(word)
	return true
}

// number scans a JSON number (the RFC 8259 grammar, as jcs requires) and
// reports whether it is written as JCS writes its value.
func (s *canonScanner) number() bool {
	in := s.in
	start := s.pos
	i := start
	if i < len(in) && in[i] == '-' {
		i++
	}
	intStart := i
	switch {
	case i < len(in) && in[i] == '0':
		i++
	case i < len(in) && '1' <= in[i] && in[i] <= '9':
		i = skipDigits(in, i)
	default:
		return false
	}
	intEnd := i
	if i < len(in) && in[i] == '.' {
		frac := i + 1
		if i = skipDigits(in, frac); i == frac {
			return false
		}
	}
	if i < len(in) && (in[i] == 'e' || in[i] == 'E') {
		i++
		if i < len(in) && (in[i] == '+' || in[i] == '-') {
			i++
		}
		digits := i
		if i = skipDigits(in, i); i == digits {
			return false
		}
	}
	s.pos = i
	lit := in[start:i]
	// An integer of up to 15 digits is an exact double, which JCS writes as
	// plain decimal digits: it is canonical unless it is -0 (written 0).
	if i == intEnd && intEnd-intStart <= 15 {
		return string(lit) != "-0"
	}
	f, err := strconv.ParseFloat(string(lit), 64)
	if err != nil {
		return false
	}
	canon, err := jcs.NumberToJSON(f)
	return err == nil && canon == string(lit)
}

func skipDigits(b []byte, i int) int {
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		i++
	}
	return i
}

// compareKeys compares the bodies of two canonical string literals by the
// UTF-16 code units of the strings they denote, the order of RFC 8785
// section 3.2.3.
func compareKeys(a, b []byte) int {
	for len(a) > 0 && len(b) > 0 {
		ra, na := keyChar(a)
		rb, nb := keyChar(b)
		if ra != rb {
			return int(ra) - int(rb)
		}
		a, b = a[na:], b[nb:]
	}
	return len(a) - len(b)
}

// keyChar decodes the first character of a canonical string body and returns
// its rank in UTF-16 code-unit order and its length in bytes.
func keyChar(b []byte) (rank rune, n int) {
	switch c := b[0]; {
	case c == '\\':
		switch b[1] {
		case 'u':
			return rune(unhex(b[4])<<4 | unhex(b[5])), 6
		case 'b':
			return '\b', 2
		case 't':
			return '\t', 2
		case 'n':
			return '\n', 2
		case 'f':
			return '\f', 2
		case 'r':
			return '\r', 2
		}
		return rune(b[1]), 2 // \" or \\
	case c < utf8.RuneSelf:
		return rune(c), 1
	}
	r, n := utf8.DecodeRune(b)
	return utf16Rank(r), n
}

// utf16Rank maps a code point to a number that orders code points as their
// UTF-16 encodings are ordered: a character from U+10000 up is written as a
// surrogate pair (0xD800 to 0xDFFF), so it sorts after U+D7FF but before
// U+E000; pairs keep the order of the code points they encode.
func utf16Rank(r rune) rune {
	switch {
	case r < 0xD800:
		return r
	case r >= 0x10000:
		return 0xD800 + (r - 0x10000)
	}
	return r + 0x100000 // U+E000 to U+FFFF, after every surrogate pair
}

func isLowerHexDigit(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' }

// unhex is the value of a lowercase hex digit.
func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c - 'a' + 10
}
