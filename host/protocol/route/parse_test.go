package route_test

import (
	"testing"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/protocol/route"
)

func TestParseBid(t *testing.T) {
	good := []struct {
		in                string
		epoch, price, eta uint64
	}{
		{`{"bid":{"eta_ms":250,"price":12},"epoch":1}`, 1, 12, 250},
		{` { "epoch" : 3 , "bid" : { "price" : 0 , "eta_ms" : 0 } } `, 3, 0, 0},
		{`{"epoch":9007199254740992,"bid":{"price":9007199254740992,"eta_ms":9007199254740992}}`, 1 << 53, 1 << 53, 1 << 53},
		{`{"\u0065poch":2,"bid":{"price":1,"eta_ms":1}}`, 2, 1, 1},
	}
	for _, tc := range good {
		e, p, eta, err := route.ParseBid([]byte(tc.in))
		if err != nil || e != tc.epoch || p != tc.price || eta != tc.eta {
			t.Errorf("%s: got %d %d %d %v", tc.in, e, p, eta, err)
		}
	}
	bad := []struct{ in, field string }{
		{``, "payload"},
		{`null`, "payload"},
		{`[]`, "payload"},
		{`{"epoch":1,"bid":{"price":1,"eta_ms":1}`, "payload"},
		{`{"epoch":1,"bid":{"price":1,"eta_ms":1}} {}`, "payload"},
		{`{"epoch":1,"bid":{"price":1,"eta_ms":1}}x`, "payload"},
		{`{"bid":{"price":1,"eta_ms":1}}`, "payload.epoch"},
		{`{"epoch":0,"bid":{"price":1,"eta_ms":1}}`, "payload.epoch"},
		{`{"epoch":"1","bid":{"price":1,"eta_ms":1}}`, "payload.epoch"},
		{`{"epoch":null,"bid":{"price":1,"eta_ms":1}}`, "payload.epoch"},
		{`{"epoch":1,"epoch":1,"bid":{"price":1,"eta_ms":1}}`, "payload.epoch"},
		{`{"epoch":1}`, "payload.bid"},
		{`{"epoch":1,"bid":[]}`, "payload.bid"},
		{`{"epoch":1,"bid":{"eta_ms":1}}`, "payload.bid.price"},
		{`{"epoch":1,"bid":{"price":1}}`, "payload.bid.eta_ms"},
		{`{"epoch":1,"bid":{"price":-1,"eta_ms":1}}`, "payload.bid.price"},
		{`{"epoch":1,"bid":{"price":1.5,"eta_ms":1}}`, "payload.bid.price"},
		{`{"epoch":1,"bid":{"price":1.0,"eta_ms":1}}`, "payload.bid.price"},
		{`{"epoch":1,"bid":{"price":1e3,"eta_ms":1}}`, "payload.bid.price"},
		{`{"epoch":1,"bid":{"price":9007199254740993,"eta_ms":1}}`, "payload.bid.price"},
		{`{"epoch":1,"bid":{"price":1,"eta_ms":123456789012345678901234567890}}`, "payload.bid.eta_ms"},
		{`{"epoch":1,"bid":{"price":1,"eta_ms":true}}`, "payload.bid.eta_ms"},
		{`{"epoch":1,"bid":{"price":1,"eta_ms":1,"currency":"x"}}`, "payload.bid.currency"},
		{`{"epoch":1,"bid":{"price":1,"eta_ms":1},"note":{}}`, "payload.note"},
		{`{"epoch":1,"bid":{"price":01,"eta_ms":1}}`, "payload.bid"}, // a syntax error: reported where the decoder stops,
	}
	for _, tc := range bad {
		_, _, _, err := route.ParseBid([]byte(tc.in))
		re, ok := err.(*envelope.RejectError)
		if !ok || re.Code != envelope.CodeMalformed || re.Field != tc.field {
			t.Errorf("%s: err %v, want malformed at %s", tc.in, err, tc.field)
		}
	}
}
