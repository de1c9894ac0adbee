package engine

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The kinds of query the engine's metrics are labelled with.
const (
	kindSearch    = "search"
	kindMetrics   = "metrics"
	kindTags      = "tags"
	kindTagValues = "tag_values"
	kindJaeger    = "jaeger_search"
)

// engineMetrics counts queries and what they read, by kind.
type engineMetrics struct {
	queries  *prometheus.CounterVec
	duration *prometheus.HistogramVec
	traces   *prometheus.CounterVec
	spans    *prometheus.CounterVec
}

func newEngineMetrics(reg prometheus.Registerer) *engineMetrics {
	m := &engineMetrics{
		queries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clew_query_engine_queries_total",
			Help: "Queries run by the query engine, by kind and outcome (ok, partial: stopped by a cap or the deadline, error).",
		}, []string{"kind", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "clew_query_engine_duration_seconds",
			Help:    "Time the query engine spent scanning and evaluating, by kind of query.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 9),
		}, []string{"kind"}),
		traces: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clew_query_engine_inspected_traces_total",
			Help: "Traces the query engine evaluated, by kind of query.",
		}, []string{"kind"}),
		spans: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clew_query_engine_inspected_spans_total",
			Help: "Spans of the traces the query engine evaluated, by kind of query.",
		}, []string{"kind"}),
	}
	if reg != nil {
		reg.MustRegister(m.queries, m.duration, m.traces, m.spans)
	}
	return m
}

func (m *engineMetrics) observe(kind string, begin time.Time, st Stats, partial bool, err error) {
	outcome := "ok"
	switch {
	case err != nil:
		outcome = "error"
	case partial:
		outcome = "partial"
	}
	m.queries.WithLabelValues(kind, outcome).Inc()
	m.duration.WithLabelValues(kind).Observe(time.Since(begin).Seconds())
	m.traces.WithLabelValues(kind).Add(float64(st.Traces))
	m.spans.WithLabelValues(kind).Add(float64(st.Spans))
}
