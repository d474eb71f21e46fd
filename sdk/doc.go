// Package sdk will be the Go SDK for agent authors (issue [2/6]): an agent
// implements Describe() and Handle(input) (output, error), and the SDK hides
// the swarm_v1 pointers. It imports only abi/ and builds for GOOS=wasip1.
//
// It holds no code yet.
package sdk
