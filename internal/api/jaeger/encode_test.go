package jaeger

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/server"
)

// referenceJSON is what the API wrote before encode.go: the reference
// structs rendered by server.WriteJSON (encoding/json, HTML escaped).
func referenceJSON(t testing.TB, resp response, traces []*model.Trace) []byte {
	t.Helper()
	out := []jTrace{}
	for _, tr := range traces {
		out = append(out, toJaegerTrace(tr))
	}
	resp.Data = out
	rec := httptest.NewRecorder()
	server.WriteJSON(rec, http.StatusOK, resp)
	return rec.Body.Bytes()
}

func encoded(t testing.TB, resp response, traces []*model.Trace) []byte {
	t.Helper()
	rec := httptest.NewRecorder()
	writeResponse(rec, http.StatusOK, resp, traceList(traces))
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("content type %q", ct)
	}
	return rec.Body.Bytes()
}

func checkSame(t testing.TB, resp response, traces []*model.Trace) {
	t.Helper()
	want, got := referenceJSON(t, resp, traces), encoded(t, resp, traces)
	if !bytes.Equal(want, got) {
		t.Fatalf("encoder differs from encoding/json (-want +got):\n%s", cmp.Diff(string(want), string(got)))
	}
	if !json.Valid(got) {
		t.Fatalf("invalid JSON: %s", got)
	}
}

// hostile are strings that JSON encoders get wrong: quotes, backslashes,
// every control character, HTML characters, the JavaScript line
// separators, invalid and truncated UTF-8, and multi-byte runes.
var hostile = func() []string {
	var ctl []byte
	for c := 0; c < 0x20; c++ {
		ctl = append(ctl, byte(c))
	}
	return []string{
		"", "plain", `q"uo\te`, string(ctl) + "\x7f", "<script>&amp;</script>", "a\u2028b\u2029c",
		"\xff", "\xfe\xff", "ok\xc3", "\xc3\x28", "\xed\xa0\x80", "\xf4\x90\x80\x80", "é日本語🙂", "\u00e9\ufffd",
		"tab\there\nnew\rret\bback\fform", `\u0000`, "\x00mid\x00",
	}
}()

// variedTrace builds a trace that uses every field of the mapping: all
// value types (with infinite, NaN, negative zero and extreme doubles),
// scopes, kinds, statuses, links (child_of and not), events with and
// without a name, resources equal by content behind distinct pointers and
// differing only in invalid bytes, a nil resource, more than 10
// processes, flags beyond 8 bits, and an end before the start.
func variedTrace(strs []string, nspans int) *model.Trace {
	s := func(i int) string { return strs[i%len(strs)] }
	tid := model.TraceIDFromUint64s(0, 0xabc)
	floats := []float64{0, math.Copysign(0, -1), 1.5, -2.25, 1e-7, 1e-6, 9.99e-7, 1e20, 1e21, -1e21, 5e-324, math.MaxFloat64,
		123456789.125, math.Inf(1), math.Inf(-1), math.NaN(), 0.1, 1.0 / 3}
	var spans []*model.Span
	res := &model.Resource{Attributes: model.Attributes{{Key: "service.name", Value: model.StringValue("frontend")}, {Key: "host.name", Value: model.StringValue(s(1))}}}
	same := &model.Resource{Attributes: res.Attributes}
	for i := 0; i < nspans; i++ {
		r := res
		switch {
		case i == 1:
			r = same
		case i == 2:
			r = nil
		case i == 3:
			r = &model.Resource{Attributes: model.Attributes{{Key: "service.name", Value: model.StringValue("\xff")}}}
		case i == 4:
			r = &model.Resource{Attributes: model.Attributes{{Key: "service.name", Value: model.StringValue("\xfe")}}}
		case i >= 5:
			r = &model.Resource{Attributes: model.Attributes{
				{Key: "service.name", Value: model.StringValue("svc" + strconv.Itoa(i))},
				{Key: s(i), Value: model.IntValue(int64(i))},
				{Key: "service.name", Value: model.StringValue("second")},
				{Key: "f", Value: model.DoubleValue(floats[i%len(floats)])},
				{Key: "b", Value: model.BytesValue([]byte(s(i + 1)))},
				{Key: "ok", Value: model.BoolValue(i%2 == 0)},
			}}
		}
		sp := &model.Span{Resource: r, TraceID: tid, SpanID: model.SpanIDFromUint64(uint64(i + 1)), Name: s(i),
			Kind: model.SpanKind(i % 7), StartTimeUnixNano: uint64(1_700_000_000_000_000_000 + i*1_234_567),
			EndTimeUnixNano: uint64(1_700_000_000_000_000_000 + i*2_345_678), Flags: uint32(i * 37), TraceState: s(i + 2)}
		if i == 6 {
			sp.EndTimeUnixNano = sp.StartTimeUnixNano - 1
		}
		if i > 0 {
			sp.ParentSpanID = model.SpanIDFromUint64(uint64(i))
			sp.TraceID = model.TraceIDFromUint64s(uint64(i%2), 0xabc)
		}
		switch i % 3 {
		case 0:
			sp.Scope = &model.Scope{Name: s(i + 3), Version: s(i + 4)}
		case 1:
			sp.Scope = &model.Scope{}
		}
		sp.Status = model.Status{Code: model.StatusCode(i % 4), Message: s(i + 5)}
		for j, f := range floats {
			sp.Attributes = append(sp.Attributes, model.KeyValue{Key: s(i + j), Value: model.DoubleValue(f)})
		}
		sp.Attributes = append(sp.Attributes,
			model.KeyValue{Key: s(i + 6), Value: model.StringValue(s(i + 7))},
			model.KeyValue{Key: "int", Value: model.IntValue(math.MinInt64 + int64(i))},
			model.KeyValue{Key: "bytes", Value: model.BytesValue([]byte(s(i+8) + "\x00\xff"))},
			model.KeyValue{Key: "bool", Value: model.BoolValue(i%2 == 1)},
			model.KeyValue{Key: "map", Value: model.MapValue([]model.KeyValue{{Key: s(i), Value: model.StringValue(s(i + 1))}, {Key: "n", Value: model.DoubleValue(1e-9)}})},
			model.KeyValue{Key: "slice", Value: model.SliceValue([]model.Value{model.StringValue(s(i + 2)), model.IntValue(-1), model.BoolValue(true)})},
			model.KeyValue{Key: "empty", Value: model.Value{}},
		)
		sp.Links = []model.Link{
			{TraceID: model.TraceIDFromUint64s(7, 8), SpanID: model.SpanIDFromUint64(9)},
			{TraceID: tid, SpanID: model.SpanIDFromUint64(1), Attributes: model.Attributes{{Key: "opentracing.ref_type", Value: model.StringValue("child_of")}}},
			{TraceID: tid, SpanID: model.SpanIDFromUint64(2), Attributes: model.Attributes{{Key: "opentracing.ref_type", Value: model.StringValue(s(i))}}},
		}
		sp.Events = []model.Event{
			{TimeUnixNano: sp.StartTimeUnixNano + 10, Name: s(i + 9), Attributes: model.Attributes{{Key: s(i), Value: model.StringValue(s(i + 10))}}},
			{TimeUnixNano: sp.StartTimeUnixNano + 20, Attributes: model.Attributes{{Key: "a", Value: model.IntValue(1)}, {Key: "b", Value: model.DoubleValue(2.5)}}},
			{TimeUnixNano: sp.StartTimeUnixNano + 30},
		}
		spans = append(spans, sp)
	}
	return &model.Trace{TraceID: tid, Spans: spans}
}

func TestEncoderMatchesEncodingJSON(t *testing.T) {
	fx := fixture()
	long := model.TraceIDFromUint64s(0x1234, 5)
	for name, c := range map[string]struct {
		resp   response
		traces []*model.Trace
	}{
		"none":         {response{}, nil},
		"fixture":      {response{Total: 1}, []*model.Trace{{TraceID: fx[0].TraceID, Spans: fx}}},
		"no spans":     {response{Total: 1}, []*model.Trace{{TraceID: long}}},
		"hostile":      {response{Total: 1}, []*model.Trace{variedTrace(hostile, 14)}},
		"plain":        {response{Total: 2, Limit: 3, Offset: 4}, []*model.Trace{variedTrace([]string{"a", "b", "c"}, 14), variedTrace([]string{"x"}, 3)}},
		"with errors":  {response{Total: 0, Errors: []apiError{{Code: 404, Msg: "trace not found", TraceID: "<x>"}, {Msg: "\xff\n"}}}, nil},
		"empty errors": {response{Errors: []apiError{}}, nil},
	} {
		t.Run(name, func(t *testing.T) { checkSame(t, c.resp, c.traces) })
	}
	// More processes than are compared one by one, each met again behind
	// another pointer.
	mp := variedTrace([]string{"m"}, 3)
	for i := 0; i < 80; i++ {
		sp := *mp.Spans[i%3]
		sp.SpanID = model.SpanIDFromUint64(uint64(100 + i))
		sp.Resource = &model.Resource{Attributes: model.Attributes{{Key: "service.name", Value: model.StringValue("s" + strconv.Itoa(i%37))}}}
		mp.Spans = append(mp.Spans, &sp)
	}
	checkSame(t, response{Total: 1}, []*model.Trace{mp})
	// A response bigger than one written piece.
	var many []*model.Trace
	for i := 0; i < 40; i++ {
		many = append(many, variedTrace(hostile[i%len(hostile):], 14))
	}
	checkSame(t, response{Total: len(many)}, many)
}

func TestAppendString(t *testing.T) {
	f := func(s string) {
		t.Helper()
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(true)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		want := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
		if got := appendString(nil, s); !bytes.Equal(got, want) {
			t.Errorf("appendString(%q) = %s, want %s", s, got, want)
		}
	}
	for _, s := range hostile {
		f(s)
	}
	for c := 0; c < 256; c++ {
		f(string([]byte{byte(c)}))
		f("a" + string([]byte{byte(c)}) + "b")
	}
	for _, r := range []rune{0x7f, 0x80, 0x7ff, 0x800, 0x2027, 0x2028, 0x2029, 0x202a, 0xd7ff, 0xe000, 0xfffd, 0xffff, 0x10000, utf8.MaxRune} {
		f(string(r))
		f("x" + string(r) + "<")
	}
}

func TestAppendFloat(t *testing.T) {
	for _, f := range []float64{0, math.Copysign(0, -1), 1, -1, 1e-6, 9.999999e-7, 1e-7, 1.5e-7, 1e20, 1e21, 1.5e21, 5e-324, math.MaxFloat64,
		math.SmallestNonzeroFloat64, 1e-100, 1e100, 123.456, 0.000001234, 12345678901234567890} {
		want, err := json.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendFloat(nil, f); !bytes.Equal(got, want) {
			t.Errorf("appendFloat(%v) = %s, want %s", f, got, want)
		}
	}
}

// FuzzEncoder compares the encoder with encoding/json on traces built from
// arbitrary strings and numbers (traces of 6 spans, so that it runs
// thousands of times a second; TestEncoderMatchesEncodingJSON has the
// traces of more than 10 processes).
func FuzzEncoder(f *testing.F) {
	f.Add("name", "key", "value", int64(1), 1.5, uint32(1), byte(2))
	f.Add("<a>&\"\\", "\x00\x1f\x7f", "\xff\xfe\u2028", int64(-1), 1e-7, uint32(0x1ff), byte(9))
	f.Add("", "", "", int64(math.MinInt64), math.Inf(1), uint32(0), byte(0))
	f.Add("é日本", "\xc3", "\xed\xa0\x80", int64(math.MaxInt64), 1e21, uint32(255), byte(5))
	f.Fuzz(func(t *testing.T, a, b, c string, n int64, fl float64, flags uint32, kind byte) {
		tr := variedTrace([]string{a, b, c}, 6)
		for i, sp := range tr.Spans {
			sp.Flags = flags + uint32(i)
			sp.Kind = model.SpanKind(kind) + model.SpanKind(i)
			sp.Attributes = append(sp.Attributes, model.KeyValue{Key: a, Value: model.IntValue(n)}, model.KeyValue{Key: b, Value: model.DoubleValue(fl)})
			if i%4 == 0 {
				sp.Resource = &model.Resource{Attributes: model.Attributes{
					{Key: "service.name", Value: model.StringValue(a)}, {Key: b, Value: model.StringValue(c)}, {Key: c, Value: model.DoubleValue(fl)}}}
			}
		}
		checkSame(t, response{Total: 1, Errors: []apiError{{Msg: c, TraceID: a}}}, []*model.Trace{tr})
	})
}

// BenchmarkEncodeSearch renders a search's answer: 20 traces of 10 spans
// shaped like the benchmark load's, with the encoder and with the
// reference structs and encoding/json.
func BenchmarkEncodeSearch(b *testing.B) {
	traces := loadLikeTraces(20)
	size := len(encoded(b, response{Total: len(traces)}, traces))
	b.Run("encoder", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(size))
		w := discardWriter{h: http.Header{}}
		for b.Loop() {
			writeResponse(w, http.StatusOK, response{Total: len(traces)}, traces)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(size))
		w := discardWriter{h: http.Header{}}
		for b.Loop() {
			out := make([]jTrace, 0, len(traces))
			for _, t := range traces {
				out = append(out, toJaegerTrace(t))
			}
			server.WriteJSON(w, http.StatusOK, response{Data: out, Total: len(out)})
		}
	})
}

type discardWriter struct{ h http.Header }

func (w discardWriter) Header() http.Header         { return w.h }
func (w discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w discardWriter) WriteHeader(int)             {}

// loadLikeTraces returns n traces of 10 spans over 5 services with the
// benchmark load's shape: 6 attributes and an event per span, a resource
// of 7 attributes per service.
func loadLikeTraces(n int) []*model.Trace {
	var res []*model.Resource
	for i, s := range []string{"frontend", "cart", "catalog", "checkout", "payment"} {
		res = append(res, &model.Resource{Attributes: model.Attributes{
			{Key: "service.name", Value: model.StringValue(s)},
			{Key: "service.version", Value: model.StringValue("1.4." + strconv.Itoa(i))},
			{Key: "service.instance.id", Value: model.StringValue("7c3e0f2a-41b6-4c8e-9a55-" + strconv.Itoa(100000+i))},
			{Key: "host.name", Value: model.StringValue("node-" + strconv.Itoa(i))},
			{Key: "deployment.environment", Value: model.StringValue("production")},
			{Key: "telemetry.sdk.name", Value: model.StringValue("opentelemetry")},
			{Key: "telemetry.sdk.language", Value: model.StringValue("go")},
		}})
	}
	scope := &model.Scope{Name: "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp", Version: "0.58.0"}
	var out []*model.Trace
	for t := 0; t < n; t++ {
		tid := model.TraceIDFromUint64s(uint64(t)*0x9e3779b97f4a7c15+1, uint64(t)*0xbf58476d1ce4e5b9+7)
		tr := &model.Trace{TraceID: tid}
		start := uint64(1_795_255_200_000_000_000) + uint64(t)*1_000_000
		for i := 0; i < 10; i++ {
			sp := &model.Span{Resource: res[i%len(res)], Scope: scope, TraceID: tid,
				SpanID: model.SpanIDFromUint64(uint64(t*10+i+1) * 0x94d049bb133111eb), Name: "GET /api/items/{id}",
				Kind: model.SpanKindServer, StartTimeUnixNano: start + uint64(i)*1000, EndTimeUnixNano: start + uint64(i)*1000 + 12_345_678,
				Status: model.Status{Code: model.StatusOK},
				Attributes: model.Attributes{
					{Key: "http.request.method", Value: model.StringValue("GET")},
					{Key: "http.route", Value: model.StringValue("/api/items/{id}")},
					{Key: "url.path", Value: model.StringValue("/api/items/" + strconv.Itoa(t*10+i))},
					{Key: "http.response.status_code", Value: model.IntValue(200)},
					{Key: "server.address", Value: model.StringValue("catalog.internal")},
					{Key: "user.id", Value: model.StringValue("user-" + strconv.Itoa(t*31+i))},
				},
				Events: []model.Event{{TimeUnixNano: start + uint64(i)*1000 + 500, Name: "cache.miss", Attributes: model.Attributes{{Key: "cache.key", Value: model.StringValue("item:" + strconv.Itoa(i))}}}},
			}
			if i > 0 {
				sp.ParentSpanID = model.SpanIDFromUint64(uint64(t*10+i) * 0x94d049bb133111eb)
			}
			tr.Spans = append(tr.Spans, sp)
		}
		out = append(out, tr)
	}
	return out
}

// TestWriteResponseLength: a reply that fits in one piece (a trace by id)
// goes out with its Content-Length, not chunked; a larger one is streamed
// in chunks. Both read back as encoding/json's output.
func TestWriteResponseLength(t *testing.T) {
	one := []*model.Trace{{TraceID: fixture()[0].TraceID, Spans: fixture()}}
	var many []*model.Trace
	for i := 0; i < 300; i++ {
		spans := fixture()
		id := model.TraceIDFromUint64s(1, uint64(i))
		for _, sp := range spans {
			sp.TraceID = id
		}
		many = append(many, &model.Trace{TraceID: id, Spans: spans})
	}
	for _, tc := range []struct {
		name    string
		traces  []*model.Trace
		chunked bool
	}{{"one", one, false}, {"many", many, true}} {
		t.Run(tc.name, func(t *testing.T) {
			resp := response{Total: len(tc.traces)}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				writeResponse(w, http.StatusOK, resp, traceList(tc.traces))
			}))
			defer srv.Close()
			r, err := http.Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(r.Body)
			r.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			chunked := len(r.TransferEncoding) > 0 && r.TransferEncoding[0] == "chunked"
			if chunked != tc.chunked || (!chunked && r.ContentLength != int64(len(body))) {
				t.Errorf("Transfer-Encoding %v, Content-Length %d for %d bytes; want chunked %v", r.TransferEncoding, r.ContentLength, len(body), tc.chunked)
			}
			if tc.chunked && len(body) < 2*streamChunkBytes {
				t.Fatalf("%d bytes: too few to stream", len(body))
			}
			if want := referenceJSON(t, resp, tc.traces); !bytes.Equal(body, want) {
				t.Errorf("body differs from encoding/json's (%d vs %d bytes)", len(body), len(want))
			}
		})
	}
}
