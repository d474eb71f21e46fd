package main

import "testing"

// Every offer is within the classify capsule's bid rule (policies/classify:
// price at most 1000, eta at most the NEED's deadline), however many texts;
// a small input gets the small price and estimate it always had.
func TestOfferStaysWithinTheCapsulesBidRule(t *testing.T) {
	for _, tc := range []struct {
		texts      int
		deadline   uint64
		price, eta uint64
	}{
		{1, 0, 1, 22},
		{10, 120_000, 2, 40},
		{2_000, 120_000, 201, 4_020},
		{20_000, 120_000, 1000, 40_020},
		{1_000_000, 120_000, 1000, 120_000},
		{1_000_000, 0, 1000, 600_000},
	} {
		price, eta := offer(tc.texts, tc.deadline)
		if price != tc.price || eta != tc.eta {
			t.Errorf("offer(%d texts, deadline %d) = price %d, eta %d; want %d, %d", tc.texts, tc.deadline, price, eta, tc.price, tc.eta)
		}
		limit := tc.deadline
		if limit == 0 {
			limit = defaultDeadlineMS
		}
		if price < 1 || price > maxPrice || eta < 1 || eta > limit {
			t.Errorf("offer(%d texts, deadline %d) = price %d, eta %d: outside the capsule's bid rule", tc.texts, tc.deadline, price, eta)
		}
	}
}
