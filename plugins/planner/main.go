package main

import (
	"encoding/json"

	"github.com/canswarm/swarmhost/abi"
	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/sdk"
)

type planner struct{}

func (planner) Describe() abi.Manifest {
	return abi.Manifest{Name: "planner", Version: "1.0.0", Roles: []string{"planner"},
		Capabilities: []string{"classify"}, Verbs: []string{"NEED", "FINALIZE"}}
}

func op(v map[string]any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

func (planner) Handle(in *sdk.Input) (*abi.AgentOutput, error) {
	switch in.Envelope.Verb {
	case envelope.VerbNeed:
		if in.Thread.Epoch > 1 {
			return nil, nil // the task exists since epoch 1
		}
		var n struct {
			Capability string          `json:"capability"`
			Input      json.RawMessage `json:"input"`
		}
		if err := in.Payload(&n); err != nil {
			return nil, err
		}
		var items []json.RawMessage
		json.Unmarshal(n.Input, &items)
		task := in.Envelope.ID
		return &abi.AgentOutput{PlanOps: []json.RawMessage{
			op(map[string]any{"op": "ADD_TASK", "task": task, "spec": map[string]any{"capability": n.Capability, "items": len(items)}}),
			op(map[string]any{"op": "LINK", "task": task, "need": in.Envelope.ID}),
		}}, nil
	case envelope.VerbFinalize:
		var f struct {
			Result string `json:"result"`
		}
		if err := in.Payload(&f); err != nil {
			return nil, err
		}
		task := in.Envelope.ThreadID
		ops := []json.RawMessage{op(map[string]any{"op": "STATE", "task": task, "state": "final"})}
		if envelope.IsRef(f.Result) {
			ops = append(ops, op(map[string]any{"op": "PRODUCES", "task": task, "ref": f.Result}))
		}
		return &abi.AgentOutput{PlanOps: ops}, nil
	}
	return nil, nil
}

func init() { sdk.Register(planner{}) }

func main() {}
