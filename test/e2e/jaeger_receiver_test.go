package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jaegertracing/jaeger-idl/model/v1"
	"github.com/jaegertracing/jaeger-idl/proto-gen/api_v2"
	"github.com/opentracing/opentracing-go"
	"github.com/opentracing/opentracing-go/ext"
	otlog "github.com/opentracing/opentracing-go/log"
	jaegerclient "github.com/uber/jaeger-client-go"
	jthrift "github.com/uber/jaeger-client-go/thrift"
	jagent "github.com/uber/jaeger-client-go/thrift-gen/agent"
	j "github.com/uber/jaeger-client-go/thrift-gen/jaeger"
	"github.com/uber/jaeger-client-go/transport"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// emitJaegerTrace sends one known trace through jaeger-client-go's tracer
// and transport tr, and returns its trace id:
//
//	GET /checkout (server, 12.345ms, tags of each type)
//	├── SELECT orders (client, error=true, one log with fields)
//	└── publish order (producer, follows_from the root)
func emitJaegerTrace(t *testing.T, tr jaegerclient.Transport, start time.Time, gen128 bool) jaegerclient.TraceID {
	t.Helper()
	tracer, closer := jaegerclient.NewTracer("checkout",
		jaegerclient.NewConstSampler(true),
		jaegerclient.NewRemoteReporter(tr, jaegerclient.ReporterOptions.BufferFlushInterval(time.Hour)),
		jaegerclient.TracerOptions.Tag("deployment.environment", "e2e"),
		jaegerclient.TracerOptions.Tag("build.number", int64(42)),
		jaegerclient.TracerOptions.Gen128Bit(gen128),
	)
	at := func(us int) time.Time { return start.Add(time.Duration(us) * time.Microsecond) }
	root := tracer.StartSpan("GET /checkout", opentracing.StartTime(start), ext.SpanKindRPCServer)
	root.SetTag("http.method", "GET")
	root.SetTag("http.status_code", 200)
	root.SetTag("cache.hit", false)
	root.SetTag("load.ratio", 0.25)
	db := tracer.StartSpan("SELECT orders", opentracing.ChildOf(root.Context()), opentracing.StartTime(at(1500)), ext.SpanKindRPCClient)
	ext.Error.Set(db, true)
	db.SetTag("db.statement", "SELECT * FROM orders WHERE id = ?")
	db.FinishWithOptions(opentracing.FinishOptions{
		FinishTime: at(5821),
		LogRecords: []opentracing.LogRecord{{
			Timestamp: at(2000),
			Fields:    []otlog.Field{otlog.String("event", "error"), otlog.String("message", "connection reset"), otlog.Int("attempt", 2)},
		}},
	})
	pub := tracer.StartSpan("publish order", opentracing.FollowsFrom(root.Context()), opentracing.StartTime(at(6000)), ext.SpanKindProducer)
	pub.FinishWithOptions(opentracing.FinishOptions{FinishTime: at(6500)})
	root.FinishWithOptions(opentracing.FinishOptions{FinishTime: at(12345)})
	id := root.Context().(jaegerclient.SpanContext).TraceID()
	if err := closer.Close(); err != nil {
		t.Fatal(err)
	}
	return id
}

// binaryAgentTransport frames jaeger-client-go's spans as Agent.emitBatch
// in TBinaryProtocol (port 6832, what the Node.js client sends) with
// jaeger-client-go's own generated agent client.
type binaryAgentTransport struct {
	conn    net.Conn
	process *j.Process
	spans   []*j.Span
}

func (b *binaryAgentTransport) Append(s *jaegerclient.Span) (int, error) {
	if b.process == nil {
		b.process = jaegerclient.BuildJaegerProcessThrift(s)
	}
	b.spans = append(b.spans, jaegerclient.BuildJaegerThrift(s))
	return 0, nil
}

func (b *binaryAgentTransport) Flush() (int, error) {
	if len(b.spans) == 0 {
		return 0, nil
	}
	buf := jthrift.NewTMemoryBufferLen(65000)
	client := jagent.NewAgentClientFactory(buf, jthrift.NewTBinaryProtocolFactoryDefault())
	if err := client.EmitBatch(context.Background(), &j.Batch{Process: b.process, Spans: b.spans}); err != nil {
		return 0, err
	}
	n := len(b.spans)
	b.spans = nil
	_, err := b.conn.Write(buf.Bytes())
	return n, err
}

func (b *binaryAgentTransport) Close() error { return b.conn.Close() }

// getJaegerTrace waits until the trace with id has n spans.
func getJaegerTrace(t *testing.T, s *Server, id string, n int) jaegerTrace {
	t.Helper()
	var resp jaegerResponse
	Eventually(t, 5*time.Second, func() error {
		resp = jaegerResponse{}
		if code := GetJSON(t, s.QueryURL()+"/api/traces/"+id, &resp); code != 200 {
			return fmt.Errorf("GET /api/traces/%s: status %d", id, code)
		}
		if len(resp.Data) != 1 || len(resp.Data[0].Spans) != n {
			return fmt.Errorf("GET /api/traces/%s: want 1 trace of %d spans, got %+v", id, n, resp)
		}
		return nil
	})
	return resp.Data[0]
}

type tagList = []jaegerTag

func tagMap(tags tagList) map[string]string {
	m := map[string]string{}
	for _, tg := range tags {
		m[tg.Key] = fmt.Sprintf("%s:%v", tg.Type, tg.Value)
	}
	return m
}

func wantTags(t *testing.T, what string, got tagList, want map[string]string) {
	t.Helper()
	m := tagMap(got)
	for k, w := range want {
		if m[k] != w {
			t.Errorf("%s: tag %s = %q, want %q (all: %v)", what, k, m[k], w, m)
		}
	}
}

// checkJaegerClientTrace checks what emitJaegerTrace sent, read back
// through the Jaeger query API.
func checkJaegerClientTrace(t *testing.T, s *Server, id jaegerclient.TraceID, start time.Time) {
	t.Helper()
	tr := getJaegerTrace(t, s, id.String(), 3)
	byName := map[string]int{}
	for i, sp := range tr.Spans {
		byName[sp.OperationName] = i
	}
	root, db, pub := tr.Spans[byName["GET /checkout"]], tr.Spans[byName["SELECT orders"]], tr.Spans[byName["publish order"]]
	if root.OperationName == "" || db.OperationName == "" || pub.OperationName == "" {
		t.Fatalf("span names %v", byName)
	}
	// Durations and offsets exact to the microsecond.
	if root.StartTime != uint64(start.UnixMicro()) || root.Duration != 12345 {
		t.Errorf("root start %d duration %d, want %d and 12345", root.StartTime, root.Duration, start.UnixMicro())
	}
	if db.StartTime-root.StartTime != 1500 || db.Duration != 4321 {
		t.Errorf("db offset %d duration %d, want 1500 and 4321", db.StartTime-root.StartTime, db.Duration)
	}
	if pub.StartTime-root.StartTime != 6000 || pub.Duration != 500 {
		t.Errorf("publish offset %d duration %d, want 6000 and 500", pub.StartTime-root.StartTime, pub.Duration)
	}
	// Tree.
	if len(root.References) != 0 {
		t.Errorf("root references %+v", root.References)
	}
	if len(db.References) != 1 || db.References[0].RefType != "CHILD_OF" || db.References[0].SpanID != root.SpanID {
		t.Errorf("db references %+v, want CHILD_OF %s", db.References, root.SpanID)
	}
	hasFollows := false
	for _, r := range pub.References {
		if r.SpanID == root.SpanID && r.RefType == "FOLLOWS_FROM" {
			hasFollows = true
		}
	}
	if len(pub.References) == 0 || pub.References[0].SpanID != root.SpanID || !hasFollows {
		t.Errorf("publish references %+v, want the root as parent and FOLLOWS_FROM", pub.References)
	}
	// Attributes with their types, kinds, error status.
	wantTags(t, "root", root.Tags, map[string]string{
		"http.method": "string:GET", "http.status_code": "int64:200", "cache.hit": "bool:false",
		"load.ratio": "float64:0.25", "span.kind": "string:server",
	})
	wantTags(t, "db", db.Tags, map[string]string{
		"span.kind": "string:client", "error": "bool:true", "otel.status_code": "string:ERROR",
		"db.statement": "string:SELECT * FROM orders WHERE id = ?",
	})
	wantTags(t, "publish", pub.Tags, map[string]string{"span.kind": "string:producer"})
	if m := tagMap(root.Tags); m["error"] != "" {
		t.Errorf("root has an error tag: %v", m)
	}
	// The log became an event and back.
	if len(db.Logs) != 1 || db.Logs[0].Timestamp-root.StartTime != 2000 {
		t.Fatalf("db logs %+v, want one at +2000µs", db.Logs)
	}
	wantTags(t, "db log", db.Logs[0].Fields, map[string]string{
		"event": "string:error", "message": "string:connection reset", "attempt": "int64:2",
	})
	// Process tags became the resource.
	p := tr.Processes[root.ProcessID]
	if p.ServiceName != "checkout" {
		t.Errorf("service %q, want checkout", p.ServiceName)
	}
	pt := tagMap(p.Tags)
	if pt["deployment.environment"] != "string:e2e" || pt["build.number"] != "int64:42" || pt["host.name"] == "" {
		t.Errorf("process tags %v", pt)
	}
}

func TestJaegerReceivers(t *testing.T) {
	s := Start(t)
	start := time.Now().Add(-time.Minute).Truncate(time.Microsecond)

	t.Run("agent compact thrift, UDP", func(t *testing.T) {
		tr, err := jaegerclient.NewUDPTransport(s.Addr("receivers.jaeger.agent-compact.addr"), 0)
		if err != nil {
			t.Fatal(err)
		}
		id := emitJaegerTrace(t, tr, start, false)
		checkJaegerClientTrace(t, s, id, start)
		// A 64-bit id is the same trace as 16 or 32 hex digits.
		padded := fmt.Sprintf("%032x", id.Low)
		if got := getJaegerTrace(t, s, padded, 3); !strings.HasSuffix(got.TraceID, fmt.Sprintf("%016x", id.Low)) {
			t.Errorf("trace %s read back as %s", padded, got.TraceID)
		}
	})
	t.Run("agent binary thrift, UDP", func(t *testing.T) {
		conn, err := net.Dial("udp", s.Addr("receivers.jaeger.agent-binary.addr"))
		if err != nil {
			t.Fatal(err)
		}
		id := emitJaegerTrace(t, &binaryAgentTransport{conn: conn}, start, true)
		if id.High == 0 {
			t.Fatal("want a 128-bit trace id")
		}
		checkJaegerClientTrace(t, s, id, start)
	})
	t.Run("collector HTTP thrift", func(t *testing.T) {
		url := "http://" + s.Addr("receivers.jaeger.collector-http.addr") + "/api/traces"
		id := emitJaegerTrace(t, transport.NewHTTPTransport(url), start, false)
		checkJaegerClientTrace(t, s, id, start)
	})
	t.Run("collector gRPC", func(t *testing.T) {
		conn, err := grpc.NewClient(s.Addr("receivers.jaeger.collector-grpc.addr"), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		tid := model.NewTraceID(0, 0x00c0ffee00c0ffee)
		batch := model.Batch{
			Process: &model.Process{ServiceName: "grpc-svc", Tags: []model.KeyValue{model.String("hostname", "h1")}},
			Spans: []*model.Span{
				{TraceID: tid, SpanID: model.NewSpanID(1), OperationName: "root", StartTime: start, Duration: 7 * time.Millisecond,
					Tags: []model.KeyValue{model.String("span.kind", "server"), model.Int64("n", 7)}},
				{TraceID: tid, SpanID: model.NewSpanID(2), OperationName: "child", StartTime: start.Add(time.Millisecond), Duration: 1234 * time.Microsecond,
					References: []model.SpanRef{model.NewChildOfRef(tid, model.NewSpanID(1))},
					Tags:       []model.KeyValue{model.Bool("error", true)},
					Process:    &model.Process{ServiceName: "other-svc"}},
			},
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := api_v2.NewCollectorServiceClient(conn).PostSpans(ctx, &api_v2.PostSpansRequest{Batch: batch}); err != nil {
			t.Fatal(err)
		}
		tr := getJaegerTrace(t, s, "c0ffee00c0ffee", 2)
		services := map[string]string{}
		for _, sp := range tr.Spans {
			services[sp.OperationName] = tr.Processes[sp.ProcessID].ServiceName
			if sp.OperationName == "child" && (sp.Duration != 1234 || sp.References[0].SpanID != "0000000000000001") {
				t.Errorf("child %+v", sp)
			}
		}
		if services["root"] != "grpc-svc" || services["child"] != "other-svc" {
			t.Errorf("services %v", services)
		}
		// The call went through the shared gRPC request metrics.
		if got := s.Metric(t, `clew_grpc_request_duration_seconds_count{code="OK",method="/jaeger.api_v2.CollectorService/PostSpans",server="jaeger_collector_grpc"}`); got != 1 {
			t.Errorf("gRPC request metric = %v, want 1", got)
		}
	})

	for _, r := range []string{"jaeger_agent_compact", "jaeger_agent_binary", "jaeger_collector_http", "jaeger_collector_grpc"} {
		want := 3.0
		if r == "jaeger_collector_grpc" {
			want = 2
		}
		if got := s.Metric(t, `clew_receiver_spans_stored_total{receiver="`+r+`"}`); got != want {
			t.Errorf("%s stored %v spans, want %v", r, got, want)
		}
	}
}

func TestJaegerReceiversBadInput(t *testing.T) {
	s := Start(t)
	// Garbage datagrams are dropped and counted; the port keeps serving.
	conn, err := net.Dial("udp", s.Addr("receivers.jaeger.agent-compact.addr"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range [][]byte{[]byte("garbage"), {0x82, 0x81}, bytes.Repeat([]byte{0xff}, 1000)} {
		conn.Write(d)
	}
	conn.Close()
	Eventually(t, 5*time.Second, func() error {
		if got := s.Metric(t, `clew_receiver_spans_refused_total{reason="malformed",receiver="jaeger_agent_compact"}`); got != 3 {
			return fmt.Errorf("refused malformed = %v, want 3", got)
		}
		return nil
	})
	start := time.Now().Add(-time.Minute).Truncate(time.Microsecond)
	tr, err := jaegerclient.NewUDPTransport(s.Addr("receivers.jaeger.agent-compact.addr"), 0)
	if err != nil {
		t.Fatal(err)
	}
	checkJaegerClientTrace(t, s, emitJaegerTrace(t, tr, start, false), start)

	// HTTP: 400 with a message, 413, 415.
	url := "http://" + s.Addr("receivers.jaeger.collector-http.addr") + "/api/traces"
	post := func(ctype string, body []byte) (int, string) {
		resp, err := http.Post(url, ctype, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return resp.StatusCode, b.String()
	}
	if code, msg := post("application/x-thrift", []byte("not thrift")); code != 400 || !strings.Contains(msg, "thrift") {
		t.Errorf("malformed: %d %q", code, msg)
	}
	if code, _ := post("application/json", []byte("{}")); code != 415 {
		t.Errorf("json: %d, want 415", code)
	}
	if code, _ := post("application/x-thrift", make([]byte, 17<<20)); code != 413 {
		t.Errorf("17 MiB: %d, want 413", code)
	}
	if got := s.Metric(t, `clew_receiver_spans_refused_total{reason="malformed",receiver="jaeger_collector_http"}`); got != 1 {
		t.Errorf("refused malformed HTTP = %v, want 1", got)
	}
}

func TestJaegerReceiversSwitchedOff(t *testing.T) {
	s := Start(t, "--receivers.jaeger.agent-compact.enabled=false", "--receivers.jaeger.collector-http.enabled=false",
		"--receivers.zipkin.enabled=false")
	// The HTTP ports are not served.
	for _, u := range []string{
		"http://" + s.Addr("receivers.jaeger.collector-http.addr") + "/api/traces",
		"http://" + s.Addr("receivers.zipkin.addr") + "/api/v2/spans",
	} {
		if resp, err := http.Post(u, "application/x-thrift", nil); err == nil {
			resp.Body.Close()
			t.Errorf("%s answered %d while switched off", u, resp.StatusCode)
		}
	}
	if !strings.Contains(s.Log(), "jaeger_agent_binary") || strings.Contains(s.Log(), "component=jaeger_agent_compact") {
		t.Errorf("log does not show only the binary agent listening:\n%s", s.Log())
	}
}
