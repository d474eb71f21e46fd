package route

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/canswarm/swarmhost/abi/envelope"
)

// DefaultShortlist is m, the number of bids kept by the shortlist.
const DefaultShortlist = 3

// ErrNoEligibleBid is returned by Select when no bid survives the filter
// (or none was given): the host RELEASEs the epoch with reason no_bids.
var ErrNoEligibleBid = errors.New("route: no eligible bid")

// ErrInvalidInput is wrapped by every other error of Select: the caller
// passed something no recorded PROPOSE or evaluation can produce.
var ErrInvalidInput = errors.New("route: invalid input")

// Bid is one considered PROPOSE with the results of its evaluations.
type Bid struct {
	ProposalID    string   // the PROPOSE envelope's id
	SenderPK      string   // its sender_pk: the worker_pk if chosen
	Price         uint64   // payload bid.price, at most 2^53
	EtaMs         uint64   // payload bid.eta_ms, at most 2^53
	Allowed       bool     // the bid entrypoint's result is true
	HasCapability bool     // the sender's token grants the NEED's capability
	Score         *float64 // the route entrypoint's result; nil when there is no route entrypoint or its result is not a number
}

// Outcome says what became of a bid.
type Outcome string

// The outcomes, in the order of the steps that give them.
const (
	OutcomeNoCapability   Outcome = "no_capability"
	OutcomeDenied         Outcome = "denied"
	OutcomeNotShortlisted Outcome = "not_shortlisted"
	OutcomeOutranked      Outcome = "outranked"
	OutcomeSelected       Outcome = "selected"
)

// TraceEntry is why one considered bid was or was not chosen.
type TraceEntry struct {
	ProposalID string
	Outcome    Outcome
	// Rank is the bid's 1-based place among the bids that passed the
	// filter, by (price, eta_ms, tie key); 0 for a filtered bid. The
	// shortlist is the bids of rank 1 to m.
	Rank   int
	TieKey string // TieKey(need, ProposalID)
}

// Decision is the router's answer.
type Decision struct {
	ProposalID string       // the chosen proposal ("" with ErrNoEligibleBid)
	WorkerPK   string       // its sender
	Considered []string     // every proposal id given, sorted ascending, once each
	Shortlist  []string     // the shortlisted proposal ids by rank
	Trace      []TraceEntry // one per considered id, in the same order
}

// TieKey is the tie-break key of a proposal: the lowercase hex SHA-256 of
// the ASCII bytes of needID immediately followed by proposalID.
func TieKey(needID, proposalID string) string {
	h := sha256.Sum256([]byte(needID + proposalID))
	return hex.EncodeToString(h[:])
}

// Select runs filter -> shortlist -> selection over bids (see the package
// documentation). m is the shortlist size; 0 means DefaultShortlist.
func Select(needID string, bids []Bid, m int) (Decision, error) {
	if m == 0 {
		m = DefaultShortlist
	}
	if m < 0 {
		return Decision{}, fmt.Errorf("%w: shortlist size %d", ErrInvalidInput, m)
	}
	if !envelope.IsRef(needID) {
		return Decision{}, fmt.Errorf("%w: need id %q is not a ref", ErrInvalidInput, needID)
	}
	uniq, err := dedupe(bids)
	if err != nil {
		return Decision{}, err
	}
	d := Decision{Considered: make([]string, len(uniq)), Shortlist: []string{}, Trace: make([]TraceEntry, len(uniq))}
	keys := make(map[string]string, len(uniq))
	var eligible []*Bid
	for i := range uniq {
		b := &uniq[i]
		keys[b.ProposalID] = TieKey(needID, b.ProposalID)
		d.Considered[i] = b.ProposalID
		d.Trace[i] = TraceEntry{ProposalID: b.ProposalID, TieKey: keys[b.ProposalID]}
		switch {
		case !b.HasCapability:
			d.Trace[i].Outcome = OutcomeNoCapability
		case !b.Allowed:
			d.Trace[i].Outcome = OutcomeDenied
		default:
			eligible = append(eligible, b)
		}
	}
	slices.SortFunc(eligible, func(a, b *Bid) int {
		return cmp.Or(cmp.Compare(a.Price, b.Price), cmp.Compare(a.EtaMs, b.EtaMs),
			cmp.Compare(keys[a.ProposalID], keys[b.ProposalID]), cmp.Compare(a.ProposalID, b.ProposalID))
	})
	rank := make(map[string]int, len(eligible))
	for i, b := range eligible {
		rank[b.ProposalID] = i + 1
	}
	short := eligible[:min(m, len(eligible))]
	for _, b := range short {
		d.Shortlist = append(d.Shortlist, b.ProposalID)
	}
	if len(short) > 0 {
		best := slices.MinFunc(short, func(a, b *Bid) int { return better(a, b, keys, rank) })
		d.ProposalID, d.WorkerPK = best.ProposalID, best.SenderPK
	}
	for i := range d.Trace {
		e := &d.Trace[i]
		e.Rank = rank[e.ProposalID]
		switch {
		case e.Outcome != "":
		case e.ProposalID == d.ProposalID:
			e.Outcome = OutcomeSelected
		case e.Rank <= m:
			e.Outcome = OutcomeOutranked
		default:
			e.Outcome = OutcomeNotShortlisted
		}
	}
	if d.ProposalID == "" {
		return d, ErrNoEligibleBid
	}
	return d, nil
}

// better orders shortlisted bids, best first: scored before unscored, then
// score descending and tie key ascending; unscored bids by rank.
func better(a, b *Bid, keys map[string]string, rank map[string]int) int {
	switch {
	case a.Score != nil && b.Score == nil:
		return -1
	case a.Score == nil && b.Score != nil:
		return 1
	case a.Score == nil:
		return cmp.Compare(rank[a.ProposalID], rank[b.ProposalID])
	}
	return cmp.Or(cmp.Compare(*b.Score, *a.Score),
		cmp.Compare(keys[a.ProposalID], keys[b.ProposalID]), cmp.Compare(a.ProposalID, b.ProposalID))
}

// dedupe checks every bid and returns them sorted by proposal id, once each.
func dedupe(bids []Bid) ([]Bid, error) {
	out := make([]Bid, 0, len(bids))
	for _, b := range bids {
		if err := check(b); err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	slices.SortFunc(out, func(a, b Bid) int { return cmp.Compare(a.ProposalID, b.ProposalID) })
	if err := conflicts(out); err != nil {
		return nil, err
	}
	return slices.CompactFunc(out, func(a, b Bid) bool { return a.ProposalID == b.ProposalID }), nil
}

// conflicts reports two bids with one proposal id but different fields in
// a slice sorted by proposal id.
func conflicts(sorted []Bid) error {
	for i := 1; i < len(sorted); i++ {
		a, b := sorted[i-1], sorted[i]
		if a.ProposalID == b.ProposalID && !same(a, b) {
			return fmt.Errorf("%w: proposal %s given twice with different fields", ErrInvalidInput, a.ProposalID)
		}
	}
	return nil
}

func same(a, b Bid) bool {
	sa, sb := a.Score, b.Score
	a.Score, b.Score = nil, nil
	return a == b && (sa == nil) == (sb == nil) && (sa == nil || *sa == *sb)
}

func check(b Bid) error {
	switch {
	case !envelope.IsRef(b.ProposalID):
		return fmt.Errorf("%w: proposal id %q is not a ref", ErrInvalidInput, b.ProposalID)
	case !envelope.IsPublicKey(b.SenderPK):
		return fmt.Errorf("%w: proposal %s: sender %q is not a public key", ErrInvalidInput, b.ProposalID, b.SenderPK)
	case b.Price > MaxInt || b.EtaMs > MaxInt:
		return fmt.Errorf("%w: proposal %s: price or eta_ms above 2^53", ErrInvalidInput, b.ProposalID)
	case b.Score != nil && (math.IsNaN(*b.Score) || math.IsInf(*b.Score, 0)):
		return fmt.Errorf("%w: proposal %s: score %v is not finite", ErrInvalidInput, b.ProposalID, *b.Score)
	}
	return nil
}
