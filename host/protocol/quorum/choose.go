package quorum

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"

	"github.com/canswarm/swarmhost/abi/envelope"
)

// ErrPoolTooSmall is returned by Choose when fewer than n verifiers are
// eligible.
var ErrPoolTooSmall = errors.New("quorum: verifier pool too small")

// Weight is the rendezvous weight of verifier v for a NEED: SHA-256 of
// needID + "\n" + v, to be compared as a big-endian number.
func Weight(needID, v string) [sha256.Size]byte {
	return sha256.Sum256([]byte(needID + "\n" + v))
}

// Choose returns the n heaviest verifiers of pool for needID, excluding the
// worker exclude, heaviest first (see the package documentation).
func Choose(needID string, pool []string, exclude string, n int) ([]string, error) {
	if !envelope.IsRef(needID) {
		return nil, fmt.Errorf("quorum: need id %q is not a ref", needID)
	}
	if n < 1 {
		return nil, fmt.Errorf("quorum: cannot choose %d verifiers", n)
	}
	type cand struct {
		pk string
		w  [sha256.Size]byte
	}
	var cands []cand
	seen := make(map[string]bool, len(pool))
	for _, v := range pool {
		if !envelope.IsPublicKey(v) {
			return nil, fmt.Errorf("quorum: verifier %q is not a public key", v)
		}
		if v == exclude || seen[v] {
			continue
		}
		seen[v] = true
		cands = append(cands, cand{v, Weight(needID, v)})
	}
	if len(cands) < n {
		return nil, fmt.Errorf("%w: %d eligible, %d needed", ErrPoolTooSmall, len(cands), n)
	}
	slices.SortFunc(cands, func(a, b cand) int {
		return cmp.Or(bytes.Compare(b.w[:], a.w[:]), cmp.Compare(a.pk, b.pk))
	})
	out := make([]string, n)
	for i := range out {
		out[i] = cands[i].pk
	}
	return out, nil
}
