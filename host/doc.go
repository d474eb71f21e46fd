// Package host is the swarmhost node: the I/O shell around the pure protocol
// core (DESIGN.md, "the one rule").
//
// Its subpackages each own one outside resource and state their contract in
// their own doc.go: keys (key files, capability issuance), lamport (the
// persistent clock), cas (the content-addressed store), audit (the
// hash-chained trail), bus (NATS with JetStream), wasm (agents and policy
// modules on wazero, gas-metered by wasm/gas), agents (the plugins folder),
// policy (capsules: compile/ builds them, the package evaluates them), demo
// (the demonstration flow), api (the loopback HTTP API the CLI reaches a
// running node through).
//
// [Host] is a running node. Today it runs the consensus shards
// (package consensus) and the API; the protocol core (host/protocol) and
// its wiring to the bus, agents, policy, CAS and audit arrive with issue
// [5/6].
package host
