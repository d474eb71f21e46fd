// Package lamport is a principal's persistent Lamport clock (PROTOCOL.md
// section 3).
//
// # Contract
//
//   - [Clock.Tick] is a send: L = L + 1, and the new L is returned to stamp
//     the envelope. [Clock.Observe] is a receive: L = max(L, seen).
//   - A time returned by Tick is never returned again, by this process or by
//     any later process opening the same file, whatever the crash. The clock
//     reserves blocks of times: the file records the highest time reserved,
//     fsynced before any time in the block is handed out, and a reopened
//     clock starts above it. A crash therefore skips at most one block of
//     times, which is allowed (times need only increase). A time observed
//     beyond the reservation is persisted too: a restarted clock is never
//     behind anything it had seen.
//   - Times stay within 2^53 (JCS integers); Tick fails rather than go past.
//   - A Clock is safe for concurrent use.
package lamport
