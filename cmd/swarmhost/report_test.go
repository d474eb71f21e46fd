package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/canswarm/swarmhost/host/protocol"
)

// How need submit --wait reports a NEED that ended without a FINALIZE: the
// reason, and a hint only where it names what to change.
func TestReportEndHints(t *testing.T) {
	for _, tc := range []struct {
		name string
		info protocol.ThreadInfo
		want []string // stderr lines, in order
	}{
		{"a capsule that says no more than false",
			protocol.ThreadInfo{Phase: protocol.PhaseRefused, Refusal: protocol.AdmitDenied},
			[]string{"refused: " + protocol.AdmitDenied, "hint: the NEED's capsule decides what it admits, and this one says no more than false"}},
		{"a capsule's reasons",
			protocol.ThreadInfo{Phase: protocol.PhaseRefused, Refusal: protocol.AdmitDenied + ": k 1, n 8: whole numbers with 1 <= k <= n <= 7"},
			[]string{"refused: " + protocol.AdmitDenied + ": k 1, n 8"}},
		{"too many texts inline",
			protocol.ThreadInfo{Phase: protocol.PhaseRefused, Refusal: protocol.AdmitDenied + ": input: 101 texts inline, at most 100 (more go in the CAS, named by one ref in content_refs)"},
			[]string{"refused: ", "hint: need submit --input-in-cas"}},
		{"a text too long inline",
			protocol.ThreadInfo{Phase: protocol.PhaseRefused, Refusal: protocol.AdmitDenied + ": input: 1 text over 1000 characters (the first: input[0], 1200 characters; more go in the CAS, named by one ref in content_refs)"},
			[]string{"refused: ", "hint: need submit --input-in-cas"}},
		{"agents out of their gas budget",
			protocol.ThreadInfo{Phase: protocol.PhaseAbandoned, Abandoned: "released (no_bids) with max_epochs used up; the last bid window here: no bid came; the last agent output refused: classifier: out of gas (used 1000 of 1000)"},
			[]string{"abandoned: released (no_bids)", "hint: each agent call on a NEED may use its gas budget"}},
		{"the host's verify out of the policy gas",
			protocol.ThreadInfo{Phase: protocol.PhaseAbandoned, Abandoned: "released (no_bids) with max_epochs used up; epochs 1, 2 invalidated: the host's verify of the COMMIT failed: out of gas (used 200000000 of 200000000)"},
			[]string{"abandoned: released (no_bids)", "hint: the host's capsule evaluations have the node's policy gas (200,000,000), whatever the NEED's gas budget"}},
	} {
		var out, errs bytes.Buffer
		e := &env{stdout: &out, stderr: &errs}
		_ = e.reportEnd(tc.info)
		lines := strings.Split(strings.TrimSuffix(errs.String(), "\n"), "\n")
		if len(lines) != len(tc.want) {
			t.Errorf("%s: %d lines, want %d:\n%s", tc.name, len(lines), len(tc.want), errs.String())
			continue
		}
		for i, w := range tc.want {
			if !strings.HasPrefix(lines[i], w) {
				t.Errorf("%s: line %d %q, want it to start %q", tc.name, i+1, lines[i], w)
			}
		}
	}
}
