// Package local is Clew's durable embedded storage engine: a write-ahead log,
// an in-memory head, immutable Parquet blocks (package block) in a local
// directory, background compaction and retention. docs/storage.md describes
// how it works and what it guarantees.
//
// Lock order: compactMu, then flushMu, then appendMu, then mu. appendMu is
// held shared by writers across their WAL append and head insert, and
// exclusively by a head cut, so that the WAL segments before a cut hold
// exactly the spans of the heads cut. A block's reference count (blockRef)
// is taken under mu and released without locks.
package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/store"
	"github.com/clew-dev/clew/internal/store/block"
	"github.com/clew-dev/clew/internal/store/spancodec"
	"github.com/clew-dev/clew/internal/store/wal"
)

// Options configure the engine. Zero values take the defaults.
type Options struct {
	// Dir holds wal/, blocks/ and tmp/.
	Dir string
	// SyncInterval is the WAL's group-commit window (0: fsync as soon as
	// a record waits). Appends always wait for their fsync.
	SyncInterval time.Duration
	// NoSync skips fsync (tests only).
	NoSync bool
	// WALSegmentSize is the WAL segment size (default 64 MiB).
	WALSegmentSize int64
	// FlushBytes cuts the head into a block once its estimated size
	// reaches it (default 64 MiB).
	FlushBytes int64
	// FlushSpans cuts the head once it holds this many spans (default
	// 250,000).
	FlushSpans int
	// FlushInterval cuts a non-empty head at least this often (default
	// 1 minute).
	FlushInterval time.Duration
	// MaxHeadBytes bounds the heads in memory (the active one and those
	// being flushed); writes beyond it get store.ErrFull (default
	// 4×FlushBytes).
	MaxHeadBytes int64
	// Retention deletes blocks whose newest span started longer ago
	// (default 72h; negative keeps forever).
	Retention time.Duration
	// DiskBudget, when positive, deletes the oldest blocks while blocks and
	// WAL together exceed it.
	DiskBudget int64
	// CompactionInterval is how often compaction and retention run
	// (default 1 minute; negative disables compaction).
	CompactionInterval time.Duration
	// CompactionMaxSpans bounds a compacted block (default 2,000,000).
	CompactionMaxSpans int64
	// CompactionMinBlocks is the number of blocks of one level and time
	// window that triggers their compaction (default 4).
	CompactionMinBlocks int
	// CompactionWindow groups blocks by the time of their spans for
	// compaction (default 1h).
	CompactionWindow time.Duration
	// Block tunes the block files.
	Block block.WriterOptions
	// Now returns the time (default time.Now); tests control it.
	Now        func() time.Time
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

func (o *Options) defaults() {
	if o.FlushBytes <= 0 {
		o.FlushBytes = 64 << 20
	}
	if o.FlushSpans <= 0 {
		o.FlushSpans = 250_000
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = time.Minute
	}
	if o.MaxHeadBytes <= 0 {
		o.MaxHeadBytes = 4 * o.FlushBytes
	}
	if o.Retention == 0 {
		o.Retention = 72 * time.Hour
	}
	if o.CompactionInterval == 0 {
		o.CompactionInterval = time.Minute
	}
	if o.CompactionMaxSpans <= 0 {
		o.CompactionMaxSpans = 2_000_000
	}
	if o.CompactionMinBlocks <= 1 {
		o.CompactionMinBlocks = 4
	}
	if o.CompactionWindow <= 0 {
		o.CompactionWindow = time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Store is the engine. Create it with Open.
type Store struct {
	opts   Options
	log    *slog.Logger
	be     *block.Dir
	tmpDir string
	wal    *wal.WAL

	appendMu sync.RWMutex
	mu       sync.RWMutex
	active   *head
	flushing []*head
	blocks   []*blockRef // sorted by MinStart
	closed   bool

	// flushMu serialises flushes; compactMu serialises compaction and
	// retention. They are separate so that a long compaction (or one
	// waiting for a scan to release a replaced block) never holds up a
	// flush.
	flushMu   sync.Mutex
	compactMu sync.Mutex
	kick      chan struct{}
	stop      chan struct{}
	done      sync.WaitGroup

	m metrics
}

// blockRef is an open block with a reference count, so that a block
// replaced by compaction or deleted by retention is closed only once no
// query uses it.
type blockRef struct {
	r    *block.Reader
	meta block.Meta
	refs sync.WaitGroup
}

var (
	_ store.Store   = (*Store)(nil)
	_ store.Scanner = (*Store)(nil)
)

// ErrClosed is returned by calls made after Close.
var ErrClosed = errors.New("local store: closed")

// Open opens or creates the store in o.Dir: it opens every complete block,
// replays the WAL segments not yet in blocks, and starts the background
// flush, compaction and retention.
func Open(o Options) (*Store, error) {
	o.defaults()
	if o.Dir == "" {
		return nil, errors.New("local store: no directory")
	}
	start := time.Now()
	s := &Store{
		opts:   o,
		log:    o.Logger,
		tmpDir: filepath.Join(o.Dir, "tmp"),
		active: newHead(),
		kick:   make(chan struct{}, 1),
		stop:   make(chan struct{}),
	}
	s.m = newMetrics(s, o.Registerer)
	_ = os.RemoveAll(s.tmpDir)
	be, err := block.NewDir(filepath.Join(o.Dir, "blocks"))
	if err != nil {
		return nil, err
	}
	s.be = be
	walFrom, err := s.openBlocks()
	if err != nil {
		return nil, err
	}
	walDir := filepath.Join(o.Dir, "wal")
	if segs, err := wal.Segments(walDir); err == nil {
		for _, n := range segs {
			if n < walFrom {
				os.Remove(wal.SegmentPath(walDir, n))
			}
		}
	}
	now := o.Now().UnixNano()
	var replayErrs int
	w, rep, err := wal.Open(walDir, wal.Options{
		SegmentSize:  o.WALSegmentSize,
		SyncInterval: o.SyncInterval,
		NoSync:       o.NoSync,
		Logger:       o.Logger,
	}, func(seg int, payload []byte) error {
		spans, err := spancodec.DecodeBatch(payload)
		if err != nil {
			// The checksum matched but the batch does not decode: a bug
			// or a format change. Keep going; report it.
			replayErrs++
			return nil
		}
		// Re-encode into a buffer of its own: the WAL reader reuses
		// payload's.
		rec, bounds := spancodec.AppendBatchBounds(nil, spans, make([]int, 0, 2*len(spans)))
		s.active.addBatch(spans, rec, bounds, now)
		return nil
	})
	if err != nil {
		s.closeBlocks()
		return nil, err
	}
	s.wal = w
	s.m.walCorruptions.Add(float64(len(rep.Corruptions) + replayErrs))
	s.log.Info("local store opened", "dir", o.Dir, "blocks", len(s.blocks), "wal_segments", rep.Segments,
		"wal_records", rep.Records, "replayed_spans", s.active.spans, "wal_damage", len(rep.Corruptions),
		"undecodable_records", replayErrs, "took", time.Since(start))
	s.done.Add(2)
	go s.maintain()
	go s.compactor()
	return s, nil
}

// openBlocks opens every listed block, skipping (and reporting) broken
// ones, and returns the first WAL segment not covered by them.
func (s *Store) openBlocks() (int, error) {
	ctx := context.Background()
	ids, err := s.be.List(ctx, block.MetaName)
	if err != nil {
		return 0, err
	}
	replaced := map[string]bool{}
	var refs []*blockRef
	walFrom := 0
	for _, id := range ids {
		r, err := block.Open(ctx, s.be, id)
		if err != nil {
			s.m.blockErrors.Inc()
			s.log.Error("skipping unreadable block", "block", id, "err", err)
			continue
		}
		m := r.Meta()
		for _, src := range m.Sources {
			replaced[src] = true
		}
		walFrom = max(walFrom, m.WALSegment)
		refs = append(refs, &blockRef{r: r, meta: m})
	}
	// A compacted block is written before its sources are deleted; after a
	// crash in between, drop the sources now.
	for _, ref := range refs {
		if replaced[ref.meta.ID] {
			ref.r.Close()
			if err := s.deleteBlock(ctx, ref.meta.ID); err != nil {
				s.log.Error("delete replaced block", "block", ref.meta.ID, "err", err)
			}
			continue
		}
		s.blocks = append(s.blocks, ref)
	}
	s.sortBlocks()
	return walFrom, nil
}

func (s *Store) sortBlocks() {
	slices.SortFunc(s.blocks, func(a, b *blockRef) int {
		if a.meta.MinStart != b.meta.MinStart {
			if a.meta.MinStart < b.meta.MinStart {
				return -1
			}
			return 1
		}
		if a.meta.ID < b.meta.ID {
			return -1
		}
		return 1
	})
}

func (s *Store) deleteBlock(ctx context.Context, id string) error {
	// The meta goes first: from then on the block is invisible.
	if err := s.be.Delete(ctx, id, block.MetaName); err != nil {
		return err
	}
	return s.be.DeleteBlock(ctx, id)
}

func (s *Store) closeBlocks() {
	for _, b := range s.blocks {
		searchCache.Forget(b.r)
		b.r.Close()
	}
	s.blocks = nil
}

// WriteSpans implements store.Writer: it returns once the batch is in the
// fsynced WAL and visible in the head.
func (s *Store) WriteSpans(ctx context.Context, spans []*model.Span) error {
	if len(spans) == 0 {
		return nil
	}
	s.mu.RLock()
	closed := s.closed || s.wal == nil
	s.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	// The WAL record is also what the head keeps: encode once, into a
	// buffer of its own (the head holds on to it until the flush).
	scratch := getScratch()
	defer putScratch(scratch)
	var enc []byte
	enc, scratch.bounds = spancodec.AppendBatchBounds(scratch.buf[:0], spans, scratch.bounds[:0])
	scratch.buf = enc
	if len(enc) > wal.MaxRecordSize {
		return fmt.Errorf("local store: batch of %d encoded bytes is over the %d limit: %w", len(enc), wal.MaxRecordSize, store.ErrFull)
	}
	size := int64(len(enc)) + int64(len(spans))*headSpanOverhead
	s.mu.RLock()
	inMem := s.headBytesLocked()
	s.mu.RUnlock()
	if inMem+size > s.opts.MaxHeadBytes {
		s.kickMaintenance()
		s.m.refusedFull.Inc()
		return fmt.Errorf("local store: head holds %d bytes, limit %d: %w", inMem, s.opts.MaxHeadBytes, store.ErrFull)
	}
	rec := bytes.Clone(enc) // not make and copy: that clears the bytes first
	s.appendMu.RLock()
	err := s.wal.Append(ctx, rec)
	if err != nil {
		s.appendMu.RUnlock()
		return fmt.Errorf("local store: %w", err)
	}
	now := s.opts.Now().UnixNano()
	s.mu.Lock()
	s.active.addBatch(spans, rec, scratch.bounds, now)
	full := s.active.bytes >= s.opts.FlushBytes || s.active.spans >= s.opts.FlushSpans
	s.mu.Unlock()
	s.appendMu.RUnlock()
	s.m.spansWritten.Add(float64(len(spans)))
	if full {
		s.kickMaintenance()
	}
	return nil
}

func (s *Store) headBytesLocked() int64 {
	n := s.active.bytes
	for _, h := range s.flushing {
		n += h.bytes
	}
	return n
}

// scratch is the reusable encoding buffer of one write.
type scratch struct {
	buf    []byte
	bounds []int
}

var scratchPool = sync.Pool{New: func() any { return &scratch{buf: make([]byte, 0, 256<<10)} }}

func getScratch() *scratch { return scratchPool.Get().(*scratch) }
func putScratch(b *scratch) {
	if cap(b.buf) <= 4<<20 {
		scratchPool.Put(b)
	}
}

func (s *Store) kickMaintenance() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// maintain runs flushes, compaction and retention until Close.
func (s *Store) maintain() {
	defer s.done.Done()
	tick := time.NewTicker(min(s.opts.FlushInterval/4+time.Millisecond, time.Second))
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-s.kick:
		case <-tick.C:
		}
		s.flushIfDue(false)
	}
}

// compactor applies retention and compacts every compaction interval (every
// minute, for retention alone, when compaction is off), in a goroutine of
// its own so that a long compaction never delays a flush.
func (s *Store) compactor() {
	defer s.done.Done()
	every := s.opts.CompactionInterval
	if every <= 0 {
		every = time.Minute
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
		}
		s.runCompactionAndRetention()
	}
}

// flushIfDue cuts and flushes the head when it is full or old enough, or
// when force is set and it holds anything.
func (s *Store) flushIfDue(force bool) {
	s.mu.RLock()
	h := s.active
	due := h.spans > 0 && (force || h.bytes >= s.opts.FlushBytes || h.spans >= s.opts.FlushSpans ||
		s.opts.Now().UnixNano()-h.created >= int64(s.opts.FlushInterval))
	s.mu.RUnlock()
	if !due {
		return
	}
	if err := s.Flush(context.Background()); err != nil {
		s.log.Error("flush failed; will retry", "err", err)
	}
}

// Flush cuts the head and writes it, and any head whose earlier flush
// failed, to blocks. It returns when they are visible as blocks and their
// WAL segments are deleted.
func (s *Store) Flush(ctx context.Context) error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	s.appendMu.Lock()
	s.mu.Lock()
	if s.closed && s.wal == nil {
		s.mu.Unlock()
		s.appendMu.Unlock()
		return ErrClosed
	}
	if s.active.spans > 0 {
		s.flushing = append(s.flushing, s.active)
		s.active = newHead()
	}
	pending := slices.Clone(s.flushing)
	s.mu.Unlock()
	seg, err := s.wal.Rotate()
	s.appendMu.Unlock()
	if err != nil {
		return err
	}
	for _, h := range pending {
		if err := s.flushHead(ctx, h, seg); err != nil {
			s.m.flushErrors.Inc()
			return err
		}
	}
	return s.wal.RemoveBefore(seg)
}

func (s *Store) flushHead(ctx context.Context, h *head, walSeg int) error {
	start := time.Now()
	// Sort the trace ids, then each trace's few spans: cheaper than
	// sorting every span by (trace, start, id).
	ids := make([]model.TraceID, 0, len(h.traces))
	for id := range h.traces {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b model.TraceID) int { return bytes.Compare(a[:], b[:]) })
	// Decode one trace at a time into the same memory: the writer keeps
	// no span, so the head's model spans never all exist at once, and the
	// flush allocates almost nothing per span.
	w, err := block.NewWriter(s.be, s.tmpDir, block.Meta{WALSegment: walSeg}, s.opts.Block)
	if err != nil {
		return fmt.Errorf("flush head: %w", err)
	}
	var dec spancodec.SpanDecoder
	var buf []model.Span
	var spans []*model.Span
	for i, id := range ids {
		if i%1024 == 0 && ctx.Err() != nil {
			w.Abort()
			return ctx.Err()
		}
		t := h.traces[id]
		dec.Reset()
		buf = slices.Grow(buf[:0], len(t.spans))[:len(t.spans)]
		spans = spans[:0]
		for j := range t.spans {
			hs := &t.spans[j]
			sp := &buf[j]
			// Decode sets every other field: no need to clear the span.
			sp.Resource, sp.Scope = hs.res, hs.scope
			if err := dec.Decode(hs.enc, sp); err != nil {
				s.m.blockErrors.Inc()
				s.log.Warn("head span undecodable", "span", hs.id, "err", err)
				continue
			}
			spans = append(spans, sp)
		}
		slices.SortFunc(spans, block.CompareSpans)
		for _, sp := range spans {
			if err := w.Add(sp); err != nil {
				w.Abort()
				return fmt.Errorf("flush head: %w", err)
			}
		}
	}
	meta, err := w.Finish(ctx, s.opts.Now())
	if err != nil {
		return fmt.Errorf("flush head: %w", err)
	}
	s.noteDropped(w, "flush", meta.ID)
	r, err := block.Open(ctx, s.be, meta.ID)
	if err != nil {
		return fmt.Errorf("open flushed block: %w", err)
	}
	r.Prepare()
	s.mu.Lock()
	s.blocks = append(s.blocks, &blockRef{r: r, meta: r.Meta()})
	s.sortBlocks()
	s.flushing = slices.DeleteFunc(s.flushing, func(x *head) bool { return x == h })
	s.mu.Unlock()
	s.m.flushes.Inc()
	s.m.flushSeconds.Observe(time.Since(start).Seconds())
	s.log.Debug("head flushed", "block", meta.ID, "spans", meta.Spans, "bytes", meta.Size(), "took", time.Since(start))
	return nil
}

// noteDropped counts and logs the spans w dropped because their trace
// already had block.MaxTraceSpans spans in the block.
func (s *Store) noteDropped(w *block.Writer, by, id string) {
	if n := w.Dropped(); n > 0 {
		s.m.traceDropped.Add(float64(n))
		s.log.Warn("spans dropped: their trace already has the most spans a block holds", "by", by, "block", id, "spans", n, "max_trace_spans", block.MaxTraceSpans)
	}
}

// Close flushes the head to a block, stops the background work and closes
// the WAL and the blocks.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	close(s.stop)
	s.done.Wait()
	ferr := s.Flush(context.Background())
	werr := s.wal.Close()
	s.compactMu.Lock()
	defer s.compactMu.Unlock()
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range s.blocks {
		b.refs.Wait()
	}
	s.closeBlocks()
	s.wal = nil
	return errors.Join(ferr, werr)
}

// acquire returns the blocks that may hold spans starting in [lo, hi],
// referenced; the caller must release them.
func (s *Store) acquire(lo, hi uint64) (heads []*head, blocks []*blockRef, err error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed && s.wal == nil {
		return nil, nil, ErrClosed
	}
	heads = append(heads, s.active)
	heads = append(heads, s.flushing...)
	for _, b := range s.blocks {
		if b.meta.MinStart <= hi && b.meta.MaxStart >= lo {
			b.refs.Add(1)
			blocks = append(blocks, b)
		}
	}
	return heads, blocks, nil
}

func release(blocks []*blockRef) {
	for _, b := range blocks {
		b.refs.Done()
	}
}
