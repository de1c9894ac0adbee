// Package pipeline sits between receivers and the store: it validates and
// normalises spans by documented rules, bounds how much work is in flight,
// counts everything per receiver and reason, and hands accepted spans to the
// store writer. A receiver acknowledges a batch only when Consume returned
// without error, which is when the store has it.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/store"
)

// ErrOverloaded is returned (wrapped) by Consume when the pipeline cannot take
// the batch in time. Receivers answer it with the protocol's retryable
// "slow down" (gRPC ResourceExhausted, HTTP 429/503 with Retry-After, a
// counted drop for UDP).
var ErrOverloaded = errors.New("pipeline overloaded")

// Options configure a Pipeline. Zero values take the defaults.
type Options struct {
	Limits Limits
	// MaxInFlight is the most batches being written at once (default 64).
	MaxInFlight int
	// MaxQueued is the most batches waiting for an in-flight slot
	// (default 1024); more are refused with ErrOverloaded at once.
	MaxQueued int
	// QueueTimeout is how long a batch waits for a slot (default 5s).
	QueueTimeout time.Duration
	Registerer   prometheus.Registerer
	Logger       *slog.Logger
	// Now returns the current time (default time.Now); tests set it.
	Now func() time.Time
}

// Pipeline validates spans and writes them to a store. It is safe for
// concurrent use.
type Pipeline struct {
	w       store.Writer
	limits  Limits
	slots   chan struct{}
	queued  chan struct{}
	timeout time.Duration
	log     *slog.Logger
	now     func() time.Time

	received *prometheus.CounterVec
	refused  *prometheus.CounterVec
	adjusted *prometheus.CounterVec
	stored   *prometheus.CounterVec
	depth    prometheus.Gauge
	inflight prometheus.Gauge
	writeDur prometheus.Histogram
}

// New returns a pipeline writing to w.
func New(w store.Writer, o Options) *Pipeline {
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = 64
	}
	if o.MaxQueued <= 0 {
		o.MaxQueued = 1024
	}
	if o.QueueTimeout <= 0 {
		o.QueueTimeout = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	p := &Pipeline{
		w:       w,
		limits:  o.Limits.withDefaults(),
		slots:   make(chan struct{}, o.MaxInFlight),
		queued:  make(chan struct{}, o.MaxQueued),
		timeout: o.QueueTimeout,
		log:     o.Logger,
		now:     o.Now,
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clew_receiver_spans_received_total",
			Help: "Spans decoded by a receiver and handed to the pipeline.",
		}, []string{"receiver"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clew_receiver_spans_refused_total",
			Help: "Spans not stored, by receiver and reason.",
		}, []string{"receiver", "reason"}),
		adjusted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clew_pipeline_spans_adjusted_total",
			Help: "Spans stored after a documented correction (truncation, clamping, renaming), by receiver and reason.",
		}, []string{"receiver", "reason"}),
		stored: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clew_receiver_spans_stored_total",
			Help: "Spans written to the store and acknowledged, by receiver.",
		}, []string{"receiver"}),
		depth: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "clew_pipeline_queue_depth",
			Help: "Batches waiting for or holding a write slot.",
		}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "clew_pipeline_inflight_batches",
			Help: "Batches being written to the store.",
		}),
		writeDur: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "clew_pipeline_store_write_duration_seconds",
			Help:    "Time to write one batch to the store.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10),
		}),
	}
	if o.Registerer != nil {
		o.Registerer.MustRegister(p.received, p.refused, p.adjusted, p.stored, p.depth, p.inflight, p.writeDur,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "clew_pipeline_queue_capacity",
				Help: "Most batches that may wait for a write slot.",
			}, func() float64 { return float64(cap(p.queued)) }))
	}
	return p
}

// Result tells a receiver what became of a batch it handed over.
type Result struct {
	// Accepted spans were stored.
	Accepted int
	// Rejected spans were invalid and dropped; RejectReason names the
	// first reason, for partial-success replies.
	Rejected     int
	RejectReason string
}

// Refuse counts spans a receiver dropped before handing them over (a
// malformed request, an overloaded UDP queue). n may be 0 when the count is
// unknown; the reason is then counted once.
func (p *Pipeline) Refuse(receiver, reason string, n int) {
	if n <= 0 {
		n = 1
	}
	p.refused.WithLabelValues(receiver, reason).Add(float64(n))
}

// Consume validates spans, drops and counts invalid ones, and writes the rest
// to the store. It returns an error wrapping ErrOverloaded when no write slot
// came free in time, ctx.Err() when ctx ended first, or the store's error;
// in those cases nothing is acknowledged and the caller should tell its
// client to retry. The pipeline may change spans during the call (limits
// are applied in place) and keeps none of them after it returns: as the
// store (store.Writer), it borrows them, so the caller may reuse their
// memory once Consume returns; resources and scopes are handed over.
func (p *Pipeline) Consume(ctx context.Context, receiver string, spans []*model.Span) (Result, error) {
	return p.consume(ctx, receiver, spans, nil)
}

// ConsumeBounded is Consume for a batch its decoder measured (b holds for
// spans, see Bounds). When b shows that every span is within the limits,
// the spans go to the store without the pass over each span and attribute
// that applies them (its loads of attributes the decoder wrote a while
// before mostly miss the cache); otherwise each span is checked as by
// Consume. Either way the result, the spans stored and the counters are
// those of Consume.
func (p *Pipeline) ConsumeBounded(ctx context.Context, receiver string, spans []*model.Span, b *Bounds) (Result, error) {
	return p.consume(ctx, receiver, spans, b)
}

func (p *Pipeline) consume(ctx context.Context, receiver string, spans []*model.Span, b *Bounds) (Result, error) {
	p.received.WithLabelValues(receiver).Add(float64(len(spans)))
	var res Result
	now := p.now()
	if b != nil && p.limits.within(b, now) {
		return p.write(ctx, receiver, spans, res)
	}
	kept := spans[:0]
	for _, sp := range spans {
		reason, adjustments := p.limits.apply(sp, now)
		for _, a := range adjustments {
			p.adjusted.WithLabelValues(receiver, a).Inc()
		}
		if reason != "" {
			res.Rejected++
			if res.RejectReason == "" {
				res.RejectReason = reason
			}
			p.refused.WithLabelValues(receiver, reason).Inc()
			continue
		}
		kept = append(kept, sp)
	}
	return p.write(ctx, receiver, kept, res)
}

// write stores the kept spans of a batch whose checks gave res.
func (p *Pipeline) write(ctx context.Context, receiver string, kept []*model.Span, res Result) (Result, error) {
	if len(kept) == 0 {
		return res, nil
	}
	if err := p.acquire(ctx); err != nil {
		p.refused.WithLabelValues(receiver, reasonOf(err)).Add(float64(len(kept)))
		return res, err
	}
	start := time.Now()
	err := p.w.WriteSpans(ctx, kept)
	p.writeDur.Observe(time.Since(start).Seconds())
	p.release()
	if err != nil {
		p.refused.WithLabelValues(receiver, reasonOf(err)).Add(float64(len(kept)))
		return res, fmt.Errorf("store: %w", err)
	}
	res.Accepted = len(kept)
	p.stored.WithLabelValues(receiver).Add(float64(len(kept)))
	return res, nil
}

// IsOverload reports whether err asks the sender to retry later: the
// pipeline's write slots are taken (ErrOverloaded) or the store cannot take
// more for now (store.ErrFull, e.g. the local store's head is at its memory
// limit while it flushes). Receivers answer it with their protocol's
// retryable "slow down".
func IsOverload(err error) bool {
	return errors.Is(err, ErrOverloaded) || errors.Is(err, store.ErrFull)
}

func reasonOf(err error) string {
	switch {
	case IsOverload(err):
		return "overloaded"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "cancelled"
	}
	return "store_error"
}

func (p *Pipeline) acquire(ctx context.Context) error {
	select {
	case p.queued <- struct{}{}:
	default:
		return fmt.Errorf("%d batches already waiting: %w", cap(p.queued), ErrOverloaded)
	}
	p.depth.Inc()
	t := time.NewTimer(p.timeout)
	defer t.Stop()
	select {
	case p.slots <- struct{}{}:
		p.inflight.Inc()
		return nil
	case <-t.C:
		<-p.queued
		p.depth.Dec()
		return fmt.Errorf("no write slot within %v: %w", p.timeout, ErrOverloaded)
	case <-ctx.Done():
		<-p.queued
		p.depth.Dec()
		return ctx.Err()
	}
}

func (p *Pipeline) release() {
	<-p.slots
	<-p.queued
	p.inflight.Dec()
	p.depth.Dec()
}
