// Package shard holds the rules of one DECIDE shard (PROTOCOL.md section 9)
// as a pure, deterministic type: the replicated state machine that a Raft
// group runs, without the Raft. It gives at most one DECIDE per (NEED, epoch)
// and at most one FINALIZE per NEED (property P1), and the fences that COMMIT
// is checked against (P2).
//
// # State
//
// A [Machine] holds, per NEED id ("sha256:..."), its current epoch, the
// accepted DECIDE of every epoch (the decision) with its fence, the accepted
// RELEASE of every past epoch, the accepted FINALIZE, and whether the NEED
// was abandoned; plus the last applied log index and the ids of NEEDs
// collected by GC. A NEED not yet seen is at epoch 1, undecided, and takes
// no space until a command about it is accepted.
//
// # Commands
//
// Commands are JSON objects (see [Parse]; [Command.Encode] writes the
// canonical form):
//
//	{"op":"DECIDE","need","bucket","epoch","proposal","worker_pk","verifiers","decide_id"}
//	{"op":"RELEASE","need","bucket","epoch","reason","max_epochs"}
//	{"op":"FINALIZE","need","bucket","epoch","commit","finalize_id"}
//	{"op":"GC","bucket","needs"} or {"op":"GC","bucket","before"}
//
// Every command carries its bucket, the first byte of the SHA-256 in the
// NEED id (0..255). A command that is not such an object, has unknown or
// missing keys, a bucket that does not match its NEED, an epoch outside
// 1..2^53, a ref or key that is not well-formed, no verifiers or more than
// [MaxVerifiers], a verifier named twice or equal to the worker, or an
// unknown RELEASE reason is rejected "malformed" (over [MaxCommandBytes]:
// "too_large") and changes nothing.
//
// # Rules
//
// [Machine.Apply] is given the Raft log index of each command. An index
// that is not above the last applied one (which Raft never gives) is
// answered wrong_state and changes nothing at all; any other index becomes
// the last applied one, whatever the answer. Then the command is parsed
// (malformed, too_large) and checked, in this order, the first failure being
// the answer:
//
//  1. A NEED collected by GC: every command about it is rejected wrong_state.
//  2. A repeat of an accepted DECIDE, RELEASE or FINALIZE (same content, as
//     parsed: key order and whitespace do not matter) is answered with the
//     same accepted Result, byte for byte, whatever happened since: a retried
//     proposal may be committed twice. The answer describes the original
//     acceptance, so a repeat of the DECIDE of a since-released epoch still
//     says accepted, with the old epoch and fence.
//  3. A final or abandoned NEED: wrong_state. This covers a FINALIZE that
//     differs from the accepted one.
//  4. An epoch below the NEED's current epoch: stale_fence. The epoch was
//     released, so its fence is no longer current and retrying cannot
//     succeed; the caller must read the NEED again.
//  5. An epoch above the current one: wrong_state. Epochs open only by an
//     accepted RELEASE, one at a time; a command for a future epoch is never
//     held back and is not accepted later on its own.
//  6. DECIDE: the current epoch already has a different accepted DECIDE:
//     wrong_state (a conflict). FINALIZE: the current epoch has no accepted
//     DECIDE: wrong_state. RELEASE with reason no_bids: the current epoch
//     has an accepted DECIDE: wrong_state (a host whose bid window closed
//     empty must not undo another host's decision).
//
// Otherwise the command is accepted:
//
//   - DECIDE fixes the decision of the current epoch. Its fence is the log
//     index it was applied at: unique and increasing within the shard, the
//     same on every replica.
//   - RELEASE (of a decided or undecided epoch) moves the NEED to epoch+1,
//     where a DECIDE becomes possible; when max_epochs is not 0 and the
//     released epoch is at least max_epochs, the NEED is abandoned instead
//     (final: no more epochs).
//   - FINALIZE makes the NEED final, on the DECIDE of its current epoch.
//   - GC drops the final or abandoned NEEDs of its bucket that it names, or
//     that finished (their FINALIZE or abandoning RELEASE was applied) at an
//     index below before; unfinished, unknown and other-bucket NEEDs are
//     skipped. A dropped NEED leaves only its id, so that it can never be
//     decided again; the cost is rule 1: repeats of its commands are no
//     longer answered "accepted". Collect only NEEDs whose commands can no
//     longer be retried. GC is always accepted and its answer counts the
//     NEEDs dropped, so a repeated GC answers 0.
//
// A rejected command changes nothing but the last applied index, and a
// rejected command about a NEED not yet seen leaves no record of it.
//
// # Fence
//
// The fence of an accepted DECIDE is the Raft log index it was applied at:
// unique and strictly increasing across the DECIDEs of a shard, the same on
// every replica, and never reused (a later epoch's DECIDE has a greater
// fence). (epoch, fence) names one decision; a CLAIM, HEARTBEAT or COMMIT is
// current only while its (epoch, fence) equals the NEED's standing decision
// (Record.Epoch and Record.Fence), which the caller checks with Lookup. A
// fence is not comparable across shards.
//
// # Results and snapshots
//
// Every answer is a [Result] whose [Result.Encode] is canonical JSON, so
// replicas answer byte for byte alike. An accepted answer names the epoch
// the command named and the fence and decide_id of that epoch's DECIDE
// (RELEASE adds next_epoch or abandoned, GC the count dropped); a rejection
// names the NEED's current epoch and standing decision, so the caller learns
// what won. [Machine.Lookup] returns a NEED's record, [Machine.Stats] the
// counts and the last applied index.
//
// [Machine.Save] writes a versioned, canonical, checksummed snapshot (the
// same state gives the same bytes, and a snapshot Load accepts is exactly
// what Save writes for the state loaded); [Machine.Load] checks a snapshot
// entirely, including the invariants of the rules above, before replacing
// the state, and refuses another version with [ErrSnapshotVersion].
//
// Nothing here reads a clock, draws a random number or does I/O beyond the
// io.Writer and io.Reader given to Save and Load; no map is iterated into
// output without sorting.
package shard
