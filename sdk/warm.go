package sdk

import (
	"encoding/json"
	"strings"

	"github.com/canswarm/swarmhost/abi"
	"github.com/canswarm/swarmhost/abi/envelope"
)

// warmUp does once what every call does, on a sample: decodes an agent
// input (envelope, payload) and encodes an output with an action.
// encoding/json builds its per-type codecs on first use; run in
// _initialize, the work lands in the image every call starts from. It is
// deterministic, as _initialize must be. It returns the sample's output.
func warmUp() []byte {
	e, err := envelope.Prepare(envelope.Draft{Verb: envelope.VerbNeed, Lamport: 1,
		Payload: map[string]any{"capability": "warm", "input": []string{"a"}}}, strings.Repeat("0", 64))
	if err != nil {
		return nil
	}
	e.Sig = strings.Repeat("0", 128)
	in, err := json.Marshal(abi.AgentInput{Envelope: e.Wire(), SelfPK: strings.Repeat("1", 64),
		Thread: abi.ThreadView{State: "open", Epoch: 1, Need: e.Payload, Decide: json.RawMessage(`{"fence":1}`)}})
	if err != nil {
		return nil
	}
	return HandleJSON(warmAgent{}, in)
}

type warmAgent struct{}

func (warmAgent) Describe() abi.Manifest { return abi.Manifest{} }

func (warmAgent) Handle(in *Input) (*abi.AgentOutput, error) {
	var p map[string]any
	if err := in.Payload(&p); err != nil {
		return nil, err
	}
	act, err := Action(envelope.VerbPropose, map[string]any{"epoch": 1, "bid": map[string]any{"price": 1}})
	if err != nil {
		return nil, err
	}
	return &abi.AgentOutput{Actions: []abi.Action{act}}, nil
}
