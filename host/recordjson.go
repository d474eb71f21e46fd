package host

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"github.com/gowebpki/jcs"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/protocol"
	"github.com/canswarm/swarmhost/host/protocol/jsontext"
)

// A trail's records are flat objects this host wrote (canonical JSON: no
// whitespace, plain strings and integers). Reading one with encoding/json
// validates the whole body again, reflects over the type and copies every
// raw member: for the agent records, whose output is most of a trail, a
// replay's largest cost after the signatures. decodeFlat reads the plain
// form directly and declines anything else, for which encoding/json, the
// reference, decides (FuzzFlatRecordsAgreeWithJSON holds the two equal).
// The other way, recordBody writes the agent and policy outcomes directly
// in canonical form, so that the trail writes their lines directly too
// (TestRecordBodiesAreCanonicalJSON).

// flatField is one member decodeFlat may fill: exactly one of the
// pointers is set.
type flatField struct {
	key string
	str *string
	i64 *int64
	u64 *uint64
	raw *json.RawMessage
}

// decodeFlat fills fields from obj, a valid JSON text (a record's body,
// parsed with its line), when it is an object whose every member is one of
// fields, each at most once, in the plain form the field takes: a string
// of printable ASCII without escapes, an integer of at most 18 digits
// (signed for i64), any value for a raw field (which then shares obj's
// memory). Otherwise it returns false, having maybe filled some fields:
// the caller decodes into a fresh value.
func decodeFlat(obj []byte, fields []flatField) bool {
	if len(obj) < 2 || obj[0] != '{' {
		return false
	}
	seen := uint32(0)
	return jsontext.EachMember(obj, func(key []byte, v json.RawMessage) bool {
		i := indexOfField(fields, key)
		if i < 0 || seen&(1<<i) != 0 {
			return false
		}
		seen |= 1 << i
		switch f := fields[i]; {
		case f.str != nil:
			s, ok := plainString(v)
			if !ok {
				return false
			}
			*f.str = s
		case f.i64 != nil:
			n, ok := plainInt(v, true)
			if !ok {
				return false
			}
			*f.i64 = n
		case f.u64 != nil:
			n, ok := plainInt(v, false)
			if !ok {
				return false
			}
			*f.u64 = uint64(n)
		case f.raw != nil:
			*f.raw = v
		}
		return true
	})
}

// indexOfField is the index of the field a quoted key names, or -1.
func indexOfField(fields []flatField, quotedKey []byte) int {
	for i := range fields {
		if jsontext.KeyIs(quotedKey, fields[i].key) {
			return i
		}
	}
	return -1
}

// plainString is the value of a JSON string of printable ASCII without
// escapes.
func plainString(v []byte) (string, bool) {
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

// plainInt is the value of a JSON integer of at most 18 digits (never
// overflowing), with a minus sign only when signed.
func plainInt(v []byte, signed bool) (int64, bool) {
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

func decodeAgentDone(b []byte) (protocol.Input, error) {
	var d protocol.AgentDone
	if decodeFlat(b, []flatField{{key: "at", i64: &d.At}, {key: "req", str: &d.ReqID}, {key: "output", raw: &d.Output},
		{key: "fault", str: &d.Fault}, {key: "gas_used", u64: &d.GasUsed}}) {
		return &d, nil
	}
	return decodeInput[protocol.AgentDone](b)
}

func decodePolicyDone(b []byte) (protocol.Input, error) {
	var d protocol.PolicyDone
	if decodeFlat(b, []flatField{{key: "at", i64: &d.At}, {key: "req", str: &d.ReqID}, {key: "result", raw: &d.Result},
		{key: "gas_used", u64: &d.GasUsed}, {key: "digest", str: &d.Digest}, {key: "error", str: &d.Err}}) {
		return &d, nil
	}
	return decodeInput[protocol.PolicyDone](b)
}

func decodeTimerFired(b []byte) (protocol.Input, error) {
	var d protocol.TimerFired
	if decodeFlat(b, []flatField{{key: "at", i64: &d.At}, {key: "thread", str: &d.Thread}}) {
		return &d, nil
	}
	return decodeInput[protocol.TimerFired](b)
}

// decodeClock is a clock record's time.
func decodeClock(b []byte) (int64, error) {
	var c struct {
		At int64 `json:"at"`
	}
	if decodeFlat(b, []flatField{{key: "at", i64: &c.At}}) {
		return c.At, nil
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return 0, err
	}
	return c.At, nil
}

// recordBody is the body an input other than an envelope is recorded
// under: its encoding/json encoding, written directly in its canonical
// form for the agent and policy outcomes (most of a trail's lines), so
// that the trail need not canonicalise the whole line again
// (TestRecordBodiesAreCanonicalJSON holds the two equal).
func recordBody(in protocol.Input) json.RawMessage {
	switch d := in.(type) {
	case *protocol.AgentDone:
		if b, ok := appendAgentDone(nil, d); ok {
			return b
		}
	case *protocol.PolicyDone:
		if b, ok := appendPolicyDone(nil, d); ok {
			return b
		}
	}
	body, _ := json.Marshal(in)
	return body
}

// appendAgentDone writes d as the JCS of its encoding/json encoding when
// its parts are plain: strings of valid UTF-8, integers within 2^53, no
// plan answers; its output is canonicalised on its own.
func appendAgentDone(b []byte, d *protocol.AgentDone) ([]byte, bool) {
	output, ok := canonicalRaw(d.Output)
	if !ok || len(d.PlanAnswers) > 0 || !safeInt(d.At) || d.GasUsed > envelope.MaxSafeInteger ||
		!utf8.ValidString(d.Fault) || !utf8.ValidString(d.ReqID) {
		return nil, false
	}
	b = append(b, `{"at":`...)
	b = strconv.AppendInt(b, d.At, 10)
	b = append(b, `,"fault":`...)
	b = envelope.AppendJCSString(b, d.Fault)
	b = append(b, `,"gas_used":`...)
	b = strconv.AppendUint(b, d.GasUsed, 10)
	b = append(b, `,"output":`...)
	b = append(b, output...)
	b = append(b, `,"req":`...)
	b = envelope.AppendJCSString(b, d.ReqID)
	return append(b, '}'), true
}

// appendPolicyDone is appendAgentDone for a policy outcome.
func appendPolicyDone(b []byte, d *protocol.PolicyDone) ([]byte, bool) {
	result, ok := canonicalRaw(d.Result)
	if !ok || !safeInt(d.At) || d.GasUsed > envelope.MaxSafeInteger || !utf8.ValidString(d.Digest) ||
		!utf8.ValidString(d.Err) || !utf8.ValidString(d.ReqID) {
		return nil, false
	}
	b = append(b, `{"at":`...)
	b = strconv.AppendInt(b, d.At, 10)
	b = append(b, `,"digest":`...)
	b = envelope.AppendJCSString(b, d.Digest)
	b = append(b, `,"error":`...)
	b = envelope.AppendJCSString(b, d.Err)
	b = append(b, `,"gas_used":`...)
	b = strconv.AppendUint(b, d.GasUsed, 10)
	b = append(b, `,"req":`...)
	b = envelope.AppendJCSString(b, d.ReqID)
	b = append(b, `,"result":`...)
	b = append(b, result...)
	return append(b, '}'), true
}

// canonicalRaw is a raw member's canonical text: null when empty (as
// encoding/json writes a nil RawMessage), the text itself when canonical,
// else its jcs.Transform; false when that fails (the slow path then says
// what encoding/json says).
func canonicalRaw(raw json.RawMessage) ([]byte, bool) {
	if len(raw) == 0 {
		return []byte("null"), true
	}
	if n, ok := envelope.ScanCanonicalValue(raw); ok && n == len(raw) {
		return raw, true
	}
	if !json.Valid(raw) {
		return nil, false
	}
	canon, err := jcs.Transform(raw)
	return canon, err == nil
}

func safeInt(n int64) bool { return n >= -envelope.MaxSafeInteger && n <= envelope.MaxSafeInteger }
