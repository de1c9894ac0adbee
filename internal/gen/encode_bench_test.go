package gen

import (
	"testing"
	"time"

	"github.com/clew-dev/clew/internal/model"
)

// BenchmarkEncode measures what pre-encoding costs per protocol: one batch
// of 10 default traces (100 spans), generated once, encoded per iteration.
func BenchmarkEncode(b *testing.B) {
	for _, p := range Protocols() {
		b.Run(p.Name, func(b *testing.B) {
			o := DefaultOptions()
			o.IDs = p.IDs
			g, err := New(o)
			if err != nil {
				b.Fatal(err)
			}
			var spans []*model.Span
			for range 10 {
				spans = append(spans, g.Trace(time.Now())...)
			}
			bodies, err := p.Encode(spans)
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			for _, body := range bodies {
				n += len(body)
			}
			b.SetBytes(int64(n))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := p.Encode(spans); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)/float64(len(spans)), "wire-bytes/span")
		})
	}
}
