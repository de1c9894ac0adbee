package sampling

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jaegertracing/jaeger-idl/proto-gen/api_v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"

	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/pipeline"
	jaegerreceiver "github.com/clew-dev/clew/internal/receiver/jaeger"
)

type nopConsumer struct{}

func (nopConsumer) Consume(context.Context, string, []*model.Span) (pipeline.Result, error) {
	return pipeline.Result{}, nil
}
func (nopConsumer) Refuse(string, string, int) {}

// startCollector runs the Jaeger collector gRPC receiver with the
// SamplingManager registered, as clew serve does.
func startCollector(t *testing.T) *grpc.ClientConn {
	t.Helper()
	g := jaegerreceiver.NewGRPC(jaegerreceiver.GRPCOptions{
		Addr: "127.0.0.1:0", Consumer: nopConsumer{},
		Services: []func(grpc.ServiceRegistrar){testStrategies(t).RegisterGRPC},
	})
	if err := g.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Shutdown(context.Background()) })
	conn, err := grpc.NewClient(g.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func TestGRPC(t *testing.T) {
	conn := startCollector(t)
	client := api_v2.NewSamplingManagerClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for service, want := range map[string]*api_v2.SamplingStrategyResponse{"checkout": rateLimit(25), "other": prob(1)} {
		got, err := client.GetSamplingStrategy(ctx, &api_v2.SamplingStrategyParameters{ServiceName: service})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", service, diff)
		}
	}
	f := func(p *api_v2.SamplingStrategyParameters, want string) {
		t.Helper()
		_, err := client.GetSamplingStrategy(ctx, p)
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), want) {
			t.Errorf("GetSamplingStrategy(%q) = %v, want InvalidArgument %q", p.ServiceName, err, want)
		}
	}
	f(&api_v2.SamplingStrategyParameters{}, "serviceName must be set")
	f(&api_v2.SamplingStrategyParameters{ServiceName: strings.Repeat("x", 2000)}, "longer than 1024 bytes")

	// A malformed message is InvalidArgument, not Internal.
	garbage := []byte{0x0a, 0xff}
	var out api_v2.SamplingStrategyResponse
	err := conn.Invoke(ctx, "/jaeger.api_v2.SamplingManager/GetSamplingStrategy", &garbage, &out, grpc.ForceCodecV2(bytesCodec{}))
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("malformed request: %v, want InvalidArgument", err)
	}
}

// bytesCodec sends a *[]byte as the message, to test malformed requests.
type bytesCodec struct{}

func (bytesCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(*v.(*[]byte))}, nil
}
func (bytesCodec) Unmarshal(mem.BufferSlice, any) error { return nil }
func (bytesCodec) Name() string                         { return "proto" }
