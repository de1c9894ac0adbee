package local

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/store"
)

// TestMetricsReportMemory checks the gauges of what the store keeps in
// memory: the head, and the caches of block search indexes and
// dictionaries that reads fill.
func TestMetricsReportMemory(t *testing.T) {
	reg := prometheus.NewRegistry()
	o := testOptions(t.TempDir())
	o.Registerer = reg
	s := openT(t, o)
	defer s.Close()
	ctx := context.Background()
	start := time.Now().Add(-time.Minute)
	for i := uint64(1); i <= 50; i++ {
		if err := s.WriteSpans(ctx, mkSpans(i, 5, start, "metrics-svc")); err != nil {
			t.Fatal(err)
		}
	}
	values := func() map[string]float64 {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]float64{}
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				switch {
				case m.GetGauge() != nil:
					out[mf.GetName()] = m.GetGauge().GetValue()
				case m.GetCounter() != nil:
					out[mf.GetName()] = m.GetCounter().GetValue()
				}
			}
		}
		return out
	}
	if v := values(); v["clew_local_head_spans"] != 250 || v["clew_local_head_bytes"] <= 0 {
		t.Errorf("head: %v spans, %v bytes; want 250 spans", v["clew_local_head_spans"], v["clew_local_head_bytes"])
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	loads := values()["clew_local_search_index_loads_total"]
	if _, err := s.FindTraces(ctx, store.TraceQuery{Service: "metrics-svc", Limit: 5}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetTrace(ctx, model.TraceIDFromUint64s(1, 7)); err != nil {
		t.Fatal(err)
	}
	v := values()
	if v["clew_local_head_spans"] != 0 || v["clew_local_blocks"] != 1 {
		t.Errorf("after the flush: %v head spans, %v blocks", v["clew_local_head_spans"], v["clew_local_blocks"])
	}
	if v["clew_local_search_index_loads_total"] <= loads || v["clew_local_search_cache_bytes"] <= 0 {
		t.Errorf("search index: %v loads (before %v), %v cached bytes", v["clew_local_search_index_loads_total"], loads, v["clew_local_search_cache_bytes"])
	}
	if v["clew_local_dictionary_cache_bytes"] <= 0 {
		t.Errorf("dictionary cache: %v bytes after a read by id", v["clew_local_dictionary_cache_bytes"])
	}
}
