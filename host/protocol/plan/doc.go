// Package plan is the shared plan of PROTOCOL.md section 8: a CRDT whose
// state is a pure fold of a set of ops, merged by set union.
//
// # Ops
//
// An UPDATE_PLAN payload is {"ops":[...]}, 1 to [MaxOps] (256) ops. One op
// is a JSON object whose "op" names its kind, with exactly that kind's
// fields:
//
//	{"op":"ADD_TASK","task":T,"spec":<any JSON>}
//	{"op":"REQUIRES","task":T,"on":T2}        T requires T2
//	{"op":"PRODUCES","task":T,"ref":"sha256:..."}
//	{"op":"STATE","task":T,"state":"todo"|"claimed"|"done"|"verified"|"final"}
//	{"op":"LINK","task":T,"need":"sha256:..."}
//	{"op":"ANNOTATE","task":T,"key":K,"value":<any JSON>}
//
// A task id (task, on) and an annotation key are non-empty UTF-8 strings of
// at most [MaxIDLen] (256) bytes; ref and need are sha256 refs. spec and
// value are any JSON values (null included), kept in RFC 8785 form, with
// integers within +/-2^53. [ParseOps] and [ParseUpdatePlan] decode strictly:
// an unknown kind, an unknown, duplicate or missing field, a wrong type or
// an invalid value is a [*FieldError] (matching [ErrMalformed]) that names
// the op's index and field: `ops[2].state: "doing" is not a plan state`.
// [EncodeOps], [EncodeUpdatePlan] and [Op.MarshalJSON] write RFC 8785.
//
// # Identity and order
//
// An op's identity is (envelope id, index in that envelope's ops). A held
// op also carries its envelope's lamport and sender_pk: the fold order is
// (lamport, sender_pk, envelope id) of PROTOCOL.md section 3, then index.
// Strings compare as bytes (they are lowercase hex).
//
// # Fold
//
// The state is computed by applying every held op once, in fold order, to
// an empty plan:
//
//   - Every op creates the tasks it names (task, and on for REQUIRES) if
//     the fold has not met them yet: spec null, state todo, nothing else.
//     An op about a task no ADD_TASK names is therefore kept, not dropped,
//     and the task shows with spec null.
//   - ADD_TASK sets the spec if no earlier ADD_TASK of the task did: the
//     first ADD_TASK in fold order wins, whether or not an earlier op had
//     already created the task.
//   - REQUIRES {task, on} adds the edge task -> on unless on already
//     reaches task along kept edges (a self-edge always does): an edge that
//     would close a cycle is ignored. The kept graph is acyclic and, since
//     the order is total, the same on every replica. (It can lose an edge a
//     replica showed earlier, when an op that sorts before it arrives late.)
//   - PRODUCES and LINK add to the task's sets of refs and NEED ids.
//   - STATE moves the task's state to the later of its state and the op's,
//     on todo < claimed < done < verified < final: never back. The result is
//     the furthest state any held STATE op names.
//   - ANNOTATE sets key to value: the last in fold order wins. A null value
//     is a value, not a deletion: tasks, edges and keys only grow.
//
// # Canonical state and digest
//
// [Plan.State] is the RFC 8785 form of
//
//	{"tasks":{"<task id>":{
//	    "annotations":{"<key>":<value>,...},
//	    "needs":["sha256:...",...],
//	    "produces":["sha256:...",...],
//	    "requires":["<task id>",...],
//	    "spec":<the winning spec, or null>,
//	    "state":"todo"|"claimed"|"done"|"verified"|"final"}, ...}}
//
// Every member is always present (empty as {} or []); object keys are in
// RFC 8785 order (UTF-16 code units) and the three lists are sorted in the
// same order, without duplicates. The empty plan is {"tasks":{}}.
// plan_digest is [Plan.Digest]: envelope.HashRef of those bytes. The fold
// and the bytes are cached; adding ops that all sort after the last folded
// op folds just them, anything else refolds from the set.
//
// # Merge
//
// A [Plan] holds a set of ops. [Plan.Add] adds one envelope's ops, and
// [Plan.Import] entries from a RECONCILE; both are set union, a duplicate
// is a no-op, and replicas holding the same set have byte-identical State
// and Digest whatever the order, duplication or split of what they were
// given (property P5). A RECONCILE exchanges [Plan.Have] (the sorted ids of
// the envelopes held in full) and [Plan.Missing] (the held entries of the
// envelopes a peer's have[] lacks). An [Entry] is one op with its identity,
// its envelope's lamport and sender_pk, and the envelope's op count, so a
// replica knows when it holds an envelope only in part:
//
//	{"count":3,"id":"sha256:...","index":0,"lamport":7,"op":{...},"sender_pk":"<64 hex>"}
//
// [ParseEntries] and [EncodeEntries] read and write a RECONCILE's ops[].
//
// # Queries
//
// [Plan.QueryJSON] answers the swarm_v1 plan_query host function: {} gives
// the whole state, {"task":"<id>"} that task's object as in the state.
//
// # Errors
//
// Malformed input is a [*FieldError] matching [ErrMalformed]. An Add or
// Import naming an op identity already held with different content, or an
// envelope with a different lamport, sender_pk or count, fails with
// [ErrConflict] (envelope ids are hashes of their content, so this is a
// caller's bug or a forgery). A query for an unknown task fails with
// [ErrNotFound]. A failed Add or Import adds nothing.
//
// The package is pure: it imports only the standard library and
// github.com/canswarm/swarmhost/abi/..., and does no I/O.
package plan
