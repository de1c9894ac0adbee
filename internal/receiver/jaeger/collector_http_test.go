package jaeger

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/uber/jaeger-client-go/transport"

	"github.com/clew-dev/clew/internal/pipeline"
	"github.com/clew-dev/clew/internal/receiver/receivertest"
)

func TestCollectorHTTPRealClient(t *testing.T) {
	sink := &receivertest.Sink{}
	srv := httptest.NewServer(NewHTTPHandler(HTTPOptions{Consumer: sink, MaxRequestBytes: 1 << 20}))
	defer srv.Close()
	emitKnownTrace(t, transport.NewHTTPTransport(srv.URL+"/api/traces?format=jaeger.thrift"), traceStart)
	if got := len(sink.Spans()); got != 3 {
		t.Fatalf("stored %d spans, want 3", got)
	}
}

func TestCollectorHTTPReplies(t *testing.T) {
	body := readTestdata(t, "collector_http.thrift")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(body)
	zw.Close()

	f := func(name string, sink *receivertest.Sink, ctype, enc string, b []byte, wantCode int, wantBody string) {
		t.Helper()
		srv := httptest.NewServer(NewHTTPHandler(HTTPOptions{Consumer: sink, MaxRequestBytes: 1000}))
		defer srv.Close()
		req, _ := http.NewRequest("POST", srv.URL+"/api/traces", bytes.NewReader(b))
		req.Header.Set("Content-Type", ctype)
		if enc != "" {
			req.Header.Set("Content-Encoding", enc)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != wantCode || !strings.Contains(string(got), wantBody) {
			t.Errorf("%s: %d %q, want %d containing %q", name, resp.StatusCode, got, wantCode, wantBody)
		}
	}
	// The limit is 1000 bytes; the body is 1264.
	f("too large", &receivertest.Sink{}, "application/x-thrift", "", body, 413, "too large")
	f("too large gzip", &receivertest.Sink{}, "application/x-thrift", "gzip", gz.Bytes(), 413, "too large")
	f("media type", &receivertest.Sink{}, "application/json", "", []byte("{}"), 415, "unsupported content type")
	f("encoding", &receivertest.Sink{}, "application/x-thrift", "br", []byte("x"), 415, "unsupported content encoding")
	f("malformed", &receivertest.Sink{}, "application/x-thrift", "", []byte("not thrift"), 400, "cannot decode the thrift batch")
	f("bad gzip", &receivertest.Sink{}, "application/x-thrift", "gzip", []byte("not gzip"), 400, "corrupt")
}

func TestCollectorHTTPAccepts(t *testing.T) {
	body := readTestdata(t, "collector_http.thrift")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(body)
	zw.Close()
	for _, tc := range []struct {
		name, ctype, enc string
		body             []byte
	}{
		{"x-thrift", "application/x-thrift", "", body},
		{"vnd binary", "application/vnd.apache.thrift.binary", "", body},
		{"gzip", "application/x-thrift", "gzip", gz.Bytes()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := &receivertest.Sink{}
			h := NewHTTPHandler(HTTPOptions{Consumer: sink, MaxRequestBytes: 1 << 20})
			req := httptest.NewRequest("POST", "/api/traces", bytes.NewReader(tc.body))
			req.Header.Set("Content-Type", tc.ctype)
			if tc.enc != "" {
				req.Header.Set("Content-Encoding", tc.enc)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusAccepted || len(sink.Spans()) != 3 {
				t.Errorf("%d %q, %d spans stored; want 202 and 3", rec.Code, rec.Body, len(sink.Spans()))
			}
		})
	}

	// Overload is retryable.
	h := NewHTTPHandler(HTTPOptions{Consumer: &receivertest.Sink{Err: pipeline.ErrOverloaded}, MaxRequestBytes: 1 << 20})
	req := httptest.NewRequest("POST", "/api/traces", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-thrift")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Errorf("overloaded: %d, Retry-After %q; want 503 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
	}
}
