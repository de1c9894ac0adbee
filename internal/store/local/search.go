package local

import (
	"cmp"
	"container/heap"
	"context"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/store"
	"github.com/clew-dev/clew/internal/store/block"
)

// SearchCacheBytes is the default bound of the decoded block search
// indexes kept in memory, for the whole process (local.search_cache_bytes
// sets it: SetSearchCacheBytes). The benchmark load's index takes about 3 bytes
// per span decoded, so 32 MiB holds the indexes of some 10 million spans;
// a block whose index was evicted reads it again (about 3 ms per million
// spans, BenchmarkSearchDecode).
const SearchCacheBytes = 32 << 20

// searchCache is shared by the stores of the process: block ids are unique.
var searchCache = block.NewSearchCache(SearchCacheBytes)

// SetSearchCacheBytes sets the bound of the decoded search indexes the
// process keeps (32 MiB until set; 0 keeps none).
func SetSearchCacheBytes(n int64) { searchCache.SetMaxBytes(n) }

// IndexesTags reports that FindTraces answers searches with tags from the
// blocks' search indexes (engine.TagIndexer), reading only the traces it
// checks, so that the query engine need not scan for them.
func (s *Store) IndexesTags() bool { return true }

// searchSource is a stream of candidate traces, in decreasing key: an
// upper bound of the start of every trace it has left.
type searchSource struct {
	key uint64
	// One of: a block not opened yet; a block's index candidates; a list
	// of known traces (the heads', or a block's without an index), sorted
	// by decreasing start.
	block *blockRef
	from  *blockRef
	cands *block.Candidates
	cand  block.Candidate
	list  []hit
}

type sourceHeap []*searchSource

func (h sourceHeap) Len() int           { return len(h) }
func (h sourceHeap) Less(i, j int) bool { return h[i].key > h[j].key }
func (h sourceHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *sourceHeap) Push(x any)        { *h = append(*h, x.(*searchSource)) }
func (h *sourceHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// found keeps the newest traces found, up to a limit: a min-heap by start
// (then by descending id, so that the worst is at the top).
type found struct {
	limit  int
	traces []foundTrace
}

type foundTrace struct {
	t     *model.Trace
	start uint64
}

func foundLess(a, b foundTrace) bool {
	if a.start != b.start {
		return a.start < b.start
	}
	return string(a.t.TraceID[:]) > string(b.t.TraceID[:])
}

func (f *found) Len() int           { return len(f.traces) }
func (f *found) Less(i, j int) bool { return foundLess(f.traces[i], f.traces[j]) }
func (f *found) Swap(i, j int)      { f.traces[i], f.traces[j] = f.traces[j], f.traces[i] }
func (f *found) Push(x any)         { f.traces = append(f.traces, x.(foundTrace)) }
func (f *found) Pop() any {
	x := f.traces[len(f.traces)-1]
	f.traces = f.traces[:len(f.traces)-1]
	return x
}

// full reports whether the limit is reached and no trace starting at or
// before key can enter.
func (f *found) excludes(key uint64) bool {
	return len(f.traces) >= f.limit && f.traces[0].start > key
}

func (f *found) add(t *model.Trace) {
	ft := foundTrace{t, t.Start()}
	if len(f.traces) < f.limit {
		heap.Push(f, ft)
		return
	}
	if foundLess(f.traces[0], ft) {
		f.traces[0] = ft
		heap.Fix(f, 0)
	}
}

// findTraces answers a Jaeger search from the heads and the blocks' search
// indexes. Every source yields candidates newest first with an upper bound
// of their trace's start; the sources are merged on that bound, and each
// candidate trace is read whole (from every block and head that has a part
// of it) and kept if one of its spans matches q. The search stops once it
// holds q's limit of traces, all newer than anything the sources have left.
// A block without a search index (written before it existed, or whose index
// is damaged) is searched by its summary columns, as before the index.
func (s *Store) findTraces(ctx context.Context, q *store.TraceQuery, heads []*head, blocks []*blockRef, lo, hi uint64) ([]*model.Trace, error) {
	_, all, err := s.acquire(0, ^uint64(0))
	if err != nil {
		return nil, err
	}
	defer release(all)
	res := &found{limit: q.EffectiveLimit()}
	seen := map[model.TraceID]struct{}{}
	var srcs sourceHeap

	// The heads' traces are candidates as they are, newest first: like
	// every candidate they are read whole and checked below, so a search
	// that matches recent traces decodes about its limit of them instead of
	// the whole head.
	var fromHeads []hit
	s.mu.RLock()
	for _, h := range heads {
		if !h.overlaps(lo, hi) {
			continue
		}
		for id, t := range h.traces {
			if t.start <= hi && t.hasService(q.Service) {
				fromHeads = append(fromHeads, hit{id, t.start})
			}
		}
	}
	s.mu.RUnlock()
	if len(fromHeads) > 0 {
		sortHits(fromHeads)
		srcs = append(srcs, &searchSource{key: fromHeads[0].start, list: fromHeads})
	}
	for _, b := range blocks {
		if blockMayMatch(&b.meta, q.Service, q.Operation) {
			srcs = append(srcs, &searchSource{key: b.meta.MaxStart, block: b})
		}
	}
	heap.Init(&srcs)
	sreq := &block.SearchRequest{Service: q.Service, Name: q.Operation, Tags: q.Tags,
		StartMin: lo, StartMax: hi, MinDuration: q.DurationMin}

	// Candidates are read in batches, concurrently: about as many as the
	// results still missing (postings are mostly exact), at least a few.
	var batch []candRead
	misses := map[*blockRef]int{}
	pick := func(id model.TraceID) {
		if _, ok := seen[id]; !ok {
			seen[id] = struct{}{}
			batch = append(batch, candRead{id: id, known: true})
		}
	}
	for done := false; !done; {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		want := min(max(res.limit-len(res.traces), 4), 32)
		batch = batch[:0]
		for len(batch) < want {
			if srcs.Len() == 0 || res.excludes(srcs[0].key) {
				done = true
				break
			}
			src := srcs[0]
			switch {
			case src.block != nil:
				if err := s.openSource(ctx, src, q, sreq, lo, hi); err != nil {
					return nil, err
				}
				if src.cands == nil && len(src.list) == 0 {
					heap.Pop(&srcs)
				} else {
					heap.Fix(&srcs, 0)
				}
			case src.cands != nil:
				// Read by ordinal; duplicates are dropped once read.
				batch = append(batch, candRead{from: src.from, ord: src.cand.Ordinal})
				if c, ok := src.cands.Next(); ok {
					src.cand, src.key = c, c.Start
					heap.Fix(&srcs, 0)
				} else {
					heap.Pop(&srcs)
				}
			default:
				pick(src.list[0].id)
				src.list = src.list[1:]
				if len(src.list) > 0 {
					src.key = src.list[0].start
					heap.Fix(&srcs, 0)
				} else {
					heap.Pop(&srcs)
				}
			}
		}
		if err := s.readWhole(ctx, batch, all); err != nil {
			return nil, err
		}
		for _, c := range batch {
			t := c.t
			if t == nil {
				continue
			}
			if !c.known {
				if _, ok := seen[c.id]; ok {
					continue
				}
				seen[c.id] = struct{}{}
			}
			if slices.ContainsFunc(t.Spans, func(sp *model.Span) bool { return store.MatchSpan(sp, q) }) {
				res.add(t)
			} else if c.from != nil {
				if misses[c.from]++; misses[c.from] == searchMissBudget {
					if err := s.scanInstead(ctx, &srcs, c.from, q, lo, hi); err != nil {
						return nil, err
					}
				}
			}
		}
	}
	out := make([]*model.Trace, len(res.traces))
	for i, ft := range res.traces {
		out[i] = ft.t
	}
	slices.SortFunc(out, func(a, b *model.Trace) int {
		if c := cmp.Compare(b.Start(), a.Start()); c != 0 {
			return c
		}
		return cmp.Compare(string(a.TraceID[:]), string(b.TraceID[:]))
	})
	return out, nil
}

// searchMissBudget is how many candidates of a block may fail the check
// before the rest of the block is searched by one pass over its columns
// instead (a condition the index cannot narrow: a dropped tag key, a
// maximum duration, conditions met by different spans).
const searchMissBudget = 256

// scanInstead replaces block b's index candidates in srcs with the traces
// its columns match (exact, newest first).
func (s *Store) scanInstead(ctx context.Context, srcs *sourceHeap, b *blockRef, q *store.TraceQuery, lo, hi uint64) error {
	i := slices.IndexFunc(*srcs, func(src *searchSource) bool { return src.from == b && src.cands != nil })
	if i < 0 {
		return nil // its candidates are done
	}
	hits, err := s.scanBlockHits(ctx, b, q, lo, hi)
	if err != nil {
		return err
	}
	src := (*srcs)[i]
	src.cands = nil
	if len(hits) == 0 {
		heap.Remove(srcs, i)
		return nil
	}
	src.list, src.key = hits, hits[0].start
	heap.Fix(srcs, i)
	return nil
}

// indexCandidates returns the traces of block b, not yet seen, that its
// search index x gives for req.
func indexCandidates(ctx context.Context, b *blockRef, x *block.SearchIndex, req *block.SearchRequest, seen map[model.TraceID]struct{}) (map[model.TraceID]struct{}, error) {
	it := x.Candidates(req)
	var ords []int
	for c, ok := it.Next(); ok; c, ok = it.Next() {
		ords = append(ords, c.Ordinal)
	}
	out := make(map[model.TraceID]struct{}, len(ords))
	add := func(id model.TraceID) {
		if _, ok := seen[id]; !ok {
			out[id] = struct{}{}
		}
	}
	if len(ords)*64 >= x.Traces() {
		// Many: one read of the whole index.
		ids, err := b.r.TraceIDs(ctx)
		if err != nil {
			return nil, err
		}
		for _, o := range ords {
			add(ids[o])
		}
		return out, nil
	}
	for _, o := range ords {
		id, err := b.r.TraceIDAt(ctx, o)
		if err != nil {
			return nil, err
		}
		add(id)
	}
	return out, nil
}

// openSource opens a block source: its search index's candidates, or, for
// a block without a usable index, the traces its columns match, found at
// once. It leaves src with nothing (cands nil, list empty) when the block
// has no candidate.
func (s *Store) openSource(ctx context.Context, src *searchSource, q *store.TraceQuery, sreq *block.SearchRequest, lo, hi uint64) error {
	b := src.block
	src.block = nil
	x, err := b.r.SearchIndex(ctx, searchCache)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.m.blockErrors.Inc()
		s.log.Warn("block search index unusable, scanning the block", "block", b.meta.ID, "err", err)
	}
	if x != nil {
		cands := x.Candidates(sreq)
		if c, ok := cands.Next(); ok {
			src.from, src.cands, src.cand, src.key = b, cands, c, c.Start
		}
		return nil
	}
	hits, err := s.scanBlockHits(ctx, b, q, lo, hi)
	if err != nil {
		return err
	}
	if len(hits) > 0 {
		src.list, src.key = hits, hits[0].start
	}
	return nil
}

// scanBlockHits returns the traces of block b that its columns match,
// newest first. A damaged block is counted and logged, and gives what was
// read before the damage; only the context's end is an error.
func (s *Store) scanBlockHits(ctx context.Context, b *blockRef, q *store.TraceQuery, lo, hi uint64) ([]hit, error) {
	var hits []hit
	note := func(id model.TraceID, start uint64) { hits = append(hits, hit{id, start}) }
	if err := s.searchBlock(ctx, b, q, lo, hi, note); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		s.m.blockErrors.Inc()
		s.log.Warn("block search failed", "block", b.meta.ID, "err", err)
	}
	sortHits(hits)
	return hits, nil
}

// candRead is a candidate trace to read whole: by id (known), or by its
// ordinal in block from, which gives the id.
type candRead struct {
	id    model.TraceID
	known bool
	from  *blockRef
	ord   int
	read  bool          // read by ordinal: id and spans are set
	spans []*model.Span // its spans in block from, while reading
	t     *model.Trace  // the trace read, nil when it has no span
}

// readWhole reads the candidates whole (from the heads and every block of
// all), concurrently. A block's candidates taken by ordinal are read in
// runs of neighbouring rows (block.Reader.TracesAt: the run's pages read
// together, a page shared by several decompressed once). A block error on one candidate is counted and logged, and the
// candidate left out.
func (s *Store) readWhole(ctx context.Context, cands []candRead, all []*blockRef) error {
	workers := min(len(cands), runtime.GOMAXPROCS(0), 4)
	units := s.readUnits(cands, workers)
	var next atomic.Int64
	work := func() {
		for {
			i := int(next.Add(1) - 1)
			if i >= len(units) || ctx.Err() != nil {
				return
			}
			u := units[i]
			if u[0].from != nil && !u[0].known {
				s.readByOrdinal(ctx, u)
			}
			for j := range u {
				c := &u[j]
				if !c.known && !c.read {
					continue // failed
				}
				spans, _ := s.completeTrace(ctx, c.id, c.spans, all, c.from)
				c.spans = nil
				if len(spans) > 0 {
					c.t = &model.Trace{TraceID: c.id, Spans: spans}
				}
			}
		}
	}
	var wg sync.WaitGroup
	for range workers - 1 {
		wg.Go(work)
	}
	work()
	wg.Wait()
	return ctx.Err()
}

// readUnits sorts cands into units of work: the candidates known by id
// one by one, and those of each block by ordinal, in ordinal order, in
// runs of neighbours, about two per reader: few pages are shared by
// candidates (a page holds some 8,000 rows of a column), and a reader
// delayed by the machine's other work then holds up less of the batch.
func (s *Store) readUnits(cands []candRead, workers int) [][]candRead {
	slices.SortStableFunc(cands, func(a, b candRead) int {
		if a.known != b.known {
			if a.known {
				return 1
			}
			return -1
		}
		if a.known || a.from == b.from {
			return cmp.Compare(a.ord, b.ord)
		}
		return cmp.Compare(a.from.meta.ID, b.from.meta.ID)
	})
	byOrd := 0
	for byOrd < len(cands) && !cands[byOrd].known {
		byOrd++
	}
	var units [][]candRead
	run := max((byOrd+2*workers-1)/max(2*workers, 1), 1)
	for i := 0; i < byOrd; {
		j := i + 1
		for j < byOrd && j-i < run && cands[j].from == cands[i].from {
			j++
		}
		units = append(units, cands[i:j:j])
		i = j
	}
	for i := byOrd; i < len(cands); i++ {
		units = append(units, cands[i:i+1:i+1])
	}
	return units
}

// readByOrdinal reads the candidates u of one block by ordinal, together,
// or one by one after an error to tell the damaged ones.
func (s *Store) readByOrdinal(ctx context.Context, u []candRead) {
	b := u[0].from
	ords := make([]int, len(u))
	for i := range u {
		ords[i] = u[i].ord
	}
	got, err := b.r.TracesAt(ctx, ords)
	if err == nil {
		// got is in increasing ordinal order, once each.
		for i := range u {
			k, ok := slices.BinarySearchFunc(got, u[i].ord, func(r block.TraceRead, o int) int { return cmp.Compare(r.Ordinal, o) })
			if ok {
				u[i].id, u[i].spans, u[i].read = got[k].ID, got[k].Spans, true
			}
		}
		return
	}
	if ctx.Err() != nil {
		return
	}
	for i := range u {
		id, spans, err := b.r.TraceAt(ctx, u[i].ord)
		if err != nil {
			if ctx.Err() == nil {
				s.m.blockErrors.Inc()
				s.log.Warn("block search read failed", "block", b.meta.ID, "err", err)
			}
			continue
		}
		u[i].id, u[i].spans, u[i].read = id, spans, true
	}
}

// scanNewest hands block b's candidates to emit newest first, while their
// start may reach req.StartFloor (ScanTraces with that hint). handled is
// false for a block without a usable search index, left to the caller;
// stop reports that emit asked to stop.
func (s *Store) scanNewest(ctx context.Context, b *blockRef, q *store.TraceQuery, req *store.ScanRequest, lo, hi uint64,
	seen map[model.TraceID]struct{}, emit func(model.TraceID, []*model.Span, *blockRef) (bool, error)) (handled, stop bool, err error) {
	x, err := b.r.SearchIndex(ctx, searchCache)
	if err != nil || x == nil {
		return false, false, ctx.Err() // a damage is reported by the caller's path
	}
	it := x.Candidates(&block.SearchRequest{Service: q.Service, Name: q.Operation, Tags: req.Tags,
		StartMin: lo, StartMax: hi, MinDuration: q.DurationMin})
	for c, ok := it.Next(); ok; c, ok = it.Next() {
		if c.Start < req.StartFloor() {
			break // this trace and every later one start before the floor
		}
		id, spans, err := b.r.TraceAt(ctx, c.Ordinal)
		if err != nil {
			if ctx.Err() != nil {
				return true, false, ctx.Err()
			}
			s.m.blockErrors.Inc()
			s.log.Warn("block read failed", "block", b.meta.ID, "err", err)
			continue
		}
		if _, ok := seen[id]; ok {
			continue
		}
		ok, err := emit(id, spans, b)
		if err != nil {
			return true, false, err
		}
		if !ok {
			return true, true, nil
		}
	}
	return true, false, nil
}
