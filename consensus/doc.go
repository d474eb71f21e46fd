// Package consensus runs the DECIDE shards (PROTOCOL.md section 9) on
// dragonboat multi-group Raft: 256 buckets keyed by the first byte of a NEED
// id, mapped onto 1 to 256 Raft shards by a table fixed when the cluster is
// created (data/raft/cluster.json), giving at most one DECIDE per (NEED,
// epoch) and one FINALIZE per NEED, with the fence the Raft index of the
// accepted DECIDE.
//
// # Contract
//
//   - One [Node] per process: a dragonboat NodeHost (pinned at
//     v4.0.0-20250723143628-076c7f6497dc) running a replica of every shard.
//     Alone it is a single-replica cluster; with Config.Peers it is one of
//     three or more hosts; Node.AddHost / RemoveHost change membership.
//   - The replicated state machine is consensus/shard, a pure type tested
//     without Raft: this package only wraps it (Update never returns an
//     error, which would stop dragonboat; snapshots are the shard's own
//     versioned encoding).
//   - [Node.Decide], Release, Finalize and Propose answer with the shard's
//     Result: accepted, or rejected with the reason code. An error means no
//     answer was had before ctx ended; temporary failures are retried inside
//     (a retry that commits twice is answered the same, by the rules).
//   - [Node.Get] reads a NEED's record linearizably; [Node.Status] reads each
//     local replica (leader, term, members, applied index, counts).
//   - [Node.Applied] streams every command a local replica accepted, for the
//     protocol core, without ever blocking the shard; after a restart the
//     entries since the last snapshot come again. The entries a snapshot
//     covers are not applied again: a replica restored from one (at a
//     restart, or sent by a leader whose log no longer holds what the
//     replica lacks) streams every accepted command of the snapshot it did
//     not hold, marked Recovered, with the answer it got.
//   - dragonboat's soft settings come from the file shipped in
//     consensus/softsettings (see that package for how), and its logging is
//     quiet below ERROR unless SWARMHOST_RAFT_LOG says otherwise.
//
// consensus/faultnet is an in-process transport with link cuts for fault
// tests. Figures (adapter vs raw SyncPropose, time to ready, memory) are in
// docs/PERFORMANCE.md.
package consensus
