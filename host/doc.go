// Package host is the swarmhost node: the I/O shell around the pure protocol
// core (DESIGN.md, "the one rule").
//
// Its subpackages each own one outside resource and state their contract in
// their own doc.go: keys (key files, capability issuance), lamport (the
// persistent clock), cas (the content-addressed store), audit (the
// hash-chained trail), bus (NATS with JetStream), wasm (agents and policy
// modules on wazero, gas-metered by wasm/gas), agents (the plugins folder),
// policy (capsules: compile/ builds them, the package evaluates them), demo
// (the demonstration flow). The core (host/protocol) and the Host that wires
// it to these arrive with issue [5/6]; this package holds no code until then.
package host
