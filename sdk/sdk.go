package sdk

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/canswarm/swarmhost/abi"
	"github.com/canswarm/swarmhost/abi/envelope"
)

// Agent is what an agent author writes.
type Agent interface {
	// Describe returns the agent's manifest; abi is filled in if zero.
	Describe() abi.Manifest
	// Handle reacts to one delivered envelope. A nil output means nothing to
	// do.
	Handle(in *Input) (*abi.AgentOutput, error)
}

// Input is one delivery, decoded.
type Input struct {
	// Envelope is the delivered envelope, decoded (the host verified it).
	Envelope *envelope.Envelope
	// SelfPK is the agent's own public key: the sender of what it emits.
	SelfPK string
	// Thread is the host's view of the envelope's thread.
	Thread abi.ThreadView
}

// Payload decodes the envelope's payload into v.
func (in *Input) Payload(v any) error {
	if err := json.Unmarshal(in.Envelope.Payload, v); err != nil {
		return fmt.Errorf("%s payload: %w", in.Envelope.Verb, err)
	}
	return nil
}

// Action builds an action whose payload is v encoded as JSON.
func Action(verb envelope.Verb, v any, contentRefs ...string) (abi.Action, error) {
	p, err := json.Marshal(v)
	if err != nil {
		return abi.Action{}, fmt.Errorf("%s payload: %w", verb, err)
	}
	return abi.Action{Verb: string(verb), Payload: p, ContentRefs: contentRefs}, nil
}

var registered Agent

// Register installs the agent the exports serve. Call it from init.
func Register(a Agent) { registered = a }

// DescribeJSON returns the agent's manifest as JSON, with abi set.
func DescribeJSON(a Agent) ([]byte, error) {
	m := a.Describe()
	if m.ABI == 0 {
		m.ABI = abi.Version
	}
	for _, list := range []*[]string{&m.Roles, &m.Capabilities, &m.Verbs} {
		if *list == nil {
			*list = []string{}
		}
	}
	return json.Marshal(m)
}

// HandleJSON is swarm_handle without pointers: it decodes an AgentInput,
// calls the agent, and encodes its output (nil for no output). An agent
// error, or an input that cannot be decoded, becomes an output carrying the
// error, so the host learns why.
func HandleJSON(a Agent, input []byte) []byte {
	out, err := handle(a, input)
	if err != nil {
		return errorOutput(err.Error())
	}
	if out == nil {
		return nil
	}
	if out.Actions == nil {
		out.Actions = []abi.Action{}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return errorOutput("encode output: " + err.Error())
	}
	return b
}

// errorOutput is an AgentOutput that only says what went wrong.
func errorOutput(msg string) []byte {
	b, _ := json.Marshal(abi.AgentOutput{Actions: []abi.Action{}, Error: msg})
	return b
}

func handle(a Agent, input []byte) (*abi.AgentOutput, error) {
	if a == nil {
		return nil, errors.New("sdk: no agent registered (call sdk.Register in init)")
	}
	raw, err := decodeInput(input)
	if err != nil {
		return nil, fmt.Errorf("sdk: agent input is not JSON: %w", err)
	}
	e, err := envelope.Decode(raw.Envelope)
	if err != nil {
		return nil, fmt.Errorf("sdk: agent input envelope: %w", err)
	}
	return a.Handle(&Input{Envelope: e, SelfPK: raw.SelfPK, Thread: raw.Thread})
}
