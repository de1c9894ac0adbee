package gen

import (
	"fmt"
	"io"
	"math"
	"sync/atomic"
	"time"
)

// Summary is the outcome of a run. Its JSON form (the json tags) is stable:
// benchmarks read it.
type Summary struct {
	Protocol   string  `json:"protocol"`
	Endpoint   string  `json:"endpoint"`
	Workers    int     `json:"workers"`
	TargetRate float64 `json:"target_spans_per_second"`
	// Gzip is true when bodies were gzip-compressed; Bytes then counts
	// compressed bytes.
	Gzip bool `json:"gzip"`
	// Preencoded is true when every body was encoded before the clock
	// started; EncodeSeconds is how long that took.
	Preencoded    bool    `json:"preencoded"`
	EncodeSeconds float64 `json:"encode_seconds"`
	Seconds       float64 `json:"seconds"`

	Requests          int64 `json:"requests"`
	RequestsFailed    int64 `json:"requests_failed"`
	RequestsThrottled int64 `json:"requests_throttled"`
	RequestsRetried   int64 `json:"requests_retried"`
	// Traces and Spans count what was in accepted requests (SpansFailed
	// are not among them; SpansRejected, refused by partial success, are).
	// SpansAccepted is Spans less SpansRejected.
	Traces        int64 `json:"traces_sent"`
	Spans         int64 `json:"spans_sent"`
	SpansAccepted int64 `json:"spans_accepted"`
	SpansFailed   int64 `json:"spans_failed"`
	SpansRejected int64 `json:"spans_rejected"`
	Bytes         int64 `json:"bytes_sent"`

	SpansPerSecond float64  `json:"spans_per_second"`
	BytesPerSecond float64  `json:"bytes_per_second"`
	LatencyMs      Latency  `json:"request_latency_ms"`
	Errors         []string `json:"errors,omitempty"`
}

// Latency holds request latency quantiles in milliseconds (from a
// histogram with 5% wide buckets).
type Latency struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// WriteText writes the summary for a person.
func (s *Summary) WriteText(w io.Writer) {
	fmt.Fprintf(w, "\n%s → %s, %d workers, %.1fs", s.Protocol, s.Endpoint, s.Workers, s.Seconds)
	if s.Gzip {
		fmt.Fprintf(w, ", gzip")
	}
	if s.Preencoded {
		fmt.Fprintf(w, " (bodies pre-encoded in %.1fs)", s.EncodeSeconds)
	}
	fmt.Fprintf(w, "\n  sent      %d traces, %d spans, %.1f MB in %d requests\n", s.Traces, s.Spans, float64(s.Bytes)/1e6, s.Requests)
	fmt.Fprintf(w, "  rate      %.0f spans/s, %.1f MB/s\n", s.SpansPerSecond, s.BytesPerSecond/1e6)
	fmt.Fprintf(w, "  latency   p50 %.2fms  p90 %.2fms  p99 %.2fms  max %.2fms\n", s.LatencyMs.P50, s.LatencyMs.P90, s.LatencyMs.P99, s.LatencyMs.Max)
	fmt.Fprintf(w, "  failed    %d requests (%d throttled, %d retries), %d spans; %d spans rejected\n",
		s.RequestsFailed, s.RequestsThrottled, s.RequestsRetried, s.SpansFailed, s.SpansRejected)
	for _, e := range s.Errors {
		fmt.Fprintf(w, "  error     %s\n", e)
	}
}

// histogram counts durations in logarithmic buckets (5% wide) from 1µs to
// about 10 minutes; it is safe for concurrent use.
type histogram struct {
	buckets [histBuckets]atomic.Int64
	maxNs   atomic.Int64
}

const (
	histBuckets = 300
	histBase    = 1.05
	histMinNs   = 1000
)

func newHistogram() *histogram { return &histogram{} }

func (h *histogram) observe(d time.Duration) {
	ns := int64(d)
	for {
		m := h.maxNs.Load()
		if ns <= m || h.maxNs.CompareAndSwap(m, ns) {
			break
		}
	}
	i := 0
	if ns > histMinNs {
		i = int(math.Log(float64(ns)/histMinNs)/math.Log(histBase)) + 1
	}
	h.buckets[min(i, histBuckets-1)].Add(1)
}

// quantile returns the upper bound of the bucket holding quantile q.
func (h *histogram) quantile(q float64) time.Duration {
	var total int64
	for i := range h.buckets {
		total += h.buckets[i].Load()
	}
	if total == 0 {
		return 0
	}
	rank := int64(math.Ceil(q * float64(total)))
	var seen int64
	for i := range h.buckets {
		seen += h.buckets[i].Load()
		if seen >= rank {
			upper := time.Duration(histMinNs * math.Pow(histBase, float64(i)))
			return min(upper, h.max())
		}
	}
	return h.max()
}

func (h *histogram) max() time.Duration { return time.Duration(h.maxNs.Load()) }
