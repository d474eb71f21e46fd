package route_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/protocol/route"
)

var need = ref("need")

func ref(s string) string { return envelope.HashRef([]byte(s)) }

func pk(s string) string {
	h := sha256.Sum256([]byte("pk " + s))
	return hex.EncodeToString(h[:])
}

func score(f float64) *float64 { return &f }

// bid is an eligible bid named name, sent by the key named name.
func bid(name string, price, eta uint64, s *float64) route.Bid {
	return route.Bid{ProposalID: ref(name), SenderPK: pk(name), Price: price, EtaMs: eta,
		Allowed: true, HasCapability: true, Score: s}
}

// byKey returns the names sorted by their proposal's tie key.
func byKey(names ...string) []string {
	out := append([]string(nil), names...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if route.TieKey(need, ref(out[j])) < route.TieKey(need, ref(out[i])) {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func name(id string, names ...string) string {
	for _, n := range names {
		if ref(n) == id {
			return n
		}
	}
	return fmt.Sprintf("?%s", id)
}
