package host

import (
	"testing"
	"time"
)

// The wait after a bid window with no eligible bid is on by default for a
// host of a cluster only, and can be set or turned off. (That a host finds
// itself in a cluster, on a first start and on a restart without peers,
// cluster_verifiers.txtar and cluster_flow.txtar check on real hosts.)
func TestNoBidsGraceDefaults(t *testing.T) {
	for _, tc := range []struct {
		name      string
		cfg       Config
		clustered bool
		want      int64
	}{
		{"alone", Config{}, false, 0},
		{"in a cluster", Config{}, true, DefaultNoBidsGrace.Milliseconds()},
		{"set", Config{NoBidsGrace: 750 * time.Millisecond}, false, 750},
		{"set in a cluster", Config{NoBidsGrace: 5 * time.Second}, true, 5000},
		{"off in a cluster", Config{NoBidsGrace: -1}, true, 0},
	} {
		if got := tc.cfg.noBidsGraceMS(tc.clustered); got != tc.want {
			t.Errorf("%s: %d ms, want %d", tc.name, got, tc.want)
		}
	}
}
