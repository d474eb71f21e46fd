package sdk_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/canswarm/swarmhost/abi"
	"github.com/canswarm/swarmhost/sdk"
)

type failing struct{ upper }

func (failing) Handle(*sdk.Input) (*abi.AgentOutput, error) { return nil, errors.New("cannot do it") }

func TestHandleErrorsBecomeOutputErrors(t *testing.T) {
	cases := []struct {
		name  string
		agent sdk.Agent
		input string
		want  string
	}{
		{"agent error", failing{}, `{"envelope":` + validEnvelope(t) + `,"self_pk":"","thread":{}}`, "cannot do it"},
		{"input not JSON", upper{}, `{`, "agent input is not JSON"},
		{"envelope malformed", upper{}, `{"envelope":{"v":1},"self_pk":"","thread":{}}`, "malformed"},
		{"no agent", nil, `{}`, "no agent registered"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out abi.AgentOutput
			if err := json.Unmarshal(sdk.HandleJSON(c.agent, []byte(c.input)), &out); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.Error, c.want) || out.Actions == nil || len(out.Actions) != 0 {
				t.Fatalf("output %+v, want an error mentioning %q and no actions", out, c.want)
			}
		})
	}
}

func TestNoOutput(t *testing.T) {
	in := `{"envelope":` + validEnvelope(t) + `,"self_pk":"","thread":{}}` // capability "x": not for upper
	if out := sdk.HandleJSON(upper{}, []byte(in)); out != nil {
		t.Fatalf("want no output, got %s", out)
	}
}

func TestNoHostOutsideWasm(t *testing.T) {
	sdk.UseHost(newMemHost())
	if _, err := sdk.PolicyEval("verify", map[string]any{}); !sdk.IsCode(err, abi.ErrUnavailable) {
		t.Fatalf("got %v", err)
	}
	if _, err := sdk.CASGet("sha256:" + strings.Repeat("0", 64)); !sdk.IsCode(err, abi.ErrNotFound) {
		t.Fatalf("got %v", err)
	}
}

func validEnvelope(t *testing.T) string {
	t.Helper()
	return `{"capability":"","content_refs":[],"id":"sha256:bbd9da4f5a7e0088f6d04f1ee1bd5ec941e91ba78153ca8bba9f3a6e5fddfb7d","lamport":1,"payload":{"capability":"classify","input":["a","b"],"k":1,"n":1,"nonce":"v1"},"payload_hash":"sha256:0bf3f51d6da66792798b96b34026cc6fbe36a497508954f071f30cad2e26aef4","policy_capsule_hash":"","policy_eval_digest":"","sender_pk":"09b43880ba16c241aebc084968d79008a6b45cf446b2a1c09fd1b668a069662c","sig":"c62f460d46ba2cc6e511c324775fe11bf1b07d773f0c2437a6b2eeb62a9864deaf6f191ccd5a1cfc84002f2ce744aa720b9fbd88c076c128bfb8a5d9b2c11e0e","thread_id":"","v":1,"verb":"NEED"}`
}
