// Package native is Clew's own JSON API, made for its web UI: trace
// summaries for search results (per-service span and error counts, root
// operation, depth) and whole traces in the OpenTelemetry model (span kind,
// status, named events, links with attributes, scope, resource attributes
// apart from span attributes). The wire format is documented in
// docs/api-native.md.
package native

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/server"
	"github.com/clew-dev/clew/internal/store"
)

// Options configure the API.
type Options struct {
	// Reader answers the queries.
	Reader store.Reader
	// Log receives errors the store returns.
	Log *slog.Logger
	// Timeout is the deadline of one query (default 30s).
	Timeout time.Duration
	// MaxLimit caps the traces one search returns (default store.MaxLimit).
	MaxLimit int
	// DefaultLookback is the time range of a search that gives neither
	// start nor lookback (default 1h).
	DefaultLookback time.Duration
	// MaxTraceSpans caps the spans one trace document holds (default
	// 500,000); a larger trace is answered with its earliest spans and a
	// warning. The Jaeger and OTLP downloads are not capped by it.
	MaxTraceSpans int
	// Now returns the current time (default time.Now); tests set it.
	Now func() time.Time
}

// API serves the native JSON API. Create it with New.
type API struct {
	o Options
}

// New returns the API with defaults filled in.
func New(o Options) *API {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.MaxLimit <= 0 || o.MaxLimit > store.MaxLimit {
		o.MaxLimit = store.MaxLimit
	}
	if o.DefaultLookback <= 0 {
		o.DefaultLookback = time.Hour
	}
	if o.MaxTraceSpans <= 0 {
		o.MaxTraceSpans = 500_000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &API{o: o}
}

// Register adds the API's routes to mux.
func (a *API) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/clew/search", a.search)
	mux.HandleFunc("GET /api/clew/traces/{id}", a.trace)
}

// maxLinkLookups bounds how many distinct linked traces one trace request
// looks up to tell the UI whether a link can be followed.
const maxLinkLookups = 32

func (a *API) search(w http.ResponseWriter, r *http.Request) {
	q, err := parseSearch(r.URL.Query(), a.o.Now(), a.o.DefaultLookback, a.o.MaxLimit)
	if err != nil {
		server.WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.o.Timeout)
	defer cancel()
	traces, err := a.o.Reader.FindTraces(ctx, q)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	resp := searchResponse{Traces: make([]summaryJSON, 0, len(traces)), Limit: q.Limit}
	for _, t := range traces {
		if len(t.Spans) == 0 {
			continue
		}
		resp.Traces = append(resp.Traces, summarize(t).json())
	}
	server.WriteJSON(w, http.StatusOK, resp)
}

func (a *API) trace(w http.ResponseWriter, r *http.Request) {
	id, err := model.ParseTraceID(r.PathValue("id"))
	if err != nil {
		server.WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.o.Timeout)
	defer cancel()
	t, err := a.o.Reader.GetTrace(ctx, id)
	if errors.Is(err, store.ErrTraceNotFound) || (err == nil && len(t.Spans) == 0) {
		server.WriteError(w, http.StatusNotFound, fmt.Sprintf("trace %s not found", id))
		return
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := renderTrace(t, a.o.MaxTraceSpans, a.linkExists(ctx, t))
	writeJSON(w, r, out)
}

// writeJSON writes v as JSON, gzipped (at the fastest level) when the
// client accepts it: a 50,000-span trace is 15 MB of JSON and about a tenth
// of that compressed, which matters when the UI is not on localhost.
func writeJSON(w http.ResponseWriter, r *http.Request, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Add("Vary", "Accept-Encoding")
	if !acceptsGzip(r.Header.Get("Accept-Encoding")) {
		server.WriteJSON(w, http.StatusOK, v)
		return
	}
	h.Set("Content-Encoding", "gzip")
	w.WriteHeader(http.StatusOK)
	zw, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
	enc := json.NewEncoder(zw)
	enc.SetEscapeHTML(true)
	// Past this point the status is sent: a failed write means the client
	// went away, and there is nobody to tell.
	_ = enc.Encode(v)
	_ = zw.Close()
}

func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(enc), "gzip") {
			continue
		}
		if q, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			f, err := strconv.ParseFloat(q, 64)
			return err == nil && f > 0
		}
		return true
	}
	return false
}

// linkExists returns a function telling whether a linked trace is stored,
// looking up at most maxLinkLookups distinct other traces.
func (a *API) linkExists(ctx context.Context, t *model.Trace) func(model.TraceID) bool {
	known := map[model.TraceID]bool{t.TraceID: true}
	return func(id model.TraceID) bool {
		if v, ok := known[id]; ok {
			return v
		}
		if len(known) > maxLinkLookups {
			return false
		}
		lt, err := a.o.Reader.GetTrace(ctx, id)
		known[id] = err == nil && len(lt.Spans) > 0
		return known[id]
	}
}

// fail answers a store error: 504 on the query deadline, 501 for what the
// engine does not support, 500 otherwise.
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		server.WriteError(w, http.StatusGatewayTimeout, fmt.Sprintf("query timed out after %s", a.o.Timeout))
	case errors.Is(err, context.Canceled):
		// The client went away; nobody reads the answer.
		server.WriteError(w, http.StatusServiceUnavailable, "query canceled")
	case errors.Is(err, errors.ErrUnsupported):
		server.WriteError(w, http.StatusNotImplemented, err.Error())
	default:
		a.o.Log.Error("native API query failed", "path", r.URL.Path, "err", err)
		server.WriteError(w, http.StatusInternalServerError, "query failed: "+err.Error())
	}
}
