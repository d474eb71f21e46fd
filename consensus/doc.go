// Package consensus holds the DECIDE shards (PROTOCOL.md section 9, issue
// [4/6]): 256 buckets keyed by the first byte of a NEED id, mapped onto Raft
// shards, giving at most one DECIDE per (NEED, epoch) and one FINALIZE per
// NEED, with the fence the Raft index of the accepted DECIDE.
//
// consensus/shard holds the shard's rules as a pure, deterministic state
// machine with versioned snapshots, tested without Raft. The dragonboat
// adapter that replicates it (pinned at v4.0.0-20250723143628-076c7f6497dc
// when first imported) is not written yet.
package consensus
