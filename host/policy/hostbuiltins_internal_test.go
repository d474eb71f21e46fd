package policy

import (
	"encoding/json"
	"math"
	"testing"
)

// expandedSize bounds the results it sizes from above, IPv6 prefixes that
// no memory could hold included, and sizes no other builtin.
func TestExpandedSize(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		min  uint64 // the result is at least this big
		max  uint64
		ok   bool
	}{
		{"net.cidr_expand", []string{`"10.0.0.0/24"`}, 256 * uint64(len(`"10.0.0.0",`)), 256 * uint64(len(`"255.255.255.255",`)), true},
		{"net.cidr_expand", []string{`"10.0.0.1/32"`}, 1, 64, true},
		{"net.cidr_expand", []string{`"fd00::/64"`}, math.MaxUint64, math.MaxUint64, true},
		{"net.cidr_expand", []string{`"fd00::/120"`}, 256 * uint64(len(`"fd00::ff",`)), 256 * 42, true},
		{"net.cidr_expand", []string{`"not a cidr"`}, 0, 0, false},
		{"sprintf", []string{`"%0999999d%0999999d"`, `[1, 2]`}, 1_999_998, 2_001_000, true},
		{"sprintf", []string{`"%01000000000d"`, `[1]`}, 0, 1000, true},    // fmt ignores the width
		{"sprintf", []string{`"%0*d"`, `[1000000000, 1]`}, 0, 1000, true}, // OPA's numbers are no width
		{"sprintf", []string{`"%.999999f"`, `[1.5]`}, 999_999, 1_001_000, true},
		{"sprintf", []string{`"%s and %d%%"`, `["x", 12]`}, uint64(len("x and 12%")), 100, true},
		{"concat", []string{`","`, `["a"]`}, 0, 0, false},
	} {
		args := make([]json.RawMessage, len(tc.args))
		for i, a := range tc.args {
			args[i] = json.RawMessage(a)
		}
		size, ok := expandedSize(tc.name, args)
		if ok != tc.ok || ok && (size < tc.min || size > tc.max) {
			t.Errorf("%s%v: %d, %v; want %v within [%d, %d]", tc.name, tc.args, size, ok, tc.ok, tc.min, tc.max)
		}
	}
}
