package plan_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/protocol/plan"
)

// FuzzParseOps: the decoder never panics; what it refuses is a located
// *FieldError; what it accepts re-encodes, canonically, to ops that parse
// to the same ops and encode to the same bytes.
func FuzzParseOps(f *testing.F) {
	r := ref("x")
	for _, seed := range []string{
		`[{"op":"ADD_TASK","task":"t1","spec":{"b":[1,2.5,"\u00e9"],"a":null}}]`,
		`[{"op":"REQUIRES","task":"t1","on":"t0"},{"op":"REQUIRES","task":"t0","on":"t1"}]`,
		`[{"op":"PRODUCES","task":"t","ref":"` + r + `"},{"op":"LINK","task":"t","need":"` + r + `"}]`,
		`[{"op":"STATE","task":"t","state":"final"},{"op":"STATE","task":"t","state":"todo"}]`,
		`[{"op":"ANNOTATE","task":"\ud83d\ude00","key":"k\n","value":[1e21,-0.0,"<&>"]}]`,
		` [ {"state":"done", "task":"t" ,"op":"STATE"} ] `,
		`[{"op":"STATE","task":"t","state":"doing"}]`,
		`[{"op":"ADD_TASK","task":"t","spec":9007199254740993}]`,
		`[{"op":"ADD_TASK","task":"t","task":"u","spec":1}]`,
		`[{"op":"STATE","task":"\ud800","state":"done"}]`,
		`[]`, `{}`, `[1]`, `[`, "[\"\xff\"]",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		ops, err := plan.ParseOps(raw)
		if err != nil {
			var fe *plan.FieldError
			if !errors.As(err, &fe) || !errors.Is(err, plan.ErrMalformed) || !strings.HasPrefix(fe.Field, "ops") {
				t.Fatalf("refusal %v (%T) is not a FieldError under ops", err, err)
			}
			if ops != nil {
				t.Fatal("ops returned with an error")
			}
			return
		}
		if len(ops) == 0 || len(ops) > plan.MaxOps {
			t.Fatalf("accepted %d ops", len(ops))
		}
		enc, err := plan.EncodeOps(ops)
		if err != nil {
			t.Fatalf("accepted ops do not encode: %v", err)
		}
		if !envelope.IsCanonical(enc) {
			t.Fatalf("encoding is not RFC 8785: %s", enc)
		}
		back, err := plan.ParseOps(enc)
		if err != nil {
			t.Fatalf("re-encoded ops do not parse: %v\n%s", err, enc)
		}
		if len(back) != len(ops) {
			t.Fatalf("%d ops came back as %d", len(ops), len(back))
		}
		for i := range ops {
			if !back[i].Equal(ops[i]) {
				t.Fatalf("op %d: %+v came back as %+v", i, ops[i], back[i])
			}
		}
		again, err := plan.EncodeOps(back)
		if err != nil || string(again) != string(enc) {
			t.Fatalf("encoding is not stable: %s vs %s (%v)", enc, again, err)
		}
	})
}
