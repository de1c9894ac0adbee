// Package tempo serves Grafana Tempo's HTTP query API over Clew's store and
// query engine, so that Grafana's Tempo data source works against Clew
// unchanged: traces by id (OTLP JSON, or protobuf on Accept:
// application/protobuf), TraceQL and tag search, tag names and values (v1
// and v2), TraceQL metrics (query_range and instant), echo and build info.
// docs/tempo-api.md lists the endpoints and every difference from Tempo.
package tempo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-logfmt/logfmt"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/model/pdataconv"
	"github.com/clew-dev/clew/internal/query/engine"
	"github.com/clew-dev/clew/internal/query/traceql"
	"github.com/clew-dev/clew/internal/server"
	"github.com/clew-dev/clew/internal/store"
)

// Name is the component name of the API's own listener.
const Name = "tempo"

// CompatibleVersion is the Tempo version whose API this package follows;
// /api/status/buildinfo reports it so that Grafana enables the features of
// that version (TraceQL, scoped tags, metrics).
const CompatibleVersion = "2.9.0"

// Options configure the API.
type Options struct {
	// Version is Clew's version, reported as the build's revision.
	Version string
	// Logger receives request-independent errors; nil discards.
	Logger *slog.Logger
}

// API serves the Tempo HTTP API.
type API struct {
	r   store.Reader
	e   *engine.Engine
	o   Options
	log *slog.Logger
}

// New returns the API over a store and an engine on the same store.
func New(r store.Reader, e *engine.Engine, o Options) *API {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &API{r: r, e: e, o: o, log: o.Logger}
}

// Register adds the API's routes to mux under prefix ("" or "/tempo").
func (a *API) Register(mux *http.ServeMux, prefix string) {
	routes := []struct {
		path string
		h    func(http.ResponseWriter, *http.Request) error
	}{
		{"/api/echo", a.echo},
		{"/api/status/buildinfo", a.buildInfo},
		{"/api/traces/{id}", a.traceV1},
		{"/api/v2/traces/{id}", a.traceV2},
		{"/api/search", a.search},
		{"/api/search/tags", a.tagsV1},
		{"/api/v2/search/tags", a.tagsV2},
		{"/api/search/tag/{tag}/values", a.tagValuesV1},
		{"/api/v2/search/tag/{tag}/values", a.tagValuesV2},
		{"/api/metrics/query_range", a.queryRange},
		{"/api/metrics/query", a.queryInstant},
	}
	for _, rt := range routes {
		h := rt.h
		mux.HandleFunc("GET "+prefix+rt.path, func(w http.ResponseWriter, r *http.Request) {
			if err := h(w, r); err != nil {
				a.writeError(w, r, err)
			}
		})
	}
}

// Handler returns a handler serving the API at the root, for its own port.
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	a.Register(mux, "")
	return mux
}

// httpError is an error with its status code.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &httpError{code: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

// writeError answers as Tempo does: the status code and the message as
// plain text.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var he *httpError
	var pe *traceql.ParseError
	switch {
	case errors.As(err, &he):
		server.WriteError(w, he.code, he.msg)
	case errors.As(err, &pe):
		server.WriteError(w, http.StatusBadRequest, pe.Error())
	case errors.Is(err, engine.ErrBadRequest):
		server.WriteError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The client went away; nobody reads the answer. 499 as Tempo's
		// proxies log it.
		server.WriteError(w, 499, "client closed request")
	case errors.Is(err, errors.ErrUnsupported):
		server.WriteError(w, http.StatusNotImplemented, err.Error())
	default:
		a.log.Error("tempo api", "path", r.URL.Path, "err", err)
		server.WriteError(w, http.StatusInternalServerError, err.Error())
	}
}

func (a *API) echo(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, err := w.Write([]byte("echo"))
	return err
}

func (a *API) buildInfo(w http.ResponseWriter, r *http.Request) error {
	server.WriteJSON(w, http.StatusOK, map[string]string{
		"version":   CompatibleVersion,
		"revision":  "clew-" + a.o.Version,
		"branch":    "",
		"buildUser": "",
		"buildDate": "",
		"goVersion": runtime.Version(),
	})
	return nil
}

func wantsProtobuf(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/protobuf")
}

func (a *API) getTrace(r *http.Request) (*model.Trace, error) {
	id, err := model.ParseTraceID(r.PathValue("id"))
	if err != nil {
		return nil, badRequest("invalid trace id: %v", err)
	}
	t, err := a.r.GetTrace(r.Context(), id)
	if errors.Is(err, store.ErrTraceNotFound) {
		return nil, &httpError{code: http.StatusNotFound, msg: "trace not found"}
	}
	return t, err
}

// traceV1 answers GET /api/traces/{id}: Tempo's Trace message, whose
// protobuf encoding is OTLP's TracesData and whose JSON names the resource
// spans "batches".
func (a *API) traceV1(w http.ResponseWriter, r *http.Request) error {
	t, err := a.getTrace(r)
	if err != nil {
		return err
	}
	td := pdataconv.FromModel(t.Spans)
	if wantsProtobuf(r) {
		b, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
		if err != nil {
			return err
		}
		return writeProto(w, b)
	}
	b, err := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
	if err != nil {
		return err
	}
	const otlpKey, tempoKey = `{"resourceSpans":`, `{"batches":`
	if !bytes.HasPrefix(b, []byte(otlpKey)) {
		return fmt.Errorf("unexpected OTLP JSON prefix %q", b[:min(len(b), 20)])
	}
	return writeJSONBytes(w, append([]byte(tempoKey), b[len(otlpKey):]...))
}

// traceV2 answers GET /api/v2/traces/{id}: TraceByIDResponse{trace}.
func (a *API) traceV2(w http.ResponseWriter, r *http.Request) error {
	t, err := a.getTrace(r)
	if err != nil {
		return err
	}
	td := pdataconv.FromModel(t.Spans)
	if wantsProtobuf(r) {
		b, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
		if err != nil {
			return err
		}
		// TraceByIDResponse field 1 is the Trace message.
		out := protowire.AppendTag(nil, 1, protowire.BytesType)
		out = protowire.AppendBytes(out, b)
		return writeProto(w, out)
	}
	b, err := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
	if err != nil {
		return err
	}
	out := make([]byte, 0, len(b)+12)
	out = append(out, `{"trace":`...)
	out = append(out, b...)
	out = append(out, '}')
	return writeJSONBytes(w, out)
}

// writeProto and writeJSONBytes write a whole reply with its
// Content-Length: net/http then sends it with two write calls instead of
// the three of a chunked reply (headers and a first chunk, the rest, the
// closing chunk).
func writeProto(w http.ResponseWriter, b []byte) error {
	w.Header().Set("Content-Type", "application/protobuf")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	_, err := w.Write(b)
	return err
}

func writeJSONBytes(w http.ResponseWriter, b []byte) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	_, err := w.Write(b)
	return err
}

// MaxTags is the most logfmt tags a legacy search may give.
const MaxTags = 64

func (a *API) search(w http.ResponseWriter, r *http.Request) error {
	qv := r.URL.Query()
	req := engine.SearchRequest{}
	var err error
	q := strings.TrimSpace(qv.Get("q"))
	if q == "" {
		q = "{ }"
	}
	if req.Query, err = traceql.Parse(q); err != nil {
		return err
	}
	if tags := qv.Get("tags"); tags != "" {
		if req.Tags, err = parseLogfmt(tags); err != nil {
			return badRequest("invalid tags: %v", err)
		}
	}
	if req.MinDuration, err = durationParam(qv.Get("minDuration"), "minDuration"); err != nil {
		return err
	}
	if req.MaxDuration, err = durationParam(qv.Get("maxDuration"), "maxDuration"); err != nil {
		return err
	}
	if req.MaxDuration > 0 && req.MinDuration > req.MaxDuration {
		return badRequest("invalid maxDuration: must be greater than minDuration")
	}
	if req.Limit, err = intParam(qv.Get("limit"), "limit"); err != nil {
		return err
	}
	if req.SpansPerSpanSet, err = intParam(qv.Get("spss"), "spss"); err != nil {
		return err
	}
	if req.Start, req.End, err = timeRange(qv.Get("start"), qv.Get("end"), 0); err != nil {
		return err
	}
	resp, err := a.e.Search(r.Context(), req)
	if err != nil {
		return err
	}
	server.WriteJSON(w, http.StatusOK, renderSearch(resp))
	return nil
}

func parseLogfmt(s string) (map[string]string, error) {
	d := logfmt.NewDecoder(strings.NewReader(s))
	out := map[string]string{}
	for d.ScanRecord() {
		for d.ScanKeyval() {
			if len(out) >= MaxTags {
				return nil, fmt.Errorf("more than %d tags", MaxTags)
			}
			out[string(d.Key())] = string(d.Value())
		}
	}
	if err := d.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// optionalQuery parses q= of the tag endpoints. As Tempo does, an empty or
// unparsable query (Grafana sends the query being edited) means no filter.
func optionalQuery(s string) *traceql.Query {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	q, err := traceql.Parse(s)
	if err != nil || q.Metrics != nil {
		return nil
	}
	return q
}

func (a *API) tagNames(r *http.Request, scope string) (*engine.TagsResponse, error) {
	qv := r.URL.Query()
	start, end, err := timeRange(qv.Get("start"), qv.Get("end"), 0)
	if err != nil {
		return nil, err
	}
	return a.e.TagNames(r.Context(), engine.TagsRequest{Scope: scope, Query: optionalQuery(qv.Get("q")), Start: start, End: end})
}

// tagsV1 answers /api/search/tags: the attribute names of every scope (or
// of ?scope=) in one list.
func (a *API) tagsV1(w http.ResponseWriter, r *http.Request) error {
	scope := r.URL.Query().Get("scope")
	resp, err := a.tagNames(r, scope)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	names := []string{}
	for _, s := range append(slices.Clone(engine.TagScopes), "intrinsic") {
		if s == "intrinsic" && scope != "intrinsic" {
			continue // v1 lists attributes; intrinsics only when asked
		}
		for _, n := range resp.Scopes[s] {
			if !seen[n] {
				seen[n] = true
				names = append(names, n)
			}
		}
	}
	slices.Sort(names)
	server.WriteJSON(w, http.StatusOK, tagNamesResponse{TagNames: names, Metrics: metricsOf(resp.Stats)})
	return nil
}

// tagsV2 answers /api/v2/search/tags: names grouped by scope.
func (a *API) tagsV2(w http.ResponseWriter, r *http.Request) error {
	resp, err := a.tagNames(r, r.URL.Query().Get("scope"))
	if err != nil {
		return err
	}
	out := tagsV2Response{Scopes: []tagScope{}, Metrics: metricsOf(resp.Stats)}
	for _, s := range append(slices.Clone(engine.TagScopes), "intrinsic") {
		if tags, ok := resp.Scopes[s]; ok && (len(tags) > 0 || s == "intrinsic") {
			out.Scopes = append(out.Scopes, tagScope{Name: s, Tags: tags})
		}
	}
	server.WriteJSON(w, http.StatusOK, out)
	return nil
}

// DefaultExemplars is the exemplars returned per series of a range query
// that does not ask for a number (exemplars=).
const DefaultExemplars = 100

// MaxTagBytes bounds the tag name of the tag-values endpoints.
const MaxTagBytes = 1024

func (a *API) tagValues(r *http.Request, tag *traceql.Attribute) (*engine.TagValuesResponse, error) {
	qv := r.URL.Query()
	start, end, err := timeRange(qv.Get("start"), qv.Get("end"), 0)
	if err != nil {
		return nil, err
	}
	return a.e.TagValues(r.Context(), engine.TagValuesRequest{Tag: tag, Query: optionalQuery(qv.Get("q")), Start: start, End: end})
}

// tagValuesV1 answers /api/search/tag/{tag}/values: the tag is an
// attribute name looked up on spans and resources (or a bare intrinsic
// such as name or status); values are returned as text.
func (a *API) tagValuesV1(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("tag")
	if name == "" || len(name) > MaxTagBytes {
		return badRequest("invalid tag name")
	}
	tag := &traceql.Attribute{Scope: traceql.ScopeNone, Name: name}
	if in, ok := traceql.LookupIntrinsic(name); ok {
		tag = &traceql.Attribute{Scope: traceql.ScopeIntrinsic, Intrinsic: in}
	}
	resp, err := a.tagValues(r, tag)
	if err != nil {
		return err
	}
	out := tagValuesResponse{TagValues: []string{}, Metrics: metricsOf(resp.Stats)}
	seen := map[string]bool{}
	for _, v := range resp.Values {
		if s := engine.ValueText(v); !seen[s] {
			seen[s] = true
			out.TagValues = append(out.TagValues, s)
		}
	}
	server.WriteJSON(w, http.StatusOK, out)
	return nil
}

// tagValuesV2 answers /api/v2/search/tag/{tag}/values: the tag is a
// TraceQL attribute (resource.service.name, span.http.method, .foo, name,
// status, event:name, ...); values are typed.
func (a *API) tagValuesV2(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("tag")
	if name == "" || len(name) > MaxTagBytes {
		return badRequest("invalid tag name")
	}
	tag, err := parseTag(name)
	if err != nil {
		return err
	}
	resp, err := a.tagValues(r, tag)
	if err != nil {
		return err
	}
	out := tagValuesV2Response{TagValues: []tagValue{}, Metrics: metricsOf(resp.Stats)}
	for _, v := range resp.Values {
		out.TagValues = append(out.TagValues, tagValue{Type: tagValueType(v), Value: engine.ValueText(v)})
	}
	server.WriteJSON(w, http.StatusOK, out)
	return nil
}

// parseTag parses a TraceQL attribute or intrinsic by parsing it inside a
// filter, so that it follows the language's rules exactly.
func parseTag(name string) (*traceql.Attribute, error) {
	q, err := traceql.Parse("{ " + name + " = nil }")
	if err == nil && q.Metrics == nil && len(q.Pipeline.Stages) == 1 {
		if f, ok := q.Pipeline.Stages[0].(*traceql.SpansetFilter); ok {
			if b, ok := f.Expr.(*traceql.BinaryExpr); ok && b.Op == traceql.OpEq {
				a, ok1 := b.LHS.(*traceql.Attribute)
				st, ok2 := b.RHS.(*traceql.Static)
				if ok1 && ok2 && st.Type == traceql.TypeNil {
					return a, nil
				}
			}
		}
	}
	return nil, badRequest("invalid tag %q: want a TraceQL attribute such as resource.service.name or span.http.method, or an intrinsic", name)
}

func (a *API) metricsParams(r *http.Request) (engine.MetricsRequest, error) {
	qv := r.URL.Query()
	q := qv.Get("q")
	if q == "" {
		q = qv.Get("query")
	}
	if strings.TrimSpace(q) == "" {
		return engine.MetricsRequest{}, badRequest("missing q: a TraceQL metrics query such as { } | rate()")
	}
	tq, err := traceql.Parse(q)
	if err != nil {
		return engine.MetricsRequest{}, err
	}
	start, end, err := timeRange(qv.Get("start"), qv.Get("end"), time.Hour)
	if err != nil {
		return engine.MetricsRequest{}, err
	}
	if s := qv.Get("since"); s != "" && qv.Get("start") == "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return engine.MetricsRequest{}, badRequest("invalid since %q: want a duration such as 1h", s)
		}
		start = end.Add(-d)
	}
	step, err := stepParam(qv.Get("step"))
	if err != nil {
		return engine.MetricsRequest{}, err
	}
	exemplars := DefaultExemplars
	if s := qv.Get("exemplars"); s != "" {
		if exemplars, err = intParam(s, "exemplars"); err != nil {
			return engine.MetricsRequest{}, err
		}
	}
	return engine.MetricsRequest{Query: tq, Start: start, End: end, Step: step, Exemplars: min(exemplars, engine.MaxExemplars)}, nil
}

func (a *API) queryRange(w http.ResponseWriter, r *http.Request) error {
	req, err := a.metricsParams(r)
	if err != nil {
		return err
	}
	resp, err := a.e.QueryRange(r.Context(), req)
	if err != nil {
		return err
	}
	server.WriteJSON(w, http.StatusOK, renderQueryRange(resp))
	return nil
}

func (a *API) queryInstant(w http.ResponseWriter, r *http.Request) error {
	req, err := a.metricsParams(r)
	if err != nil {
		return err
	}
	resp, err := a.e.QueryInstant(r.Context(), req)
	if err != nil {
		return err
	}
	server.WriteJSON(w, http.StatusOK, renderInstant(resp))
	return nil
}
