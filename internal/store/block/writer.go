package block

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/clew-dev/clew/internal/model"
)

// WriterOptions tune the data file. Zero values take the defaults.
type WriterOptions struct {
	// RowGroupRows is the row count after which a row group ends at the
	// next trace boundary (default 65,536).
	RowGroupRows int
	// PageBufferSize bounds a column page before compression (default
	// 32 KiB: small pages keep a lookup by trace id cheap).
	PageBufferSize int
}

// Writer writes one block from spans added in order (trace id, then start
// time, then span id). Memory is bounded by one row group's column buffers.
type Writer struct {
	be    Backend
	opts  WriterOptions
	meta  Meta
	tmp   *os.File
	crc   hash.Hash32
	pw    rowSink
	buf   []Row
	enc   rowEncoder
	index []IndexEntry
	ids   []model.TraceID
	// ops are the span names of each service, with a bit per kind
	// (opKindBit); lastSvc and lastOps are the last service's. opSeen
	// holds operations looked up before, by opHash of their name:
	// comparing a span's name with one costs less than a map lookup, and
	// most spans repeat an operation seen a few spans before.
	ops     map[string]*svcOps
	lastSvc string
	lastOps *svcOps
	opSeen  [256]*opKinds
	rows    uint32
	inGroup int
	// lastTrace, lastStart and lastSpan are the order fields of the span
	// added last: Add keeps no pointer to a span, so callers may reuse
	// them once Add returns.
	lastTrace model.TraceID
	lastStart uint64
	lastSpan  model.SpanID
	hasLast   bool
	search    *searchBuilder
	// trace is the span ids of the current trace, for parent offsets.
	trace traceSpans
	// slotsChosen is set once the attribute columns are chosen (slots.go).
	slotsChosen bool
	// dropped counts the spans past MaxTraceSpans of their trace.
	dropped int64
}

// MaxTraceSpans is the most spans of one trace a block holds: a writer
// drops the spans of a trace past it (Writer.Dropped counts them), and a
// reader takes an index entry of more rows for damage. It bounds what one
// lookup holds in memory (a trace of that size is hundreds of MB as
// spans) and keeps a runaway trace, such as a batch job that never ends
// its root span, from making its block unreadable.
const MaxTraceSpans = 1 << 20

// maxTraceRows is MaxTraceSpans, lowered by tests.
var maxTraceRows = uint32(MaxTraceSpans)

// Dropped returns the number of spans dropped because their trace already
// had MaxTraceSpans spans in the block.
func (w *Writer) Dropped() int64 { return w.dropped }

// NewWriter starts a block. tmpDir holds the data file until Finish.
func NewWriter(be Backend, tmpDir string, meta Meta, o WriterOptions) (*Writer, error) {
	return newWriter(be, tmpDir, meta, o, newPQRowSink)
}

// newWriter starts a block whose rows go to the sink newSink makes (Clew's
// Parquet writer; tests also use parquet-go's as the reference).
func newWriter(be Backend, tmpDir string, meta Meta, o WriterOptions, newSink func(io.Writer, WriterOptions) (rowSink, error)) (*Writer, error) {
	if o.RowGroupRows <= 0 {
		o.RowGroupRows = 65536
	}
	if o.PageBufferSize <= 0 {
		o.PageBufferSize = 32 << 10
	}
	if err := os.MkdirAll(tmpDir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(tmpDir, "block-*.parquet")
	if err != nil {
		return nil, fmt.Errorf("create block temp file: %w", err)
	}
	w := &Writer{be: be, opts: o, meta: meta, tmp: f, crc: crc32.New(castagnoli), ops: map[string]*svcOps{}, search: newSearchBuilder()}
	w.meta.Version = FormatVersion
	// The data file: zstd at its fastest level (its default level costs
	// more CPU for no measurable gain on span data, its better one about
	// 3%), data pages v2 of PageBufferSize, page min/max values in the
	// column index only for boundedColumns, no statistics in page headers
	// (pqwrite.go).
	if w.pw, err = newSink(io.MultiWriter(f, w.crc), o); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return w, nil
}

// boundedColumns keep page min/max values in the column index: computing
// them for every string and list column cost about 15% of a flush.
var boundedColumns = map[string]bool{
	"trace_id": true, "start_unix_nano": true, "duration_nano": true, "service_name": true,
	"name": true, "kind": true, "status_code": true, "http_status_code": true,
}

// svcOps are the operations of one service, by name; seed sets apart
// the service's names in opHash.
type svcOps struct {
	names map[string]*opKinds
	seed  uint32
}

// opKinds is one operation: a span name of a service, with a bit per
// kind (opKindBit).
type opKinds struct {
	svc   *svcOps
	name  string
	kinds uint8
}

// opHash returns the index in Writer.opSeen of the operation name of the
// service of seed: a mix of the seed, the name's length and four of its
// bytes.
func opHash(seed uint32, name string) uint8 {
	h := seed ^ uint32(len(name))
	if n := len(name); n > 0 {
		h ^= uint32(name[0]) | uint32(name[n/2])<<8 | uint32(name[n-1])<<16 | uint32(name[(n-1)/4*3])<<24
	}
	h *= 0x9e3779b1
	return uint8(h >> 24)
}

// spanKinds is the number of span kinds with a name (model.SpanKind's
// String); every other kind is named "" like kind 0.
const spanKinds = 6

// opKindBit returns the bit of kind k in Writer.ops: 1<<k, and bit 0 for
// the kinds String names "" (0 and unknown kinds).
func opKindBit(k model.SpanKind) uint8 {
	if k < 0 || k >= spanKinds {
		return 1
	}
	return 1 << k
}

// CompareSpans orders spans as blocks store them: trace id, start, span id.
func CompareSpans(a, b *model.Span) int {
	return compareOrder(&a.TraceID, &b.TraceID, a.StartTimeUnixNano, b.StartTimeUnixNano, &a.SpanID, &b.SpanID)
}

// compareOrder is CompareSpans on the order fields. Ids are compared as
// big-endian integers, as bytes.Compare would, and equal trace ids (the
// spans of a trace, sorted by a flush) without a call.
func compareOrder(ta, tb *model.TraceID, sa, sb uint64, ia, ib *model.SpanID) int {
	if *ta != *tb {
		return bytes.Compare(ta[:], tb[:])
	}
	if sa != sb {
		return cmp.Compare(sa, sb)
	}
	return cmp.Compare(binary.BigEndian.Uint64(ia[:]), binary.BigEndian.Uint64(ib[:]))
}

// Add appends a span. Spans must come in CompareSpans order; a span equal
// in trace, start and span id to the previous one is skipped as a
// duplicate.
func (w *Writer) Add(sp *model.Span) error {
	if w.hasLast {
		c := compareOrder(&w.lastTrace, &sp.TraceID, w.lastStart, sp.StartTimeUnixNano, &w.lastSpan, &sp.SpanID)
		if c > 0 {
			return fmt.Errorf("block writer: spans out of order")
		}
		if c == 0 {
			return nil
		}
	}
	newTrace := !w.hasLast || w.lastTrace != sp.TraceID
	if newTrace {
		if w.inGroup >= w.opts.RowGroupRows || w.groupFull() {
			if err := w.flushRows(); err != nil {
				return err
			}
			if err := w.pw.Flush(); err != nil {
				return fmt.Errorf("write row group: %w", err)
			}
			w.inGroup = 0
		}
		w.index = append(w.index, IndexEntry{TraceID: sp.TraceID, FirstRow: w.rows})
		w.ids = append(w.ids, sp.TraceID)
		w.trace.reset()
	}
	if w.index[len(w.index)-1].Rows >= maxTraceRows {
		w.dropped++
		return nil
	}
	w.index[len(w.index)-1].Rows++
	w.lastTrace, w.lastStart, w.lastSpan, w.hasLast = sp.TraceID, sp.StartTimeUnixNano, sp.SpanID, true
	// Rows are reused (with their slices) from one batch to the next.
	if n := len(w.buf); n < cap(w.buf) {
		w.buf = w.buf[:n+1]
	} else {
		w.buf = append(w.buf, Row{})
	}
	row := &w.buf[len(w.buf)-1]
	w.enc.fill(row, sp)
	if off := w.trace.parentOffset(sp.ParentSpanID); off != 0 {
		row.ParentOffset, row.ParentSpanID = off, [8]byte{}
	}
	w.trace.add(sp.SpanID)
	w.search.add(sp, newTrace)
	w.rows++
	w.inGroup++
	if w.meta.Spans == 0 || sp.StartTimeUnixNano < w.meta.MinStart {
		w.meta.MinStart = sp.StartTimeUnixNano
	}
	w.meta.MaxStart = max(w.meta.MaxStart, sp.StartTimeUnixNano)
	w.meta.Spans++
	// The row's service is sp.ServiceName(), from the encoder's cache;
	// spans of a service mostly follow each other, and its strings are
	// shared, which makes the comparison cheap.
	if svc := row.ServiceName; w.lastOps == nil || svc != w.lastSvc {
		m := w.ops[svc]
		if m == nil {
			m = &svcOps{names: map[string]*opKinds{}, seed: uint32(len(w.ops)) * 0x85ebca6b}
			w.ops[svc] = m
		}
		w.lastSvc, w.lastOps = svc, m
	}
	h := opHash(w.lastOps.seed, sp.Name)
	op := w.opSeen[h]
	if op == nil || op.svc != w.lastOps || op.name != sp.Name {
		if op = w.lastOps.names[sp.Name]; op == nil {
			op = &opKinds{svc: w.lastOps, name: strings.Clone(sp.Name)}
			w.lastOps.names[op.name] = op
		}
		w.opSeen[h] = op
	}
	op.kinds |= opKindBit(sp.Kind)
	if len(w.buf) >= slotSampleRows || (w.slotsChosen && len(w.buf) >= writeBatchRows) {
		return w.flushRows()
	}
	return nil
}

// Batches of rows. The block's first slotSampleRows rows wait until the
// attribute columns are chosen from them (slots.go); after that, rows go
// to the Parquet writer writeBatchRows at a time, while they and the
// strings of their spans (read by the decoder, the row fill and the
// search index just before) are still in the CPU's caches: at 1,024 rows
// the Parquet writer found most of them gone (the whole server, alternated
// with scripts/ingest-cpu.sh: about 4% less CPU per span).
const (
	slotSampleRows = 1024
	writeBatchRows = 64
)

// groupFull reports whether the sink asks for the row group to end
// (Clew's Parquet writer, when a dictionary grows large: pqwrite.go).
func (w *Writer) groupFull() bool {
	f, ok := w.pw.(interface{ GroupFull() bool })
	return ok && w.inGroup > 0 && f.GroupFull()
}

func (w *Writer) flushRows() error {
	if len(w.buf) == 0 {
		return nil
	}
	if !w.slotsChosen {
		w.chooseSlots()
	}
	if _, err := w.pw.Write(w.buf); err != nil {
		return fmt.Errorf("write rows: %w", err)
	}
	// The column buffers hold copies: the rows and the arena are free.
	w.buf = w.buf[:0]
	w.enc.arena = w.enc.arena[:0]
	return nil
}

// Abort discards the block.
func (w *Writer) Abort() {
	w.tmp.Close()
	os.Remove(w.tmp.Name())
}

// Finish writes the data file, the index, the bloom filter and, last, the
// meta through the backend, and returns the meta. The block is visible
// (listed) only once Finish returns without error.
func (w *Writer) Finish(ctx context.Context, now time.Time) (Meta, error) {
	defer w.Abort()
	if err := w.flushRows(); err != nil {
		return Meta{}, err
	}
	if err := w.pw.Close(); err != nil {
		return Meta{}, fmt.Errorf("close parquet writer: %w", err)
	}
	fi, err := w.tmp.Stat()
	if err != nil {
		return Meta{}, err
	}
	if _, err := w.tmp.Seek(0, io.SeekStart); err != nil {
		return Meta{}, err
	}
	m := w.meta
	if m.ID == "" {
		m.ID = NewID(now)
	}
	m.CreatedUnixNano = now.UnixNano()
	m.Traces = int64(len(w.index))
	m.DataSize = fi.Size()
	m.DataCRC32C = w.crc.Sum32()
	m.Services = map[string][]Operation{}
	for svc, ops := range w.ops {
		var list []Operation
		for name, op := range ops.names {
			for k := range spanKinds {
				if op.kinds&(1<<k) != 0 {
					list = append(list, Operation{Name: name, Kind: model.SpanKind(k).String()})
				}
			}
		}
		slices.SortFunc(list, func(a, b Operation) int {
			if c := cmp.Compare(a.Name, b.Name); c != 0 {
				return c
			}
			return cmp.Compare(a.Kind, b.Kind)
		})
		m.Services[svc] = list
	}
	idx := encodeIndex(w.index)
	bl := encodeBloom(w.ids)
	sr := w.search.encode()
	m.IndexSize, m.BloomSize, m.SearchSize = int64(len(idx)), int64(len(bl)), int64(len(sr))
	mj, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return Meta{}, err
	}
	err = errors.Join(
		w.be.Write(ctx, m.ID, DataName, w.tmp),
		w.be.Write(ctx, m.ID, IndexName, bytes.NewReader(idx)),
		w.be.Write(ctx, m.ID, BloomName, bytes.NewReader(bl)),
		w.be.Write(ctx, m.ID, SearchName, bytes.NewReader(sr)),
	)
	if err == nil {
		err = w.be.Write(ctx, m.ID, MetaName, bytes.NewReader(mj))
	}
	if err != nil {
		_ = w.be.DeleteBlock(ctx, m.ID)
		return Meta{}, fmt.Errorf("write block %s: %w", m.ID, err)
	}
	return m, nil
}

// Write writes spans (in any order) as one block. It sorts spans in place.
func Write(ctx context.Context, be Backend, tmpDir string, meta Meta, o WriterOptions, spans []*model.Span, now time.Time) (Meta, error) {
	slices.SortFunc(spans, CompareSpans)
	return WriteSorted(ctx, be, tmpDir, meta, o, spans, now)
}

// WriteSorted writes spans already in CompareSpans order as one block.
func WriteSorted(ctx context.Context, be Backend, tmpDir string, meta Meta, o WriterOptions, spans []*model.Span, now time.Time) (Meta, error) {
	w, err := NewWriter(be, tmpDir, meta, o)
	if err != nil {
		return Meta{}, err
	}
	for i, sp := range spans {
		if i%4096 == 0 && ctx.Err() != nil {
			w.Abort()
			return Meta{}, ctx.Err()
		}
		if err := w.Add(sp); err != nil {
			w.Abort()
			return Meta{}, err
		}
	}
	return w.Finish(ctx, now)
}
