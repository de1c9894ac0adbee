// Package jaegerv3 serves the HTTP gateway of Jaeger's query API v3
// (/api/v3/services, /api/v3/operations, /api/v3/traces/{id},
// /api/v3/traces), which returns traces as OTLP JSON wrapped in
// {"result": ...}, as newer Jaeger UIs and Grafana read it.
package jaegerv3

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/model/pdataconv"
	"github.com/clew-dev/clew/internal/store"
)

// Query parameters, as the Jaeger v3 gateway names them.
const (
	paramStartTime     = "start_time"
	paramEndTime       = "end_time"
	paramService       = "query.service_name"
	paramOperation     = "query.operation_name"
	paramTimeMin       = "query.start_time_min"
	paramTimeMax       = "query.start_time_max"
	paramSearchDepth   = "query.search_depth"
	paramNumTraces     = "query.num_traces"
	paramDurationMin   = "query.duration_min"
	paramDurationMax   = "query.duration_max"
	paramAttributes    = "query.attributes"
	maxAttributeParams = 64
)

// API is the v3 HTTP gateway over a store.Reader.
type API struct {
	r        store.Reader
	timeout  time.Duration
	maxLimit int
	log      *slog.Logger
}

// New returns the API. timeout bounds each query; maxLimit caps the traces
// of one search.
func New(r store.Reader, timeout time.Duration, maxLimit int, log *slog.Logger) *API {
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	if maxLimit <= 0 {
		maxLimit = 1500
	}
	return &API{r: r, timeout: timeout, maxLimit: maxLimit, log: log}
}

// Register adds the routes to mux.
func (a *API) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v3/services", a.services)
	mux.HandleFunc("GET /api/v3/operations", a.operations)
	mux.HandleFunc("GET /api/v3/traces/{traceID}", a.getTrace)
	mux.HandleFunc("GET /api/v3/traces", a.findTraces)
}

type gatewayError struct {
	Error struct {
		HTTPCode int    `json:"httpCode"`
		Message  string `json:"message"`
	} `json:"error"`
}

func (a *API) fail(w http.ResponseWriter, code int, err error) {
	switch {
	case errors.Is(err, store.ErrTraceNotFound):
		code = http.StatusNotFound
	case errors.Is(err, context.DeadlineExceeded):
		code = http.StatusGatewayTimeout
	}
	if code == http.StatusInternalServerError {
		a.log.Error("Jaeger API v3 query failed", "err", err)
	}
	var e gatewayError
	e.Error.HTTPCode = code
	e.Error.Message = err.Error()
	b, _ := json.Marshal(e)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

func paramError(name string, err error) error {
	return fmt.Errorf("malformed parameter %s: %w", name, err)
}

func writeJSON(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

func (a *API) services(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), a.timeout)
	defer cancel()
	svcs, err := a.r.GetServices(ctx)
	if err != nil {
		a.fail(w, http.StatusInternalServerError, err)
		return
	}
	if svcs == nil {
		svcs = []string{}
	}
	b, _ := json.Marshal(struct {
		Services []string `json:"services"`
	}{svcs})
	writeJSON(w, b)
}

type operation struct {
	Name     string `json:"name"`
	SpanKind string `json:"spanKind"`
}

func (a *API) operations(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), a.timeout)
	defer cancel()
	q := r.URL.Query()
	kind := q.Get("span_kind")
	if _, ok := model.ParseSpanKind(kind); !ok {
		a.fail(w, http.StatusBadRequest, paramError("span_kind", fmt.Errorf("unknown kind %q", kind)))
		return
	}
	ops, err := a.r.GetOperations(ctx, store.OperationQuery{Service: q.Get("service"), SpanKind: kind})
	if err != nil {
		a.fail(w, http.StatusInternalServerError, err)
		return
	}
	out := make([]operation, len(ops))
	for i, op := range ops {
		out[i] = operation{Name: op.Name, SpanKind: op.SpanKind}
	}
	b, _ := json.Marshal(struct {
		Operations []operation `json:"operations"`
	}{out})
	writeJSON(w, b)
}

func (a *API) getTrace(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), a.timeout)
	defer cancel()
	id, err := model.ParseTraceID(r.PathValue("traceID"))
	if err != nil {
		a.fail(w, http.StatusBadRequest, paramError("trace_id", err))
		return
	}
	q := r.URL.Query()
	for _, p := range []string{paramStartTime, paramEndTime} {
		if s := q.Get(p); s != "" {
			if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
				a.fail(w, http.StatusBadRequest, paramError(p, err))
				return
			}
		}
	}
	t, err := a.r.GetTrace(ctx, id)
	if err != nil {
		a.fail(w, http.StatusInternalServerError, err)
		return
	}
	a.writeTraces(w, []*model.Trace{t})
}

func (a *API) findTraces(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), a.timeout)
	defer cancel()
	q := r.URL.Query()
	tq := store.TraceQuery{Service: q.Get(paramService), Operation: q.Get(paramOperation)}
	minS, maxS := q.Get(paramTimeMin), q.Get(paramTimeMax)
	if minS == "" || maxS == "" {
		a.fail(w, http.StatusBadRequest, fmt.Errorf("%s and %s are required", paramTimeMin, paramTimeMax))
		return
	}
	var err error
	if tq.StartMin, err = time.Parse(time.RFC3339Nano, minS); err != nil {
		a.fail(w, http.StatusBadRequest, paramError(paramTimeMin, err))
		return
	}
	if tq.StartMax, err = time.Parse(time.RFC3339Nano, maxS); err != nil {
		a.fail(w, http.StatusBadRequest, paramError(paramTimeMax, err))
		return
	}
	for _, p := range []string{paramSearchDepth, paramNumTraces} {
		if s := q.Get(p); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 {
				a.fail(w, http.StatusBadRequest, paramError(p, fmt.Errorf("%q is not a non-negative integer", s)))
				return
			}
			tq.Limit = n
			break
		}
	}
	tq.Limit = min(tq.EffectiveLimit(), a.maxLimit)
	for _, p := range []struct {
		name string
		dst  *time.Duration
	}{{paramDurationMin, &tq.DurationMin}, {paramDurationMax, &tq.DurationMax}} {
		if s := q.Get(p.name); s != "" {
			d, err := time.ParseDuration(s)
			if err != nil {
				a.fail(w, http.StatusBadRequest, paramError(p.name, err))
				return
			}
			*p.dst = d
		}
	}
	// Attribute filters as a JSON object (Clew accepts them; Jaeger's
	// gateway ignores them).
	if s := q.Get(paramAttributes); s != "" {
		m := map[string]string{}
		if err := json.Unmarshal([]byte(s), &m); err != nil || len(m) > maxAttributeParams {
			a.fail(w, http.StatusBadRequest, paramError(paramAttributes, fmt.Errorf("want a JSON object of at most %d string values", maxAttributeParams)))
			return
		}
		tq.Tags = m
	}
	traces, err := a.r.FindTraces(ctx, tq)
	if err != nil {
		a.fail(w, http.StatusInternalServerError, err)
		return
	}
	if len(traces) == 0 {
		a.fail(w, http.StatusNotFound, errors.New("No traces found"))
		return
	}
	a.writeTraces(w, traces)
}

// writeTraces writes {"result": <OTLP TracesData JSON>}.
func (a *API) writeTraces(w http.ResponseWriter, traces []*model.Trace) {
	var spans []*model.Span
	for _, t := range traces {
		spans = append(spans, t.Spans...)
	}
	b, err := (&ptrace.JSONMarshaler{}).MarshalTraces(pdataconv.FromModel(spans))
	if err != nil {
		a.fail(w, http.StatusInternalServerError, fmt.Errorf("encode traces: %w", err))
		return
	}
	out := make([]byte, 0, len(b)+12)
	out = append(out, `{"result":`...)
	out = append(out, b...)
	out = append(out, '}')
	writeJSON(w, out)
}
