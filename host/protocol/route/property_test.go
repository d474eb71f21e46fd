package route_test

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/canswarm/swarmhost/host/protocol/route"
)

// drawBids draws up to 12 bids with distinct proposal ids and small prices,
// times and scores, so that ties are common.
func drawBids(t *rapid.T) []route.Bid {
	n := rapid.IntRange(0, 12).Draw(t, "n")
	ids := rapid.SliceOfNDistinct(rapid.IntRange(0, 40), n, n, rapid.ID[int]).Draw(t, "ids")
	scores := []*float64{nil, nil, score(-1), score(0), score(1), score(2.5)}
	bids := make([]route.Bid, n)
	for i, id := range ids {
		b := bid(fmt.Sprint(id), rapid.Uint64Range(0, 3).Draw(t, "price"), rapid.Uint64Range(0, 2).Draw(t, "eta"),
			rapid.SampledFrom(scores).Draw(t, "score"))
		b.SenderPK = pk(fmt.Sprint(rapid.IntRange(0, 4).Draw(t, "sender"))) // a sender may bid twice
		b.Allowed = rapid.IntRange(0, 4).Draw(t, "allowed") > 0
		b.HasCapability = rapid.IntRange(0, 5).Draw(t, "capability") > 0
		bids[i] = b
	}
	return bids
}

// The decision depends on the set of bids only: not on their order, nor on
// repeats.
func TestPropertyOrderAndDuplicates(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		bids := drawBids(t)
		m := rapid.IntRange(0, 5).Draw(t, "m")
		want, wantErr := route.Select(need, bids, m)
		shuffled := rapid.Permutation(bids).Draw(t, "order")
		for range rapid.IntRange(0, 4).Draw(t, "repeats") {
			if len(bids) > 0 {
				at := rapid.IntRange(0, len(shuffled)).Draw(t, "at")
				shuffled = slices.Insert(shuffled, at, rapid.SampledFrom(bids).Draw(t, "repeat"))
			}
		}
		got, err := route.Select(need, shuffled, m)
		if err != wantErr || !reflect.DeepEqual(got, want) {
			t.Fatalf("reordered input gives %+v, %v; want %+v, %v", got, err, want, wantErr)
		}
	})
}

// The chosen bid passed the filter and is the best of the shortlist; the
// shortlist is the best m of the eligible bids; the considered list is the
// sorted set of ids given.
func TestPropertySelection(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		bids := drawBids(t)
		m := rapid.IntRange(1, 5).Draw(t, "m")
		d, err := route.Select(need, bids, m)
		byID := map[string]route.Bid{}
		var eligible []route.Bid
		for _, b := range bids {
			byID[b.ProposalID] = b
			if b.Allowed && b.HasCapability {
				eligible = append(eligible, b)
			}
		}
		ids := slices.Sorted(func(yield func(string) bool) {
			for id := range byID {
				if !yield(id) {
					return
				}
			}
		})
		if !slices.Equal(d.Considered, ids) && !(len(ids) == 0 && len(d.Considered) == 0) {
			t.Fatalf("considered %v, want %v", d.Considered, ids)
		}
		if len(eligible) == 0 {
			if !errors.Is(err, route.ErrNoEligibleBid) {
				t.Fatalf("no eligible bid, but err %v", err)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		chosen := byID[d.ProposalID]
		if !chosen.Allowed || !chosen.HasCapability || d.WorkerPK != chosen.SenderPK {
			t.Fatalf("chose %+v", chosen)
		}
		rankKey := func(b route.Bid) []string {
			return []string{fmt.Sprintf("%020d", b.Price), fmt.Sprintf("%020d", b.EtaMs), route.TieKey(need, b.ProposalID)}
		}
		slices.SortFunc(eligible, func(a, b route.Bid) int { return slices.Compare(rankKey(a), rankKey(b)) })
		short := eligible[:min(m, len(eligible))]
		for i, b := range short {
			if d.Shortlist[i] != b.ProposalID {
				t.Fatalf("shortlist %v", d.Shortlist)
			}
		}
		best := short[0]
		for _, b := range short {
			switch {
			case b.Score == nil:
			case best.Score == nil:
				best = b
			case *b.Score > *best.Score:
				best = b
			case *b.Score == *best.Score && route.TieKey(need, b.ProposalID) < route.TieKey(need, best.ProposalID):
				best = b
			}
		}
		if best.ProposalID != d.ProposalID {
			t.Fatalf("chose %s, want %s", d.ProposalID, best.ProposalID)
		}
	})
}

// Bids that the filter removes make no difference to the choice.
func TestPropertyFilteredBidsAreIrrelevant(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		bids := drawBids(t)
		var kept []route.Bid
		for _, b := range bids {
			if b.Allowed && b.HasCapability {
				kept = append(kept, b)
			}
		}
		all, err1 := route.Select(need, bids, 0)
		some, err2 := route.Select(need, kept, 0)
		if err1 != err2 || all.ProposalID != some.ProposalID || !slices.Equal(all.Shortlist, some.Shortlist) {
			t.Fatalf("with filtered bids %s %v, without %s %v", all.ProposalID, err1, some.ProposalID, err2)
		}
	})
}
