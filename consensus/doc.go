// Package consensus will hold the DECIDE shards on dragonboat multi-group
// Raft (PROTOCOL.md section 9, issue [4/6]): 256 buckets keyed by the first
// byte of a NEED id, mapped onto Raft shards, giving at most one DECIDE per
// (NEED, epoch) and one FINALIZE per NEED, with the fence the Raft index of
// the accepted DECIDE.
//
// It holds no code yet. dragonboat is to be pinned at
// v4.0.0-20250723143628-076c7f6497dc when it is first imported.
package consensus
