// Package jaeger serves the Jaeger HTTP query API (/api/services,
// /api/operations, /api/traces, /api/dependencies) with the JSON the Jaeger
// UI and Grafana's Jaeger data source read.
package jaeger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/server"
	"github.com/clew-dev/clew/internal/store"
)

// Options configure the API.
type Options struct {
	// Timeout bounds one query (default 30s).
	Timeout time.Duration
	// MaxLimit caps the traces one search returns (default 1500).
	MaxLimit int
	// DefaultLimit is used when a search gives no limit (default 100).
	DefaultLimit int
	// DefaultLookback is the window of a search without start (default 1h).
	DefaultLookback time.Duration
	Logger          *slog.Logger
	// Now returns the current time (default time.Now).
	Now func() time.Time
}

// Limits on request parameters.
const (
	maxTraceIDs   = 1000
	maxTags       = 64
	maxParamBytes = 8 << 10
)

// API is the Jaeger query API over a store.Reader.
type API struct {
	r    store.Reader
	opts Options
}

// New returns the API answering from r.
func New(r store.Reader, o Options) *API {
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.MaxLimit <= 0 {
		o.MaxLimit = 1500
	}
	if o.DefaultLimit <= 0 {
		o.DefaultLimit = 100
	}
	if o.DefaultLookback <= 0 {
		o.DefaultLookback = time.Hour
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &API{r: r, opts: o}
}

// Register adds the routes under prefix ("" for the root) to mux.
func (a *API) Register(mux *http.ServeMux, prefix string) {
	mux.HandleFunc("GET "+prefix+"/api/services", a.handle(a.services))
	mux.HandleFunc("GET "+prefix+"/api/services/{service}/operations", a.handle(a.serviceOperations))
	mux.HandleFunc("GET "+prefix+"/api/operations", a.handle(a.operations))
	mux.HandleFunc("GET "+prefix+"/api/traces", a.handle(a.findTraces))
	mux.HandleFunc("GET "+prefix+"/api/traces/{traceID}", a.handle(a.getTrace))
	mux.HandleFunc("GET "+prefix+"/api/dependencies", a.handle(a.dependencies))
}

// httpError is an error with the HTTP status it maps to.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &httpError{code: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

// handle runs h with the query deadline and maps its error to a Jaeger
// error reply.
func (a *API) handle(h func(ctx context.Context, r *http.Request) (response, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), a.opts.Timeout)
		defer cancel()
		if len(r.URL.RawQuery) > maxParamBytes {
			a.writeError(w, &httpError{code: http.StatusRequestURITooLong, msg: fmt.Sprintf("query string longer than %d bytes", maxParamBytes)})
			return
		}
		resp, err := h(ctx, r)
		if err != nil {
			a.writeError(w, err)
			return
		}
		if tl, ok := resp.Data.(traceList); ok {
			writeResponse(w, http.StatusOK, resp, tl)
			return
		}
		server.WriteJSON(w, http.StatusOK, resp)
	}
}

func (a *API) writeError(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	var he *httpError
	switch {
	case errors.As(err, &he):
		code = he.code
	case errors.Is(err, store.ErrTraceNotFound):
		code = http.StatusNotFound
	case errors.Is(err, context.DeadlineExceeded):
		code = http.StatusGatewayTimeout
		err = fmt.Errorf("query exceeded its deadline of %v", a.opts.Timeout)
	case errors.Is(err, context.Canceled):
		code = 499 // client went away; nobody reads this
	case errors.Is(err, errors.ErrUnsupported):
		code = http.StatusNotImplemented
	default:
		a.opts.Logger.Error("Jaeger API query failed", "err", err)
	}
	server.WriteJSON(w, code, response{Errors: []apiError{{Code: code, Msg: err.Error()}}})
}

func (a *API) services(ctx context.Context, r *http.Request) (response, error) {
	svcs, err := a.r.GetServices(ctx)
	if err != nil {
		return response{}, err
	}
	if svcs == nil {
		svcs = []string{}
	}
	return response{Data: svcs, Total: len(svcs)}, nil
}

func (a *API) serviceOperations(ctx context.Context, r *http.Request) (response, error) {
	service := r.PathValue("service")
	ops, err := a.r.GetOperations(ctx, store.OperationQuery{Service: service})
	if err != nil {
		return response{}, err
	}
	names := make([]string, 0, len(ops))
	for _, op := range ops {
		if len(names) == 0 || names[len(names)-1] != op.Name {
			names = append(names, op.Name)
		}
	}
	return response{Data: names, Total: len(names)}, nil
}

func (a *API) operations(ctx context.Context, r *http.Request) (response, error) {
	q := r.URL.Query()
	service := q.Get("service")
	if service == "" {
		return response{}, badRequest("parameter 'service' is required")
	}
	kind := q.Get("spanKind")
	if _, ok := model.ParseSpanKind(kind); !ok {
		return response{}, badRequest("unsupported spanKind %q: want server, client, producer, consumer or internal", kind)
	}
	ops, err := a.r.GetOperations(ctx, store.OperationQuery{Service: service, SpanKind: kind})
	if err != nil {
		return response{}, err
	}
	out := make([]jOperation, len(ops))
	for i, op := range ops {
		out[i] = jOperation{Name: op.Name, SpanKind: op.SpanKind}
	}
	return response{Data: out, Total: len(out)}, nil
}

func (a *API) getTrace(ctx context.Context, r *http.Request) (response, error) {
	id, err := model.ParseTraceID(r.PathValue("traceID"))
	if err != nil {
		return response{}, badRequest("%v", err)
	}
	t, err := a.r.GetTrace(ctx, id)
	if err != nil {
		return response{}, err
	}
	return response{Data: traceList{t}, Total: 1}, nil
}

func (a *API) findTraces(ctx context.Context, r *http.Request) (response, error) {
	q := r.URL.Query()
	if ids := q["traceID"]; len(ids) > 0 {
		return a.tracesByID(ctx, ids)
	}
	tq, err := a.parseSearch(q)
	if err != nil {
		return response{}, err
	}
	traces, err := a.r.FindTraces(ctx, tq)
	if err != nil {
		return response{}, err
	}
	return response{Data: traceList(traces), Total: len(traces)}, nil
}

func (a *API) tracesByID(ctx context.Context, raw []string) (response, error) {
	if len(raw) > maxTraceIDs {
		return response{}, badRequest("at most %d traceID parameters", maxTraceIDs)
	}
	out := traceList{}
	var errs []apiError
	seen := map[model.TraceID]bool{}
	for _, s := range raw {
		id, err := model.ParseTraceID(s)
		if err != nil {
			return response{}, badRequest("%v", err)
		}
		if seen[id] {
			continue
		}
		seen[id] = true
		t, err := a.r.GetTrace(ctx, id)
		if errors.Is(err, store.ErrTraceNotFound) {
			errs = append(errs, apiError{Code: http.StatusNotFound, Msg: store.ErrTraceNotFound.Error(), TraceID: s})
			continue
		}
		if err != nil {
			return response{}, err
		}
		out = append(out, t)
	}
	return response{Data: out, Total: len(out), Errors: errs}, nil
}

// parseSearch reads the parameters the Jaeger UI sends. Empty values (the
// UI sends "&minDuration&maxDuration") count as absent.
func (a *API) parseSearch(q url.Values) (store.TraceQuery, error) {
	tq := store.TraceQuery{
		Service:   q.Get("service"),
		Operation: q.Get("operation"),
		Tags:      map[string]string{},
	}
	if tq.Service == "" {
		return tq, badRequest("parameter 'service' is required")
	}
	now := a.opts.Now()
	end := now
	if s := q.Get("end"); s != "" {
		t, err := parseMicros(s)
		if err != nil {
			return tq, badRequest("parameter 'end': %v", err)
		}
		end = t
	}
	start := time.Time{}
	if s := q.Get("start"); s != "" {
		t, err := parseMicros(s)
		if err != nil {
			return tq, badRequest("parameter 'start': %v", err)
		}
		start = t
	} else {
		lookback := a.opts.DefaultLookback
		if s := q.Get("lookback"); s != "" && s != "custom" {
			d, err := time.ParseDuration(s)
			if err != nil || d <= 0 {
				return tq, badRequest("parameter 'lookback' %q: want a positive duration such as 1h", s)
			}
			lookback = d
		}
		start = end.Add(-lookback)
	}
	if end.Before(start) {
		return tq, badRequest("parameter 'end' is before 'start'")
	}
	tq.StartMin, tq.StartMax = start, end
	for _, p := range []struct {
		name string
		dst  *time.Duration
	}{{"minDuration", &tq.DurationMin}, {"maxDuration", &tq.DurationMax}} {
		if s := q.Get(p.name); s != "" {
			d, err := time.ParseDuration(s)
			if err != nil || d < 0 {
				return tq, badRequest("parameter '%s' %q: want a duration such as 100ms, 1.2s or 4.5us", p.name, s)
			}
			*p.dst = d
		}
	}
	if tq.DurationMin > 0 && tq.DurationMax > 0 && tq.DurationMax < tq.DurationMin {
		return tq, badRequest("'maxDuration' should be greater than 'minDuration'")
	}
	tq.Limit = a.opts.DefaultLimit
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return tq, badRequest("parameter 'limit' %q: want a non-negative integer", s)
		}
		if n > 0 {
			tq.Limit = n
		}
	}
	tq.Limit = min(tq.Limit, a.opts.MaxLimit)
	for _, s := range q["tags"] {
		if s == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			return tq, badRequest("parameter 'tags': malformed JSON object: %v", err)
		}
		for k, v := range m {
			switch x := v.(type) {
			case string:
				tq.Tags[k] = x
			case bool, float64:
				b, _ := json.Marshal(x)
				tq.Tags[k] = string(b)
			default:
				return tq, badRequest("parameter 'tags': value of %q must be a string, number or bool", k)
			}
		}
	}
	for _, s := range q["tag"] {
		k, v, ok := strings.Cut(s, ":")
		if !ok || k == "" {
			return tq, badRequest("parameter 'tag' %q: want key:value", s)
		}
		tq.Tags[k] = v
	}
	if len(tq.Tags) > maxTags {
		return tq, badRequest("at most %d tags per search", maxTags)
	}
	return tq, nil
}

func parseMicros(s string) (time.Time, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return time.Time{}, fmt.Errorf("%q: want microseconds since the Unix epoch", s)
	}
	return time.UnixMicro(n), nil
}

func parseMillis(name, s string) (time.Time, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return time.Time{}, badRequest("parameter '%s' %q: want milliseconds since the Unix epoch", name, s)
	}
	return time.UnixMilli(n), nil
}

func (a *API) dependencies(ctx context.Context, r *http.Request) (response, error) {
	q := r.URL.Query()
	end := a.opts.Now()
	if s := q.Get("endTs"); s != "" {
		t, err := parseMillis("endTs", s)
		if err != nil {
			return response{}, err
		}
		end = t
	}
	lookback := 24 * time.Hour
	if s := q.Get("lookback"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			return response{}, badRequest("parameter 'lookback' %q: want a positive number of milliseconds", s)
		}
		lookback = time.Duration(min(n, int64(30*24*time.Hour/time.Millisecond))) * time.Millisecond
	}
	links, err := a.r.GetDependencies(ctx, end, lookback)
	if err != nil {
		return response{}, err
	}
	out := make([]jDependency, len(links))
	for i, l := range links {
		out[i] = jDependency{Parent: l.Parent, Child: l.Child, CallCount: l.CallCount}
	}
	return response{Data: out, Total: len(out)}, nil
}
