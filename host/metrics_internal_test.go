package host

import (
	"testing"
	"time"
)

// BenchmarkMetricsOfAFlow is what a flow's metrics cost the node: the
// counter and histogram updates one NEED -> FINALIZE flow on one host
// makes (k = 3; counted from a real flow's /metrics: 9 envelopes
// accepted, 8 published and delivered back, 11 agent calls, 5 capsule
// evaluations, 2 proposals, ~16 rounds, 1 end), per op of the benchmark.
func BenchmarkMetricsOfAFlow(b *testing.B) {
	m := newNodeMetrics(func() float64 { return 0 })
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
