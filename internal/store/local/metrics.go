package local

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/clew-dev/clew/internal/store/block"
)

type metrics struct {
	spansWritten   prometheus.Counter
	refusedFull    prometheus.Counter
	flushes        prometheus.Counter
	flushErrors    prometheus.Counter
	flushSeconds   prometheus.Histogram
	compactions    prometheus.Counter
	compactErrors  prometheus.Counter
	deletedBlocks  *prometheus.CounterVec
	blockErrors    prometheus.Counter
	walCorruptions prometheus.Counter
	traceDropped   prometheus.Counter
}

func newMetrics(s *Store, reg prometheus.Registerer) metrics {
	m := metrics{
		spansWritten:   prometheus.NewCounter(prometheus.CounterOpts{Name: "clew_local_spans_written_total", Help: "Spans written to the WAL and head."}),
		refusedFull:    prometheus.NewCounter(prometheus.CounterOpts{Name: "clew_local_writes_refused_total", Help: "Batches refused because the head was at its memory limit."}),
		flushes:        prometheus.NewCounter(prometheus.CounterOpts{Name: "clew_local_flushes_total", Help: "Heads written to blocks."}),
		flushErrors:    prometheus.NewCounter(prometheus.CounterOpts{Name: "clew_local_flush_errors_total", Help: "Failed head flushes (retried)."}),
		flushSeconds:   prometheus.NewHistogram(prometheus.HistogramOpts{Name: "clew_local_flush_duration_seconds", Help: "Time to write a head to a block.", Buckets: prometheus.ExponentialBuckets(0.01, 2, 12)}),
		compactions:    prometheus.NewCounter(prometheus.CounterOpts{Name: "clew_local_compactions_total", Help: "Compactions done."}),
		compactErrors:  prometheus.NewCounter(prometheus.CounterOpts{Name: "clew_local_compaction_errors_total", Help: "Failed compactions."}),
		deletedBlocks:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "clew_local_blocks_deleted_total", Help: "Blocks deleted, by reason (compacted, retention, disk_budget)."}, []string{"reason"}),
		blockErrors:    prometheus.NewCounter(prometheus.CounterOpts{Name: "clew_local_block_errors_total", Help: "Blocks that could not be opened or read (damaged)."}),
		traceDropped:   prometheus.NewCounter(prometheus.CounterOpts{Name: "clew_local_trace_spans_dropped_total", Help: "Spans not written to a block (by a flush or a compaction) because their trace already had block.MaxTraceSpans spans in it."}),
		walCorruptions: prometheus.NewCounter(prometheus.CounterOpts{Name: "clew_local_wal_corruptions_total", Help: "Damaged WAL segment tails truncated, and undecodable records skipped, at start-up."}),
	}
	if reg != nil {
		reg.MustRegister(m.spansWritten, m.refusedFull, m.flushes, m.flushErrors, m.flushSeconds, m.compactions,
			m.compactErrors, m.deletedBlocks, m.blockErrors, m.walCorruptions, m.traceDropped,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "clew_local_head_spans", Help: "Spans in memory (heads not yet in blocks)."}, func() float64 {
				s.mu.RLock()
				defer s.mu.RUnlock()
				n := s.active.spans
				for _, h := range s.flushing {
					n += h.spans
				}
				return float64(n)
			}),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "clew_local_head_bytes", Help: "Estimated bytes of the heads in memory."}, func() float64 {
				s.mu.RLock()
				defer s.mu.RUnlock()
				return float64(s.headBytesLocked())
			}),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "clew_local_blocks", Help: "Blocks open."}, func() float64 {
				s.mu.RLock()
				defer s.mu.RUnlock()
				return float64(len(s.blocks))
			}),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "clew_local_block_bytes", Help: "Bytes of the open blocks' files."}, func() float64 {
				return float64(s.blockBytes())
			}),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "clew_local_search_cache_bytes", Help: "Bytes of decoded block search indexes kept in memory (bounded for the process)."}, func() float64 {
				return float64(searchCache.Bytes())
			}),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "clew_local_search_index_loads_total", Help: "Block search indexes read from storage (a block's first search, or after eviction from the cache)."}, func() float64 {
				return float64(searchCache.Loads())
			}),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "clew_local_dictionary_cache_bytes", Help: "Bytes of decoded Parquet dictionaries kept in memory for reads by id (bounded for the process)."}, func() float64 {
				return float64(block.DictionaryCacheUsed())
			}),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "clew_local_page_cache_bytes", Help: "Bytes of decompressed block pages kept in memory for reads by id (bounded for the process)."}, func() float64 {
				return float64(block.PageCacheUsed())
			}),
		)
	}
	return m
}

func (s *Store) blockBytes() int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var n int64
	for _, b := range s.blocks {
		n += b.meta.Size()
	}
	return n
}
