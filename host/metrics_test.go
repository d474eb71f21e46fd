package host_test

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/canswarm/swarmhost/host"
)

// metric is the value of one series in a Prometheus text exposition (its
// labels in name order, as the format writes them), or -1 when absent.
func metric(text, series string) float64 {
	for _, l := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}

// A node that took a NEED to its FINALIZE serves what it did at GET
// /metrics: the envelopes of the flow by verb and verdict, the NEED that
// ended final, its agents' calls and gas, the capsule's evaluations, the
// DECIDE and FINALIZE proposals, its trail commits.
func TestMetricsCountAFlow(t *testing.T) {
	h, _ := finishedFlow(t, t.TempDir(), host.Config{})
	defer h.Close()
	scrape := func() string {
		resp, err := http.Get(h.API.URL() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
			t.Fatalf("GET /metrics: %s, %s", resp.Status, resp.Header.Get("Content-Type"))
		}
		return string(b)
	}
	want := map[string]float64{
		`swarmhost_envelopes_total{verb="NEED",verdict="accepted"}`:          1,
		`swarmhost_envelopes_total{verb="DECIDE",verdict="accepted"}`:        1,
		`swarmhost_envelopes_total{verb="COMMIT",verdict="accepted"}`:        1,
		`swarmhost_envelopes_total{verb="ATTEST",verdict="accepted"}`:        3,
		`swarmhost_envelopes_total{verb="FINALIZE",verdict="accepted"}`:      1,
		`swarmhost_envelopes_published_total{verb="FINALIZE"}`:               1,
		`swarmhost_envelopes_published_total{verb="NEED"}`:                   1,
		`swarmhost_needs_ended_total{state="final"}`:                         1,
		`swarmhost_agent_calls_total{agent="classifier-a",result="ok"}`:      1,
		`swarmhost_agent_calls_total{agent="classifier-b",result="ok"}`:      1,
		`swarmhost_agent_calls_total{agent="verifier-a",result="ok"}`:        1,
		`swarmhost_policy_evaluations_total{entrypoint="admit",result="ok"}`: 1,
		`swarmhost_consensus_proposals_total{op="DECIDE",result="ok"}`:       1,
		`swarmhost_consensus_proposals_total{op="FINALIZE",result="ok"}`:     1,
		`swarmhost_trail_commit_duration_seconds_count`:                      1,
		`swarmhost_loop_queued_inputs`:                                       0,
		`go_goroutines`:                                                      1,
	}
	short := func(text string) []string {
		var out []string
		for series, least := range want {
			if got := metric(text, series); got < least {
				out = append(out, fmt.Sprintf("%s = %v, want at least %v", series, got, least))
			}
		}
		return out
	}
	// Wait returns once the FINALIZE's round is committed; what follows the
	// commit (its publication, the FINALIZE proposal's own answer, which
	// the shard's log may bring first) is counted just after: scraped
	// until every series shows, or the deadline.
	text := scrape()
	for deadline := time.Now().Add(15 * time.Second); len(short(text)) > 0 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		text = scrape()
	}
	for _, problem := range short(text) {
		t.Error(problem)
	}
	if got := metric(text, `swarmhost_agent_gas_used_total{agent="classifier-a"}`); got <= 0 {
		t.Errorf("the classifier's gas used is %v, want its calls' gas", got)
	}
	if got := metric(text, `swarmhost_needs_ended_total{state="final"}`); got != 1 {
		t.Errorf("%v NEEDs counted final, want the one flow once", got)
	}
}
