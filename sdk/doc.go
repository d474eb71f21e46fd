// Package sdk is the Go SDK for CAN Swarm agents: write an [Agent], register
// it, build with the standard Go toolchain for WebAssembly, and drop the
// .wasm into swarmhost's plugins folder.
//
//	package main
//
//	import "github.com/canswarm/swarmhost/sdk"
//
//	type echo struct{}
//
//	func (echo) Describe() abi.Manifest { ... }
//	func (echo) Handle(in *sdk.Input) (*abi.AgentOutput, error) { ... }
//
//	func init() { sdk.Register(echo{}) }
//	func main() {}
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o echo.wasm .
//
// # Contract
//
//   - The SDK exports swarm_alloc, swarm_describe and swarm_handle of ABI.md
//     (module swarm_v1) and hides every pointer: Describe returns a manifest,
//     Handle receives the decoded input and returns an output, or nil for no
//     output. A Handle error becomes an output whose "error" field carries
//     its text, so the host records why and sends nothing.
//   - The host functions are plain Go functions: [CASGet], [CASPut], [Log],
//     [PolicyEval], [PlanQuery]. Their errors are [*HostError] values that
//     carry the ABI's negative code.
//   - Outside WebAssembly (tests, go vet) the same code compiles; host
//     functions then go to the [Host] set with [UseHost], so an agent can be
//     unit-tested natively, as example_test.go shows.
//   - The SDK imports only abi/ and the standard library.
//   - An agent must be deterministic: the host gives it no clock, randomness,
//     files or network, and replays it from its recorded input.
//   - In _initialize the SDK decodes a sample input and encodes a sample
//     output once (warm.go), so that encoding/json's codecs exist before the
//     host takes its image of the initialised instance; every call then
//     starts with them. An agent may warm its own types the same way, in
//     its init: work done there is done once, not per call.
//   - The input is read without encoding/json when it has the form swarmhost
//     writes (input.go: members in order, canonical envelope and payloads);
//     any other well-formed input is read by json.Unmarshal, with the same
//     result. In WebAssembly encoding/json's scanning was ~40% of a Go
//     agent's gas on a NEED of ten items.
package sdk
