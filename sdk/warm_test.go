package sdk

import (
	"encoding/json"
	"testing"

	"github.com/canswarm/swarmhost/abi"
	"github.com/canswarm/swarmhost/abi/envelope"
)

// The warm-up run in _initialize goes the whole way a call goes: the
// sample input decodes and the agent's output, with its action, encodes.
// (If it stopped at an error, the codecs of the successful path would be
// built in every call again.)
func TestWarmUpTakesTheWholePath(t *testing.T) {
	var out abi.AgentOutput
	if err := json.Unmarshal(warmUp(), &out); err != nil {
		t.Fatal(err)
	}
	if out.Error != "" || len(out.Actions) != 1 || out.Actions[0].Verb != string(envelope.VerbPropose) {
		t.Fatalf("warm-up output %+v", out)
	}
}
