// Command wrongbid is a test fixture: a classify worker whose every bid
// names an epoch five past the NEED's, so that its own host rejects each
// (wrong_state) when it steps it back.
package main

import (
	"github.com/canswarm/swarmhost/abi"
	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/sdk"
)

type wrongbid struct{}

func (wrongbid) Describe() abi.Manifest {
	return abi.Manifest{Name: "wrongbid", Version: "1.0.0", Roles: []string{"worker"},
		Capabilities: []string{"classify"}, Verbs: []string{"NEED"}}
}

func (wrongbid) Handle(in *sdk.Input) (*abi.AgentOutput, error) {
	if in.Envelope.Verb != envelope.VerbNeed {
		return nil, nil
	}
	act, err := sdk.Action(envelope.VerbPropose, map[string]any{
		"epoch": max(in.Thread.Epoch, 1) + 5, "bid": map[string]any{"price": 1, "eta_ms": 1}})
	if err != nil {
		return nil, err
	}
	return &abi.AgentOutput{Actions: []abi.Action{act}}, nil
}

func init() { sdk.Register(wrongbid{}) }

func main() {}
