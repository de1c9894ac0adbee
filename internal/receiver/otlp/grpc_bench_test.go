package otlp

import (
	"context"
	"log/slog"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/clew-dev/clew/internal/gen"
	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/pipeline"
)

// nopConsumer accepts every span and keeps nothing.
type nopConsumer struct{}

func (nopConsumer) Consume(_ context.Context, _ string, spans []*model.Span) (pipeline.Result, error) {
	return pipeline.Result{Accepted: len(spans)}, nil
}
func (nopConsumer) Refuse(string, string, int) {}

// cpuTime is the process's user+system CPU time so far.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkGRPCExport sends `clew gen`'s 500-span export over loopback
// from 4 concurrent senders (gen's own gRPC sender, as in make bench) to
// the OTLP/gRPC receiver, which decodes it and hands it to a consumer that
// keeps nothing. cpu-µs/span is the CPU of client and server together (the
// process's rusage), what limits throughput when both share the machine.
func BenchmarkGRPCExport(b *testing.B) {
	body := genLoad(b, 50)
	// Larger HTTP/2 flow-control windows and read buffer (1 MiB, 4 MiB,
	// 256 KiB) were tried as server options here: no difference beyond the
	// noise, so the receiver keeps gRPC's defaults.
	for _, c := range []struct {
		name string
		opts []grpc.ServerOption
	}{{"defaults", nil}} {
		b.Run(c.name, func(b *testing.B) {
			g := NewGRPC("127.0.0.1:0", 16<<20, nopConsumer{}, slog.New(slog.DiscardHandler), c.opts...)
			if err := g.Start(context.Background()); err != nil {
				b.Fatal(err)
			}
			defer g.Shutdown(context.Background())
			p, err := gen.Lookup("otlp-grpc")
			if err != nil {
				b.Fatal(err)
			}
			s, err := p.Dial(g.Addr(), gen.SenderOptions{Timeout: 10 * time.Second, Conns: 4})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			if err := s.Send(context.Background(), body); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			cpu0 := cpuTime(b)
			b.ResetTimer()
			var wg sync.WaitGroup
			next := make(chan struct{})
			for range 4 {
				wg.Go(func() {
					for range next {
						if err := s.Send(context.Background(), body); err != nil {
							b.Error(err)
						}
					}
				})
			}
			for range b.N {
				next <- struct{}{}
			}
			close(next)
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64((cpuTime(b)-cpu0).Microseconds())/float64(b.N*500), "cpu-µs/span")
		})
	}
}
