package main

import (
	"encoding/json"
	"fmt"

	"github.com/canswarm/swarmhost/abi"
	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/plugins/internal/classify"
	"github.com/canswarm/swarmhost/sdk"
)

type classifier struct{}

func (classifier) Describe() abi.Manifest {
	return abi.Manifest{Name: "classifier", Version: "1.0.0", Roles: []string{"worker"},
		Capabilities: []string{"classify"}, Verbs: []string{"NEED", "DECIDE"}}
}

// need is the part of a NEED payload the classifier reads.
type need struct {
	Capability string          `json:"capability"`
	Input      json.RawMessage `json:"input"`
	LeaseMS    uint64          `json:"lease_ms"`
	DeadlineMS uint64          `json:"deadline_ms"`
}

// The classify capsule's bid rule: 0 < price <= maxPrice, and 0 < eta_ms <=
// the NEED's deadline (defaultDeadlineMS when it names none). A bid past
// either is refused, and a NEED whose every bid is refused is abandoned:
// the classifier bids within them, whatever the input's size.
const (
	maxPrice          = 1000
	defaultDeadlineMS = 600_000
)

// offer is the classifier's bid on n texts: a price of one unit and a
// tenth per text, and an estimate of 20 ms and 2 ms per text (it labels
// thousands of short texts a second), each within the capsule's bounds.
func offer(texts int, deadlineMS uint64) (price, etaMS uint64) {
	if deadlineMS == 0 {
		deadlineMS = defaultDeadlineMS
	}
	return min(1+uint64(texts)/10, maxPrice), min(20+2*uint64(texts), deadlineMS)
}

type decide struct {
	Epoch    uint64 `json:"epoch"`
	WorkerPK string `json:"worker_pk"`
	Fence    uint64 `json:"fence"`
}

func (classifier) Handle(in *sdk.Input) (*abi.AgentOutput, error) {
	switch in.Envelope.Verb {
	case envelope.VerbNeed:
		return bid(in)
	case envelope.VerbDecide:
		return work(in)
	}
	return nil, nil
}

func bid(in *sdk.Input) (*abi.AgentOutput, error) {
	var n need
	if err := in.Payload(&n); err != nil {
		return nil, err
	}
	if n.Capability != "classify" {
		return nil, nil
	}
	texts, err := inputTexts(n.Input, in.Envelope.ContentRefs)
	if err != nil {
		return nil, err
	}
	price, eta := offer(len(texts), n.DeadlineMS)
	act, err := sdk.Action(envelope.VerbPropose, map[string]any{
		"epoch": max(in.Thread.Epoch, 1),
		"bid":   map[string]any{"price": price, "eta_ms": eta},
	})
	if err != nil {
		return nil, err
	}
	return &abi.AgentOutput{Actions: []abi.Action{act}}, nil
}

func work(in *sdk.Input) (*abi.AgentOutput, error) {
	var d decide
	if err := in.Payload(&d); err != nil {
		return nil, err
	}
	if d.WorkerPK != in.SelfPK {
		return nil, nil // another worker was chosen
	}
	var n need
	if err := json.Unmarshal(in.Thread.Need, &n); err != nil {
		return nil, fmt.Errorf("the thread's NEED payload: %w", err)
	}
	texts, err := inputTexts(n.Input, in.Thread.NeedRefs)
	if err != nil {
		return nil, err
	}
	result, err := json.Marshal(classify.Run(texts))
	if err != nil {
		return nil, err
	}
	ref, err := sdk.CASPut(result)
	if err != nil {
		return nil, err
	}
	lease := n.LeaseMS
	if lease == 0 {
		lease = 30000
	}
	claim, err := sdk.Action(envelope.VerbClaim, map[string]any{"epoch": d.Epoch, "fence": d.Fence, "lease_ms": lease})
	if err != nil {
		return nil, err
	}
	commit, err := sdk.Action(envelope.VerbCommit, map[string]any{
		"epoch": d.Epoch, "fence": d.Fence, "result": ref,
		"telemetry": map[string]any{"gas_used": 0, "wall_ms": 0},
	}, ref)
	if err != nil {
		return nil, err
	}
	return &abi.AgentOutput{Actions: []abi.Action{claim, commit}}, nil
}

// inputTexts reads the texts inline, or from the first content ref.
func inputTexts(inline json.RawMessage, refs []string) ([]string, error) {
	if len(inline) > 0 && string(inline) != "null" {
		return classify.ParseInput(inline)
	}
	if len(refs) == 0 {
		return nil, fmt.Errorf("a classify NEED needs an input, inline or as content_refs[0]")
	}
	blob, err := sdk.CASGet(refs[0])
	if err != nil {
		return nil, fmt.Errorf("input %s: %w", refs[0], err)
	}
	return classify.ParseInput(blob)
}

func init() { sdk.Register(classifier{}) }

func main() {}
