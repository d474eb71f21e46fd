// Package trailcheck checks properties P1 and P2 of PROTOCOL.md section 11
// over the audit trails of one or more hosts (tests use it on trails made
// by real nodes, under chaos and process kills):
//
//   - P1: across all the trails, at most one DECIDE is accepted per (NEED,
//     epoch) and at most one FINALIZE per NEED (the same envelope on every
//     host that has it);
//   - P2: every accepted CLAIM, HEARTBEAT and COMMIT (and DECIDE) names the
//     fence of its epoch's decision as the shard answered it, recorded by
//     the host that accepted it (its consensus lines) before it.
//
// For P7 (nothing lost) the Report holds the ids of the envelopes each
// host's trail records, accepted or rejected; Report.Missing names those of
// a list (say, what a reader found on the stream) that a host lacks.
package trailcheck
