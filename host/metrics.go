package host

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// nodeMetrics are what a node counts of its work, served in the Prometheus
// text format at GET /metrics on its API. They count this process's work
// since it started: a start's rebuild from the trail is not counted
// again. Every label takes a bounded set of values (verbs, rejection
// codes, states, agent names from the plugins folder, capsule entrypoints,
// shard ops).
type nodeMetrics struct {
	registry *prometheus.Registry
	own      []prometheus.Collector // the swarmhost_ series (docs/OPERATING.md lists them)

	envelopes      *prometheus.CounterVec // verb, verdict (accepted or the rejection code)
	duplicates     prometheus.Counter
	published      *prometheus.CounterVec // verb
	publishErrors  prometheus.Counter
	needsEnded     *prometheus.CounterVec // state
	agentCalls     *prometheus.CounterVec // agent, result
	agentGas       *prometheus.CounterVec // agent
	agentSeconds   *prometheus.HistogramVec
	evaluations    *prometheus.CounterVec // entrypoint, result
	policyGas      *prometheus.CounterVec // entrypoint
	policySeconds  *prometheus.HistogramVec
	proposals      *prometheus.CounterVec // op, result
	proposeSeconds *prometheus.HistogramVec
	commitSeconds  prometheus.Histogram
	roundInputs    prometheus.Histogram
}

func newNodeMetrics(queued, unsent, tlsExpiry func() float64) *nodeMetrics {
	r := prometheus.NewRegistry()
	m := &nodeMetrics{registry: r}
	f := func(c prometheus.Collector) { r.MustRegister(c) }
	seconds := prometheus.ExponentialBuckets(0.0005, 4, 10) // 0.5 ms to ~2 min
	m.envelopes = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "swarmhost_envelopes_total",
		Help: "Envelopes stepped and recorded, by verb and verdict (accepted, or the rejection code)."}, []string{"verb", "verdict"})
	m.duplicates = prometheus.NewCounter(prometheus.CounterOpts{Name: "swarmhost_envelopes_duplicate_total",
		Help: "Envelopes delivered again after they were taken (this host's own, which the stream delivers back, among them): no second effect, no line."})
	m.published = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "swarmhost_envelopes_published_total",
		Help: "This host's own envelopes published on the bus, by verb."}, []string{"verb"})
	m.publishErrors = prometheus.NewCounter(prometheus.CounterOpts{Name: "swarmhost_publish_errors_total",
		Help: "Attempts at publishing this host's own envelopes that the bus refused (the envelope is in the trail and sent again until the bus takes it: swarmhost_unsent_envelopes)."})
	m.needsEnded = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "swarmhost_needs_ended_total",
		Help: "NEED threads that ended here, by state: final, abandoned or refused."}, []string{"state"})
	m.agentCalls = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "swarmhost_agent_calls_total",
		Help: "Calls of local agents, by agent and result (ok, or fault: a trap, out of gas, a bad output...)."}, []string{"agent", "result"})
	m.agentGas = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "swarmhost_agent_gas_used_total",
		Help: "Gas the calls of local agents used, by agent."}, []string{"agent"})
	m.agentSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "swarmhost_agent_call_duration_seconds",
		Help: "How long a local agent's call took, waiting for a run slot included.", Buckets: seconds}, []string{"agent"})
	m.evaluations = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "swarmhost_policy_evaluations_total",
		Help: "Capsule evaluations the core asked for, by entrypoint and result (ok or error)."}, []string{"entrypoint", "result"})
	m.policyGas = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "swarmhost_policy_gas_used_total",
		Help: "Gas the capsule evaluations used, by entrypoint."}, []string{"entrypoint"})
	m.policySeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "swarmhost_policy_evaluation_duration_seconds",
		Help: "How long a capsule evaluation took, waiting for a run slot included.", Buckets: seconds}, []string{"entrypoint"})
	m.proposals = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "swarmhost_consensus_proposals_total",
		Help: "Attempts at proposals to the DECIDE shards, by op and result (ok: answered, accepted or not; error: asked again)."},
		[]string{"op", "result"})
	m.proposeSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "swarmhost_consensus_proposal_duration_seconds",
		Help: "How long an attempt at a proposal took, by op.", Buckets: seconds}, []string{"op"})
	m.commitSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "swarmhost_trail_commit_duration_seconds",
		Help: "How long a round's group commit of the audit trail took (an fsync per thread written).", Buckets: seconds})
	m.roundInputs = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "swarmhost_loop_round_inputs",
		Help:    "Inputs the loop took in one round (one group commit), the host's own envelopes included.",
		Buckets: prometheus.ExponentialBuckets(1, 2, 10)})
	m.own = []prometheus.Collector{m.envelopes, m.duplicates, m.published, m.publishErrors, m.needsEnded,
		m.agentCalls, m.agentGas, m.agentSeconds, m.evaluations, m.policyGas, m.policySeconds, m.proposals,
		m.proposeSeconds, m.commitSeconds, m.roundInputs,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "swarmhost_loop_queued_inputs",
			Help: "Inputs waiting for the loop (deliveries, outcomes, timers)."}, queued),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "swarmhost_unsent_envelopes",
			Help: "This host's own envelopes recorded here that the bus refused, waiting to be sent again."}, unsent),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "swarmhost_tls_expiry_timestamp_seconds",
			Help: "When the first of this host's cluster TLS certificates (its host.crt, the CA's ca.crt) stops being valid, in Unix seconds; 0 without cluster TLS."}, tlsExpiry)}
	for _, c := range m.own {
		f(c)
	}
	f(collectors.NewGoCollector())
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// handler serves the metrics in the Prometheus text format.
func (m *nodeMetrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// since is the seconds from start to now.
func since(start time.Time) float64 { return time.Since(start).Seconds() }

// result names an outcome for a label: ok, or what failed.
func result(failed bool, failure string) string {
	if failed {
		return failure
	}
	return "ok"
}
