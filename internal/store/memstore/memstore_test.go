package memstore

import (
	"context"
	"fmt"
	"testing"
	"time"
	"unsafe"

	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/store"
	"github.com/clew-dev/clew/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return New(Options{}) })
}

func testSpan(trace uint64, id uint64) *model.Span {
	now := uint64(time.Now().UnixNano())
	return &model.Span{
		Resource:          &model.Resource{Attributes: model.Attributes{{Key: "service.name", Value: model.StringValue("svc")}}},
		TraceID:           model.TraceIDFromUint64s(0, trace),
		SpanID:            model.SpanIDFromUint64(id),
		Name:              fmt.Sprintf("op-%d", trace),
		StartTimeUnixNano: now,
		EndTimeUnixNano:   now + 1000,
	}
}

func TestEvictsOldestTracesBySpanCount(t *testing.T) {
	s := New(Options{MaxSpans: 10})
	ctx := context.Background()
	for tr := uint64(1); tr <= 5; tr++ {
		if err := s.WriteSpans(ctx, []*model.Span{testSpan(tr, 1), testSpan(tr, 2), testSpan(tr, 3)}); err != nil {
			t.Fatal(err)
		}
	}
	// 15 spans written, 10 allowed: traces 1 and 2 go.
	for tr := uint64(1); tr <= 5; tr++ {
		_, err := s.GetTrace(ctx, model.TraceIDFromUint64s(0, tr))
		if gone := err != nil; gone != (tr <= 2) {
			t.Errorf("trace %d: err=%v", tr, err)
		}
	}
	if n, _ := s.Usage(); n != 9 {
		t.Errorf("Usage spans = %d, want 9", n)
	}
	ops, _ := s.GetOperations(ctx, store.OperationQuery{Service: "svc"})
	if len(ops) != 3 {
		t.Errorf("operations of evicted traces must go too; got %v", ops)
	}
}

func TestEvictsByBytes(t *testing.T) {
	sz := int64(testSpan(1, 1).Size())
	s := New(Options{MaxBytes: 4 * sz})
	ctx := context.Background()
	for tr := uint64(1); tr <= 10; tr++ {
		if err := s.WriteSpans(ctx, []*model.Span{testSpan(tr, 1)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, b := s.Usage(); b > 4*sz {
		t.Errorf("bytes %d over budget %d", b, 4*sz)
	}
	if _, err := s.GetTrace(ctx, model.TraceIDFromUint64s(0, 10)); err != nil {
		t.Errorf("newest trace evicted: %v", err)
	}
}

func TestRefusesBatchLargerThanBudget(t *testing.T) {
	s := New(Options{MaxSpans: 2})
	err := s.WriteSpans(context.Background(), []*model.Span{testSpan(1, 1), testSpan(1, 2), testSpan(1, 3)})
	if err == nil {
		t.Fatal("want error")
	}
}

func BenchmarkWriteSpans(b *testing.B) {
	s := New(Options{MaxSpans: 100_000})
	batch := make([]*model.Span, 100)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		for j := range batch {
			batch[j] = testSpan(uint64(i*10+j/10), uint64(j))
		}
		if err := s.WriteSpans(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
	}
}

// TestKeepsOwnCopies checks that the store does not keep the memory a
// receiver decoded the span from: overwriting the buffer the span's name
// and attributes pointed into must not change the stored span.
func TestKeepsOwnCopies(t *testing.T) {
	s := New(Options{})
	ctx := context.Background()
	buf := []byte("checkoutuser.idu-42")
	sp := testSpan(1, 1)
	sp.Name = unsafe.String(&buf[0], 8)
	sp.Attributes = model.Attributes{{Key: unsafe.String(&buf[8], 7), Value: model.StringValue(unsafe.String(&buf[15], 4))}}
	if err := s.WriteSpans(ctx, []*model.Span{sp}); err != nil {
		t.Fatal(err)
	}
	for i := range buf {
		buf[i] = '#'
	}
	sp.Attributes[0].Key = "replaced"
	tr, err := s.GetTrace(ctx, sp.TraceID)
	if err != nil {
		t.Fatal(err)
	}
	got := tr.Spans[0]
	if v, ok := got.Attributes.Get("user.id"); got.Name != "checkout" || !ok || v.Str() != "u-42" {
		t.Errorf("stored span changed with the receiver's memory: name %q, attributes %v", got.Name, got.Attributes)
	}
}
