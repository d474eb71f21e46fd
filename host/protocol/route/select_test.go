package route_test

import (
	"errors"
	"math"
	"testing"

	"github.com/canswarm/swarmhost/host/protocol/route"
)

// The tie key is pinned: sha256 of the two "sha256:..." strings, concatenated.
func TestTieKeyVector(t *testing.T) {
	n := "sha256:ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"
	p := "sha256:3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d"
	if got, want := route.TieKey(n, p), "f1feb246fb28009817820ecfc57459f6d23e1651df291c69a24d5e6fd4746782"; got != want {
		t.Fatalf("TieKey = %s, want %s", got, want)
	}
}

func TestSelect(t *testing.T) {
	lo, hi := byKey("x", "y")[0], byKey("x", "y")[1]
	denied := bid("denied", 1, 1, score(9))
	denied.Allowed = false
	noCap := bid("nocap", 1, 1, score(9))
	noCap.HasCapability = false
	both := bid("both", 1, 1, nil)
	both.Allowed, both.HasCapability = false, false
	tests := []struct {
		name string
		bids []route.Bid
		m    int
		want string            // the chosen bid's name
		out  map[string]string // expected outcomes by name (partial)
	}{
		{"cheapest without scores", []route.Bid{bid("a", 5, 1, nil), bid("b", 3, 9, nil), bid("c", 4, 1, nil)}, 0, "b",
			map[string]string{"a": "outranked", "c": "outranked"}},
		{"eta breaks a price tie", []route.Bid{bid("a", 3, 7, nil), bid("b", 3, 5, nil)}, 0, "b", nil},
		{"tie key breaks price and eta ties", []route.Bid{bid("x", 3, 5, nil), bid("y", 3, 5, nil)}, 0, lo, nil},
		{"highest score in the shortlist", []route.Bid{bid("a", 1, 1, score(0.5)), bid("b", 2, 1, score(2)), bid("c", 3, 1, score(1))}, 0, "b", nil},
		{"scores outside the shortlist are ignored", []route.Bid{bid("a", 1, 1, score(1)), bid("b", 2, 1, nil), bid("c", 3, 1, nil), bid("d", 4, 1, score(100))}, 0, "a",
			map[string]string{"d": "not_shortlisted", "b": "outranked"}},
		{"a scored bid beats a cheaper unscored one", []route.Bid{bid("a", 1, 1, nil), bid("b", 2, 1, score(-5))}, 0, "b", nil},
		{"equal scores: tie key, not price", []route.Bid{bid("x", 1, 1, score(2)), bid("y", 9, 9, score(2))}, 0, lo, nil},
		{"negative and zero scores", []route.Bid{bid("x", 1, 1, score(math.Copysign(0, -1))), bid("y", 1, 1, score(0)), bid("z", 1, 1, score(-1))}, 0, byKey("x", "y")[0], nil},
		{"m = 1", []route.Bid{bid("a", 1, 1, nil), bid("b", 2, 1, score(9))}, 1, "a",
			map[string]string{"b": "not_shortlisted"}},
		{"filtered bids never win", []route.Bid{denied, noCap, both, bid("a", 8, 8, nil)}, 0, "a",
			map[string]string{"denied": "denied", "nocap": "no_capability", "both": "no_capability"}},
		{"exact duplicates count once", []route.Bid{bid("x", 1, 1, nil), bid("x", 1, 1, nil), bid("y", 1, 1, nil)}, 1, lo,
			map[string]string{hi: "not_shortlisted"}},
		{"nothing given", nil, 0, "", nil},
		{"everything filtered", []route.Bid{denied, noCap}, 0, "", map[string]string{"denied": "denied", "nocap": "no_capability"}},
	}
	names := []string{"a", "b", "c", "d", "x", "y", "z", "denied", "nocap", "both"}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := route.Select(need, tc.bids, tc.m)
			if tc.want == "" {
				if !errors.Is(err, route.ErrNoEligibleBid) || d.ProposalID != "" {
					t.Fatalf("got %q, %v; want ErrNoEligibleBid", d.ProposalID, err)
				}
			} else if err != nil || d.ProposalID != ref(tc.want) || d.WorkerPK != pk(tc.want) {
				t.Fatalf("chose %s (%v), want %s", name(d.ProposalID, names...), err, tc.want)
			}
			if d.Considered == nil || d.Shortlist == nil || len(d.Trace) != len(d.Considered) {
				t.Fatalf("considered %v, shortlist %v, trace %v", d.Considered, d.Shortlist, d.Trace)
			}
			for _, e := range d.Trace {
				n := name(e.ProposalID, names...)
				if want, ok := tc.out[n]; ok && string(e.Outcome) != want {
					t.Errorf("%s: outcome %s, want %s", n, e.Outcome, want)
				}
				if (e.Outcome == route.OutcomeSelected) != (n == tc.want) {
					t.Errorf("%s: outcome %s", n, e.Outcome)
				}
			}
		})
	}
}

func TestSelectTrace(t *testing.T) {
	d, err := route.Select(need, []route.Bid{bid("a", 3, 1, nil), bid("b", 1, 1, nil), bid("c", 2, 1, nil)}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Shortlist) != 2 || d.Shortlist[0] != ref("b") || d.Shortlist[1] != ref("c") {
		t.Fatalf("shortlist %v", d.Shortlist)
	}
	ranks := map[string]int{"a": 3, "b": 1, "c": 2}
	for i, e := range d.Trace {
		if e.ProposalID != d.Considered[i] || e.TieKey != route.TieKey(need, e.ProposalID) {
			t.Fatalf("trace %d: %+v", i, e)
		}
		if n := name(e.ProposalID, "a", "b", "c"); e.Rank != ranks[n] {
			t.Errorf("%s: rank %d, want %d", n, e.Rank, ranks[n])
		}
	}
}

func TestSelectInvalidInput(t *testing.T) {
	badID := bid("a", 1, 1, nil)
	badID.ProposalID = "sha256:xyz"
	badPK := bid("a", 1, 1, nil)
	badPK.SenderPK = "AB"
	big := bid("a", 1<<53+1, 1, nil)
	other := bid("a", 2, 1, nil)
	tests := []struct {
		name string
		need string
		bids []route.Bid
		m    int
	}{
		{"need id", "need", nil, 0},
		{"negative m", need, nil, -1},
		{"proposal id", need, []route.Bid{badID}, 0},
		{"sender", need, []route.Bid{badPK}, 0},
		{"price above 2^53", need, []route.Bid{big}, 0},
		{"NaN score", need, []route.Bid{bid("a", 1, 1, score(math.NaN()))}, 0},
		{"infinite score", need, []route.Bid{bid("a", 1, 1, score(math.Inf(1)))}, 0},
		{"one id, two bids", need, []route.Bid{bid("a", 1, 1, nil), other}, 0},
		{"one id, two scores", need, []route.Bid{bid("a", 1, 1, nil), bid("a", 1, 1, score(1))}, 0},
	}
	for _, tc := range tests {
		if _, err := route.Select(tc.need, tc.bids, tc.m); !errors.Is(err, route.ErrInvalidInput) {
			t.Errorf("%s: err %v, want ErrInvalidInput", tc.name, err)
		}
	}
}
