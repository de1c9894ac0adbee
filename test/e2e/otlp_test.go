package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
)

// sendWithSDK records a small known trace with the real OpenTelemetry Go
// SDK through exp and returns its trace id and the ids of root and child.
func sendWithSDK(t *testing.T, exp sdktrace.SpanExporter, service string) (trace.TraceID, trace.SpanID, trace.SpanID) {
	t.Helper()
	ctx := context.Background()
	res := resource.NewSchemaless(semconv.ServiceName(service), attribute.String("host.name", "e2e-host"), attribute.Int("pid", 42))
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithResource(res))
	tr := tp.Tracer("e2e-lib", trace.WithInstrumentationVersion("1.2.3"))

	// A span in another trace to link to.
	_, other := tr.Start(ctx, "other")
	other.End()

	start := time.Now().Add(-time.Second).Truncate(time.Microsecond)
	rctx, root := tr.Start(ctx, "GET /checkout", trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(start),
		trace.WithAttributes(
			attribute.String("http.request.method", "GET"),
			attribute.Int64("http.response.status_code", 500),
			attribute.Float64("ratio", 0.25),
			attribute.Bool("cached", false),
			attribute.StringSlice("tags", []string{"a", "b"}),
		))
	_, child := tr.Start(rctx, "SELECT orders", trace.WithSpanKind(trace.SpanKindClient), trace.WithTimestamp(start.Add(10*time.Millisecond)),
		trace.WithLinks(trace.Link{SpanContext: other.SpanContext(), Attributes: []attribute.KeyValue{attribute.String("opentracing.ref_type", "follows_from")}}))
	child.AddEvent("rows fetched", trace.WithTimestamp(start.Add(15*time.Millisecond)), trace.WithAttributes(attribute.Int("rows", 7)))
	child.RecordError(fmt.Errorf("deadlock detected"), trace.WithTimestamp(start.Add(16*time.Millisecond)))
	child.SetStatus(codes.Error, "query failed")
	child.End(trace.WithTimestamp(start.Add(30 * time.Millisecond)))
	root.End(trace.WithTimestamp(start.Add(123456 * time.Microsecond)))
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatalf("SDK export: %v", err)
	}
	return root.SpanContext().TraceID(), root.SpanContext().SpanID(), child.SpanContext().SpanID()
}

// The parts of Jaeger API v1's JSON the receiver tests read.
type jaegerTrace struct {
	TraceID   string                   `json:"traceID"`
	Spans     []jaegerSpan             `json:"spans"`
	Processes map[string]jaegerProcess `json:"processes"`
}

type jaegerSpan struct {
	SpanID        string `json:"spanID"`
	OperationName string `json:"operationName"`
	References    []struct {
		RefType, TraceID, SpanID string
	} `json:"references"`
	StartTime uint64      `json:"startTime"`
	Duration  uint64      `json:"duration"`
	Tags      []jaegerTag `json:"tags"`
	Logs      []struct {
		Timestamp uint64      `json:"timestamp"`
		Fields    []jaegerTag `json:"fields"`
	} `json:"logs"`
	ProcessID string `json:"processID"`
}

type jaegerTag struct {
	Key   string `json:"key"`
	Type  string `json:"type"`
	Value any    `json:"value"`
}

type jaegerProcess struct {
	ServiceName string      `json:"serviceName"`
	Tags        []jaegerTag `json:"tags"`
}

type jaegerResponse struct {
	Data   []jaegerTrace `json:"data"`
	Errors []struct {
		Code int    `json:"code"`
		Msg  string `json:"msg"`
	} `json:"errors"`
}

func checkJaegerTrace(t *testing.T, s *Server, id trace.TraceID, rootID, childID trace.SpanID, service string) {
	t.Helper()
	var resp jaegerResponse
	Eventually(t, 5*time.Second, func() error {
		resp = jaegerResponse{}
		if code := GetJSON(t, s.QueryURL()+"/api/traces/"+id.String(), &resp); code != 200 {
			return fmt.Errorf("status %d", code)
		}
		return nil
	})
	if len(resp.Data) != 1 || len(resp.Data[0].Spans) != 2 {
		t.Fatalf("want 1 trace of 2 spans, got %+v", resp)
	}
	tr := resp.Data[0]
	if tr.TraceID != id.String() {
		t.Errorf("traceID %s, want %s", tr.TraceID, id)
	}
	byName := map[string]int{}
	for i, sp := range tr.Spans {
		byName[sp.OperationName] = i
	}
	root, child := tr.Spans[byName["GET /checkout"]], tr.Spans[byName["SELECT orders"]]
	if root.SpanID != rootID.String() || child.SpanID != childID.String() {
		t.Errorf("span ids %s/%s, want %s/%s", root.SpanID, child.SpanID, rootID, childID)
	}
	if root.Duration != 123456 {
		t.Errorf("root duration %dµs, want 123456", root.Duration)
	}
	if child.StartTime-root.StartTime != 10000 || child.Duration != 20000 {
		t.Errorf("child start offset %d, duration %d; want 10000, 20000", child.StartTime-root.StartTime, child.Duration)
	}
	if len(child.References) != 2 || child.References[0].RefType != "CHILD_OF" || child.References[0].SpanID != rootID.String() || child.References[1].RefType != "FOLLOWS_FROM" {
		t.Errorf("child references %+v", child.References)
	}
	tags := map[string]string{}
	for _, tg := range root.Tags {
		tags[tg.Key] = fmt.Sprintf("%s:%v", tg.Type, tg.Value)
	}
	for k, want := range map[string]string{
		"http.request.method":       "string:GET",
		"http.response.status_code": "int64:500",
		"ratio":                     "float64:0.25",
		"cached":                    "bool:false",
		"tags":                      `string:["a","b"]`,
		"span.kind":                 "string:server",
		"otel.scope.name":           "string:e2e-lib",
		"otel.scope.version":        "string:1.2.3",
	} {
		if tags[k] != want {
			t.Errorf("root tag %s = %q, want %q", k, tags[k], want)
		}
	}
	ctags := map[string]string{}
	for _, tg := range child.Tags {
		ctags[tg.Key] = fmt.Sprintf("%s:%v", tg.Type, tg.Value)
	}
	for k, want := range map[string]string{"error": "bool:true", "otel.status_code": "string:ERROR", "otel.status_description": "string:query failed", "span.kind": "string:client"} {
		if ctags[k] != want {
			t.Errorf("child tag %s = %q, want %q", k, ctags[k], want)
		}
	}
	if len(child.Logs) != 2 {
		t.Fatalf("child logs: %+v", child.Logs)
	}
	fields := map[string]string{}
	for _, l := range child.Logs {
		for _, f := range l.Fields {
			fields[f.Key] = fmt.Sprintf("%v", f.Value)
		}
	}
	if fields["rows"] != "7" || !strings.Contains(fields["exception.message"], "deadlock") || child.Logs[0].Timestamp-root.StartTime != 15000 {
		t.Errorf("child logs %+v", child.Logs)
	}
	p := tr.Processes[root.ProcessID]
	if p.ServiceName != service {
		t.Errorf("process service %q, want %q", p.ServiceName, service)
	}
	ptags := map[string]string{}
	for _, tg := range p.Tags {
		ptags[tg.Key] = fmt.Sprintf("%s:%v", tg.Type, tg.Value)
	}
	if ptags["host.name"] != "string:e2e-host" || ptags["pid"] != "int64:42" {
		t.Errorf("process tags %v", ptags)
	}

	// Search finds it by service, operation and typed tag.
	var found jaegerResponse
	q := fmt.Sprintf("%s/api/traces?service=%s&operation=%s&tags=%s&lookback=1h&limit=10", s.QueryURL(), service, "SELECT%20orders", `%7B%22error%22%3A%22true%22%7D`)
	if code := GetJSON(t, q, &found); code != 200 || len(found.Data) != 1 || found.Data[0].TraceID != id.String() {
		t.Errorf("search %s: status %d, %d traces", q, code, len(found.Data))
	}
	// Services and operations.
	var svcs struct{ Data []string }
	GetJSON(t, s.QueryURL()+"/api/services", &svcs)
	if !contains(svcs.Data, service) {
		t.Errorf("services %v lack %s", svcs.Data, service)
	}
	var ops struct {
		Data []struct{ Name, SpanKind string }
	}
	GetJSON(t, s.QueryURL()+"/api/operations?service="+service+"&spanKind=client", &ops)
	if len(ops.Data) != 1 || ops.Data[0].Name != "SELECT orders" || ops.Data[0].SpanKind != "client" {
		t.Errorf("operations %+v", ops.Data)
	}

	// API v3 returns OTLP JSON with the same spans.
	var v3 struct {
		Result struct {
			ResourceSpans []struct {
				Resource struct {
					Attributes []struct{ Key string } `json:"attributes"`
				} `json:"resource"`
				ScopeSpans []struct {
					Scope struct{ Name, Version string } `json:"scope"`
					Spans []struct {
						TraceID      string `json:"traceId"`
						SpanID       string `json:"spanId"`
						ParentSpanID string `json:"parentSpanId"`
						Name         string `json:"name"`
						Kind         int    `json:"kind"`
						Status       struct {
							Code    int    `json:"code"`
							Message string `json:"message"`
						} `json:"status"`
						Events []struct{ Name string } `json:"events"`
						Links  []struct {
							TraceID string `json:"traceId"`
						} `json:"links"`
					} `json:"spans"`
				} `json:"scopeSpans"`
			} `json:"resourceSpans"`
		} `json:"result"`
	}
	if code := GetJSON(t, s.QueryURL()+"/api/v3/traces/"+id.String(), &v3); code != 200 {
		t.Fatalf("v3 trace status %d", code)
	}
	n := 0
	for _, rs := range v3.Result.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			if ss.Scope.Name != "e2e-lib" || ss.Scope.Version != "1.2.3" {
				t.Errorf("v3 scope %+v", ss.Scope)
			}
			for _, sp := range ss.Spans {
				n++
				if sp.TraceID != id.String() {
					t.Errorf("v3 traceId %s", sp.TraceID)
				}
				if sp.Name == "SELECT orders" && (sp.ParentSpanID != rootID.String() || sp.Kind != 3 || sp.Status.Code != 2 || len(sp.Events) != 2 || len(sp.Links) != 1) {
					t.Errorf("v3 child span %+v", sp)
				}
			}
		}
	}
	if n != 2 {
		t.Errorf("v3 returned %d spans, want 2", n)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestOTLPWithSDK(t *testing.T) {
	s := Start(t)
	ctx := context.Background()

	t.Run("grpc", func(t *testing.T) {
		exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(s.OTLPGRPCAddr()), otlptracegrpc.WithInsecure(), otlptracegrpc.WithCompressor("gzip"))
		if err != nil {
			t.Fatal(err)
		}
		id, root, child := sendWithSDK(t, exp, "e2e-grpc")
		checkJaegerTrace(t, s, id, root, child, "e2e-grpc")
	})
	t.Run("http-protobuf", func(t *testing.T) {
		exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(s.Addr("receivers.otlp.http.addr")), otlptracehttp.WithInsecure(), otlptracehttp.WithCompression(otlptracehttp.GzipCompression))
		if err != nil {
			t.Fatal(err)
		}
		id, root, child := sendWithSDK(t, exp, "e2e-http")
		checkJaegerTrace(t, s, id, root, child, "e2e-http")
	})

	if v := s.Metric(t, `clew_receiver_spans_stored_total{receiver="otlp_grpc"}`); v != 3 {
		t.Errorf("stored spans metric for otlp_grpc = %v, want 3", v)
	}
	if v := s.Metric(t, `clew_receiver_spans_stored_total{receiver="otlp_http"}`); v != 3 {
		t.Errorf("stored spans metric for otlp_http = %v, want 3", v)
	}
}

const jsonTrace = `{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"json-svc"}}]},
"scopeSpans":[{"spans":[
 {"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708","name":"good","kind":2,"startTimeUnixNano":"%d","endTimeUnixNano":"%d"},
 {"traceId":"00000000000000000000000000000000","spanId":"0102030405060709","name":"bad trace id","startTimeUnixNano":"%d","endTimeUnixNano":"%d"},
 {"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"010203040506070a","parentSpanId":"0102030405060708","name":"","startTimeUnixNano":"%d","endTimeUnixNano":"%d"}
]}]}]}`

func post(t *testing.T, url, contentType string, body []byte, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func TestOTLPHTTPJSONPartialSuccessAndBadInput(t *testing.T) {
	s := Start(t, "--limits.max-request-bytes=4096")
	now := time.Now().Add(-time.Minute).UnixNano()
	body := []byte(fmt.Sprintf(jsonTrace, now, now+1000, now, now+1000, now+10, now))

	resp, b := post(t, s.OTLPHTTPURL(), "application/json", body)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	var ps struct {
		PartialSuccess struct {
			RejectedSpans string `json:"rejectedSpans"`
			ErrorMessage  string `json:"errorMessage"`
		} `json:"partialSuccess"`
	}
	if err := json.Unmarshal(b, &ps); err != nil || ps.PartialSuccess.RejectedSpans != "1" || !strings.Contains(ps.PartialSuccess.ErrorMessage, "invalid_trace_id") {
		t.Errorf("partial success reply %s (%v)", b, err)
	}
	var tr jaegerResponse
	GetJSON(t, s.QueryURL()+"/api/traces/0102030405060708090a0b0c0d0e0f10", &tr)
	if len(tr.Data) != 1 || len(tr.Data[0].Spans) != 2 {
		t.Fatalf("stored trace: %+v", tr)
	}
	for _, sp := range tr.Data[0].Spans {
		if sp.OperationName == "empty-span-name" && sp.Duration != 0 {
			t.Errorf("end before start must be clamped to a zero duration, got %d", sp.Duration)
		}
	}
	if v := s.Metric(t, `clew_receiver_spans_refused_total{receiver="otlp_http",reason="invalid_trace_id"}`); v != 1 {
		t.Errorf("refused metric = %v, want 1", v)
	}

	// gzip-compressed JSON.
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(strings.ReplaceAll(string(body), "0102030405060708090a0b0c0d0e0f10", "1102030405060708090a0b0c0d0e0f10")))
	zw.Close()
	if resp, b := post(t, s.OTLPHTTPURL(), "application/json", gz.Bytes(), "Content-Encoding", "gzip"); resp.StatusCode != 200 {
		t.Errorf("gzip JSON: status %d: %s", resp.StatusCode, b)
	}

	cases := []struct {
		name, ct string
		body     []byte
		hdr      []string
		want     int
	}{
		{"malformed protobuf", "application/x-protobuf", []byte{0x0a, 0xff, 0xff, 0xff}, nil, 400},
		{"malformed JSON", "application/json", []byte(`{"resourceSpans":[{`), nil, 400},
		{"bad hex trace id", "application/json", []byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz"}]}]}]}`), nil, 400},
		{"unsupported media type", "text/plain", []byte("hi"), nil, 415},
		{"too large", "application/json", bytes.Repeat([]byte(" "), 5000), nil, 413},
		{"bad gzip", "application/json", []byte("not gzip"), []string{"Content-Encoding", "gzip"}, 400},
		{"unknown encoding", "application/json", []byte("{}"), []string{"Content-Encoding", "br"}, 415},
	}
	for _, c := range cases {
		resp, b := post(t, s.OTLPHTTPURL(), c.ct, c.body, c.hdr...)
		if resp.StatusCode != c.want {
			t.Errorf("%s: status %d, want %d (%s)", c.name, resp.StatusCode, c.want, b)
		}
		if len(b) == 0 {
			t.Errorf("%s: empty error body", c.name)
		}
	}
	// A gzip bomb: small on the wire, large once inflated.
	gz.Reset()
	zw = gzip.NewWriter(&gz)
	zw.Write(bytes.Repeat([]byte(" "), 1<<20))
	zw.Close()
	if resp, _ := post(t, s.OTLPHTTPURL(), "application/json", gz.Bytes(), "Content-Encoding", "gzip"); resp.StatusCode != 413 {
		t.Errorf("gzip bomb: status %d, want 413", resp.StatusCode)
	}

	// CORS preflight from a browser SDK.
	req, _ := http.NewRequest(http.MethodOptions, s.OTLPHTTPURL(), nil)
	req.Header.Set("Origin", "http://app.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "content-type")
	cr, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	cr.Body.Close()
	if cr.StatusCode != 204 || cr.Header.Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(cr.Header.Get("Access-Control-Allow-Methods"), "POST") {
		t.Errorf("CORS preflight: %d %v", cr.StatusCode, cr.Header)
	}
}

func TestOTLPGRPCBadInput(t *testing.T) {
	s := Start(t, "--limits.max-request-bytes=4096")
	conn, err := grpc.NewClient(s.OTLPGRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	call := func(payload []byte) error {
		var out []byte
		return conn.Invoke(ctx, "/opentelemetry.proto.collector.trace.v1.TraceService/Export", payload, &out, grpc.ForceCodecV2(rawClientCodec{}))
	}
	if err := call([]byte{0x0a, 0xff, 0xff, 0xff}); status.Code(err) != grpccodes.InvalidArgument {
		t.Errorf("malformed request: %v, want InvalidArgument", err)
	}
	if err := call(bytes.Repeat([]byte{0}, 8000)); status.Code(err) != grpccodes.ResourceExhausted {
		t.Errorf("oversized request: %v, want ResourceExhausted", err)
	}
	if err := call(nil); err != nil {
		t.Errorf("empty request: %v, want success", err)
	}
	if v := s.Metric(t, `clew_receiver_spans_refused_total{receiver="otlp_grpc",reason="malformed"}`); v != 1 {
		t.Errorf("malformed metric = %v, want 1", v)
	}
}

func TestJaegerAPIErrors(t *testing.T) {
	s := Start(t)
	var resp jaegerResponse
	if code := GetJSON(t, s.QueryURL()+"/api/traces/0123456789abcdef0123456789abcdef", &resp); code != 404 || len(resp.Errors) != 1 || resp.Errors[0].Code != 404 {
		t.Errorf("unknown trace: %d %+v", code, resp)
	}
	for _, u := range []string{
		"/api/traces/not-hex",
		"/api/traces?lookback=1h",
		"/api/traces?service=a&limit=-1",
		"/api/traces?service=a&minDuration=fast",
		"/api/traces?service=a&minDuration=2s&maxDuration=1s",
		"/api/traces?service=a&tags=%7Bbroken",
		"/api/traces?service=a&start=yesterday",
		"/api/operations",
		"/api/dependencies?endTs=soon",
		"/api/v3/traces?query.service_name=a",
		"/api/v3/traces/xyz",
	} {
		resp := map[string]any{}
		if code := GetJSON(t, s.QueryURL()+u, &resp); code != 400 {
			t.Errorf("%s: status %d, want 400 (%v)", u, code, resp)
		}
	}
	// Empty parameters, as the Jaeger UI sends them, count as absent.
	if code := GetJSON(t, s.QueryURL()+"/api/traces?service=a&minDuration&maxDuration&lookback=custom&limit=20", &resp); code != 200 {
		t.Errorf("UI-style search: status %d", code)
	}
}

func TestGracefulShutdownDrains(t *testing.T) {
	s := Start(t)
	exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpoint(s.Addr("receivers.otlp.http.addr")), otlptracehttp.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	sendWithSDK(t, exp, "drain")
	s.Stop(t)
	if !strings.Contains(s.Log(), "stopped") {
		t.Errorf("no clean stop in log:\n%s", s.Log())
	}
}

type rawClientCodec struct{}

func (rawClientCodec) Name() string { return "proto" }

func (rawClientCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(v.([]byte))}, nil
}

func (rawClientCodec) Unmarshal(data mem.BufferSlice, v any) error {
	*v.(*[]byte) = data.Materialize()
	return nil
}
