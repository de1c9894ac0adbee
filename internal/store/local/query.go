package local

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/store"
	"github.com/clew-dev/clew/internal/store/block"
)

// GetTrace implements store.Reader: the head and every block whose bloom
// filter admits the trace are searched, and duplicates dropped.
func (s *Store) GetTrace(ctx context.Context, id model.TraceID) (*model.Trace, error) {
	spans, err := s.traceSpans(ctx, id)
	if err != nil {
		return nil, err
	}
	if len(spans) == 0 {
		return nil, store.ErrTraceNotFound
	}
	return &model.Trace{TraceID: id, Spans: spans}, nil
}

func (s *Store) traceSpans(ctx context.Context, id model.TraceID) ([]*model.Span, error) {
	heads, blocks, err := s.acquire(0, ^uint64(0))
	if err != nil {
		return nil, err
	}
	defer release(blocks)
	var spans []*model.Span
	s.mu.RLock()
	for _, h := range heads {
		if t := h.traces[id]; t != nil {
			spans = append(spans, s.spansOf(t)...)
		}
	}
	s.mu.RUnlock()
	for _, b := range blocks {
		got, err := b.r.FindTrace(ctx, id)
		if err != nil {
			s.m.blockErrors.Inc()
			s.log.Warn("block read failed", "block", b.meta.ID, "err", err)
			continue
		}
		spans = append(spans, got...)
	}
	return dedupSpans(spans), nil
}

// dedupSpans sorts spans and drops repeated span ids.
func dedupSpans(spans []*model.Span) []*model.Span {
	if len(spans) == 0 {
		return spans
	}
	model.SortSpans(spans)
	seen := make(map[model.SpanID]struct{}, len(spans))
	out := spans[:0]
	for _, sp := range spans {
		if _, ok := seen[sp.SpanID]; ok {
			continue
		}
		seen[sp.SpanID] = struct{}{}
		out = append(out, sp)
	}
	return out
}

// GetServices implements store.Reader from the heads' and the blocks'
// metadata; no block data is read.
func (s *Store) GetServices(ctx context.Context) ([]string, error) {
	set, err := s.operations()
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(set))
	for svc := range set {
		out = append(out, svc)
	}
	slices.Sort(out)
	return out, nil
}

func (s *Store) operations() (map[string]map[store.Operation]struct{}, error) {
	heads, blocks, err := s.acquire(0, ^uint64(0))
	if err != nil {
		return nil, err
	}
	defer release(blocks)
	set := map[string]map[store.Operation]struct{}{}
	add := func(svc string, op store.Operation) {
		m := set[svc]
		if m == nil {
			m = map[store.Operation]struct{}{}
			set[svc] = m
		}
		m[op] = struct{}{}
	}
	s.mu.RLock()
	for _, h := range heads {
		for svc, ops := range h.ops {
			for k := range ops {
				add(svc, store.Operation{Name: k.name, SpanKind: k.kind.String()})
			}
		}
	}
	s.mu.RUnlock()
	for _, b := range blocks {
		for svc, ops := range b.meta.Services {
			for _, op := range ops {
				add(svc, store.Operation{Name: op.Name, SpanKind: op.Kind})
			}
		}
	}
	return set, nil
}

// GetOperations implements store.Reader.
func (s *Store) GetOperations(ctx context.Context, q store.OperationQuery) ([]store.Operation, error) {
	set, err := s.operations()
	if err != nil {
		return nil, err
	}
	out := []store.Operation{}
	for op := range set[q.Service] {
		if q.SpanKind == "" || op.SpanKind == q.SpanKind {
			out = append(out, op)
		}
	}
	slices.SortFunc(out, func(a, b store.Operation) int {
		if c := cmp.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return cmp.Compare(a.SpanKind, b.SpanKind)
	})
	return out, nil
}

type hit struct {
	id    model.TraceID
	start uint64
}

func timeBounds(min, max time.Time) (uint64, uint64) {
	lo, hi := uint64(0), ^uint64(0)
	if !min.IsZero() {
		lo = uint64(min.UnixNano())
	}
	if !max.IsZero() {
		hi = uint64(max.UnixNano())
	}
	return lo, hi
}

// blockMayMatch prunes a block by its meta.
func blockMayMatch(m *block.Meta, service, operation string) bool {
	if service != "" {
		ops, ok := m.Services[service]
		if !ok {
			return false
		}
		if operation != "" {
			return slices.ContainsFunc(ops, func(o block.Operation) bool { return o.Name == operation })
		}
		return true
	}
	if operation != "" {
		for _, ops := range m.Services {
			if slices.ContainsFunc(ops, func(o block.Operation) bool { return o.Name == operation }) {
				return true
			}
		}
		return false
	}
	return true
}

// summaryMatch checks the conditions of q that a summary can decide.
func summaryMatch(sm *block.Summary, q *store.TraceQuery, lo, hi uint64) bool {
	st := uint64(sm.StartUnixNano)
	if st < lo || st > hi {
		return false
	}
	if q.Service != "" && sm.ServiceName != q.Service {
		return false
	}
	if q.Operation != "" && sm.Name != q.Operation {
		return false
	}
	d := time.Duration(max(sm.DurationNano, 0))
	if q.DurationMin > 0 && d < q.DurationMin {
		return false
	}
	if q.DurationMax > 0 && d > q.DurationMax {
		return false
	}
	return true
}

// FindTraces implements store.Reader from the heads and the blocks'
// search indexes (findTraces).
func (s *Store) FindTraces(ctx context.Context, q store.TraceQuery) ([]*model.Trace, error) {
	lo, hi := timeBounds(q.StartMin, q.StartMax)
	heads, blocks, err := s.acquire(lo, hi)
	if err != nil {
		return nil, err
	}
	defer release(blocks)
	return s.findTraces(ctx, &q, heads, blocks, lo, hi)
}

func sortHits(hits []hit) {
	slices.SortFunc(hits, func(a, b hit) int {
		if c := cmp.Compare(b.start, a.start); c != 0 {
			return c
		}
		return cmp.Compare(string(a.id[:]), string(b.id[:]))
	})
}

func (s *Store) searchBlock(ctx context.Context, b *blockRef, q *store.TraceQuery, lo, hi uint64, note func(model.TraceID, uint64)) error {
	// Rows of a trace are adjacent: track the fragment's start.
	var cur model.TraceID
	var curStart uint64
	var matched, started bool
	flush := func() {
		if started && matched {
			note(cur, curStart)
		}
	}
	begin := func(id model.TraceID, st uint64) {
		if !started || id != cur {
			flush()
			cur, curStart, matched, started = id, st, false, true
		}
	}
	if len(q.Tags) == 0 {
		err := b.r.ScanSummaries(ctx, func(sm *block.Summary) bool {
			begin(sm.TraceID, uint64(sm.StartUnixNano))
			if !matched && summaryMatch(sm, q, lo, hi) {
				matched = true
			}
			return true
		})
		flush()
		return err
	}
	var sb block.SpanBuilder
	err := b.r.ScanRows(ctx, func(r *block.Row) bool {
		begin(r.TraceID, uint64(r.StartUnixNano))
		if matched {
			return true
		}
		sm := block.Summary{StartUnixNano: r.StartUnixNano, DurationNano: r.DurationNano, ServiceName: r.ServiceName, Name: r.Name}
		if summaryMatch(&sm, q, lo, hi) && store.MatchSpan(sb.Span(r), q) {
			matched = true
		}
		return true
	})
	flush()
	return err
}

// ScanTraces implements store.Scanner. The heads come first, then the
// blocks from the newest. In each block the summary columns pick the
// candidate traces; their rows are then read from that block alone (all
// rows in one pass when candidates are many), and fragments of the same
// trace in the heads or other blocks (found through the bloom filters) are
// added so that every trace is whole. A trace is passed to fn once.
func (s *Store) ScanTraces(ctx context.Context, req store.ScanRequest, fn func(*model.Trace) bool) error {
	lo, hi := timeBounds(req.StartMin, req.StartMax)
	heads, blocks, err := s.acquire(lo, hi)
	if err != nil {
		return err
	}
	defer release(blocks)
	_, all, err := s.acquire(0, ^uint64(0))
	if err != nil {
		return err
	}
	defer release(all)
	q := store.TraceQuery{Service: req.Service, Operation: req.SpanName, DurationMin: req.MinDuration}
	seen := map[model.TraceID]struct{}{}

	// emit completes a trace with its fragments outside skip and hands it
	// out; it reports false to stop.
	emit := func(id model.TraceID, spans []*model.Span, skip *blockRef) (bool, error) {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		seen[id] = struct{}{}
		spans, err := s.completeTrace(ctx, id, spans, all, skip)
		if err != nil {
			return false, err
		}
		t := &model.Trace{TraceID: id, Spans: spans}
		if len(spans) == 0 || !traceInRange(t, lo, hi) {
			return true, nil
		}
		return fn(t), nil
	}

	type cand struct {
		id    model.TraceID
		spans []*model.Span
	}
	var fromHeads []cand
	s.mu.RLock()
	for _, h := range heads {
		if !h.overlaps(lo, hi) {
			continue
		}
		for id, t := range h.traces {
			if !t.hasService(q.Service) {
				continue
			}
			if q.Operation == "" && q.DurationMin == 0 {
				// Nothing more to check without decoding the trace,
				// which emit does anyway.
				fromHeads = append(fromHeads, cand{id, nil})
				continue
			}
			for _, sp := range s.spansOf(t) {
				if scanHint(sp, &q) {
					fromHeads = append(fromHeads, cand{id, nil})
					break
				}
			}
		}
	}
	s.mu.RUnlock()
	for _, c := range fromHeads {
		if _, ok := seen[c.id]; ok {
			continue
		}
		if ok, err := emit(c.id, nil, nil); !ok || err != nil {
			return err
		}
	}

	slices.SortFunc(blocks, func(a, b *blockRef) int { return cmp.Compare(b.meta.MaxStart, a.meta.MaxStart) })
	for _, b := range blocks {
		if !blockMayMatch(&b.meta, q.Service, q.Operation) {
			continue
		}
		if req.StartFloor != nil {
			if req.StartFloor() > b.meta.MaxStart {
				continue // every trace of the block starts before the floor
			}
			handled, stop, err := s.scanNewest(ctx, b, &q, &req, lo, hi, seen, emit)
			if err != nil || stop {
				return err
			}
			if handled {
				continue
			}
		}
		cands, err := s.blockCandidates(ctx, b, &q, req.Tags, lo, hi, seen)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			s.m.blockErrors.Inc()
			s.log.Warn("block scan failed", "block", b.meta.ID, "err", err)
			continue
		}
		if len(cands) == 0 {
			continue
		}
		stop := false
		visit := func(id model.TraceID, spans []*model.Span) bool {
			if _, ok := seen[id]; ok {
				return true
			}
			ok, e := emit(id, spans, b)
			if e != nil {
				err = e
			}
			stop = !ok
			return ok
		}
		if int64(len(cands))*8 >= b.meta.Traces {
			err = readTraces(ctx, b, cands, visit)
		} else {
			for id := range cands {
				spans, e := b.r.FindTrace(ctx, id)
				if e != nil {
					err = e
					break
				}
				if !visit(id, spans) {
					break
				}
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			s.m.blockErrors.Inc()
			s.log.Warn("block read failed", "block", b.meta.ID, "err", err)
		}
		if stop {
			return nil
		}
	}
	return nil
}

// blockCandidates returns the traces of a block, not yet seen, with a span
// satisfying q's service, operation and duration (and, through the block's
// search index, tags) and a span starting in [lo, hi]. A block without a
// usable search index is read by its summary columns.
func (s *Store) blockCandidates(ctx context.Context, b *blockRef, q *store.TraceQuery, tags map[string]string, lo, hi uint64, seen map[model.TraceID]struct{}) (map[model.TraceID]struct{}, error) {
	x, err := b.r.SearchIndex(ctx, searchCache)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		s.m.blockErrors.Inc()
		s.log.Warn("block search index unusable, scanning the block", "block", b.meta.ID, "err", err)
	}
	if x != nil {
		return indexCandidates(ctx, b, x, &block.SearchRequest{Service: q.Service, Name: q.Operation, Tags: tags,
			StartMin: lo, StartMax: hi, MinDuration: q.DurationMin}, seen)
	}
	out := map[model.TraceID]struct{}{}
	var cur model.TraceID
	var started, hinted, inRange bool
	flush := func() {
		if started && hinted && inRange {
			if _, ok := seen[cur]; !ok {
				out[cur] = struct{}{}
			}
		}
	}
	all := store.TraceQuery{Service: q.Service, Operation: q.Operation, DurationMin: q.DurationMin}
	err = b.r.ScanSummaries(ctx, func(sm *block.Summary) bool {
		if !started || sm.TraceID != cur {
			flush()
			cur, started, hinted, inRange = sm.TraceID, true, false, false
		}
		st := uint64(sm.StartUnixNano)
		if st >= lo && st <= hi {
			inRange = true
		}
		if !hinted && summaryMatch(sm, &all, 0, ^uint64(0)) {
			hinted = true
		}
		return true
	})
	flush()
	return out, err
}

// readTraces reads a block's rows in one pass and calls visit with the
// spans of each candidate trace, until visit returns false.
func readTraces(ctx context.Context, b *blockRef, cands map[model.TraceID]struct{}, visit func(model.TraceID, []*model.Span) bool) error {
	var sb block.SpanBuilder
	var cur model.TraceID
	var spans []*model.Span
	started, want, stopped := false, false, false
	err := b.r.ScanRows(ctx, func(r *block.Row) bool {
		if !started || r.TraceID != cur {
			if want && !visit(cur, spans) {
				stopped = true
				return false
			}
			started, cur, spans = true, r.TraceID, nil
			_, want = cands[cur]
		}
		if want {
			spans = append(spans, sb.Span(r))
		}
		return true
	})
	if err == nil && !stopped && want {
		visit(cur, spans)
	}
	return err
}

// completeTrace adds to spans (read from block skip, or nil) the trace's
// spans in the heads and in the other blocks whose bloom filter admits it,
// and returns them sorted without duplicates.
func (s *Store) completeTrace(ctx context.Context, id model.TraceID, spans []*model.Span, blocks []*blockRef, skip *blockRef) ([]*model.Span, error) {
	s.mu.RLock()
	if t := s.active.traces[id]; t != nil {
		spans = append(spans, s.spansOf(t)...)
	}
	for _, h := range s.flushing {
		if t := h.traces[id]; t != nil {
			spans = append(spans, s.spansOf(t)...)
		}
	}
	s.mu.RUnlock()
	for _, b := range blocks {
		if b == skip || !b.r.MayContain(id) {
			continue
		}
		got, err := b.r.FindTrace(ctx, id)
		if err != nil {
			s.m.blockErrors.Inc()
			s.log.Warn("block read failed", "block", b.meta.ID, "err", err)
			continue
		}
		spans = append(spans, got...)
	}
	return dedupSpans(spans), nil
}

func scanHint(sp *model.Span, q *store.TraceQuery) bool {
	return (q.Service == "" || sp.ServiceName() == q.Service) &&
		(q.Operation == "" || sp.Name == q.Operation) &&
		(q.DurationMin == 0 || sp.Duration() >= q.DurationMin)
}

func traceInRange(t *model.Trace, lo, hi uint64) bool {
	for _, sp := range t.Spans {
		if sp.StartTimeUnixNano >= lo && sp.StartTimeUnixNano <= hi {
			return true
		}
	}
	return false
}

// GetDependencies implements store.Reader. Traces are loaded whole in
// batches of depBatch to bound memory.
func (s *Store) GetDependencies(ctx context.Context, end time.Time, lookback time.Duration) ([]store.DependencyLink, error) {
	counts := map[[2]string]uint64{}
	var batch []*model.Trace
	const depBatch = 1000
	add := func() {
		for _, l := range store.Dependencies(batch) {
			counts[[2]string{l.Parent, l.Child}] += l.CallCount
		}
		batch = batch[:0]
	}
	err := s.ScanTraces(ctx, store.ScanRequest{StartMin: end.Add(-lookback), StartMax: end}, func(t *model.Trace) bool {
		batch = append(batch, t)
		if len(batch) >= depBatch {
			add()
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	add()
	out := make([]store.DependencyLink, 0, len(counts))
	for k, n := range counts {
		out = append(out, store.DependencyLink{Parent: k[0], Child: k[1], CallCount: n})
	}
	store.SortDependencies(out)
	return out, nil
}
