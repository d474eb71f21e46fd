package jsontext

import (
	"encoding/json"
	"strconv"
)

// Field is one member DecodeFlat may fill: at most one of the pointers is
// set; with none, the member is allowed and ignored (whatever its value),
// as encoding/json ignores a key its struct does not have.
type Field struct {
	Key  string
	Str  *string
	I64  *int64
	U64  *uint64
	Raw  *json.RawMessage
	Bool *bool
	Strs *[]string // an array of such strings
}

// DecodeFlat fills fields (at most 32) from obj, one valid JSON text, when
// it is an object whose every member is one of fields, each at most once,
// in the plain form the field takes: a string of printable ASCII without
// escapes, an integer of at most 18 digits (signed for I64), true or
// false, an array of such strings (an empty one gives an empty slice, as
// encoding/json does), any value for a Raw field (which then shares obj's
// memory). What it fills is then what encoding/json fills from obj into a
// struct with those json keys. Otherwise it returns false, having maybe
// filled some fields: the caller decodes into a fresh value with
// encoding/json, the reference, whose error says what is wrong.
func DecodeFlat(obj []byte, fields []Field) bool {
	if len(obj) < 2 || obj[0] != '{' {
		return false
	}
	seen := uint32(0)
	return EachMember(obj, func(key []byte, v json.RawMessage) bool {
		i := indexOfField(fields, key)
		if i < 0 || seen&(1<<i) != 0 {
			return false
		}
		seen |= 1 << i
		switch f := fields[i]; {
		case f.Str != nil:
			s, ok := PlainString(v)
			if !ok {
				return false
			}
			*f.Str = s
		case f.I64 != nil:
			n, ok := PlainInt(v, true)
			if !ok {
				return false
			}
			*f.I64 = n
		case f.U64 != nil:
			n, ok := PlainInt(v, false)
			if !ok {
				return false
			}
			*f.U64 = uint64(n)
		case f.Raw != nil:
			*f.Raw = v
		case f.Bool == nil && f.Strs == nil:
			// a member the caller's struct does not hold: ignored, as
			// encoding/json ignores unknown keys
		case f.Bool != nil:
			switch string(v) {
			case "true", "false":
				*f.Bool = v[0] == 't'
			default:
				return false
			}
		case f.Strs != nil:
			if v[0] != '[' {
				return false
			}
			list := []string{}
			ok := EachElement(v, func(e json.RawMessage) bool {
				s, ok := PlainString(e)
				list = append(list, s)
				return ok
			})
			if !ok {
				return false
			}
			*f.Strs = list
		}
		return true
	})
}

// indexOfField is the index of the field a quoted key names, or -1.
func indexOfField(fields []Field, quotedKey []byte) int {
	for i := range fields {
		if KeyIs(quotedKey, fields[i].Key) {
			return i
		}
	}
	return -1
}

// PlainInt is the value of a JSON integer of at most 18 digits (never
// overflowing), with a minus sign only when signed.
func PlainInt(v []byte, signed bool) (int64, bool) {
	digits := v
	if signed && len(v) > 0 && v[0] == '-' {
		digits = v[1:]
	}
	if len(digits) == 0 || len(digits) > 18 {
		return 0, false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	return n, err == nil
}
