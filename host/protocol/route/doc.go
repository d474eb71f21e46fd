// Package route is the router of PROTOCOL.md section 6: filter -> shortlist
// -> selection over the bids of one epoch of a NEED. It is pure: the policy
// evaluations it depends on (the capsule's bid and route entrypoints, the
// capability check) are I/O that the host shell performs and records, and
// they arrive here as data in each [Bid]. The same NEED id, the same set of
// bids and the same m give the same [Decision], byte for byte, on every
// host and under replay, whatever the order or repetition of the bids.
//
// # Select
//
// [Select] takes the NEED id, the bids the host considered (the PROPOSE
// envelopes of the current epoch received inside the bid window, each with
// its recorded evaluations) and the shortlist size m (0 means
// [DefaultShortlist]; replay must use the same m as the live host, so m is
// best left at the default). It works in three steps:
//
//  1. Filter: a bid whose sender lacks the capability (HasCapability false,
//     trace outcome "no_capability", checked first) or that the bid
//     entrypoint did not allow (Allowed false, outcome "denied") is out.
//  2. Shortlist: the remaining bids are ranked by (price ascending, eta_ms
//     ascending, tie key ascending) and the first m are kept; the others
//     get outcome "not_shortlisted".
//  3. Selection: among the shortlist, a bid with a route score ranks above
//     every bid without one; scored bids rank by score descending, equal
//     scores by tie key ascending. When no shortlisted bid has a score, the
//     first of the shortlist wins. The winner's outcome is "selected", the
//     other shortlisted bids' "outranked".
//
// The tie key of a proposal is [TieKey]: the lowercase hex SHA-256 of the
// ASCII bytes of the NEED id immediately followed by the proposal id, both
// in their full "sha256:<64 hex>" spelling, with no separator; comparing the
// hex strings compares the digests as big-endian numbers. Tie keys of
// distinct proposals are distinct (short of a SHA-256 collision, where the
// proposal id decides), so the ranking is a total order.
//
// The [Decision] names the chosen proposal and its sender (the DECIDE's
// proposal and worker_pk), the considered list (the sorted, de-duplicated
// proposal ids of every bid given, filtered or not: the DECIDE's
// considered[], from which replay recomputes the choice), the shortlist in
// rank order and a [TraceEntry] per considered bid saying what became of it.
// When no bid is given or every bid is filtered out, Select returns the
// Decision (considered list and trace filled, no proposal) together with
// [ErrNoEligibleBid]: the host RELEASEs the epoch with reason no_bids.
//
// Each proposal is a bid of its own: two PROPOSEs from one sender are two
// bids. Which PROPOSEs are considered (epoch, bid window, one per sender or
// not) is the caller's choice, recorded in considered[].
//
// # Input rules
//
// The NEED id and every proposal id must be refs ("sha256:" + 64 lowercase
// hex), every sender a public key, price and eta_ms at most 2^53, and a
// score finite (JSON, and so a capsule, cannot produce NaN or infinities).
// The same proposal id given twice with identical fields counts once; with
// different fields it is an error, since an envelope id fixes its payload
// and a recorded evaluation is deterministic. These errors are the caller's
// bugs, not a sender's: they wrap [ErrInvalidInput].
//
// # Bids on the wire
//
// [ParseBid] is the strict decoder of a PROPOSE payload,
// {"epoch":E,"bid":{"price":P,"eta_ms":T}}. Prices and times are
// non-negative integers (price in the smallest unit of whatever the swarm
// pays in), written as plain integer literals: no sign, fraction or
// exponent, which is how JCS writes every integer up to 2^53. Epoch is 1 to
// 2^53, price and eta_ms 0 to 2^53. Unknown, missing or repeated keys,
// another type, or anything after the object is refused with an
// *envelope.RejectError of code malformed whose Field names the offending
// field ("payload.bid.price").
//
// The package imports only the standard library and abi/envelope; it reads
// no clock, draws no random number and does no I/O.
package route
