package protocol

import (
	"bytes"
	"encoding/json"

	"github.com/canswarm/swarmhost/abi"
	"github.com/canswarm/swarmhost/host/protocol/jsontext"
)

// decodeAgentOutput decodes an agent's output as json.Unmarshal into an
// abi.AgentOutput does, which stays the reference: the plain form every
// agent writes (the keys as named, each once, strings of printable ASCII
// without escapes) is read directly, sharing raw's memory for
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
	raw = bytes.TrimSpace(raw) // JSON whitespace: the text is valid
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
		var a abi.Action
		ok := jsontext.DecodeFlat(elem, []jsontext.Field{{Key: "verb", Str: &a.Verb}, {Key: "payload", Raw: &a.Payload},
			{Key: "content_refs", Strs: &a.ContentRefs}, {Key: "policy_eval_digest", Str: &a.PolicyEvalDigest}})
		out.Actions = append(out.Actions, a)
		return ok
	})
}
