package protocol

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/canswarm/swarmhost/abi"
)

// agentInputs encodes the abi.AgentInput an agent gets for an envelope:
// byte for byte what json.Marshal(abi.AgentInput{...}) gives (an agent's
// gas depends on its input's bytes, so replay must produce the same ones),
// with the parts every agent of the envelope shares encoded once, and the
// envelope and payloads, already canonical JSON, copied rather than
// re-compacted when json.Marshal would copy them unchanged.
type agentInputs struct {
	env  []byte // the envelope's encoding
	view []byte // the thread view's encoding
}

func newAgentInputs(wire []byte, v abi.ThreadView) agentInputs {
	return agentInputs{env: appendRawJSON(nil, wire), view: appendThreadView(nil, v)}
}

// forAgent is the input of the agent with public key pk.
func (x agentInputs) forAgent(pk string) []byte {
	b := make([]byte, 0, len(x.env)+len(x.view)+len(pk)+40)
	b = append(b, `{"envelope":`...)
	b = append(b, x.env...)
	b = append(b, `,"self_pk":`...)
	b = appendJSONString(b, pk)
	b = append(b, `,"thread":`...)
	b = append(b, x.view...)
	return append(b, '}')
}

// appendThreadView appends v's encoding as json.Marshal writes it (field
// order, omitempty), which TestAgentInputsMatchJSONMarshal checks.
func appendThreadView(b []byte, v abi.ThreadView) []byte {
	b = append(b, `{"state":`...)
	b = appendJSONString(b, v.State)
	b = append(b, `,"epoch":`...)
	b = strconv.AppendUint(b, v.Epoch, 10)
	b = append(b, `,"fence":`...)
	b = strconv.AppendUint(b, v.Fence, 10)
	if len(v.Need) > 0 {
		b = append(b, `,"need":`...)
		b = appendRawJSON(b, v.Need)
	}
	if len(v.NeedRefs) > 0 {
		b = append(b, `,"need_refs":[`...)
		for i, r := range v.NeedRefs {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, r)
		}
		b = append(b, ']')
	}
	if len(v.Decide) > 0 {
		b = append(b, `,"decide":`...)
		b = appendRawJSON(b, v.Decide)
	}
	return append(b, '}')
}

// appendRawJSON appends raw, compact JSON (every envelope's wire form and
// payload is canonical, the decision json.Marshal's), as json.Marshal
// encodes a json.RawMessage: it would compact it (no change) and escape <,
// >, & and U+2028/U+2029, so without those the bytes are copied, and
// otherwise json.Marshal does it.
func appendRawJSON(b, raw []byte) []byte {
	if len(raw) > 0 && !needsEscape(raw) {
		return append(b, raw...)
	}
	enc, err := json.Marshal(json.RawMessage(raw))
	if err != nil {
		return append(b, "null"...) // not reached for the core's own JSON
	}
	return append(b, enc...)
}

// needsEscape reports whether raw holds a byte json.Marshal escapes in a
// json.RawMessage: <, >, &, or the lead byte of U+2028/U+2029.
func needsEscape(raw []byte) bool {
	for _, c := range []byte{'<', '>', '&', 0xe2} {
		if bytes.IndexByte(raw, c) >= 0 {
			return true
		}
	}
	return false
}

// appendJSONString appends s quoted as json.Marshal quotes a string.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			enc, _ := json.Marshal(s)
			return append(b, enc...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
