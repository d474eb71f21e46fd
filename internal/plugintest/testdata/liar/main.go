// Command liar is a test fixture: a verifier that attests pass on every
// COMMIT it is chosen for with a digest it made up.
package main

import (
	"encoding/json"
	"slices"

	"github.com/canswarm/swarmhost/abi"
	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/sdk"
)

type liar struct{}

func (liar) Describe() abi.Manifest {
	return abi.Manifest{Name: "liar", Version: "1.0.0", Roles: []string{"verifier"},
		Capabilities: []string{"classify"}, Verbs: []string{"COMMIT"}}
}

func (liar) Handle(in *sdk.Input) (*abi.AgentOutput, error) {
	var d struct {
		Verifiers []string `json:"verifiers"`
	}
	json.Unmarshal(in.Thread.Decide, &d)
	if !slices.Contains(d.Verifiers, in.SelfPK) {
		return nil, nil
	}
	var c struct {
		Epoch uint64 `json:"epoch"`
	}
	if err := in.Payload(&c); err != nil {
		return nil, err
	}
	act, err := sdk.Action(envelope.VerbAttest, map[string]any{"epoch": c.Epoch, "commit": in.Envelope.ID, "verdict": "pass"})
	if err != nil {
		return nil, err
	}
	act.PolicyEvalDigest = envelope.HashRef([]byte("a digest nobody computed: " + in.Envelope.ID))
	return &abi.AgentOutput{Actions: []abi.Action{act}}, nil
}

func init() { sdk.Register(liar{}) }

func main() {}
