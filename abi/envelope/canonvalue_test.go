package envelope

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"

	"github.com/gowebpki/jcs"
	"pgregory.net/rapid"
)

// slowCanonicalPayload is CanonicalPayload's general path alone.
func slowCanonicalPayload(v any) ([]byte, error) {
	text, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	if err := CheckSafeIntegers(text, "payload"); err != nil {
		return nil, err
	}
	canon, err := jcs.Transform(text)
	if err != nil {
		return nil, err
	}
	return canon, CheckSafeIntegers(canon, "payload")
}

// A payload map written directly is byte for byte what the general path
// (json.Marshal, then jcs.Transform) writes, and one the direct writer
// declines still gets the general path's answer.
func TestCanonicalValueAgreesWithJCS(t *testing.T) {
	str := rapid.OneOf(rapid.String(), rapid.SampledFrom([]string{"", "<&>", "\u2028\u2029", "caf\u00e9", "\x7f", "\xff\xfe", "a\"b\\c\n\t\x01"}))
	num := rapid.OneOf(rapid.Int64Range(-1<<53, 1<<53), rapid.Int64(),
		rapid.SampledFrom([]int64{0, -1, 1 << 53, 1<<53 + 1, -(1 << 53), math.MaxInt64}))
	var value func(depth int) *rapid.Generator[any]
	value = func(depth int) *rapid.Generator[any] {
		leaves := []*rapid.Generator[any]{
			rapid.Just[any](nil), rapid.Map(rapid.Bool(), func(b bool) any { return b }),
			rapid.Map(str, func(s string) any { return s }),
			rapid.Map(num, func(n int64) any { return n }),
			rapid.Map(num, func(n int64) any { return int(n) }),
			rapid.Map(rapid.Uint64(), func(n uint64) any { return n }),
			rapid.Map(rapid.Float64(), func(f float64) any { return f }),
			rapid.Map(num, func(n int64) any { return float64(n) }),
			rapid.Map(rapid.SliceOf(str), func(s []string) any { return s }),
			rapid.Just[any]([]string(nil)),
			rapid.Map(rapid.SampledFrom([]string{`{"a":1}`, `{"b":[1,2],"a":1}`, `"x"`, `1.5`, `12345678901234567890`, `null`}),
				func(s string) any { return json.RawMessage(s) }),
		}
		if depth > 0 {
			leaves = append(leaves,
				rapid.Map(rapid.SliceOfN(value(depth-1), 0, 4), func(v []any) any { return v }),
				rapid.Map(rapid.MapOfN(str, value(depth-1), 0, 5), func(m map[string]any) any { return m }))
		}
		return rapid.OneOf(leaves...)
	}
	rapid.Check(t, func(t *rapid.T) {
		m := rapid.MapOfN(str, value(2), 0, 6).Draw(t, "payload")
		got, err := CanonicalPayload(m)
		want, wantErr := slowCanonicalPayload(m)
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("error %v, the general path's %v", err, wantErr)
		}
		if err == nil && !bytes.Equal(got, want) {
			t.Fatalf("direct\n%s\ngeneral\n%s", got, want)
		}
	})
}

// The direct writer takes a host's payloads (else the test above would
// hold by always declining).
func TestCanonicalValueTakesHostPayloads(t *testing.T) {
	for _, m := range []map[string]any{
		{"epoch": uint64(1), "proposal": "sha256:ab", "worker_pk": "cd", "verifiers": []string{"a", "b"}, "considered": []string{"x"}, "fence": uint64(7)},
		{"epoch": uint64(1), "commit": "sha256:ab", "result": "sha256:cd", "attestations": []string{"sha256:1"}},
		{"epoch": uint64(2), "reason": "expired"},
		{"upto_lamport": uint64(9), "audit_root": "sha256:1", "plan_digest": "sha256:2", "decisions": "sha256:3"},
	} {
		if _, ok := appendCanonicalValue(nil, m); !ok {
			t.Errorf("%v: declined", m)
		}
	}
}
