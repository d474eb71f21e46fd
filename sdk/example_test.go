package sdk_test

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/canswarm/swarmhost/abi"
	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/sdk"
)

// upper is a whole agent: a worker for the capability "upper" that bids on
// NEEDs asking for it, storing nothing and calling no policy.
type upper struct{}

func (upper) Describe() abi.Manifest {
	return abi.Manifest{Name: "upper", Version: "0.1.0", Roles: []string{"worker"},
		Capabilities: []string{"upper"}, Verbs: []string{"NEED"}}
}

func (upper) Handle(in *sdk.Input) (*abi.AgentOutput, error) {
	var need struct {
		Capability string          `json:"capability"`
		Input      json.RawMessage `json:"input"`
	}
	if err := in.Payload(&need); err != nil {
		return nil, err
	}
	if need.Capability != "upper" {
		return nil, nil // not for us: no output
	}
	var text string
	if err := json.Unmarshal(need.Input, &text); err != nil {
		return nil, fmt.Errorf("an upper NEED's input is a string: %w", err)
	}
	ref, err := sdk.CASPut([]byte(strings.ToUpper(text)))
	if err != nil {
		return nil, err
	}
	sdk.Log(abi.LogInfo, "stored %s", ref)
	bid, err := sdk.Action(envelope.VerbPropose, map[string]any{"epoch": 1, "bid": map[string]any{"price": 1, "eta_ms": 5}}, ref)
	if err != nil {
		return nil, err
	}
	return &abi.AgentOutput{Actions: []abi.Action{bid}}, nil
}

// In a plugin, main.go would hold only:
//
//	func init() { sdk.Register(upper{}) }
//	func main() {}
//
// and `GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared` makes the .wasm.
// Natively, the same agent runs against a test host.
func Example() {
	sdk.UseHost(newMemHost())
	key := ed25519.NewKeyFromSeed(make([]byte, 32))
	need, _ := envelope.Sign(envelope.Draft{Verb: envelope.VerbNeed, Lamport: 1,
		Payload: map[string]any{"capability": "upper", "input": "hello"}}, key)
	input, _ := json.Marshal(abi.AgentInput{Envelope: need.Wire(), SelfPK: strings.Repeat("ab", 32),
		Thread: abi.ThreadView{State: "OPEN", Epoch: 1}})

	manifest, _ := sdk.DescribeJSON(upper{})
	fmt.Println(string(manifest))
	fmt.Println(string(sdk.HandleJSON(upper{}, input)))
	// Output:
	// {"name":"upper","version":"0.1.0","abi":1,"roles":["worker"],"capabilities":["upper"],"verbs":["NEED"]}
	// {"actions":[{"verb":"PROPOSE","payload":{"bid":{"eta_ms":5,"price":1},"epoch":1},"content_refs":["sha256:3733cd977ff8eb18b987357e22ced99f46097f31ecb239e878ae63760e83e4d5"]}]}
}

// memHost is a host for native tests: a CAS in a map.
type memHost struct{ blobs map[string][]byte }

func newMemHost() *memHost { return &memHost{blobs: map[string][]byte{}} }

func (h *memHost) CASGet(ref string) ([]byte, error) {
	b, ok := h.blobs[ref]
	if !ok {
		return nil, &sdk.HostError{Func: "cas_get", Code: abi.ErrNotFound}
	}
	return b, nil
}

func (h *memHost) CASPut(data []byte) (string, error) {
	sum := sha256.Sum256(data)
	ref := "sha256:" + hex.EncodeToString(sum[:])
	h.blobs[ref] = append([]byte(nil), data...)
	return ref, nil
}

func (h *memHost) Log(int32, string) {}

func (h *memHost) PolicyEval([]byte) ([]byte, error) {
	return nil, &sdk.HostError{Func: "policy_eval", Code: abi.ErrUnavailable}
}

func (h *memHost) PlanQuery([]byte) ([]byte, error) {
	return nil, &sdk.HostError{Func: "plan_query", Code: abi.ErrUnavailable}
}
