// Package protocoltest is an in-memory harness that drives many protocol
// cores (package host/protocol) at once, for property and chaos tests: N
// hosts joined by an in-memory bus and an in-memory model of the DECIDE
// shards, under a seeded scheduler that injects faults. After each schedule
// it checks the properties P1-P7 of PROTOCOL.md section 11.
//
// # The contract
//
// [Run] plays one schedule named by [Options]: the seed and, where a field
// is zero, what the seed draws for it. Everything a schedule does comes
// from a math/rand/v2 source seeded with Options.Seed, and nothing reads a
// clock or iterates a map into a decision, so the same options give the
// same schedule, the same trace and the same [Result]. A Result lists the
// properties that broke (Violations); with Options.Trace it also holds a
// readable line per event. The package is test support: it panics on
// harness bugs, never on protocol ones, which it reports as violations.
//
// # The world
//
//   - Hosts (2 or 3), each a *protocol.Core with its own host key and, as
//     local agents, an honest worker (w), an honest verifier (v) and a
//     planner (p); when the schedule enables those faults, one host also
//     runs a stalling worker (s: bids cheap, never claims), a wrong worker
//     (x: commits a result verify refuses) or a lying verifier (l: attests
//     pass with a digest no evaluation gives). Agents are Go code (see
//     agents.go); their outputs go back as protocol.AgentDone. Every token
//     is issued by one root that every host trusts; every host's verifier
//     pool is every verifier of the swarm.
//   - The policy oracle answers each EvalPolicy the same on every host, as a
//     deterministic capsule does: admit true unless the NEED's input says
//     deny, bid true, route null, verify true for the honest result; the
//     digest hashes capsule, entrypoint, envelope id, result and gas.
//   - The shell of each host mirrors package host: it steps an input, writes
//     it to the host's trail (a Received answered Duplicate or Retry leaves
//     no line, as does one the core forgot and the trail holds accepted: a
//     retired thread's, the swarm thread's), performs the actions in order (a Publish is signed with the
//     key of Env.SenderPK, put on the bus and stepped back at once, or,
//     when the bus refuses it, stepped all the same and kept in an outbox
//     sent again in order once the bus takes it, later publishes queued
//     behind it, as host/outbox.go does (a crash loses the outbox; a
//     restart publishes again the host's own envelopes among its trail's
//     last 512 lines, as host's ownTail); Propose,
//     EvalPolicy and RunAgent run asynchronously and come back later as
//     inputs, with the time they finished, drawn between when they were
//     asked for and when they are stepped, as a node's outcomes wait in its
//     input queue, so the core meets times out of order; ArmTimer arms a
//     virtual timer), and steps what it published
//     right after, like host/loop.go's process. Each start (the first and
//     every restart) steps a protocol.Configure after the trail; now and
//     then the scheduler steps a protocol.ReconcileDue (a RECONCILE offer;
//     skipped, as a node skips it, while Core.ReconcileWanted says no
//     offer is wanted, but for every twelfth tick in a row and the round
//     after the faults stop) or a protocol.CheckpointDue (skipped, as a
//     node skips it, while Core.CheckpointWanted says none is), which
//     retires the threads that ended
//     200 virtual ms ago on h0, 400 on h1, and so on (so that late
//     deliveries meet retired threads on some hosts and whole ones on
//     others).
//   - The bus is at-least-once: each published envelope is delivered to
//     every host's durable consumer until the host settles it. A Retry
//     verdict leaves it pending (delivered again after 100 ms of virtual
//     time), and after 50 Retry answers the host records it rejected.
//   - The shards are one shared consensus/shard.Machine per shard, the
//     linearizable service Raft provides: proposals are committed in a
//     scheduler-chosen order at the shard's next log index, and every
//     accepted command is applied on every host, in log order, as a
//     protocol.Applied.
//   - A virtual clock: timers fire (TimerFired at the current time) once it
//     reaches them; the scheduler moves it forward.
//
// # Faults
//
// Drop (a delivery attempt lost, redelivered later), delay (a delivery held
// back, and time passing while work waits: without it the clock moves only
// when every host is idle, so timers never beat ready work), duplicate,
// reorder (deliveries in any order), partition and heal (a host cut off from
// the bus and the cluster: its deliveries and applies wait, the bus refuses
// its publishes), crash and restart (the core, work
// in flight and timers are lost; a proposal in flight reaches the cluster
// or not; the host is rebuilt from its trail as host/rebuild.go does,
// stepping every recorded input (of rejected envelopes, its own), dropping the
// actions and re-arming the timers, and its replicas apply the shard logs
// again from the start or from where they were), a torn crash (after an
// input is recorded, before its actions are taken), a publish the bus
// refuses, a proposal committed twice, a client resubmitting its
// NEED, a host revoking the lying verifier's key (a recorded reload, as
// DATA/revoked makes one; kept across its restarts), and the misbehaving
// agents above. Options.Exclude leaves kinds out;
// each schedule also leaves some out at random.
//
// A restarted host steps a start's Configure, as a node does; the core
// then asks again for the work its trail shows no outcome of (evaluations
// and agent runs not answered, proposals not applied) and for the
// envelopes it asked to publish that its trail has no line of (a torn
// crash's).
//
// # Properties
//
// After the chaos phase faults stop: partitions heal, crashed hosts
// restart, and the world runs until nothing is left to do; then every host
// offers a RECONCILE and the world runs quiet again. Then:
//
//   - P1: the shard logs accept at most one DECIDE per (NEED, epoch) and one
//     FINALIZE per NEED (a repeat of the same command aside); the hosts
//     accepted at most one DECIDE and one FINALIZE envelope for each, and
//     each is the shard's decision.
//   - P2: no host accepted a COMMIT whose (epoch, fence) is not the shard's
//     decision or after it applied that epoch's release; each FINALIZE the
//     shard accepted names a COMMIT of the epoch current then.
//   - P3: every FINALIZE lists at least k distinct pass attestations of its
//     COMMIT from the DECIDE's verifiers with the oracle's digest, and none
//     other, and finalizes a result verify accepts.
//   - P4: replaying each host's trail into a fresh core asks for the same
//     DECIDE, RELEASE, INVALIDATE and FINALIZE ids, in the same order, as
//     its live cores did (checked at every restart too), and holds the same
//     plan.
//   - P5: every host holds the same plan digest.
//   - P6: every admitted NEED is FINAL or ABANDONED in every core, as in the
//     shard, within a bound of virtual time after faults stopped; a refused
//     NEED is never decided. A schedule with no fault at all (honest agents,
//     in-order delivery, time moving only when idle) must end every
//     admitted NEED FINAL.
//   - P7: every envelope the bus acknowledged is in every host's trail,
//     each core holds exactly the envelopes its trail accepted, and every
//     envelope the rules asked a host to publish has a line in its trail
//     (what a replay checks at the end: a torn crash's too).
//
// And, beside them: a host that revoked a key accepted nothing more from it
// (checkRevoked); every lie of a finalized epoch that the lying verifier's
// host accepted, before the FINALIZE or after it, ends INVALIDATEd there,
// a torn crash after taking it or not (checkLiesInvalidated).
package protocoltest
