package protocol

import (
	"encoding/json"

	"github.com/canswarm/swarmhost/abi"
	"github.com/canswarm/swarmhost/host/protocol/jsontext"
)

// decodeAgentOutput decodes an agent's output as json.Unmarshal into an
// abi.AgentOutput does, which stays the reference: the plain form every
// agent writes (the keys as named, each once, strings of printable ASCII
// without escapes, no null) is read directly, sharing raw's memory for
// the payloads and plan ops; anything else goes to encoding/json, whose
// error names what is wrong. FuzzAgentOutputAgreesWithJSON holds the two
// equal. An agent output is stepped once per agent call, a third of a
// trail's inputs.
func decodeAgentOutput(raw []byte) (abi.AgentOutput, error) {
	var out abi.AgentOutput
	if json.Valid(raw) && plainAgentOutput(raw, &out) {
		return out, nil
	}
	out = abi.AgentOutput{}
	err := json.Unmarshal(raw, &out)
	return out, err
}

// plainAgentOutput fills out from raw, a valid JSON text, when it is in
// the plain form; otherwise it returns false, out maybe partly filled.
func plainAgentOutput(raw []byte, out *abi.AgentOutput) bool {
	raw = trimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return false
	}
	var seen [3]bool
	return jsontext.EachMember(raw, func(key []byte, v json.RawMessage) bool {
		switch {
		case jsontext.KeyIs(key, "actions") && !seen[0]:
			seen[0] = true
			return plainActions(v, out)
		case jsontext.KeyIs(key, "plan_ops") && !seen[1]:
			seen[1] = true
			if v[0] != '[' {
				return false
			}
			out.PlanOps = []json.RawMessage{}
			return jsontext.EachElement(v, func(op json.RawMessage) bool {
				if op[0] == 'n' {
					return false
				}
				out.PlanOps = append(out.PlanOps, op)
				return true
			})
		case jsontext.KeyIs(key, "error") && !seen[2]:
			seen[2] = true
			s, ok := jsontext.PlainString(v)
			out.Error = s
			return ok
		}
		return false
	})
}

func plainActions(v json.RawMessage, out *abi.AgentOutput) bool {
	if v[0] != '[' {
		return false
	}
	out.Actions = []abi.Action{}
	return jsontext.EachElement(v, func(elem json.RawMessage) bool {
		if elem[0] != '{' {
			return false
		}
		var a abi.Action
		var seen [4]bool
		ok := jsontext.EachMember(elem, func(key []byte, v json.RawMessage) bool {
			switch {
			case jsontext.KeyIs(key, "verb") && !seen[0]:
				seen[0] = true
				s, ok := jsontext.PlainString(v)
				a.Verb = s
				return ok
			case jsontext.KeyIs(key, "payload") && !seen[1]:
				seen[1] = true
				a.Payload = v
				return v[0] != 'n'
			case jsontext.KeyIs(key, "content_refs") && !seen[2]:
				seen[2] = true
				if v[0] != '[' {
					return false
				}
				a.ContentRefs = []string{}
				return jsontext.EachElement(v, func(ref json.RawMessage) bool {
					s, ok := jsontext.PlainString(ref)
					a.ContentRefs = append(a.ContentRefs, s)
					return ok
				})
			case jsontext.KeyIs(key, "policy_eval_digest") && !seen[3]:
				seen[3] = true
				s, ok := jsontext.PlainString(v)
				a.PolicyEvalDigest = s
				return ok
			}
			return false
		})
		out.Actions = append(out.Actions, a)
		return ok
	})
}

// trimSpace drops JSON whitespace around a text.
func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
