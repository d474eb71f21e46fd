package quorum_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"slices"
	"testing"

	"github.com/canswarm/swarmhost/host/protocol/quorum"
)

// The weight is pinned: sha256 of need id, "\n", verifier key.
func TestWeightVector(t *testing.T) {
	w := quorum.Weight("sha256:ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb",
		"3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d")
	if got, want := hex.EncodeToString(w[:]), "899be37a874a5af5e3adfbe38f14a8f6606861d90bcf2f1e170fd0c872714b36"; got != want {
		t.Fatalf("Weight = %s, want %s", got, want)
	}
}

// byWeight sorts keys heaviest first.
func byWeight(keys []string) []string {
	out := slices.Clone(keys)
	slices.SortFunc(out, func(a, b string) int {
		wa, wb := quorum.Weight(need, a), quorum.Weight(need, b)
		return bytes.Compare(wb[:], wa[:])
	})
	return out
}

func TestChoose(t *testing.T) {
	pool := pks(0, 1, 2, 3, 4, 5)
	heavy := byWeight(pool)
	tests := []struct {
		name    string
		pool    []string
		exclude string
		n       int
		want    []string
	}{
		{"the n heaviest, heaviest first", pool, "", 3, heavy[:3]},
		{"the whole pool", pool, "", 6, heavy},
		{"the worker is excluded", pool, heavy[0], 2, heavy[1:3]},
		{"a worker outside the pool changes nothing", pool, pk(99), 2, heavy[:2]},
		{"duplicates count once", append(slices.Clone(pool), pool...), "", 6, heavy},
	}
	for _, tc := range tests {
		got, err := quorum.Choose(need, tc.pool, tc.exclude, tc.n)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
	if _, err := quorum.Choose(need, pool, heavy[0], 6); !errors.Is(err, quorum.ErrPoolTooSmall) {
		t.Errorf("6 of 5 eligible: %v", err)
	}
	if _, err := quorum.Choose(need, append(pool, pool[0]), "", 7); !errors.Is(err, quorum.ErrPoolTooSmall) {
		t.Errorf("7 of 6 distinct: %v", err)
	}
	for _, bad := range []struct {
		need string
		pool []string
		n    int
	}{{"need", pool, 1}, {need, pool, 0}, {need, pool, -1}, {need, []string{"ABC"}, 1}} {
		if _, err := quorum.Choose(bad.need, bad.pool, "", bad.n); err == nil || errors.Is(err, quorum.ErrPoolTooSmall) {
			t.Errorf("Choose(%q, %v, %d): %v", bad.need, bad.pool, bad.n, err)
		}
	}
}
