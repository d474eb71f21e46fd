package route_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/protocol/route"
)

// FuzzParseBid: ParseBid never panics, refuses only with a malformed
// RejectError, accepts only what encoding/json reads as the same numbers,
// and accepts the canonical form of whatever it accepts, with the same
// values.
func FuzzParseBid(f *testing.F) {
	for _, s := range []string{
		`{"epoch":1,"bid":{"price":12,"eta_ms":250}}`,
		`{"bid":{"eta_ms":0,"price":0},"epoch":9007199254740992}`,
		`{"epoch":1,"bid":{"price":1.5,"eta_ms":1}}`,
		`{"epoch":1,"bid":{"price":-1,"eta_ms":1,"x":[]}}`,
		`{"epoch":1,"epoch":2}`, `[]`, ``, `{"epoch":1e2}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		epoch, price, eta, err := route.ParseBid(in)
		if err != nil {
			if envelope.CodeOf(err) != envelope.CodeMalformed {
				t.Fatalf("error without the malformed code: %v", err)
			}
			return
		}
		if epoch < 1 || epoch > route.MaxInt || price > route.MaxInt || eta > route.MaxInt {
			t.Fatalf("accepted out-of-range values %d %d %d", epoch, price, eta)
		}
		var v struct {
			Epoch json.Number `json:"epoch"`
			Bid   struct {
				Price json.Number `json:"price"`
				Eta   json.Number `json:"eta_ms"`
			} `json:"bid"`
		}
		d := json.NewDecoder(bytes.NewReader(in))
		d.DisallowUnknownFields()
		if err := d.Decode(&v); err != nil {
			t.Fatalf("accepted what encoding/json refuses: %v", err)
		}
		if got := fmt.Sprintf("%s %s %s", v.Epoch, v.Bid.Price, v.Bid.Eta); got != fmt.Sprintf("%d %d %d", epoch, price, eta) {
			t.Fatalf("encoding/json reads %s, ParseBid %d %d %d", got, epoch, price, eta)
		}
		canon, err := envelope.CanonicalPayload(in)
		if err != nil {
			t.Fatalf("accepted a payload that has no canonical form: %v", err)
		}
		e2, p2, t2, err := route.ParseBid(canon)
		if err != nil || e2 != epoch || p2 != price || t2 != eta {
			t.Fatalf("canonical form %s parses to %d %d %d %v", canon, e2, p2, t2, err)
		}
	})
}
