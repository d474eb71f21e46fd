// Package demo runs `swarmhost demo`: a whole NEED -> FINALIZE flow on one
// node with every real component (embedded NATS with JetStream, single-host
// dragonboat, the file CAS, the audit trail, WebAssembly agents on wazero,
// the compiled classify capsule).
//
// # Contract
//
// [Run] copies the first-party plugins into the data folder's plugins/ as
// two classifier workers, three verifiers and a planner, starts a node
// there, submits a NEED "classify these items" (Options.Items, or ten
// built-in short texts) with k = 3 of n = 3 verifiers, writes every step the
// node takes as it happens, waits for the FINALIZE, reads the result from
// the CAS and prints one label per item, stops the node, verifies the audit
// trail and replays it through the rules (host/replay). It fails, with the
// reason, if the NEED is refused or abandoned, if the labels do not cover
// the items, if the trail does not verify or if replay diverges: a demo
// that prints success proves it.
package demo
