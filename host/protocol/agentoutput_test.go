package protocol

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/canswarm/swarmhost/abi"
)

// The plain-form reader of agent outputs gives what encoding/json gives,
// the reference, on every text: the same AgentOutput, or an error where
// it errs (then the same one, from encoding/json itself).
func FuzzAgentOutputAgreesWithJSON(f *testing.F) {
	for _, s := range []string{
		`{"actions":[{"verb":"PROPOSE","payload":{"epoch":1,"bid":{"price":1}}}]}`,
		`{"actions":[{"verb":"ATTEST","payload":{"a":1},"content_refs":["sha256:ab"],"policy_eval_digest":"sha256:cd"}],"plan_ops":[{"op":"ADD_TASK"}]}`,
		`{"actions":[],"plan_ops":[]}`, `{"error":"no"}`, ` {"actions" : [ {"verb":"X","payload": [1, 2] } ] } `,
		`{"actions":null}`, `{"Actions":[]}`, `{"actions":[{"verb":"A","payload":null}]}`, `{"actions":[1]}`,
		`{"actions":[{"verb":"A\u0042"}]}`, `{"\u0061ctions":[{"verb":"A","verb":"B"}]}`, `{"error":"a","error":"b"}`,
		`{"plan_ops":[null,{}]}`, `{"x":1}`, `[]`, `"s"`, `{`, `{"actions":[{"content_refs":["a",1]}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var want abi.AgentOutput
		wantErr := json.Unmarshal(raw, &want)
		got, err := decodeAgentOutput(raw)
		if (err == nil) != (wantErr == nil) || (err != nil && err.Error() != wantErr.Error()) {
			t.Fatalf("%q: error %v, encoding/json says %v", raw, err, wantErr)
		}
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: got %#v, encoding/json gives %#v", raw, got, want)
		}
	})
}

// The plain form is what the fast path takes: it must take the outputs
// agents write (else the test above passes by always falling back).
func TestPlainAgentOutputTakesWhatAgentsWrite(t *testing.T) {
	for _, s := range []string{
		`{"actions":[{"verb":"PROPOSE","payload":{"epoch":1,"bid":{"price":1}}}]}`,
		`{"actions":[{"content_refs":["sha256:ab"],"payload":{"a":1},"policy_eval_digest":"sha256:cd","verb":"ATTEST"}],"plan_ops":[{"op":"ADD_TASK"}]}`,
		`{"actions":[]}`, `{"error":"the input is not a list"}`,
	} {
		var out abi.AgentOutput
		if !plainAgentOutput([]byte(s), &out) {
			t.Errorf("%s: not taken as plain", s)
		}
	}
}
