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
// [Host] is a running node: one loop goroutine steps the protocol core
// (host/protocol) with every input (bus deliveries, applied consensus
// commands, agent and capsule outcomes, timers, checkpoint and reconcile
// ticks), writes each input's audit line before any of its effects leaves
// the node, then acts: publishes, proposes to the shards (package
// consensus), runs agents, evaluates capsules, arms timers. A restarted
// node rebuilds its core by stepping its own trail (rebuild.go), each
// thread's chain checked, its signatures not verified again.
//
// What a NEED holds in memory shrinks once it ends: its timers stop at
// once, and after Config.RetainEnded the next checkpoint keeps only its
// summary (Core.Thread), and asks its shard to forget it (a GC proposal:
// the shard keeps its id only); the summary itself stays for the node's
// life, without its envelope list, which Host.Need reads from the
// thread's audit trail when asked. An applied GC is not stepped: it is no input to the core.
package host
