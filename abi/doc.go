// Package abi is the contract between swarmhost and the WebAssembly agents
// it runs (the swarm_v1 host ABI of ABI.md), and, under envelope/, the wire
// format every principal speaks.
//
// # Contract
//
//   - The names and numbers here are stable: a plugin built against them
//     keeps working. New host functions, error codes and fields may be
//     added; the meaning of an existing one never changes. A breaking change
//     is a new module name (swarm_v2).
//   - This package and everything under it import only the standard library
//     and github.com/gowebpki/jcs, and build for GOOS=wasip1 GOARCH=wasm, so
//     that the agent SDK compiled to WebAssembly can import them.
//
// host/wasm implements these names (docs/ABI.md documents every function,
// code and gas charge); sdk/ is the Go side for agent authors.
package abi
