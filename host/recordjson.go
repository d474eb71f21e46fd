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
// replay's largest cost after the signatures. jsontext.DecodeFlat reads the plain
// form directly and declines anything else, for which encoding/json, the
// reference, decides (FuzzFlatRecordsAgreeWithJSON holds the two equal).
// The other way, recordBody writes the agent and policy outcomes directly
// in canonical form, so that the trail writes their lines directly too
// (TestRecordBodiesAreCanonicalJSON).

func decodeAgentDone(b []byte) (protocol.Input, error) {
	var d protocol.AgentDone
	if jsontext.DecodeFlat(b, []jsontext.Field{{Key: "at", I64: &d.At}, {Key: "req", Str: &d.ReqID}, {Key: "output", Raw: &d.Output},
		{Key: "fault", Str: &d.Fault}, {Key: "gas_used", U64: &d.GasUsed}}) {
		return &d, nil
	}
	return decodeInput[protocol.AgentDone](b)
}

// decodeApplied reads a consensus record, its command included.
func decodeApplied(b []byte) (protocol.Input, error) {
	if a, ok := flatApplied(b); ok {
		return a, nil
	}
	return decodeInput[protocol.Applied](b)
}

// flatApplied is decodeApplied's flat path.
func flatApplied(b []byte) (*protocol.Applied, bool) {
	var a protocol.Applied
	var cmd json.RawMessage
	c := &a.Cmd
	ok := jsontext.DecodeFlat(b, []jsontext.Field{{Key: "at", I64: &a.At}, {Key: "index", U64: &a.Index}, {Key: "command", Raw: &cmd},
		{Key: "fence", U64: &a.Fence}, {Key: "next_epoch", U64: &a.NextEpoch}, {Key: "abandoned", Bool: &a.Abandoned}}) &&
		cmd != nil && jsontext.DecodeFlat(cmd, []jsontext.Field{{Key: "op", Str: &c.Op}, {Key: "need", Str: &c.Need},
		{Key: "epoch", U64: &c.Epoch}, {Key: "proposal", Str: &c.Proposal}, {Key: "worker_pk", Str: &c.WorkerPK},
		{Key: "verifiers", Strs: &c.Verifiers}, {Key: "decide_id", Str: &c.DecideID}, {Key: "reason", Str: &c.Reason},
		{Key: "max_epochs", U64: &c.MaxEpochs}, {Key: "commit", Str: &c.Commit}, {Key: "finalize_id", Str: &c.FinalizeID}})
	return &a, ok
}

func decodePolicyDone(b []byte) (protocol.Input, error) {
	var d protocol.PolicyDone
	if jsontext.DecodeFlat(b, []jsontext.Field{{Key: "at", I64: &d.At}, {Key: "req", Str: &d.ReqID}, {Key: "result", Raw: &d.Result},
		{Key: "gas_used", U64: &d.GasUsed}, {Key: "digest", Str: &d.Digest}, {Key: "error", Str: &d.Err}}) {
		return &d, nil
	}
	return decodeInput[protocol.PolicyDone](b)
}

func decodeTimerFired(b []byte) (protocol.Input, error) {
	var d protocol.TimerFired
	if jsontext.DecodeFlat(b, []jsontext.Field{{Key: "at", I64: &d.At}, {Key: "thread", Str: &d.Thread}}) {
		return &d, nil
	}
	return decodeInput[protocol.TimerFired](b)
}

// decodeClock is a clock record's time.
func decodeClock(b []byte) (int64, error) {
	var c struct {
		At int64 `json:"at"`
	}
	if jsontext.DecodeFlat(b, []jsontext.Field{{Key: "at", I64: &c.At}}) {
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
