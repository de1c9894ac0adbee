package jaeger

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jaegertracing/jaeger-idl/model/v1"
	"github.com/jaegertracing/jaeger-idl/proto-gen/api_v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"

	clewmodel "github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/pipeline"
	"github.com/clew-dev/clew/internal/receiver/receivertest"
	"github.com/clew-dev/clew/internal/store"
)

// protoBatch is a PostSpans batch as jaeger-agent forwards it: a process,
// one span with its own process override, tags of each type, a log, a
// reference and a 128-bit trace id.
func protoBatch() model.Batch {
	start := traceStart
	tid := model.NewTraceID(0x0102030405060708, 0x1112131415161718)
	return model.Batch{
		Process: &model.Process{ServiceName: "api", Tags: []model.KeyValue{model.String("hostname", "web-1")}},
		Spans: []*model.Span{{
			TraceID:       tid,
			SpanID:        model.NewSpanID(0xa1),
			OperationName: "GET /users",
			StartTime:     start,
			Duration:      2500 * time.Microsecond,
			Tags: []model.KeyValue{
				model.String("span.kind", "server"),
				model.Int64("http.status_code", 503),
				model.Bool("error", true),
				model.Float64("ratio", 0.5),
				model.Binary("blob", []byte{1, 2}),
			},
			Logs: []model.Log{{Timestamp: start.Add(time.Millisecond), Fields: []model.KeyValue{model.String("event", "retry")}}},
		}, {
			TraceID:       tid,
			SpanID:        model.NewSpanID(0xa2),
			OperationName: "query",
			StartTime:     start.Add(500 * time.Microsecond),
			Duration:      time.Millisecond,
			References:    []model.SpanRef{model.NewChildOfRef(tid, model.NewSpanID(0xa1))},
			Process:       &model.Process{ServiceName: "db"},
		}},
	}
}

func startGRPC(t *testing.T, c Consumer) (*GRPC, api_v2.CollectorServiceClient) {
	t.Helper()
	g := NewGRPC(GRPCOptions{Addr: "127.0.0.1:0", Consumer: c, MaxRequestBytes: 1 << 20})
	if err := g.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(g.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		g.Shutdown(context.Background())
	})
	return g, api_v2.NewCollectorServiceClient(conn)
}

func TestCollectorGRPC(t *testing.T) {
	sink := &receivertest.Sink{}
	_, client := startGRPC(t, sink)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := client.PostSpans(ctx, &api_v2.PostSpansRequest{Batch: protoBatch()}, grpc.UseCompressor(gzip.Name)); err != nil {
		t.Fatal(err)
	}
	spans := sink.Spans()
	if len(spans) != 2 {
		t.Fatalf("stored %d spans, want 2", len(spans))
	}
	receivertest.Golden(t, "testdata/collector_grpc.want.json", spans)
	for _, s := range spans {
		if want := clewmodel.TraceIDFromUint64s(0x0102030405060708, 0x1112131415161718); s.TraceID != want {
			t.Errorf("trace id %v, want %v", s.TraceID, want)
		}
	}
}

func TestCollectorGRPCOverloaded(t *testing.T) {
	// The pipeline's slots taken, or the store at its memory limit.
	for _, cause := range []error{pipeline.ErrOverloaded, fmt.Errorf("local store: head full: %w", store.ErrFull)} {
		_, client := startGRPC(t, &receivertest.Sink{Err: cause})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := client.PostSpans(ctx, &api_v2.PostSpansRequest{Batch: protoBatch()})
		cancel()
		if status.Code(err) != codes.ResourceExhausted {
			t.Fatalf("%v: err = %v, want ResourceExhausted", cause, err)
		}
	}
}

// bytesCodec sends a []byte as the message, to test malformed requests.
type bytesCodec struct{}

func (bytesCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(*v.(*[]byte))}, nil
}
func (bytesCodec) Unmarshal(mem.BufferSlice, any) error { return nil }
func (bytesCodec) Name() string                         { return "proto" }

func TestCollectorGRPCMalformed(t *testing.T) {
	sink := &receivertest.Sink{}
	g, _ := startGRPC(t, sink)
	conn, err := grpc.NewClient(g.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	garbage := []byte{0x0a, 0xff, 0xff, 0x01}
	var out []byte
	err = conn.Invoke(ctx, "/jaeger.api_v2.CollectorService/PostSpans", &garbage, &out, grpc.ForceCodecV2(bytesCodec{}))
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("err = %v, want InvalidArgument", err)
	}
	if got := sink.Refused()[NameCollectorGRPC+"/malformed"]; got != 1 {
		t.Errorf("counted %d malformed, want 1", got)
	}
	// The server still serves.
	if _, err := api_v2.NewCollectorServiceClient(conn).PostSpans(ctx, &api_v2.PostSpansRequest{Batch: protoBatch()}); err != nil {
		t.Fatal(err)
	}
}
