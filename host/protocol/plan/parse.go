package plan

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"unicode/utf8"

	"github.com/canswarm/swarmhost/host/protocol/jsontext"
)

// ParseOps decodes the "ops" array of an UPDATE_PLAN payload. It is strict:
// the text must be valid UTF-8 JSON; the array must hold 1 to MaxOps ops;
// each op is an object whose "op" names a kind and which has exactly that
// kind's fields, each of the right type and valid (see the package doc). A
// duplicate key is an error. Errors are *FieldError naming the op's index
// and field, e.g. `ops[2].state: "doing" is not a plan state`. The ops
// returned are normalized: Spec and Value in RFC 8785 form.
func ParseOps(raw []byte) ([]Op, error) {
	if err := checkJSON(raw, "ops"); err != nil {
		return nil, err
	}
	return splitOps(raw)
}

// splitOps is ParseOps of a part of a text already checked.
func splitOps(raw []byte) ([]Op, error) {
	elems, err := splitArray(raw, "ops")
	if err != nil {
		return nil, err
	}
	if err := checkCount(len(elems)); err != nil {
		return nil, err
	}
	ops := make([]Op, len(elems))
	for i, e := range elems {
		if ops[i], err = parseOp(e); err != nil {
			return nil, under("ops["+strconv.Itoa(i)+"]", err)
		}
	}
	return ops, nil
}

// ParseUpdatePlan decodes a whole UPDATE_PLAN payload, {"ops":[...]}, with
// the rules of ParseOps; any other member is an error.
func ParseUpdatePlan(payload []byte) ([]Op, error) {
	members, err := parseObject(payload, "payload")
	if err != nil {
		return nil, err
	}
	var ops json.RawMessage
	for _, m := range members {
		if m.key != "ops" {
			return nil, fieldErr("payload", "unknown field "+quote(m.key)+" for UPDATE_PLAN")
		}
		ops = m.raw
	}
	if ops == nil {
		return nil, fieldErr("ops", "missing")
	}
	return splitOps(ops)
}

// parseOp decodes one op; field names in errors are relative to the op.
func parseOp(raw []byte) (Op, error) {
	members, err := splitObject(raw, "")
	if err != nil {
		return Op{}, err
	}
	get := func(name string) json.RawMessage {
		for _, m := range members {
			if m.key == name {
				return m.raw
			}
		}
		return nil
	}
	kindRaw := get("op")
	if kindRaw == nil {
		return Op{}, fieldErr("op", "missing")
	}
	kind, err := decodeString("op", kindRaw)
	if err != nil {
		return Op{}, err
	}
	k := Kind(kind)
	if !k.Known() {
		return Op{}, fieldErr("op", quote(kind)+" is not a plan op")
	}
	for _, m := range members {
		if m.key != "op" && !isField(k, m.key) {
			return Op{}, fieldErr("", "unknown field "+quote(m.key)+" for "+kind)
		}
	}
	o := Op{Kind: k}
	// task first, then the kind's own fields in their canonical order.
	for _, f := range fieldOrder[k] {
		v := get(f)
		if v == nil {
			return Op{}, fieldErr(f, "missing")
		}
		var s string
		switch f {
		case "spec":
			o.Spec = v
			continue
		case "value":
			o.Value = v
			continue
		}
		if s, err = decodeString(f, v); err != nil {
			return Op{}, err
		}
		switch f {
		case "task":
			if err := checkName("task", s); err != nil {
				return Op{}, err
			}
			o.Task = s
		case "on":
			o.On = s
		case "ref":
			o.Ref = s
		case "need":
			o.Need = s
		case "key":
			o.Key = s
		case "state":
			st, ok := ParseState(s)
			if !ok {
				return Op{}, fieldErr("state", quote(s)+" is not a plan state")
			}
			o.State = st
		}
	}
	return o.Normalize()
}

// fieldOrder is the order parseOp checks a kind's fields in: task first.
var fieldOrder = func() map[Kind][]string {
	m := make(map[Kind][]string, len(fields))
	for k, fs := range fields {
		order := []string{"task"}
		for _, f := range fs {
			if f != "task" {
				order = append(order, f)
			}
		}
		m[k] = order
	}
	return m
}()

func isField(k Kind, name string) bool {
	for _, f := range fields[k] {
		if f == name {
			return true
		}
	}
	return false
}

// member is one member of a JSON object, in input order.
type member struct {
	key string
	raw json.RawMessage
}

// checkJSON checks that raw is one valid UTF-8 JSON text.
func checkJSON(raw []byte, field string) error {
	if !utf8.Valid(raw) {
		return fieldErr(field, "not valid UTF-8")
	}
	if !json.Valid(raw) {
		var v json.RawMessage
		err := json.Unmarshal(raw, &v) // what is wrong, and where
		return &FieldError{Field: field, Detail: "not valid JSON", Err: err}
	}
	return nil
}

// parseObject decodes raw as a JSON object into its members, refusing a
// duplicate key. field names raw in errors ("" for the object itself).
func parseObject(raw []byte, field string) ([]member, error) {
	if err := checkJSON(raw, field); err != nil {
		return nil, err
	}
	return splitObject(raw, field)
}

// splitObject is parseObject of a part of a text already checked: a value
// inside valid UTF-8 JSON is valid UTF-8 JSON, so the check is not made
// again at each level.
func splitObject(raw []byte, field string) ([]member, error) {
	raw = bytes.TrimSpace(raw)
	if k := jsonKind(raw); k != "object" {
		return nil, fieldErr(field, "must be an object, got "+k)
	}
	split := jsontext.SplitObject(raw)
	members := make([]member, len(split))
	for i, m := range split {
		for _, earlier := range split[:i] {
			if earlier.Key == m.Key {
				return nil, fieldErr(field, "duplicate field "+quote(m.Key))
			}
		}
		members[i] = member{key: m.Key, raw: m.Raw}
	}
	return members, nil
}

// parseArray decodes raw as a JSON array into its elements.
func parseArray(raw []byte, field string) ([]json.RawMessage, error) {
	if err := checkJSON(raw, field); err != nil {
		return nil, err
	}
	return splitArray(raw, field)
}

// splitArray is parseArray of a part of a text already checked.
func splitArray(raw []byte, field string) ([]json.RawMessage, error) {
	if k := jsonKind(bytes.TrimSpace(raw)); k != "array" {
		return nil, fieldErr(field, "must be an array, got "+k)
	}
	return jsontext.SplitArray(raw), nil
}

func decodeString(field string, raw json.RawMessage) (string, error) {
	if k := jsonKind(raw); k != "string" {
		return "", fieldErr(field, "must be a string, got "+k)
	}
	// raw is valid JSON (checked with the whole op): without an escape or
	// a byte that is not UTF-8, the string is its bytes.
	if body := raw[1 : len(raw)-1]; bytes.IndexByte(body, '\\') < 0 && utf8.Valid(body) {
		return string(body), nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", &FieldError{Field: field, Detail: "not a valid string", Err: err}
	}
	return s, nil
}

// decodeUint decodes a non-negative integer within +/-2^53.
func decodeUint(field string, raw json.RawMessage, max uint64) (uint64, error) {
	if k := jsonKind(raw); k != "number" {
		return 0, fieldErr(field, "must be an integer, got "+k)
	}
	n, err := strconv.ParseUint(string(raw), 10, 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
			return 0, fieldErr(field, string(raw)+" is too large, at most "+strconv.FormatUint(max, 10))
		}
		return 0, fieldErr(field, quote(string(raw))+" is not a non-negative integer")
	}
	if n > max {
		return 0, fieldErr(field, strconv.FormatUint(n, 10)+" is too large, at most "+strconv.FormatUint(max, 10))
	}
	return n, nil
}

// jsonKind names the type of a valid JSON value by its first byte.
func jsonKind(raw []byte) string {
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}
