package host

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/gowebpki/jcs"
	"pgregory.net/rapid"

	"github.com/canswarm/swarmhost/host/protocol"
	"github.com/canswarm/swarmhost/internal/rapidjson"
)

// The flat readers of trail records give what encoding/json gives, on
// every valid JSON text: the same value when they decode one, and the
// reference's own answer (a value or an error) when they decline.
func FuzzFlatRecordsAgreeWithJSON(f *testing.F) {
	for _, s := range []string{
		`{"at":1795727599022,"fault":"","gas_used":1058827,"output":{"actions":[{"payload":{"bid":{"eta_ms":220,"price":2},"epoch":1},"verb":"PROPOSE"}]},"req":"agent-3"}`,
		`{"at":1795727599326,"fault":"","gas_used":1756946,"output":null,"req":"agent-10"}`,
		`{"at":1,"fault":"trap: out of gas","gas_used":0,"output":null,"plan_answers":[{"request":{},"answer":[]}],"req":"agent-1"}`,
		`{"at":1795727599019,"digest":"sha256:69c3","error":"","gas_used":224436,"req":"policy-1","result":true}`,
		`{"at":1795727599319,"thread":"sha256:ae3d4a29f1a6c0a7f8c45af1601e8d73915ac61c8729f1627c64d435d4e2ba43"}`,
		`{"at":1795727598935}`,
		`{"at":-0,"req":"a\u0062","fault":"caf\u00e9 é","gas_used":18446744073709551615}`,
		`{"At":5,"at":6,"req":null,"output":"x"}`,
		`{"at":1.5e3,"gas_used":-1}`,
		`{ "at" : 12 , "req" : "x" }`,
		`{"abandoned":false,"at":1795727599400,"command":{"decide_id":"sha256:0c1d","epoch":1,"need":"sha256:ab12","op":"DECIDE","proposal":"sha256:99","verifiers":["aa","bb"],"worker_pk":"cc"},"fence":7,"index":7,"next_epoch":0}`,
		`{"abandoned":true,"at":1,"command":{"epoch":3,"max_epochs":3,"need":"sha256:ab12","op":"RELEASE","reason":"no_bids"},"fence":0,"index":9,"next_epoch":0}`,
		`{"command":{"verifiers":[]},"abandoned":null}`, `{"command":null}`, `{"command":{"verifiers":["a",1]}}`,
		`[1,2]`, `"at"`, `null`, `{}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) {
			return // record bodies are parsed with their line first
		}
		agree(t, "AgentDone", b, decodeAgentDone, decodeInput[protocol.AgentDone])
		agree(t, "PolicyDone", b, decodePolicyDone, decodeInput[protocol.PolicyDone])
		agree(t, "TimerFired", b, decodeTimerFired, decodeInput[protocol.TimerFired])
		agree(t, "Applied", b, decodeApplied, decodeInput[protocol.Applied])
		got, err := decodeClock(b)
		var ref struct {
			At int64 `json:"at"`
		}
		refErr := json.Unmarshal(b, &ref)
		if (err == nil) != (refErr == nil) || (err == nil && got != ref.At) {
			t.Fatalf("clock %s: got %d, %v; encoding/json %d, %v", b, got, err, ref.At, refErr)
		}
	})
}

func agree(t *testing.T, what string, b []byte, flat, reference func([]byte) (protocol.Input, error)) {
	t.Helper()
	got, err := flat(b)
	want, refErr := reference(b)
	if (err == nil) != (refErr == nil) {
		t.Fatalf("%s %s: error %v, encoding/json's %v", what, b, err, refErr)
	}
	if err == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%s %s:\n got %+v\nwant %+v", what, b, got, want)
	}
}

// The agent and policy outcomes written directly are byte for byte the JCS
// of their encoding/json encoding, the line the trail would write from it.
func TestRecordBodiesAreCanonicalJSON(t *testing.T) {
	text := rapid.OneOf(rapid.String(), rapid.SampledFrom([]string{"", "agent-3", "policy-1", "trap: out of gas", "<&>\u2028", "caf\u00e9"}),
		rapid.Custom(func(t *rapid.T) string { return string(rapid.SliceOf(rapid.Byte()).Draw(t, "bytes")) }))
	integer := rapid.OneOf(rapid.Int64Range(-1<<53, 1<<53), rapid.Int64())
	raw := rapidjson.Text()
	check := func(t *rapid.T, in protocol.Input, direct []byte, ok bool) {
		if !ok {
			return
		}
		enc, err := json.Marshal(in)
		if err != nil {
			t.Fatalf("encoding/json refuses what was written directly (%v): %s", err, direct)
		}
		want, err := jcs.Transform(enc)
		if err != nil || !bytes.Equal(direct, want) {
			t.Fatalf("direct:\n%s\nJCS (%v):\n%s", direct, err, want)
		}
	}
	rapid.Check(t, func(t *rapid.T) {
		a := &protocol.AgentDone{At: integer.Draw(t, "at"), ReqID: text.Draw(t, "req"), Output: raw.Draw(t, "output"),
			Fault: text.Draw(t, "fault"), GasUsed: uint64(rapid.Int64Range(0, 1<<62).Draw(t, "gas"))}
		b, ok := appendAgentDone(nil, a)
		check(t, a, b, ok)
		p := &protocol.PolicyDone{At: integer.Draw(t, "at"), ReqID: text.Draw(t, "req"), Result: raw.Draw(t, "result"),
			GasUsed: uint64(rapid.Int64Range(0, 1<<62).Draw(t, "gas")), Digest: text.Draw(t, "digest"), Err: text.Draw(t, "error")}
		b, ok = appendPolicyDone(nil, p)
		check(t, p, b, ok)
	})
}

// The flat path takes the consensus records a node writes (else the fuzz
// test above would pass by always falling back to encoding/json).
func TestFlatPathTakesConsensusRecords(t *testing.T) {
	for _, in := range []*protocol.Applied{
		{At: 1795727599400, Index: 7, Fence: 7, Cmd: protocol.Command{Op: "DECIDE", Need: "sha256:ab", Epoch: 1,
			Proposal: "sha256:99", WorkerPK: "cc", Verifiers: []string{"aa", "bb"}, DecideID: "sha256:0c"}},
		{At: 1, Index: 9, Abandoned: true, Cmd: protocol.Command{Op: "RELEASE", Need: "sha256:ab", Epoch: 3, Reason: "no_bids", MaxEpochs: 3}},
		{At: 2, Index: 10, Fence: 7, Cmd: protocol.Command{Op: "FINALIZE", Need: "sha256:ab", Epoch: 1, Commit: "sha256:cd", FinalizeID: "sha256:ef"}},
	} {
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		canon, _ := jcs.Transform(b)
		if _, ok := flatApplied(canon); !ok {
			t.Errorf("%s: the flat reader declines the record", canon)
		}
		got, err := decodeApplied(canon)
		if err != nil || !reflect.DeepEqual(got, in) {
			t.Errorf("%s: decoded %+v, %v", canon, got, err)
		}
	}
}
