// Package storetest is the conformance suite for store engines. Every engine
// runs it from its own tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return memstore.New(memstore.Options{}) })
//	}
//
// The factory must return an empty store; the suite closes it.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/google/go-cmp/cmp"

	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/store"
)

// Factory returns a new, empty store for one sub-test.
type Factory func(t *testing.T) store.Store

// Run runs every conformance test against stores made by newStore.
func Run(t *testing.T, newStore Factory) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"GetTrace", testGetTrace},
		{"GetTraceNotFound", testGetTraceNotFound},
		{"DuplicateSpans", testDuplicateSpans},
		{"TraceArrivesInFragments", testFragments},
		{"EmptyStore", testEmptyStore},
		{"Services", testServices},
		{"Operations", testOperations},
		{"FindByService", testFindByService},
		{"FindByOperation", testFindByOperation},
		{"FindByTypedTags", testFindByTypedTags},
		{"FindByTagsInEveryPlace", testFindByTagsInEveryPlace},
		{"FindByDerivedTags", testFindByDerivedTags},
		{"FindTagsOnOneSpan", testFindTagsOnOneSpan},
		{"FindByDuration", testFindByDuration},
		{"FindByTimeWindow", testFindByTimeWindow},
		{"FindLimitAndOrder", testFindLimitAndOrder},
		{"Dependencies", testDependencies},
		{"ConcurrentWriters", testConcurrentWriters},
		{"CallerReusesSpanMemory", testCallerReusesSpanMemory},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			defer func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			}()
			tc.fn(t, s)
		})
	}
}

// base is the time the suite's spans start around: recent, so engines with
// retention keep them.
var base = time.Now().Add(-10 * time.Minute).Truncate(time.Millisecond)

func ns(offset time.Duration) uint64 { return uint64(base.Add(offset).UnixNano()) }

func tid(n uint64) model.TraceID { return model.TraceIDFromUint64s(0xabc, n) }
func sid(n uint64) model.SpanID  { return model.SpanIDFromUint64(n) }

func resource(service string, attrs ...model.KeyValue) *model.Resource {
	return &model.Resource{Attributes: append(model.Attributes{{Key: "service.name", Value: model.StringValue(service)}}, attrs...)}
}

// span builds a span; start and dur are offsets from base.
func span(r *model.Resource, trace, id, parent uint64, name string, start, dur time.Duration) *model.Span {
	sp := &model.Span{
		Resource:          r,
		Scope:             &model.Scope{Name: "storetest"},
		TraceID:           tid(trace),
		SpanID:            sid(id),
		Name:              name,
		Kind:              model.SpanKindServer,
		StartTimeUnixNano: ns(start),
		EndTimeUnixNano:   ns(start + dur),
	}
	if parent != 0 {
		sp.ParentSpanID = sid(parent)
	}
	return sp
}

func write(t *testing.T, s store.Store, spans ...*model.Span) {
	t.Helper()
	if err := s.WriteSpans(context.Background(), spans); err != nil {
		t.Fatalf("WriteSpans: %v", err)
	}
}

func find(t *testing.T, s store.Store, q store.TraceQuery) []model.TraceID {
	t.Helper()
	traces, err := s.FindTraces(context.Background(), q)
	if err != nil {
		t.Fatalf("FindTraces(%+v): %v", q, err)
	}
	ids := make([]model.TraceID, 0, len(traces))
	for _, tr := range traces {
		ids = append(ids, tr.TraceID)
	}
	return ids
}

func sorted(ids []model.TraceID) []model.TraceID {
	out := slices.Clone(ids)
	slices.SortFunc(out, func(a, b model.TraceID) int { return slices.Compare(a[:], b[:]) })
	return out
}

func wantTraces(t *testing.T, s store.Store, q store.TraceQuery, want ...uint64) {
	t.Helper()
	got := sorted(find(t, s, q))
	w := make([]model.TraceID, 0, len(want))
	for _, n := range want {
		w = append(w, tid(n))
	}
	if diff := cmp.Diff(sorted(w), got); diff != "" {
		t.Errorf("FindTraces(%+v) trace ids (-want +got):\n%s", q, diff)
	}
}

func testGetTrace(t *testing.T, s store.Store) {
	r := resource("frontend", model.KeyValue{Key: "host.name", Value: model.StringValue("h1")})
	root := span(r, 1, 1, 0, "GET /", 0, 100*time.Millisecond)
	root.Attributes = model.Attributes{
		{Key: "s", Value: model.StringValue("v")},
		{Key: "i", Value: model.IntValue(-7)},
		{Key: "d", Value: model.DoubleValue(2.5)},
		{Key: "b", Value: model.BoolValue(true)},
		{Key: "x", Value: model.BytesValue([]byte{0, 1, 2})},
		{Key: "a", Value: model.SliceValue([]model.Value{model.IntValue(1), model.StringValue("two")})},
	}
	root.Status = model.Status{Code: model.StatusError, Message: "boom"}
	root.Events = []model.Event{{TimeUnixNano: ns(time.Millisecond), Name: "exception", Attributes: model.Attributes{{Key: "exception.type", Value: model.StringValue("E")}}}}
	root.Links = []model.Link{{TraceID: tid(99), SpanID: sid(5), TraceState: "a=b", Attributes: model.Attributes{{Key: "l", Value: model.IntValue(1)}}}}
	child := span(r, 1, 2, 1, "db", 10*time.Millisecond, 5*time.Millisecond)
	child.Kind = model.SpanKindClient
	other := span(r, 2, 3, 0, "other", 0, time.Millisecond)
	write(t, s, child, root, other)

	tr, err := s.GetTrace(context.Background(), tid(1))
	if err != nil {
		t.Fatalf("GetTrace: %v", err)
	}
	if tr.TraceID != tid(1) {
		t.Errorf("trace id %v, want %v", tr.TraceID, tid(1))
	}
	if len(tr.Spans) != 2 {
		t.Fatalf("got %d spans, want 2", len(tr.Spans))
	}
	// Sorted by start time.
	got := tr.Spans[0]
	if got.SpanID != sid(1) || tr.Spans[1].SpanID != sid(2) {
		t.Fatalf("spans not sorted by start: %v, %v", got.SpanID, tr.Spans[1].SpanID)
	}
	if diff := diffSpan(root, got); diff != "" {
		t.Errorf("root span round trip (-want +got):\n%s", diff)
	}
	if diff := diffSpan(child, tr.Spans[1]); diff != "" {
		t.Errorf("child span round trip (-want +got):\n%s", diff)
	}
}

// diffSpan compares the fields of two spans that a store must keep.
func diffSpan(want, got *model.Span) string {
	var out []string
	check := func(field string, w, g any) {
		if diff := cmp.Diff(w, g, cmp.Comparer(func(a, b model.Value) bool { return a.Equal(b) })); diff != "" {
			out = append(out, fmt.Sprintf("%s: %s", field, diff))
		}
	}
	check("TraceID", want.TraceID, got.TraceID)
	check("SpanID", want.SpanID, got.SpanID)
	check("ParentSpanID", want.ParentSpanID, got.ParentSpanID)
	check("TraceState", want.TraceState, got.TraceState)
	check("Name", want.Name, got.Name)
	check("Kind", want.Kind, got.Kind)
	check("Start", want.StartTimeUnixNano, got.StartTimeUnixNano)
	check("End", want.EndTimeUnixNano, got.EndTimeUnixNano)
	check("Attributes", want.Attributes, got.Attributes)
	check("Events", want.Events, got.Events)
	check("Links", want.Links, got.Links)
	check("Status", want.Status, got.Status)
	check("Resource", want.Resource.Attributes, got.Resource.Attributes)
	check("ScopeName", want.Scope.Name, got.Scope.Name)
	check("ScopeVersion", want.Scope.Version, got.Scope.Version)
	return strings.Join(out, "\n")
}

func testGetTraceNotFound(t *testing.T, s store.Store) {
	write(t, s, span(resource("a"), 1, 1, 0, "x", 0, time.Millisecond))
	_, err := s.GetTrace(context.Background(), tid(42))
	if !errors.Is(err, store.ErrTraceNotFound) {
		t.Fatalf("GetTrace(unknown) error = %v, want ErrTraceNotFound", err)
	}
}

func testDuplicateSpans(t *testing.T, s store.Store) {
	r := resource("a")
	write(t, s, span(r, 1, 1, 0, "x", 0, time.Millisecond), span(r, 1, 2, 1, "y", 0, time.Millisecond))
	write(t, s, span(r, 1, 1, 0, "x", 0, time.Millisecond), span(r, 1, 2, 1, "y", 0, time.Millisecond))
	tr, err := s.GetTrace(context.Background(), tid(1))
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Spans) != 2 {
		t.Fatalf("a batch written twice gave %d spans, want 2", len(tr.Spans))
	}
}

func testFragments(t *testing.T, s store.Store) {
	r1, r2 := resource("a"), resource("b")
	write(t, s, span(r1, 7, 1, 0, "root", 0, time.Second))
	write(t, s, span(r2, 8, 9, 0, "unrelated", 0, time.Second))
	write(t, s, span(r2, 7, 2, 1, "late", 500*time.Millisecond, time.Millisecond))
	tr, err := s.GetTrace(context.Background(), tid(7))
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Spans) != 2 {
		t.Fatalf("got %d spans, want both fragments", len(tr.Spans))
	}
	// A search matching the late fragment returns the whole trace.
	traces, err := s.FindTraces(context.Background(), store.TraceQuery{Service: "b", Operation: "late"})
	if err != nil {
		t.Fatal(err)
	}
	if len(traces) != 1 || len(traces[0].Spans) != 2 {
		t.Fatalf("search by late fragment: got %d traces, want 1 whole trace", len(traces))
	}
}

func testEmptyStore(t *testing.T, s store.Store) {
	ctx := context.Background()
	svcs, err := s.GetServices(ctx)
	if err != nil || svcs == nil || len(svcs) != 0 {
		t.Errorf("GetServices on empty store = %#v, %v; want empty non-nil slice", svcs, err)
	}
	ops, err := s.GetOperations(ctx, store.OperationQuery{Service: "none"})
	if err != nil || ops == nil || len(ops) != 0 {
		t.Errorf("GetOperations on empty store = %#v, %v; want empty non-nil slice", ops, err)
	}
	tr, err := s.FindTraces(ctx, store.TraceQuery{Service: "none"})
	if err != nil || tr == nil || len(tr) != 0 {
		t.Errorf("FindTraces on empty store = %#v, %v; want empty non-nil slice", tr, err)
	}
	deps, err := s.GetDependencies(ctx, time.Now(), time.Hour)
	if err != nil || deps == nil || len(deps) != 0 {
		t.Errorf("GetDependencies on empty store = %#v, %v; want empty non-nil slice", deps, err)
	}
}

func testServices(t *testing.T, s store.Store) {
	write(t, s,
		span(resource("b"), 1, 1, 0, "x", 0, time.Millisecond),
		span(resource("a"), 1, 2, 1, "x", 0, time.Millisecond),
		span(&model.Resource{}, 2, 3, 0, "x", 0, time.Millisecond),
	)
	write(t, s, span(resource("a"), 3, 4, 0, "y", 0, time.Millisecond))
	got, err := s.GetServices(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a", "b", model.UnknownService}, got); diff != "" {
		t.Errorf("GetServices (-want +got):\n%s", diff)
	}
}

func testOperations(t *testing.T, s store.Store) {
	r := resource("svc")
	a := span(r, 1, 1, 0, "GET /a", 0, time.Millisecond)
	b := span(r, 1, 2, 1, "query", 0, time.Millisecond)
	b.Kind = model.SpanKindClient
	c := span(r, 1, 3, 1, "query", 0, time.Millisecond)
	c.Kind = model.SpanKindInternal
	d := span(r, 1, 4, 1, "work", 0, time.Millisecond)
	d.Kind = model.SpanKindUnspecified
	e := span(resource("other"), 1, 5, 1, "elsewhere", 0, time.Millisecond)
	write(t, s, a, b, c, d, e)
	ctx := context.Background()
	got, err := s.GetOperations(ctx, store.OperationQuery{Service: "svc"})
	if err != nil {
		t.Fatal(err)
	}
	want := []store.Operation{{Name: "GET /a", SpanKind: "server"}, {Name: "query", SpanKind: "client"}, {Name: "query", SpanKind: "internal"}, {Name: "work", SpanKind: ""}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GetOperations (-want +got):\n%s", diff)
	}
	got, err = s.GetOperations(ctx, store.OperationQuery{Service: "svc", SpanKind: "client"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]store.Operation{{Name: "query", SpanKind: "client"}}, got); diff != "" {
		t.Errorf("GetOperations(kind=client) (-want +got):\n%s", diff)
	}
}

func testFindByService(t *testing.T, s store.Store) {
	write(t, s,
		span(resource("a"), 1, 1, 0, "x", 0, time.Millisecond),
		span(resource("b"), 1, 2, 1, "x", 0, time.Millisecond),
		span(resource("b"), 2, 3, 0, "x", 0, time.Millisecond),
		span(resource("c"), 3, 4, 0, "x", 0, time.Millisecond),
	)
	wantTraces(t, s, store.TraceQuery{Service: "b"}, 1, 2)
	wantTraces(t, s, store.TraceQuery{Service: "a"}, 1)
	wantTraces(t, s, store.TraceQuery{Service: "nope"})
	traces, _ := s.FindTraces(context.Background(), store.TraceQuery{Service: "a"})
	if len(traces) != 1 || len(traces[0].Spans) != 2 {
		t.Errorf("search must return whole traces")
	}
}

func testFindByOperation(t *testing.T, s store.Store) {
	write(t, s,
		span(resource("a"), 1, 1, 0, "op1", 0, time.Millisecond),
		span(resource("b"), 2, 2, 0, "op1", 0, time.Millisecond),
		span(resource("a"), 3, 3, 0, "op2", 0, time.Millisecond),
	)
	wantTraces(t, s, store.TraceQuery{Service: "a", Operation: "op1"}, 1)
	wantTraces(t, s, store.TraceQuery{Operation: "op1"}, 1, 2)
}

func testFindByTypedTags(t *testing.T, s store.Store) {
	r := resource("a")
	sp := span(r, 1, 1, 0, "x", 0, time.Millisecond)
	sp.Attributes = model.Attributes{
		{Key: "s", Value: model.StringValue("v")},
		{Key: "i", Value: model.IntValue(123)},
		{Key: "d", Value: model.DoubleValue(72.5)},
		{Key: "b", Value: model.BoolValue(true)},
	}
	write(t, s, sp, span(r, 2, 2, 0, "x", 0, time.Millisecond))
	for _, tags := range []map[string]string{{"s": "v"}, {"i": "123"}, {"d": "72.5"}, {"b": "true"}, {"s": "v", "i": "123", "d": "72.5", "b": "true"}} {
		wantTraces(t, s, store.TraceQuery{Service: "a", Tags: tags}, 1)
	}
	for _, tags := range []map[string]string{{"s": "V"}, {"i": "124"}, {"b": "false"}, {"s": "v", "i": "1"}, {"missing": "v"}} {
		wantTraces(t, s, store.TraceQuery{Service: "a", Tags: tags})
	}
}

func testFindByTagsInEveryPlace(t *testing.T, s store.Store) {
	r := resource("a", model.KeyValue{Key: "res", Value: model.StringValue("r")})
	sp := span(r, 1, 1, 0, "x", 0, time.Millisecond)
	sp.Scope = &model.Scope{Name: "lib", Attributes: model.Attributes{{Key: "scope", Value: model.StringValue("sc")}}}
	sp.Events = []model.Event{{Name: "e", TimeUnixNano: ns(0), Attributes: model.Attributes{{Key: "ev", Value: model.IntValue(5)}}}}
	sp.Links = []model.Link{{TraceID: tid(50), SpanID: sid(50), Attributes: model.Attributes{{Key: "ln", Value: model.BoolValue(false)}}}}
	write(t, s, sp, span(resource("a"), 2, 2, 0, "x", 0, time.Millisecond))
	wantTraces(t, s, store.TraceQuery{Service: "a", Tags: map[string]string{"res": "r", "scope": "sc", "ev": "5", "ln": "false"}}, 1)
}

func testFindByDerivedTags(t *testing.T, s store.Store) {
	r := resource("a")
	e := span(r, 1, 1, 0, "x", 0, time.Millisecond)
	e.Status = model.Status{Code: model.StatusError, Message: "bad"}
	e.Kind = model.SpanKindClient
	ok := span(r, 2, 2, 0, "x", 0, time.Millisecond)
	ok.Status = model.Status{Code: model.StatusOK}
	write(t, s, e, ok)
	wantTraces(t, s, store.TraceQuery{Tags: map[string]string{"error": "true"}}, 1)
	wantTraces(t, s, store.TraceQuery{Tags: map[string]string{"otel.status_code": "ERROR", "otel.status_description": "bad"}}, 1)
	wantTraces(t, s, store.TraceQuery{Tags: map[string]string{"otel.status_code": "OK"}}, 2)
	wantTraces(t, s, store.TraceQuery{Tags: map[string]string{"span.kind": "client"}}, 1)
	wantTraces(t, s, store.TraceQuery{Tags: map[string]string{"span.kind": "server"}}, 2)
	wantTraces(t, s, store.TraceQuery{Tags: map[string]string{"otel.scope.name": "storetest"}}, 1, 2)
}

func testFindTagsOnOneSpan(t *testing.T, s store.Store) {
	// Conditions must hold on one span: trace 1 has the tag and the
	// operation on different spans and must not match.
	r := resource("a")
	a := span(r, 1, 1, 0, "op", 0, time.Millisecond)
	b := span(r, 1, 2, 1, "other", 0, time.Millisecond)
	b.Attributes = model.Attributes{{Key: "k", Value: model.StringValue("v")}}
	c := span(r, 2, 3, 0, "op", 0, time.Millisecond)
	c.Attributes = model.Attributes{{Key: "k", Value: model.StringValue("v")}}
	write(t, s, a, b, c)
	wantTraces(t, s, store.TraceQuery{Service: "a", Operation: "op", Tags: map[string]string{"k": "v"}}, 2)
}

func testFindByDuration(t *testing.T, s store.Store) {
	r := resource("a")
	write(t, s,
		span(r, 1, 1, 0, "x", 0, 4500*time.Nanosecond),
		span(r, 2, 2, 0, "x", 0, 10*time.Millisecond),
		span(r, 3, 3, 0, "x", 0, time.Second),
	)
	wantTraces(t, s, store.TraceQuery{Service: "a", DurationMin: 5 * time.Millisecond}, 2, 3)
	wantTraces(t, s, store.TraceQuery{Service: "a", DurationMax: 20 * time.Millisecond}, 1, 2)
	wantTraces(t, s, store.TraceQuery{Service: "a", DurationMin: 4 * time.Microsecond, DurationMax: 5 * time.Microsecond}, 1)
	wantTraces(t, s, store.TraceQuery{Service: "a", DurationMin: 10 * time.Millisecond, DurationMax: 10 * time.Millisecond}, 2)
}

func testFindByTimeWindow(t *testing.T, s store.Store) {
	r := resource("a")
	write(t, s,
		span(r, 1, 1, 0, "x", 0, time.Millisecond),
		span(r, 1, 2, 1, "x", 3*time.Minute, time.Millisecond), // a later span of trace 1
		span(r, 2, 3, 0, "x", time.Minute, time.Millisecond),
		span(r, 3, 4, 0, "x", 5*time.Minute, time.Millisecond),
	)
	w := func(from, to time.Duration) store.TraceQuery {
		return store.TraceQuery{Service: "a", StartMin: base.Add(from), StartMax: base.Add(to)}
	}
	wantTraces(t, s, w(-time.Second, time.Second), 1)
	wantTraces(t, s, w(2*time.Minute, 4*time.Minute), 1) // matched by its later span
	wantTraces(t, s, w(30*time.Second, 90*time.Second), 2)
	wantTraces(t, s, w(-time.Hour, time.Hour), 1, 2, 3)
	wantTraces(t, s, w(6*time.Minute, time.Hour))
}

func testFindLimitAndOrder(t *testing.T, s store.Store) {
	r := resource("a")
	for i := uint64(1); i <= 30; i++ {
		write(t, s, span(r, i, i, 0, "x", time.Duration(i)*time.Second, time.Millisecond))
	}
	got := find(t, s, store.TraceQuery{Service: "a", Limit: 5})
	want := []model.TraceID{tid(30), tid(29), tid(28), tid(27), tid(26)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("limit 5, most recent first (-want +got):\n%s", diff)
	}
	if n := len(find(t, s, store.TraceQuery{Service: "a"})); n != store.DefaultLimit {
		t.Errorf("limit 0 returned %d traces, want the default %d", n, store.DefaultLimit)
	}
	if n := len(find(t, s, store.TraceQuery{Service: "a", Limit: 1000})); n != 30 {
		t.Errorf("limit 1000 returned %d traces, want 30", n)
	}
}

func testDependencies(t *testing.T, s store.Store) {
	fe, be, db := resource("frontend"), resource("backend"), resource("db")
	write(t, s,
		span(fe, 1, 1, 0, "GET", 0, time.Millisecond),
		span(fe, 1, 2, 1, "call", 0, time.Millisecond),  // same service: no edge
		span(be, 1, 3, 2, "serve", 0, time.Millisecond), // frontend -> backend
		span(db, 1, 4, 3, "q", 0, time.Millisecond),     // backend -> db
		span(db, 1, 5, 3, "q", 0, time.Millisecond),     // backend -> db
		span(be, 2, 6, 0, "serve", 0, time.Millisecond),
		span(db, 2, 7, 6, "q", 0, time.Millisecond),  // backend -> db
		span(db, 2, 8, 99, "q", 0, time.Millisecond), // parent missing: no edge
		span(fe, 3, 9, 0, "old", -2*time.Hour, time.Millisecond),
		span(be, 3, 10, 9, "old", -2*time.Hour, time.Millisecond), // outside lookback
	)
	got, err := s.GetDependencies(context.Background(), base.Add(time.Minute), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.DependencyLink{
		{Parent: "backend", Child: "db", CallCount: 3},
		{Parent: "frontend", Child: "backend", CallCount: 1},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GetDependencies (-want +got):\n%s", diff)
	}
}

func testConcurrentWriters(t *testing.T, s store.Store) {
	const writers, batches, perBatch = 4, 25, 10
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			r := resource(fmt.Sprintf("svc-%d", w))
			for b := 0; b < batches; b++ {
				spans := make([]*model.Span, perBatch)
				for i := range spans {
					spans[i] = span(r, uint64(w*1000+b), uint64(i+1), 0, "op", time.Duration(i)*time.Millisecond, time.Millisecond)
				}
				if err := s.WriteSpans(context.Background(), spans); err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	// Read while writing.
	for i := 0; i < 20; i++ {
		if _, err := s.FindTraces(context.Background(), store.TraceQuery{Service: "svc-0"}); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for w := 0; w < writers; w++ {
		for b := 0; b < batches; b++ {
			tr, err := s.GetTrace(context.Background(), tid(uint64(w*1000+b)))
			if err != nil {
				t.Fatalf("trace %d/%d: %v", w, b, err)
			}
			if len(tr.Spans) != perBatch {
				t.Fatalf("trace %d/%d has %d spans, want %d", w, b, len(tr.Spans), perBatch)
			}
		}
	}
}

// testCallerReusesSpanMemory checks the store.Writer contract that spans are
// borrowed: after WriteSpans returns, the caller overwrites the buffer the
// spans' strings point into (as a receiver reuses its request buffer) and
// the spans' own fields and slices; the store must answer with what was
// written.
func testCallerReusesSpanMemory(t *testing.T, s store.Store) {
	buf := []byte("checkoutuser.idu-42exceptionboom")
	str := func(i, n int) string { return unsafe.String(&buf[i], n) }
	sp := span(resource("shop"), 1, 1, 0, str(0, 8), 0, time.Millisecond)
	sp.Attributes = model.Attributes{{Key: str(8, 7), Value: model.StringValue(str(15, 4))}}
	sp.Events = []model.Event{{TimeUnixNano: ns(0), Name: str(19, 9), Attributes: model.Attributes{{Key: "k", Value: model.StringValue(str(28, 4))}}}}
	sp.Status = model.Status{Code: model.StatusError, Message: str(28, 4)}
	want := sp.Detached()
	write(t, s, sp)
	for i := range buf {
		buf[i] = '#'
	}
	sp.Name = "overwritten"
	sp.Attributes[0] = model.KeyValue{Key: "other", Value: model.IntValue(1)}
	sp.Events[0].Name = "overwritten"
	sp.SpanID = sid(99)

	tr, err := s.GetTrace(context.Background(), tid(1))
	if err != nil {
		t.Fatalf("GetTrace: %v", err)
	}
	if len(tr.Spans) != 1 {
		t.Fatalf("got %d spans, want 1", len(tr.Spans))
	}
	if diff := diffSpan(want, tr.Spans[0]); diff != "" {
		t.Errorf("stored span changed with the caller's memory (-want +got):\n%s", diff)
	}
	wantTraces(t, s, store.TraceQuery{Service: "shop", Operation: "checkout", Tags: map[string]string{"user.id": "u-42"}}, 1)
	ops, err := s.GetOperations(context.Background(), store.OperationQuery{Service: "shop"})
	if err != nil {
		t.Fatalf("GetOperations: %v", err)
	}
	if len(ops) != 1 || ops[0].Name != "checkout" {
		t.Errorf("operations %v, want checkout", ops)
	}
}
