package gen_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/clew-dev/clew/internal/gen"
	"github.com/clew-dev/clew/internal/receiver/jaeger"
)

func TestJaegerAgent(t *testing.T) {
	for _, tc := range []struct {
		protocol string
		encoding jaeger.Encoding
	}{
		{"jaeger-compact", jaeger.Compact},
		{"jaeger-binary", jaeger.Binary},
	} {
		t.Run(tc.protocol, func(t *testing.T) {
			b := newBackend(t)
			a := jaeger.NewAgent(jaeger.AgentOptions{Addr: "127.0.0.1:0", Encoding: tc.encoding, Consumer: b.pipe, Logger: b.log})
			if err := a.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { a.Shutdown(context.Background()) })
			sendAndVerify(t, b, tc.protocol, a.Addr(), 40, paced)
		})
	}
	// Batches larger than a datagram are split.
	b := newBackend(t)
	a := jaeger.NewAgent(jaeger.AgentOptions{Addr: "127.0.0.1:0", Consumer: b.pipe, Logger: b.log})
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Shutdown(context.Background()) })
	sum := sendAndVerify(t, b, "jaeger-compact", a.Addr(), 60, func(o *gen.RunOptions) {
		paced(o)
		o.TracesPerBatch = 60
		o.Trace.Attributes = 30
	})
	if sum.Requests <= 5 { // one batch, five services: more datagrams mean splits
		t.Errorf("a %d-byte batch went in %d datagrams", sum.Bytes, sum.Requests)
	}
}

func TestJaegerCollector(t *testing.T) {
	t.Run("http", func(t *testing.T) {
		b := newBackend(t)
		srv := httptest.NewServer(jaeger.NewHTTPHandler(jaeger.HTTPOptions{Consumer: b.pipe, MaxRequestBytes: 16 << 20, Logger: b.log}))
		t.Cleanup(srv.Close)
		sendAndVerify(t, b, "jaeger-http", srv.URL+"/api/traces", 40, func(o *gen.RunOptions) { o.Gzip = true })
	})
	t.Run("grpc", func(t *testing.T) {
		b := newBackend(t)
		g := jaeger.NewGRPC(jaeger.GRPCOptions{Addr: "127.0.0.1:0", Consumer: b.pipe, Logger: b.log})
		if err := g.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { g.Shutdown(context.Background()) })
		sendAndVerify(t, b, "jaeger-grpc", g.Addr(), 40)
	})
}
