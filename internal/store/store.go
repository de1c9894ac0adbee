// Package store declares the contracts between Clew's pipeline, its storage
// engines and its query layer. Engines (memstore, the durable local engine,
// object storage) implement Writer and Reader; the storetest package is the
// conformance suite every engine must pass.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/clew-dev/clew/internal/model"
)

// ErrTraceNotFound is returned by Reader.GetTrace when no span of the trace
// is stored.
var ErrTraceNotFound = errors.New("trace not found")

// ErrFull is returned (wrapped) by Writer.WriteSpans when the store refuses a
// write for lack of room it cannot make, for example when a single batch is
// larger than the store's whole budget. Receivers answer it with their
// protocol's retryable "slow down".
var ErrFull = errors.New("store full")

// Writer stores spans.
//
// WriteSpans is safe for concurrent use. When it returns nil the spans are as
// durable as the engine promises — for memstore, visible to every Reader; for
// the durable engine, in the fsynced write-ahead log — and visible to every
// Reader. The store borrows the spans for the call only: once it returns,
// whatever its result, the caller may reuse their memory (receivers decode
// into pooled memory, and span strings may point into a request buffer), so
// a store copies what it keeps of a span — its fields, strings and
// attribute, event and link slices. Resources and scopes are handed over: a
// store may keep pointers to them, and the caller must not modify them
// after the call. A non-nil error means none or only some of
// the spans were stored; the caller may retry the whole batch, and readers
// then see each span id at most once per trace.
type Writer interface {
	WriteSpans(ctx context.Context, spans []*model.Span) error
}

// Reader answers queries.
//
// Methods are safe for concurrent use and with concurrent writes. Returned
// traces and spans are shared with the store and must not be modified.
// Results are complete as of some moment during the call. An engine that
// cannot answer a query returns an error wrapping errors.ErrUnsupported.
type Reader interface {
	// GetTrace returns every stored span of the trace, sorted with
	// model.SortSpans, or ErrTraceNotFound. A trace holds at most one span
	// per span id: a span whose id is already stored in its trace is
	// dropped (retries resend the same spans, and ids are unique by the
	// OpenTelemetry specification; receivers of protocols that reuse ids,
	// such as Zipkin's shared spans, give spans ids of their own).
	GetTrace(ctx context.Context, id model.TraceID) (*model.Trace, error)

	// GetServices returns the names of every service with a stored span,
	// sorted, without duplicates. An empty store returns an empty slice.
	GetServices(ctx context.Context) ([]string, error)

	// GetOperations returns the distinct (name, kind) pairs of the spans
	// of q.Service, sorted by name then kind. q.SpanKind filters by kind
	// when set ("server", "client", ..., "" for any).
	GetOperations(ctx context.Context, q OperationQuery) ([]Operation, error)

	// FindTraces returns up to q.Limit whole traces matching q, most
	// recent first (by trace start), or an empty slice.
	FindTraces(ctx context.Context, q TraceQuery) ([]*model.Trace, error)

	// GetDependencies returns the calls between services, counted from
	// parent/child span pairs of different services, among traces with a
	// span starting in [end-lookback, end]. Sorted by parent then child.
	GetDependencies(ctx context.Context, end time.Time, lookback time.Duration) ([]DependencyLink, error)
}

// Store is a Writer and a Reader with a lifecycle.
type Store interface {
	Writer
	Reader
	// Close flushes what the engine buffers and releases its resources.
	// Calls made after Close return errors.
	Close() error
}

// OperationQuery selects operations.
type OperationQuery struct {
	Service  string
	SpanKind string // "", "server", "client", "producer", "consumer", "internal"
}

// Operation is a span name with its kind ("" when unspecified).
type Operation struct {
	Name     string
	SpanKind string
}

// MaxLimit caps TraceQuery.Limit whatever the caller asks for.
const MaxLimit = 10000

// DefaultLimit is the number of traces FindTraces returns when Limit is 0.
const DefaultLimit = 20

// TraceQuery is a Jaeger-style search. A trace matches when one span
// satisfies every condition at once: it belongs to Service (if set), is
// named Operation (if set), has every tag of Tags, lasts between
// DurationMin and DurationMax (each if non-zero), and starts in
// [StartMin, StartMax] (each if non-zero). The whole trace is returned.
type TraceQuery struct {
	Service     string
	Operation   string
	Tags        map[string]string
	StartMin    time.Time
	StartMax    time.Time
	DurationMin time.Duration
	DurationMax time.Duration
	Limit       int
}

// EffectiveLimit returns Limit clamped to [1, MaxLimit], DefaultLimit for 0.
func (q TraceQuery) EffectiveLimit() int {
	switch {
	case q.Limit <= 0:
		return DefaultLimit
	case q.Limit > MaxLimit:
		return MaxLimit
	}
	return q.Limit
}

// DependencyLink is the number of calls from Parent to Child service.
type DependencyLink struct {
	Parent    string
	Child     string
	CallCount uint64
}

// Scanner is implemented by engines that can stream candidate traces to the
// query engine (TraceQL, Jaeger search). It is an optional upgrade of Reader,
// found by type assertion.
type Scanner interface {
	// ScanTraces calls fn with each stored trace that has a span starting
	// in [req.StartMin, req.StartMax] (each bound if non-zero) and that may
	// satisfy req's hints, until fn returns false or ctx ends. Hints only
	// prune: a trace passed to fn may still fail them, and the caller
	// evaluates its query on every trace it gets. Traces come in no
	// particular order; fn is called from one goroutine at a time. Traces
	// are shared and read-only.
	ScanTraces(ctx context.Context, req ScanRequest, fn func(*model.Trace) bool) error
}

// ScanRequest bounds a scan. Fields other than the time range are pruning
// hints over single spans: an engine may skip a trace none of whose spans
// could satisfy all of them.
type ScanRequest struct {
	StartMin, StartMax time.Time
	// Service and SpanName, when set, must equal a span's service / name.
	Service  string
	SpanName string
	// MinDuration, when set, is a lower bound on a span's duration.
	MinDuration time.Duration
	// Tags, when set, are tags the span carries, as SpanMayHaveTag
	// matches them (Jaeger's search semantics, or an array attribute
	// element). Engines may ignore this hint.
	Tags map[string]string
	// StartFloor, when set, returns a start below which the caller has no
	// use for a trace (it already holds enough newer ones): an engine may
	// skip traces whose earliest span starts before it, and, scanning
	// newest first, stop. It may rise during the scan; it is called from
	// the scanning goroutine and must be safe for that. Engines may
	// ignore this hint.
	StartFloor func() uint64
}
