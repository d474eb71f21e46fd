package host

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// BenchmarkMetricsOfAFlow is what a flow's metrics cost the node: the
// counter and histogram updates one NEED -> FINALIZE flow on one host
// makes (k = 3; counted from a real flow's /metrics: 9 envelopes
// accepted, 8 published and delivered back, 11 agent calls, 5 capsule
// evaluations, 2 proposals, ~16 rounds, 1 end), per op of the benchmark.
func BenchmarkMetricsOfAFlow(b *testing.B) {
	m := newNodeMetrics(func() float64 { return 0 }, func() float64 { return 0 }, func() float64 { return 0 })
	verbs := []string{"NEED", "PROPOSE", "DECIDE", "CLAIM", "COMMIT", "ATTEST", "ATTEST", "ATTEST", "FINALIZE"}
	agents := []string{"classifier-a", "classifier-b", "classifier-a", "verifier-a", "verifier-b", "verifier-c",
		"verifier-a", "verifier-a", "verifier-b", "verifier-b", "verifier-c"}
	entrypoints := []string{"admit", "bid", "bid", "route", "verify"}
	start := time.Now()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, v := range verbs {
			m.envelopes.WithLabelValues(v, "accepted").Inc()
			m.duplicates.Inc()
			m.published.WithLabelValues(v).Inc()
		}
		for _, a := range agents {
			m.agentSeconds.WithLabelValues(a).Observe(since(start))
			m.agentCalls.WithLabelValues(a, result(false, "fault")).Inc()
			m.agentGas.WithLabelValues(a).Add(2e6)
		}
		for _, e := range entrypoints {
			m.policySeconds.WithLabelValues(e).Observe(since(start))
			m.evaluations.WithLabelValues(e, result(false, "error")).Inc()
			m.policyGas.WithLabelValues(e).Add(1e5)
		}
		for _, op := range []string{"DECIDE", "FINALIZE"} {
			m.proposeSeconds.WithLabelValues(op).Observe(since(start))
			m.proposals.WithLabelValues(op, result(false, "error")).Inc()
		}
		for range 16 {
			m.commitSeconds.Observe(since(start))
			m.roundInputs.Observe(2)
		}
		m.needsEnded.WithLabelValues("final").Inc()
	}
}

// docs/OPERATING.md lists every swarmhost_ series the node serves, and no
// other: the table is the operator's reference.
func TestOperatingGuideListsEveryMetric(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "OPERATING.md"))
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `(swarmhost_[a-z_]+)`").FindAllStringSubmatch(string(doc), -1) {
		listed[m[1]] = true
	}
	served := map[string]bool{}
	fqName := regexp.MustCompile(`fqName: "([^"]+)"`)
	for _, c := range newNodeMetrics(func() float64 { return 0 }, func() float64 { return 0 }, func() float64 { return 0 }).own {
		ch := make(chan *prometheus.Desc, 4)
		go func() { c.Describe(ch); close(ch) }()
		for d := range ch {
			if m := fqName.FindStringSubmatch(d.String()); m != nil {
				served[m[1]] = true
			}
		}
	}
	if len(served) < 10 {
		t.Fatalf("found %d series served: the descriptions are not read right", len(served))
	}
	for name := range served {
		if !listed[name] {
			t.Errorf("%s is served but docs/OPERATING.md does not list it", name)
		}
	}
	for name := range listed {
		if !served[name] {
			t.Errorf("docs/OPERATING.md lists %s, which the node does not serve", name)
		}
	}
}
