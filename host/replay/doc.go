// Package replay checks an audit trail against the rules, byte for byte
// (PROTOCOL.md sections 10-11, P4): `swarmhost replay`.
//
// # Contract
//
// [Run] verifies the trail (hash chains, heads, signatures, canonical bytes:
// host/audit) and steps every recorded input, merged across threads into
// the order the host stepped them, through a fresh host/protocol core — the
// same code the live node runs. The chains are checked first; each line's
// record (its envelope's signature above all) is checked on every core while
// the core steps, and a line that fails those checks is reported before any
// divergence the stepping found (which it may explain). At each line replay
// checks:
//
//   - an envelope line: the core's verdict equals the recorded one
//     (accepted, or rejected with the same code); a host DECIDE, RELEASE,
//     INVALIDATE, FINALIZE, CHECKPOINT or RECONCILE in the trail is one the
//     core itself published (the same id, so the same bytes);
//   - an agent line: the agent (its module, recorded by ref in the host's
//     configuration line, read from the CAS) run again on the input the core
//     asks for gives the recorded output, gas and fault;
//   - a policy line: the capsule evaluated again on the input the core asks
//     for gives the recorded result, gas and digest;
//   - an outcome line: the core records the same outcome;
//   - a checkpoint line: the audit root it names is the Merkle root of the
//     trail as it stood;
//
// and at the end that every envelope the core published is in the trail.
// The recorded outcomes (agent outputs, evaluations, consensus answers,
// timers) are what is stepped, so the replay reads no clock and asks no
// cluster; the plan digest is the fold of the plan ops replayed, and the
// CHECKPOINT a host writes on a clean stop carries the live one, so the two
// must agree for the CHECKPOINT's id to be reproduced.
//
// With [Options.FromCheckpoint], replay starts its costly checks at the
// trail's last CHECKPOINT of the host's whose signature verifies and whose
// audit root is the Merkle root of the trail before its checkpoint line:
// the lines that root covers are still chained, decoded and stepped (the
// core's state is rebuilt from them, verdicts compared), but their
// envelopes' signatures are not verified again and their agent calls and
// evaluations are not re-run: the host's signature over the root vouches
// for them, and a covered line edited changes the root, which replay names
// at the checkpoint's line. Every line after it is checked in full.
//
// With [Options.Streamed] (by itself for a trail over 256 MiB) the trail
// is not held whole: it is verified first, every line, a thread or a
// window of a long thread at a time (audit.Verify), then merged and
// stepped a batch at a time (host.StepTrailAll), and the heads stepped
// must be the heads verified. The checks, the first fault named (in
// thread and line order) and the report are the same; a covered line's
// signature is verified too, and an agent call is re-run when its
// recorded outcome is reached.
//
// The first disagreement is returned as a [*Divergence] naming the thread,
// the line, what the trail records and what replay found; a trail that
// fails its own checks, as the *audit.TamperError.
package replay
