package sdk

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"github.com/canswarm/swarmhost/abi"
	"github.com/canswarm/swarmhost/abi/envelope"
)

// decodeInput is json.Unmarshal of an AgentInput. Inside WebAssembly,
// encoding/json's validation and skipping cost most of a small agent's
// call (it scans the whole input byte by byte, then the envelope and the
// NEED's payload again, through a state machine); the form swarmhost
// writes (host/protocol agentinput.go) is read here directly instead: the
// members in the order of the struct, no white space, the envelope and the
// raw values in canonical JSON (checked by envelope.ScanCanonicalValue),
// plain strings and integers. Anything else, from any host, takes
// json.Unmarshal; FuzzDecodeInputAgreesWithJSON checks that the two agree
// whenever the direct reading applies.
func decodeInput(input []byte) (abi.AgentInput, error) {
	if in, ok := decodeInputDirect(input); ok {
		return in, nil
	}
	var raw abi.AgentInput
	err := json.Unmarshal(input, &raw)
	return raw, err
}

// inputReader reads the fixed form of decodeInput; ok turns false at the
// first byte that is not that form.
type inputReader struct {
	b   []byte
	pos int
	ok  bool
}

// lit consumes s.
func (r *inputReader) lit(s string) {
	if r.ok && bytes.HasPrefix(r.b[r.pos:], []byte(s)) {
		r.pos += len(s)
		return
	}
	r.ok = false
}

// next reports whether s comes next (consuming it if so).
func (r *inputReader) next(s string) bool {
	if r.ok && bytes.HasPrefix(r.b[r.pos:], []byte(s)) {
		r.pos += len(s)
		return true
	}
	return false
}

// canonical consumes a canonical JSON value and returns a copy of its text
// (json.Unmarshal copies a RawMessage too).
func (r *inputReader) canonical() json.RawMessage {
	if !r.ok {
		return nil
	}
	n, ok := envelope.ScanCanonicalValue(r.b[r.pos:])
	if !ok {
		r.ok = false
		return nil
	}
	v := append(json.RawMessage(nil), r.b[r.pos:r.pos+n]...)
	r.pos += n
	return v
}

// str consumes a string without escapes or control characters, in valid
// UTF-8 (json.Unmarshal would change nothing in it).
func (r *inputReader) str() string {
	if !r.ok || r.pos >= len(r.b) || r.b[r.pos] != '"' {
		r.ok = false
		return ""
	}
	start := r.pos + 1
	for i := start; i < len(r.b); i++ {
		switch c := r.b[i]; {
		case c == '"':
			s := r.b[start:i]
			if !utf8.Valid(s) {
				r.ok = false
				return ""
			}
			r.pos = i + 1
			return string(s)
		case c == '\\' || c < 0x20:
			r.ok = false
			return ""
		}
	}
	r.ok = false
	return ""
}

// uint consumes an unsigned integer in its shortest form.
func (r *inputReader) uint() uint64 {
	if !r.ok {
		return 0
	}
	i := r.pos
	for i < len(r.b) && '0' <= r.b[i] && r.b[i] <= '9' {
		i++
	}
	digits := r.b[r.pos:i]
	if len(digits) == 0 || (len(digits) > 1 && digits[0] == '0') {
		r.ok = false
		return 0
	}
	v, err := strconv.ParseUint(string(digits), 10, 64)
	if err != nil {
		r.ok = false
		return 0
	}
	r.pos = i
	return v
}

func decodeInputDirect(b []byte) (abi.AgentInput, bool) {
	var in abi.AgentInput
	r := &inputReader{b: b, ok: true}
	r.lit(`{"envelope":`)
	in.Envelope = r.canonical()
	r.lit(`,"self_pk":`)
	in.SelfPK = r.str()
	r.lit(`,"thread":{"state":`)
	in.Thread.State = r.str()
	r.lit(`,"epoch":`)
	in.Thread.Epoch = r.uint()
	r.lit(`,"fence":`)
	in.Thread.Fence = r.uint()
	if r.next(`,"need":`) {
		in.Thread.Need = r.canonical()
	}
	if r.next(`,"need_refs":[`) {
		in.Thread.NeedRefs = []string{}
		for r.ok && !r.next(`]`) {
			if len(in.Thread.NeedRefs) > 0 {
				r.lit(`,`)
			}
			in.Thread.NeedRefs = append(in.Thread.NeedRefs, r.str())
		}
	}
	if r.next(`,"decide":`) {
		in.Thread.Decide = r.canonical()
	}
	r.lit(`}}`)
	if !r.ok || r.pos != len(b) {
		return abi.AgentInput{}, false
	}
	return in, true
}
