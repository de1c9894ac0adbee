package otlp

import (
	"context"
	"log/slog"
	"testing"

	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/pipeline"
)

// discardWriter is a store.Writer that keeps nothing.
type discardWriter struct{}

func (discardWriter) WriteSpans(context.Context, []*model.Span) error { return nil }

// BenchmarkExportGenLoad is the receive path of one Export call of `clew
// gen`'s load (500 spans of 50 default traces, as in make bench) after gRPC
// gathered the request's bytes: the wire decoder, the pipeline with its
// default limits (to a store that keeps nothing), the response and the
// arena's release.
func BenchmarkExportGenLoad(b *testing.B) {
	body := genLoad(b, 50)
	p := pipeline.New(discardWriter{}, pipeline.Options{})
	g := NewGRPC("127.0.0.1:0", 16<<20, p, slog.New(slog.DiscardHandler))
	ctx := context.Background()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := g.exportRaw(ctx, body); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*500), "ns/span")
}
