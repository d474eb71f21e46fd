package main

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"

	"github.com/canswarm/swarmhost/abi"
	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/plugins/internal/classify"
	"github.com/canswarm/swarmhost/sdk"
)

type verifier struct{}

func (verifier) Describe() abi.Manifest {
	return abi.Manifest{Name: "verifier", Version: "1.0.0", Roles: []string{"verifier"},
		Capabilities: []string{"classify"}, Verbs: []string{"COMMIT", "ATTEST"}}
}

type commit struct {
	Epoch  uint64 `json:"epoch"`
	Result string `json:"result"`
}

func (verifier) Handle(in *sdk.Input) (*abi.AgentOutput, error) {
	if in.Envelope.Verb == envelope.VerbAttest {
		return challenge(in)
	}
	if in.Envelope.Verb != envelope.VerbCommit {
		return nil, nil
	}
	var d struct {
		Verifiers []string `json:"verifiers"`
	}
	if len(in.Thread.Decide) > 0 {
		if err := json.Unmarshal(in.Thread.Decide, &d); err != nil {
			return nil, fmt.Errorf("the thread's DECIDE payload: %w", err)
		}
	}
	if !slices.Contains(d.Verifiers, in.SelfPK) {
		return nil, nil // not chosen to verify this one
	}
	var c commit
	if err := in.Payload(&c); err != nil {
		return nil, err
	}
	verdict, err := check(in, c)
	if err != nil {
		return nil, err
	}
	digest := ""
	// A null input: the host evaluates the protocol's standard input for
	// this COMMIT (PROTOCOL.md section 7), the same the host evaluates, so
	// an honest verifier's digest equals the host's.
	res, err := sdk.PolicyEval("verify", nil)
	switch {
	case err == nil:
		digest = res.Digest
	case sdk.IsCode(err, abi.ErrUnavailable):
		// No capsule to evaluate on this host yet: attest on the re-run alone.
	default:
		return nil, err
	}
	act, err := sdk.Action(envelope.VerbAttest, map[string]any{"epoch": c.Epoch, "commit": in.Envelope.ID, "verdict": verdict})
	if err != nil {
		return nil, err
	}
	act.PolicyEvalDigest = digest
	return &abi.AgentOutput{Actions: []abi.Action{act}}, nil
}

// challenge answers another verifier's ATTEST: when its digest is not the
// one this verifier's own evaluation of the commit gives, it is challenged.
func challenge(in *sdk.Input) (*abi.AgentOutput, error) {
	if in.Envelope.SenderPK == in.SelfPK || in.Envelope.PolicyEvalDigest == "" {
		return nil, nil
	}
	res, err := sdk.PolicyEval("verify", nil)
	if err != nil {
		if sdk.IsCode(err, abi.ErrUnavailable) {
			return nil, nil
		}
		return nil, err
	}
	if res.Digest == in.Envelope.PolicyEvalDigest {
		return nil, nil
	}
	act, err := sdk.Action(envelope.VerbChallenge, map[string]any{"target": in.Envelope.ID, "claimed_digest": res.Digest})
	if err != nil {
		return nil, err
	}
	return &abi.AgentOutput{Actions: []abi.Action{act}}, nil
}

// check re-runs the classification and compares it with the committed result.
func check(in *sdk.Input, c commit) (string, error) {
	var n struct {
		Input json.RawMessage `json:"input"`
	}
	if err := json.Unmarshal(in.Thread.Need, &n); err != nil {
		return "", fmt.Errorf("the thread's NEED payload: %w", err)
	}
	var texts []string
	var err error
	if len(n.Input) > 0 && string(n.Input) != "null" {
		texts, err = classify.ParseInput(n.Input)
	} else if len(in.Thread.NeedRefs) > 0 {
		var blob []byte
		if blob, err = sdk.CASGet(in.Thread.NeedRefs[0]); err == nil {
			texts, err = classify.ParseInput(blob)
		}
	} else {
		err = fmt.Errorf("the NEED has no input")
	}
	if err != nil {
		return "", err
	}
	blob, err := sdk.CASGet(c.Result)
	if err != nil {
		if sdk.IsCode(err, abi.ErrNotFound) {
			return "fail", nil // a result nobody can read does not pass
		}
		return "", err
	}
	var got classify.Result
	if json.Unmarshal(blob, &got) != nil {
		return "fail", nil
	}
	if reflect.DeepEqual(got, classify.Run(texts)) {
		return "pass", nil
	}
	return "fail", nil
}

func init() { sdk.Register(verifier{}) }

func main() {}
