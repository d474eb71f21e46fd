package protocol

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/gowebpki/jcs"
	"pgregory.net/rapid"

	"github.com/canswarm/swarmhost/abi"
)

// The agent input the core encodes is byte for byte json.Marshal's (an
// agent's gas depends on it): for canonical JSON (envelopes, payloads) and
// json.Marshal's (decisions), and strings with characters json.Marshal
// escapes.
func TestAgentInputsMatchJSONMarshal(t *testing.T) {
	text := rapid.OneOf(rapid.StringMatching(`[a-z0-9 ]{0,12}`),
		rapid.SampledFrom([]string{"<b>", "a&b", "x>y", "\u2028", "\u2029", "é", "\"q\"", `back\slash`, "tab\there", "\x01", ""}))
	value := rapid.OneOf[any](rapid.Map(text, func(s string) any { return s }),
		rapid.Map(rapid.Int64Range(-1<<53, 1<<53), func(n int64) any { return n }),
		rapid.Just[any](nil), rapid.Just[any](true))
	object := rapid.Custom(func(t *rapid.T) []byte {
		m := rapid.MapOf(text, value).Draw(t, "object")
		b, _ := json.Marshal(m)
		if rapid.Bool().Draw(t, "canonical") {
			c, err := jcs.Transform(b)
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		return b // compact, not canonical: json.Marshal's
	})
	rapid.Check(t, func(t *rapid.T) {
		wire := object.Draw(t, "envelope")
		v := abi.ThreadView{State: text.Draw(t, "state"), Epoch: rapid.Uint64().Draw(t, "epoch"),
			Fence: rapid.Uint64().Draw(t, "fence")}
		if rapid.Bool().Draw(t, "need") {
			v.Need = object.Draw(t, "need payload")
		}
		v.NeedRefs = rapid.SliceOfN(text, 0, 3).Draw(t, "need refs")
		if rapid.Bool().Draw(t, "decide") {
			v.Decide = object.Draw(t, "decide payload")
		}
		pk := text.Draw(t, "pk")
		want, err := json.Marshal(abi.AgentInput{Envelope: wire, SelfPK: pk, Thread: v})
		if err != nil {
			t.Fatal(err)
		}
		if got := newAgentInputs(wire, v).forAgent(pk); !bytes.Equal(got, want) {
			t.Fatalf("encoded\n%s\njson.Marshal\n%s", got, want)
		}
	})
}

func BenchmarkAgentInput(b *testing.B) {
	wire := []byte(`{"capability":"sha256:0000000000000000000000000000000000000000000000000000000000000000","content_refs":[],"id":"sha256:1111111111111111111111111111111111111111111111111111111111111111","lamport":12,"payload":{"input":["where is my parcel","refund the invoice","great service"],"k":3,"n":3},"sender_pk":"2222222222222222222222222222222222222222222222222222222222222222","sig":"33333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333","thread_id":"","v":1,"verb":"NEED"}`)
	v := abi.ThreadView{State: "open", Epoch: 1, Need: []byte(`{"input":["where is my parcel","refund the invoice","great service"],"k":3,"n":3}`)}
	pk := "4444444444444444444444444444444444444444444444444444444444444444"
	b.Run("json.Marshal", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			json.Marshal(abi.AgentInput{Envelope: wire, SelfPK: pk, Thread: v})
		}
	})
	b.Run("agentInputs", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			newAgentInputs(wire, v).forAgent(pk)
		}
	})
}
