package main

import (
	"bytes"
	"fmt"

	"github.com/canswarm/swarmhost/abi"
	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/sdk"
)

type echo struct{}

func (echo) Describe() abi.Manifest {
	return abi.Manifest{Name: "echo", Version: "1.0.0", Roles: []string{"worker"},
		Capabilities: []string{"echo"}, Verbs: []string{"NEED"}}
}

func (echo) Handle(in *sdk.Input) (*abi.AgentOutput, error) {
	ref, err := sdk.CASPut(in.Envelope.Payload)
	if err != nil {
		return nil, err
	}
	back, err := sdk.CASGet(ref)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(back, in.Envelope.Payload) {
		return nil, fmt.Errorf("the CAS gave back other bytes for %s", ref)
	}
	sdk.Log(abi.LogInfo, "echo %s %s -> %s", in.Envelope.Verb, in.Envelope.ID, ref)
	act, err := sdk.Action(envelope.VerbUpdatePlan, map[string]any{"ops": []any{
		map[string]any{"op": "ANNOTATE", "task": in.Envelope.ID, "key": "echo", "value": ref},
	}}, ref)
	if err != nil {
		return nil, err
	}
	return &abi.AgentOutput{Actions: []abi.Action{act}}, nil
}

func init() { sdk.Register(echo{}) }

func main() {}
