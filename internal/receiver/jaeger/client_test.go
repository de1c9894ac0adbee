package jaeger

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jaegertracing/jaeger-idl/proto-gen/api_v2"
	"github.com/opentracing/opentracing-go"
	"github.com/opentracing/opentracing-go/ext"
	otlog "github.com/opentracing/opentracing-go/log"
	jaegerclient "github.com/uber/jaeger-client-go"
	jthrift "github.com/uber/jaeger-client-go/thrift"
	jagent "github.com/uber/jaeger-client-go/thrift-gen/agent"
	j "github.com/uber/jaeger-client-go/thrift-gen/jaeger"
	"github.com/uber/jaeger-client-go/transport"

	"github.com/clew-dev/clew/internal/receiver/receivertest"
)

// traceStart is when the known trace starts: fixed, with microseconds, so
// golden files are stable and durations can be checked exactly.
var traceStart = time.Date(2026, 11, 20, 10, 30, 15, 123456000, time.UTC)

// emitKnownTrace sends one trace of three spans through jaeger-client-go's
// tracer and the given transport, and returns the trace id.
//
//	GET /checkout (server, 12.345ms, http.* tags of each type)
//	├── SELECT orders (client, error=true, one log)
//	└── publish order (producer, follows_from the root)
func emitKnownTrace(t testing.TB, tr jaegerclient.Transport, start time.Time) jaegerclient.TraceID {
	t.Helper()
	tracer, closer := jaegerclient.NewTracer("checkout",
		jaegerclient.NewConstSampler(true),
		jaegerclient.NewRemoteReporter(tr, jaegerclient.ReporterOptions.BufferFlushInterval(time.Hour)),
		jaegerclient.TracerOptions.Tag("deployment.environment", "test"),
		jaegerclient.TracerOptions.Tag("build.number", int64(42)),
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
	if err := closer.Close(); err != nil { // flushes the reporter
		t.Fatal(err)
	}
	return id
}

// binaryUDPTransport is jaeger-client-go's UDP sender with the binary
// protocol of port 6832 (what the Node.js client sends): spans are built by
// jaeger-client-go, framed as Agent.emitBatch in TBinaryProtocol by its
// generated agent client.
type binaryUDPTransport struct {
	conn    net.Conn
	process *j.Process
	spans   []*j.Span
}

func newBinaryUDPTransport(t testing.TB, addr string) *binaryUDPTransport {
	conn, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return &binaryUDPTransport{conn: conn}
}

func (b *binaryUDPTransport) Append(s *jaegerclient.Span) (int, error) {
	if b.process == nil {
		b.process = jaegerclient.BuildJaegerProcessThrift(s)
	}
	b.spans = append(b.spans, jaegerclient.BuildJaegerThrift(s))
	return 0, nil
}

func (b *binaryUDPTransport) Flush() (int, error) {
	if len(b.spans) == 0 {
		return 0, nil
	}
	buf := jthrift.NewTMemoryBufferLen(MaxDatagram)
	client := jagent.NewAgentClientFactory(buf, jthrift.NewTBinaryProtocolFactoryDefault())
	if err := client.EmitBatch(context.Background(), &j.Batch{Process: b.process, Spans: b.spans}); err != nil {
		return 0, err
	}
	n := len(b.spans)
	b.spans = nil
	_, err := b.conn.Write(buf.Bytes())
	return n, err
}

func (b *binaryUDPTransport) Close() error { return b.conn.Close() }

// captureUDP listens on a free UDP port and returns its address and a
// function waiting for the first datagram.
func captureUDP(t testing.TB) (string, func() []byte) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc.LocalAddr().String(), func() []byte {
		buf := make([]byte, MaxDatagram+1)
		_ = pc.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatalf("no datagram: %v", err)
		}
		return buf[:n]
	}
}

// TestCapturePayloads records what jaeger-client-go really sends on each
// transport into testdata/. It runs only with -update.
func TestCapturePayloads(t *testing.T) {
	if !receivertest.Update() {
		t.Skip("captures payloads only with -update")
	}
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join("testdata", name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	addr, read := captureUDP(t)
	tr, err := jaegerclient.NewUDPTransport(addr, 0)
	if err != nil {
		t.Fatal(err)
	}
	emitKnownTrace(t, tr, traceStart)
	write("agent_compact.thrift", read())

	addr, read = captureUDP(t)
	emitKnownTrace(t, newBinaryUDPTransport(t, addr), traceStart)
	write("agent_binary.thrift", read())

	got := make(chan []byte, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ct := r.Header.Get("Content-Type"); ct != "application/x-thrift" {
			t.Errorf("jaeger-client-go sent Content-Type %q", ct)
		}
		b, _ := io.ReadAll(r.Body)
		got <- b
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	emitKnownTrace(t, transport.NewHTTPTransport(srv.URL+"/api/traces"), traceStart)
	write("collector_http.thrift", <-got)

	// No Jaeger agent runs here: the gRPC body is a PostSpansRequest built
	// with jaeger-idl's generated types, which jaeger-agent's gRPC reporter
	// uses, and marshalled by them.
	req := api_v2.PostSpansRequest{Batch: protoBatch()}
	b, err := req.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	write("collector_grpc.pb", b)
}
