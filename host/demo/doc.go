// Package demo runs the demonstration flow of `swarmhost demo` on real
// components: the embedded NATS server with JetStream, the file CAS, key
// files, capability tokens, the persistent Lamport clocks and the audit
// trail.
//
// # Contract
//
// [Run] starts the bus in a data folder, makes keys for a host (the root
// that issues capability tokens), a client and two workers, signs a NEED and
// bids, plus a forged bid (payload edited after signing), a bid from a
// principal whose role may not bid, and a republished NEED. It publishes them,
// receives every message through a durable consumer, checks each (the
// stateless checks of PROTOCOL.md section 2, then the capability token of
// section 4), appends each to the audit trail — accepted, or rejected with
// its reason — acknowledges it only after that, and verifies the trail. It
// writes each step to the given writer and returns an error if any step, or
// any expectation of the flow, fails: a demo that prints success proves it.
//
// This is the foundation's demonstration (issue [1/6]); the full NEED ->
// FINALIZE flow with agents and consensus replaces it in issue [5/6].
package demo
