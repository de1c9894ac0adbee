package local

import (
	"container/heap"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/store/block"
)

// maxCompactionsPerRound bounds one round of compaction; the next round
// goes on.
const maxCompactionsPerRound = 64

// runCompactionAndRetention applies retention, then compacts while there is
// something to compact. Under sustained load blocks keep coming, so a
// round does not stop for ingest; a compaction pauses while a flush runs
// (yieldToFlush), so that it never holds up a flush's CPU.
func (s *Store) runCompactionAndRetention() {
	ctx := context.Background()
	if err := s.ApplyRetention(ctx); err != nil {
		s.log.Error("retention failed", "err", err)
	}
	for i := 0; i < maxCompactionsPerRound && s.opts.CompactionInterval > 0; i++ {
		select {
		case <-s.stop:
			return
		default:
		}
		did, err := s.Compact(ctx)
		if err != nil {
			s.m.compactErrors.Inc()
			s.log.Error("compaction failed", "err", err)
			return
		}
		if !did {
			return
		}
	}
}

// yieldToFlush waits while a flush runs: on a machine with few cores the
// flush, which frees head memory that writes wait for, goes first.
func (s *Store) yieldToFlush(ctx context.Context) {
	for !s.flushMu.TryLock() {
		select {
		case <-ctx.Done():
			return
		case <-s.stop:
			return
		case <-time.After(5 * time.Millisecond):
		}
	}
	s.flushMu.Unlock()
}

// ApplyRetention deletes the blocks whose newest span is older than the
// retention, then, with a disk budget, the oldest blocks until blocks and
// WAL fit in it.
func (s *Store) ApplyRetention(ctx context.Context) error {
	s.compactMu.Lock()
	defer s.compactMu.Unlock()
	now := s.opts.Now()
	var drop []*blockRef
	s.mu.Lock()
	if s.opts.Retention > 0 {
		cutoff := uint64(now.Add(-s.opts.Retention).UnixNano())
		s.blocks = slices.DeleteFunc(s.blocks, func(b *blockRef) bool {
			if b.meta.MaxStart < cutoff {
				drop = append(drop, b)
				return true
			}
			return false
		})
	}
	nRetention := len(drop)
	if s.opts.DiskBudget > 0 && s.wal != nil {
		total := s.wal.Size()
		for _, b := range s.blocks {
			total += b.meta.Size()
		}
		byAge := slices.Clone(s.blocks)
		slices.SortFunc(byAge, func(a, b *blockRef) int {
			switch {
			case a.meta.MaxStart < b.meta.MaxStart:
				return -1
			case a.meta.MaxStart > b.meta.MaxStart:
				return 1
			}
			return 0
		})
		for _, b := range byAge {
			if total <= s.opts.DiskBudget {
				break
			}
			total -= b.meta.Size()
			drop = append(drop, b)
		}
		s.blocks = slices.DeleteFunc(s.blocks, func(b *blockRef) bool { return slices.Contains(drop[nRetention:], b) })
	}
	s.mu.Unlock()
	var firstErr error
	for i, b := range drop {
		reason := "retention"
		if i >= nRetention {
			reason = "disk_budget"
		}
		if err := s.retire(ctx, b); err != nil && firstErr == nil {
			firstErr = err
		}
		s.m.deletedBlocks.WithLabelValues(reason).Inc()
	}
	return firstErr
}

// retire waits for the queries using an unlisted block, closes and deletes it.
func (s *Store) retire(ctx context.Context, b *blockRef) error {
	b.refs.Wait()
	searchCache.Forget(b.r)
	b.r.Close()
	if err := s.deleteBlock(ctx, b.meta.ID); err != nil {
		return fmt.Errorf("delete block %s: %w", b.meta.ID, err)
	}
	return nil
}

// Compact merges one group of blocks of the same level and time window
// into one block, merging the fragments of each trace. It reports whether
// it merged anything. Memory is bounded by one row-group buffer per source
// block plus the writer's buffers.
func (s *Store) Compact(ctx context.Context) (bool, error) {
	s.compactMu.Lock()
	defer s.compactMu.Unlock()
	srcs := s.pickCompaction()
	if len(srcs) < 2 {
		return false, nil
	}
	start := time.Now()
	meta := block.Meta{}
	for _, b := range srcs {
		meta.Level = max(meta.Level, b.meta.Level+1)
		meta.Sources = append(meta.Sources, b.meta.ID)
		meta.WALSegment = max(meta.WALSegment, b.meta.WALSegment)
	}
	// Compacted blocks are long-lived: larger row groups (fewer
	// per-row-group dictionaries and page headers; about 12 MB of
	// compressed pages buffered while writing one).
	wo := s.opts.Block
	if wo.RowGroupRows == 0 {
		wo.RowGroupRows = 1 << 18
	}
	w, err := block.NewWriter(s.be, s.tmpDir, meta, wo)
	if err != nil {
		return false, err
	}
	h := &mergeHeap{}
	for _, b := range srcs {
		it := b.r.Iter()
		defer it.Close()
		// The writer keeps no span: each source's one span is reused.
		it.ReuseSpans()
		if sp := it.Next(); sp != nil {
			h.items = append(h.items, mergeItem{sp: sp, it: it})
		} else if err := it.Err(); err != nil {
			w.Abort()
			return false, fmt.Errorf("compact: read block %s: %w", b.meta.ID, err)
		}
	}
	heap.Init(h)
	n := 0
	for h.Len() > 0 {
		top := &h.items[0]
		if err := w.Add(top.sp); err != nil {
			w.Abort()
			return false, err
		}
		if n++; n%4096 == 0 {
			if ctx.Err() != nil {
				w.Abort()
				return false, ctx.Err()
			}
			s.yieldToFlush(ctx)
		}
		if sp := top.it.Next(); sp != nil {
			top.sp = sp
			heap.Fix(h, 0)
		} else {
			if err := top.it.Err(); err != nil {
				w.Abort()
				return false, fmt.Errorf("compact: %w", err)
			}
			heap.Pop(h)
		}
	}
	m, err := w.Finish(ctx, s.opts.Now())
	if err != nil {
		return false, err
	}
	s.noteDropped(w, "compaction", m.ID)
	r, err := block.Open(ctx, s.be, m.ID)
	if err != nil {
		return false, fmt.Errorf("open compacted block: %w", err)
	}
	r.Prepare()
	// The new block is visible (its meta names its sources, so a crash
	// from here on drops the sources at the next start). Swap, then delete.
	s.mu.Lock()
	s.blocks = slices.DeleteFunc(s.blocks, func(b *blockRef) bool { return slices.Contains(srcs, b) })
	s.blocks = append(s.blocks, &blockRef{r: r, meta: r.Meta()})
	s.sortBlocks()
	s.mu.Unlock()
	for _, b := range srcs {
		if err := s.retire(ctx, b); err != nil {
			s.log.Error("delete compacted block", "block", b.meta.ID, "err", err)
		}
		s.m.deletedBlocks.WithLabelValues("compacted").Inc()
	}
	s.m.compactions.Inc()
	s.log.Debug("compacted", "sources", len(srcs), "block", m.ID, "spans", m.Spans, "took", time.Since(start))
	return true, nil
}

// maxCompactionSources bounds the blocks merged at once: each source holds
// a row reader with buffers for every column (several MB).
const maxCompactionSources = 6

// pickCompaction returns the oldest group of at least CompactionMinBlocks
// blocks of one level whose spans start in one window, capped so that the
// merged block stays within CompactionMaxSpans.
func (s *Store) pickCompaction() []*blockRef {
	s.mu.RLock()
	defer s.mu.RUnlock()
	type key struct {
		level  int
		window uint64
	}
	groups := map[key][]*blockRef{}
	var keys []key
	w := uint64(s.opts.CompactionWindow)
	for _, b := range s.blocks {
		if b.meta.Spans >= s.opts.CompactionMaxSpans/2 {
			continue // big enough
		}
		k := key{b.meta.Level, b.meta.MinStart / w}
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], b)
	}
	for _, k := range keys {
		g := groups[k]
		if len(g) < s.opts.CompactionMinBlocks {
			continue
		}
		var out []*blockRef
		var spans int64
		for _, b := range g {
			if spans+b.meta.Spans > s.opts.CompactionMaxSpans || len(out) == maxCompactionSources {
				break
			}
			spans += b.meta.Spans
			out = append(out, b)
		}
		if len(out) >= 2 {
			return out
		}
	}
	return nil
}

type mergeItem struct {
	sp *model.Span
	it *block.Iterator
}

type mergeHeap struct{ items []mergeItem }

func (h *mergeHeap) Len() int           { return len(h.items) }
func (h *mergeHeap) Less(i, j int) bool { return block.CompareSpans(h.items[i].sp, h.items[j].sp) < 0 }
func (h *mergeHeap) Swap(i, j int)      { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *mergeHeap) Push(x any)         { h.items = append(h.items, x.(mergeItem)) }
func (h *mergeHeap) Pop() any {
	x := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	return x
}
