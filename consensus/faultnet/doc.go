// Package faultnet is an in-process Raft transport for dragonboat whose
// links can be cut and healed, for fault tests that run several NodeHosts in
// one process (issue [5/6]).
//
// A [Network] is a dragonboat config.TransportFactory: set it as
// NodeHostConfig.Expert.TransportFactory (consensus.Config.Transport) of
// every NodeHost of one cluster. It wraps dragonboat's in-process channel
// transport (plugin/chan) and namespaces its addresses by Network, so
// clusters on different Networks never reach each other even when their
// NodeHosts use the same addresses; within one Network, a RaftAddress must
// belong to one live NodeHost at a time (a NodeHost closed and reopened on
// the same address is fine). Any non-empty "host:port" is a valid address
// ("node1:1").
//
// # Contract
//
// A link is directed, from one RaftAddress to another. [Network.Cut] and
// [Network.Heal] cut and heal both directions of a pair, [Network.CutOneWay]
// and [Network.HealOneWay] one direction, [Network.Isolate] cuts every link
// to and from an address (including addresses not seen yet) until
// [Network.Rejoin], and [Network.HealAll] restores every link. Changes take
// effect at once, for connections already open too:
//
//   - A Raft message batch sent over a cut link is dropped silently, like
//     packets on a partitioned network: the sender's connection stays up,
//     and nothing is reported unreachable. A batch received over a cut link
//     (one already in flight when the link was cut) is dropped by the
//     receiver, judged by the batch's source address.
//   - A snapshot connection cannot be opened over a cut link, and sending a
//     snapshot chunk over a cut link fails, so the snapshot is aborted and
//     Raft retries it later. A chunk received from a replica whose address
//     (learned from the message batches it sent) is cut off is refused, which
//     ends that snapshot stream.
//
// Messages are never delayed, reordered or duplicated by faultnet itself;
// a healed link carries the next message sent. [Network.Dropped] counts
// what was dropped, so a test can check that a cut was felt.
//
// Every method is safe for concurrent use.
package faultnet
