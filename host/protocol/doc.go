// Package protocol is the pure core of a swarmhost node: the state machine
// of PROTOCOL.md section 5 for every NEED this host knows, the validation of
// section 2, the Lamport rule of section 3 and the shared plan of section 8.
// It does no I/O: it reads no clock, draws no random number, touches no
// file, socket, CAS, bus or shard. Inputs go in through [Core.Step],
// actions come out of [Core.Ready], and the shell performs them and says so
// with [Core.Advance], in the manner of etcd's raft package.
//
// # The host contract
//
// The shell (package host) owns one [Core], made by [New] from a [Config]
// that must be the same on replay, and drives it from a single goroutine (a
// Core is not safe for concurrent use):
//
//	for {
//		in := next input (bus, shard, agent, capsule, timer)
//		v := core.Step(in)          // record in, with v for a Received
//		for _, a := range core.Ready() {
//			perform a               // its outcome is a later input
//		}
//		core.Advance()
//	}
//
// Step takes one input and returns its [Verdict]. Ready returns the actions
// asked for since the last Advance, in the order asked; the shell performs
// them in that order. Advance says they were taken on: Ready is then empty
// until the next Step. [Core.ThreadOf] names an input's thread before it is
// stepped, so the shell can write it to that thread's audit trail (PROTOCOL.md
// section 10). Every input carries At, the time in Unix milliseconds the
// shell recorded when it took it; the core's notion of "now" is the greatest
// At stepped so far, of the inputs a replay or a rebuild steps too: a
// Received moves it only when accepted or held back (a duplicate, a retry
// of an envelope already held and a rejected envelope leave it where it
// was), since the shell does not record the first two and a replay or a
// rebuild has its time only in its thread's clock line. Replay is stepping the
// recorded inputs, with their At,
// through the same Step: the core asks for the same actions and prepares
// byte for byte the same envelopes. A shell that drops every action (a
// node rebuilding from its own trail) sets [Core.SetQuiet]: the core then
// builds no action and reaches the same state ([SameState] says where two
// cores differ; the scripts and the chaos harness check it).
//
// # Inputs
//
//   - [Received]: an envelope off the bus, from a client, or one this host
//     published (see Publish). The shell first runs the stateless checks,
//     envelope.Verify on the wire text: when they fail it steps Env nil and
//     Err the error, whose code the core reports as it is (an Err is
//     honoured even when Env is set). Token holds the bytes the CAS has at
//     Env.Capability, nil when it has none; the core parses and caches it.
//   - [Applied]: a command a DECIDE shard replica on this host accepted,
//     whichever host proposed it. Fence is the log index of the epoch's
//     DECIDE (for a DECIDE and a FINALIZE); NextEpoch and Abandoned say what
//     a RELEASE did. A command applied again (a restarted replica, a retried
//     proposal committed twice) has no second effect.
//   - [AgentDone]: the outcome of a RunAgent: the agent's abi.AgentOutput
//     JSON, or the fault that ended the call.
//   - [PolicyDone]: the outcome of an EvalPolicy: the rule's value (null when
//     undefined), gas, the evaluation digest of PROTOCOL.md section 7, or
//     Err when the evaluation failed.
//   - [TimerFired]: a timer armed for a thread went off at At. The core acts
//     on every deadline of the thread At has reached (bid window, lease,
//     verification window, the NEED's deadline); a timer whose deadline has
//     moved on fires without effect, so timers are never cancelled.
//   - [ReconcileDue]: the shell's anti-entropy timer: the core publishes a
//     RECONCILE offer of the plan (its digest and the envelopes whose ops it
//     holds).
//   - [Collected]: the NEED's shard forgot it (a GC, or a consensus snapshot
//     that holds it collected). A thread still open here ends abandoned,
//     for this host missed how the NEED ended; otherwise nothing changes
//     (KnowsCollected), and the shell need not step or record it.
//
// Outcomes the core no longer waits for (an unknown or already answered
// ReqID, a bid or verify evaluation of a past epoch) are ignored.
//
// # Actions
//
//   - [Publish]: Env is prepared (its id final, its sig empty) from the
//     host's key or a local agent's. The shell signs it with the key of
//     Env.SenderPK (envelope.SignPrepared), puts it on the bus and steps it
//     back as a Received, in the order published. The core's own envelopes
//     take effect like any other when stepped back: the local agents see a
//     DECIDE, an INVALIDATE strikes its target, only then. Until one is
//     stepped back (whatever its verdict) the core keeps its draft; a
//     start's Configure (not a reload's) asks again for each it still
//     holds, the same envelope: what a crash lost between recording the
//     input that made it and recording it (one whose agent that start no
//     longer configures, or revoked, is dropped, and the drop recorded).
//     A rebuild must therefore step the host's own rejected envelopes too.
//   - [Propose]: the shell maps Cmd to a consensus/shard command (DECIDE,
//     RELEASE or FINALIZE, with the NEED's bucket) and proposes it to the
//     NEED's shard until the shard answers; every accepted command the
//     shard applies is stepped, on every host, as an Applied. A rejection is
//     not stepped: the core learns what won from its Applied. The core
//     proposes each command once (one DECIDE and one RELEASE per epoch, one
//     FINALIZE), so the shell must not drop one. A GC (Needs, routed by
//     Routed) asks the shard to forget NEEDs a checkpoint retired; it is no
//     Applied, but each NEED it collected is a Collected.
//   - [RunAgent]: the shell runs the local agent Agent on Input() (an
//     abi.AgentInput, encoded when first asked for: a replay that steps
//     recorded outputs never encodes it) with the gas budget Gas and steps
//     AgentDone{ReqID}. Policy() is the evaluation the agent's policy_eval
//     host call gets: the same input the host evaluates, so that an honest
//     verifier's digest equals the host's.
//     The core publishes the agent's actions under the agent's key when its
//     roles may send them (plan_ops become an UPDATE_PLAN) and records those
//     it refuses.
//   - [EvalPolicy]: the shell evaluates the capsule's Entrypoint on the input
//     {entrypoint, envelope (without sig), context} of PROTOCOL.md section 7,
//     Context filled in with the JSON of the CAS blob at each ref of Resolve,
//     and steps PolicyDone{ReqID}.
//   - [ArmTimer]: the shell steps TimerFired{Thread} at or after At.
//   - [Record]: the shell writes Body into Thread's audit trail as a line of
//     kind Kind ("outcome": need_refused, challenge_dismissed,
//     agent_output_refused, deadline_passed, routing_failed, no_verifiers,
//     tally_failed, attestation_not_counted, host_envelope_failed,
//     no_bids_grace, unsent_envelope_dropped).
//
// # Verdicts
//
// A [Verdict] answers a Received and is what the audit trail records:
//
//   - Accepted: the envelope was applied; its effects are in Ready. The shell
//     records it and acknowledges it.
//   - Duplicate (with Accepted): an envelope with the same id was accepted on
//     the thread before. It is acknowledged again and has no second effect;
//     the duplicate check runs before every other.
//   - Rejected: Code is the first failed check, Detail says why. The shell
//     records it with the code and acknowledges it: nothing is dropped
//     silently, nothing is retried.
//   - Retry (Code wrong_state): the envelope rests on something this host
//     has not seen yet: a NEED it does not know (for every verb but NEED,
//     RECONCILE and CHECKPOINT), the shard's DECIDE, RELEASE or FINALIZE
//     behind a host's envelope, the decision behind a CLAIM, HEARTBEAT,
//     YIELD or COMMIT, the COMMIT behind an ATTEST. Nothing changed. The
//     shell neither records nor acknowledges it, so that the bus delivers it
//     again; once it gives up, it records it rejected with Code.
//
// # Rejection codes and their order
//
// The checks run in the order of PROTOCOL.md section 2, the first failure
// being the answer. malformed, bad_version, unknown_verb, too_large,
// payload_hash_mismatch, id_mismatch and bad_signature come from
// envelope.Verify in the shell. The core then checks, after the duplicate
// check: the payload's own form and thread_id (malformed: a missing or
// mistyped field, k > n, a NEED with a thread_id, another verb without one,
// a RECONCILE or CHECKPOINT off the swarm thread...); the capability token
// (bad_capability: none, not in the CAS, not a token, another ref, an
// untrusted issuer, a bad issuer signature, another subject, expired at the
// envelope's Lamport time; unauthorized: no granted role may send the verb,
// PROTOCOL.md section 4); the verb's sender (unauthorized: a CLAIM,
// HEARTBEAT, YIELD or COMMIT not from the epoch's chosen worker, an ATTEST
// from a verifier its DECIDE does not name); the Lamport time
// (stale_lamport: not above the last one accepted from the sender on the
// thread, a PROPOSE not above its NEED, an ATTEST not above its COMMIT); and
// the thread's state: stale_fence for an epoch already released, a fence
// other than the decision's or a CHALLENGE target of a past epoch, and
// wrong_state for anything else the thread's state does not allow (an epoch
// not open yet, a bid outside the window, a second ATTEST from a verifier, a
// DECIDE the shard decided otherwise...). An envelope naming a released
// epoch is stale_fence even when its verb would not fit the current phase
// either.
//
// # Threads
//
// A thread is a NEED and everything about it: envelopes whose thread_id is
// the NEED's id (a NEED's own thread_id is "", its thread its id). Its
// phase (see [Phase]) goes admitting -> open(e) -> decided(e) -> claimed(e)
// -> committed(e) -> final, a RELEASE taking any non-final epoch e to
// open(e+1) or abandoned; a NEED whose admit evaluation is not true is
// refused. [SwarmThread] is the thread of envelopes about the swarm as a
// whole: RECONCILE and CHECKPOINT must use it, UPDATE_PLAN may. The shared
// plan ([Core.Plan]) is one per core: UPDATE_PLAN ops on any thread and
// RECONCILE entries all go into it. [Core.Thread] shows a thread as the CLI
// and API see it.
//
// A thread that ended (final, abandoned, refused) is retired by a
// CheckpointDue whose RetireEndedBefore is at or after the time it ended,
// once no evaluation or agent run is outstanding for it and, when final,
// its FINALIZE envelope is in: the core keeps its summary (Thread, with
// Retired set, and the number of its envelopes rather than their list:
// the shell lists them from the thread's trail), clock and decisions, and
// answers any later envelope on it wrong_state. The input is recorded, so replay retires the same threads.
// The same checkpoint asks the shards to forget the retired NEEDs (a GC
// proposal per bucket; a refused NEED never reached a shard), and has the
// swarm thread, which never ends, forget the envelopes it accepted so far
// (they took effect; the plan keeps its ops): a copy of one delivered
// again is then stale_lamport, not a duplicate.
//
// In short: the admit evaluation opens epoch 1 and offers the NEED to the
// local agents; PROPOSEs inside the bid window are evaluated (bid, route);
// when the window closes and every evaluation is in, the router (package
// route) chooses among them and quorum.Choose picks n verifiers from the pool
// (the local verifier agents able to do the task and Config.Verifiers),
// and the core proposes a DECIDE, or a RELEASE(no_bids); with no eligible
// bid and Config.NoBidsGraceMS set (a host of a cluster), it first waits
// that long (recorded, no_bids_grace), so that a DECIDE of a host that did
// receive bids commits first. The applied DECIDE
// arms the lease; the host publishes the DECIDE envelope, with its fence,
// when its own proposal won. A CLAIM starts the lease, a HEARTBEAT renews
// it, a COMMIT starts a verification window of lease_ms and the host's own
// verify evaluation: false INVALIDATEs the COMMIT and releases the epoch
// (invalidated); true starts the tally of ATTESTs against the host's
// digest, which proposes the FINALIZE once k verifiers pass, or
// RELEASE(invalidated) once k can no longer be reached. A lease, or a
// verification window that runs out before the FINALIZE is proposed,
// releases the epoch (expired), a YIELD
// releases it (yielded), the NEED's deadline abandons it (a RELEASE whose
// max_epochs is the current epoch). The worker of a decided epoch released
// for any reason but no_bids takes no later epoch of the NEED. A CHALLENGE
// re-evaluates verify on the epoch's COMMIT: an ATTEST with another digest is
// invalidated, a COMMIT no longer verified is invalidated and, while its
// epoch is current, released; otherwise the challenge is recorded dismissed.
//
// # The Lamport rule
//
// Each thread keeps a Lamport clock: the greatest lamport of the envelopes
// accepted on it (a rejected or retried envelope does not move it). The core
// stamps every envelope it prepares, the host's and its local agents', with
// the thread's clock + 1 and takes that as the clock, so each answers what
// it saw (a DECIDE comes after the PROPOSEs, a FINALIZE after the ATTESTs).
// Since a sender's envelopes must grow in Lamport time on a thread, the
// shell steps the envelopes it publishes back in the order published. The
// clock is not persisted: replay rebuilds it from the trail.
//
// # The import rule
//
// This package and its subpackages (route, quorum, plan) import only the
// standard library, github.com/canswarm/swarmhost/abi/... (which brings
// github.com/gowebpki/jcs) and each other; its own files import none of
// time, math/rand, crypto/rand, os, net, io/fs, path/filepath or syscall
// (DESIGN.md, "the one rule"). TestImportRule enforces it with go list. The
// scripted interaction tests in testdata/*.txt play the shell around a core
// (see datadriven_test.go and harness_test.go).
package protocol
