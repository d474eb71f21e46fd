package sdk

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/canswarm/swarmhost/abi"
)

// The form swarmhost writes is read directly, and gives what json.Unmarshal
// gives; other forms (white space, another member order, escapes, a
// payload that is not canonical) are left to json.Unmarshal.
func TestDecodeInputDirect(t *testing.T) {
	env := `{"capability":"sha256:aa","content_refs":[],"id":"sha256:bb","lamport":3,"payload":{"capability":"classify","input":["a","b"]},"payload_hash":"sha256:cc","policy_capsule_hash":"","policy_eval_digest":"","sender_pk":"dd","sig":"ee","thread_id":"","v":1,"verb":"NEED"}`
	for _, c := range []struct {
		name, input string
		direct      bool
	}{
		{"minimal", `{"envelope":` + env + `,"self_pk":"ab","thread":{"state":"OPEN","epoch":1,"fence":0}}`, true},
		{"every member", `{"envelope":` + env + `,"self_pk":"ab","thread":{"state":"DECIDED","epoch":2,"fence":17,"need":{"capability":"classify","input":["a"]},"need_refs":["sha256:x","sha256:y"],"decide":{"fence":17,"worker_pk":"w"}}}`, true},
		{"empty refs", `{"envelope":` + env + `,"self_pk":"ab","thread":{"state":"OPEN","epoch":1,"fence":0,"need_refs":[]}}`, true},
		{"null need", `{"envelope":` + env + `,"self_pk":"ab","thread":{"state":"OPEN","epoch":1,"fence":0,"need":null}}`, true},
		{"unicode", `{"envelope":` + env + `,"self_pk":"é","thread":{"state":"ÖPEN","epoch":1,"fence":0}}`, true},
		{"white space", `{"envelope": ` + env + `,"self_pk":"ab","thread":{"state":"OPEN","epoch":1,"fence":0}}`, false},
		{"member order", `{"self_pk":"ab","envelope":` + env + `,"thread":{"state":"OPEN","epoch":1,"fence":0}}`, false},
		{"escape", `{"envelope":` + env + `,"self_pk":"a\u0062","thread":{"state":"OPEN","epoch":1,"fence":0}}`, false},
		{"not canonical", `{"envelope":{"v":1,"id":"x"},"self_pk":"ab","thread":{"state":"OPEN","epoch":1,"fence":0}}`, false},
		{"leading zero", `{"envelope":` + env + `,"self_pk":"ab","thread":{"state":"OPEN","epoch":01,"fence":0}}`, false},
		{"unknown member", `{"envelope":` + env + `,"self_pk":"ab","thread":{"state":"OPEN","epoch":1,"fence":0},"x":1}`, false},
		{"trailing", `{"envelope":` + env + `,"self_pk":"ab","thread":{"state":"OPEN","epoch":1,"fence":0}} `, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, ok := decodeInputDirect([]byte(c.input))
			if ok != c.direct {
				t.Fatalf("read directly: %v, want %v", ok, c.direct)
			}
			var want abi.AgentInput
			if err := json.Unmarshal([]byte(c.input), &want); err != nil {
				if ok {
					t.Fatalf("read directly, but json.Unmarshal fails: %v", err)
				}
				return
			}
			if ok && !reflect.DeepEqual(got, want) {
				t.Fatalf("directly: %+v\njson.Unmarshal: %+v", got, want)
			}
			if all, err := decodeInput([]byte(c.input)); err != nil || !reflect.DeepEqual(all, want) {
				t.Fatalf("decodeInput: %+v, %v; want %+v", all, err, want)
			}
		})
	}
}

// FuzzDecodeInputAgreesWithJSON: whatever the input, when the direct
// reading applies it gives exactly what json.Unmarshal gives.
func FuzzDecodeInputAgreesWithJSON(f *testing.F) {
	env := `{"capability":"c","id":"i","lamport":3,"payload":{"a":[1,"x",true,null,{"b":-2.5}]},"sig":"s","v":1,"verb":"NEED"}`
	f.Add(`{"envelope":` + env + `,"self_pk":"ab","thread":{"state":"OPEN","epoch":1,"fence":0}}`)
	f.Add(`{"envelope":` + env + `,"self_pk":"ab","thread":{"state":"DECIDED","epoch":2,"fence":17,"need":{"x":"y"},"need_refs":["r1","r2"],"decide":{"fence":17}}}`)
	f.Add(`{"envelope":{},"self_pk":"","thread":{"state":"","epoch":18446744073709551615,"fence":0,"need":"s","need_refs":[],"decide":[]}}`)
	f.Fuzz(func(t *testing.T, input string) {
		got, ok := decodeInputDirect([]byte(input))
		if !ok {
			return
		}
		var want abi.AgentInput
		if err := json.Unmarshal([]byte(input), &want); err != nil {
			t.Fatalf("read directly as %+v, but json.Unmarshal fails: %v", got, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("directly: %#v\njson.Unmarshal: %#v", got, want)
		}
	})
}
