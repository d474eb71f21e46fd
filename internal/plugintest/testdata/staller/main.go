// Command staller is a test fixture: a classify worker that bids cheaper
// than anyone and, once chosen, never claims the work.
package main

import (
	"github.com/canswarm/swarmhost/abi"
	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/sdk"
)

type staller struct{}

func (staller) Describe() abi.Manifest {
	return abi.Manifest{Name: "staller", Version: "1.0.0", Roles: []string{"worker"},
		Capabilities: []string{"classify"}, Verbs: []string{"NEED"}}
}

func (staller) Handle(in *sdk.Input) (*abi.AgentOutput, error) {
	if in.Envelope.Verb != envelope.VerbNeed {
		return nil, nil
	}
	act, err := sdk.Action(envelope.VerbPropose, map[string]any{
		"epoch": max(in.Thread.Epoch, 1), "bid": map[string]any{"price": 1, "eta_ms": 1}})
	if err != nil {
		return nil, err
	}
	return &abi.AgentOutput{Actions: []abi.Action{act}}, nil
}

func init() { sdk.Register(staller{}) }

func main() {}
