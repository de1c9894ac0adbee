package local

import (
	"context"
	"testing"

	"github.com/clew-dev/clew/internal/store"
)

// BenchmarkHeadQueries times reads of 100,000 spans still in the head
// (the last minutes of data, which searches hit most).
func BenchmarkHeadQueries(b *testing.B) {
	batches := genLoad(b, 10000)
	o := testOptions(b.TempDir())
	o.FlushBytes, o.MaxHeadBytes, o.FlushSpans = 1<<30, 2<<30, 1<<30
	s := openT(b, o)
	defer s.Close()
	ids := writeLoad(b, s, batches, 0)
	ctx := context.Background()
	b.Run("TraceByID", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := s.GetTrace(ctx, ids[i%len(ids)]); err != nil {
				b.Fatal(err)
			}
		}
	})
	find := func(name string, q store.TraceQuery) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				tr, err := s.FindTraces(ctx, q)
				if err != nil || len(tr) < 20 {
					b.Fatal(err, len(tr))
				}
			}
		})
	}
	find("FindByService", store.TraceQuery{Service: "frontend", Limit: 20})
	find("FindByTagMatching", store.TraceQuery{Service: "frontend", Tags: map[string]string{"http.response.status_code": "503"}, Limit: 20})
}
