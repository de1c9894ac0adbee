package otlp

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/clew-dev/clew/internal/pipeline"
	"github.com/clew-dev/clew/internal/receiver/receivertest"
	"github.com/clew-dev/clew/internal/store"
)

// TestOverloadAsksToRetry checks that both "slow down" causes — the
// pipeline's write slots taken, and the store at its memory limit — are
// answered with OTLP's retryable throttling responses, and other store
// failures are not.
func TestOverloadAsksToRetry(t *testing.T) {
	for _, tc := range []struct {
		err       error
		retryable bool
	}{
		{fmt.Errorf("queue: %w", pipeline.ErrOverloaded), true},
		{fmt.Errorf("local store: head full: %w", store.ErrFull), true},
		{fmt.Errorf("disk on fire"), false},
	} {
		sink := &receivertest.Sink{Err: tc.err}

		g := NewGRPC("127.0.0.1:0", 1<<20, sink, slog.New(slog.DiscardHandler))
		_, err := g.exportRaw(context.Background(), seedProto(t))
		st := status.Convert(err)
		hasRetryInfo := false
		for _, d := range st.Details() {
			if _, ok := d.(*errdetails.RetryInfo); ok {
				hasRetryInfo = true
			}
		}
		if tc.retryable && (st.Code() != codes.ResourceExhausted || !hasRetryInfo) {
			t.Errorf("%v: gRPC %v (RetryInfo %v), want ResourceExhausted with RetryInfo", tc.err, st.Code(), hasRetryInfo)
		}
		if !tc.retryable && st.Code() != codes.Unavailable {
			t.Errorf("%v: gRPC %v, want Unavailable", tc.err, st.Code())
		}

		h := NewHTTPHandler(sink, 1<<20, nil, slog.New(slog.DiscardHandler))
		req := httptest.NewRequest("POST", "/v1/traces", bytes.NewReader(seedProto(t)))
		req.Header.Set("Content-Type", "application/x-protobuf")
		rec := httptest.NewRecorder()
		h.serveTraces(rec, req)
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
			t.Errorf("%v: HTTP %d, Retry-After %q; want 503 with Retry-After", tc.err, rec.Code, rec.Header().Get("Retry-After"))
		}
		if got := rec.Header().Get("Retry-After"); tc.retryable != (got == "1") {
			t.Errorf("%v: Retry-After %q", tc.err, got)
		}
	}
}
