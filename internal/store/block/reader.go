package block

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/bloom"

	"github.com/clew-dev/clew/internal/model"
)

// Reader reads one block. It keeps in memory the meta, the bloom filter
// (about BloomBitsPerTrace bits per trace), one fence per FenceEvery traces
// and the Parquet footer. Methods are safe for concurrent use.
type Reader struct {
	be     Backend
	meta   Meta
	bloom  bloom.SplitBlockFilter
	fences []model.TraceID
	nIndex int
	file   *parquet.File
	closer io.Closer
	// index is the trace-ID index file kept open for lookups (nil when the
	// backend cannot hand out a ReaderAt: each lookup then reads a range).
	index    ReaderAtCloser
	rgStarts []int64 // first row of each row group, and the total at the end
	// readers pools a row reader per row group: building one allocates
	// buffers for every column, which would dominate a lookup.
	readers []sync.Pool
	// rowSrc is the row reader's view of the data file (rowreader.go),
	// built on first use.
	rowOnce sync.Once
	rowSrc  *rowSource
	rowErr  error
	// slotKeys are the keys of the attribute columns (nil: none).
	slotKeys *slotKeys
}

// Open opens block id: it reads the meta, the bloom filter and the index
// (to check it and keep its fences) and the Parquet footer.
func Open(ctx context.Context, be Backend, id string) (*Reader, error) {
	mb, err := be.Read(ctx, id, MetaName)
	if err != nil {
		return nil, fmt.Errorf("read meta: %w", err)
	}
	meta, err := decodeMeta(mb)
	if err != nil {
		return nil, err
	}
	if meta.ID != id {
		return nil, fmt.Errorf("%w: meta names block %q", ErrCorrupt, meta.ID)
	}
	r := &Reader{be: be, meta: meta}
	bb, err := be.Read(ctx, id, BloomName)
	if err != nil {
		return nil, fmt.Errorf("read bloom: %w", err)
	}
	if r.bloom, err = decodeBloom(bb); err != nil {
		return nil, err
	}
	ib, err := be.Read(ctx, id, IndexName)
	if err != nil {
		return nil, fmt.Errorf("read index: %w", err)
	}
	if r.nIndex, err = checkIndex(ib); err != nil {
		return nil, err
	}
	if int64(r.nIndex) != meta.Traces {
		return nil, fmt.Errorf("%w: index has %d traces, meta %d", ErrCorrupt, r.nIndex, meta.Traces)
	}
	r.fences = fences(ib, r.nIndex)

	var ra io.ReaderAt
	var size int64
	if o, ok := be.(ReaderAtOpener); ok {
		f, n, err := o.OpenReaderAt(id, IndexName)
		if err != nil {
			return nil, fmt.Errorf("open index: %w", err)
		}
		r.index = f
		if n != int64(len(ib)) {
			r.Close()
			return nil, fmt.Errorf("%w: index file has %d bytes, %d read", ErrCorrupt, n, len(ib))
		}
		f, n, err = o.OpenReaderAt(id, DataName)
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("open data: %w", err)
		}
		ra, size, r.closer = f, n, f
	} else {
		n, err := be.Size(ctx, id, DataName)
		if err != nil {
			return nil, fmt.Errorf("stat data: %w", err)
		}
		ra, size = &rangeReader{ctx: ctx, be: be, block: id}, n
	}
	if size != meta.DataSize {
		r.Close()
		return nil, fmt.Errorf("%w: data file has %d bytes, meta says %d", ErrCorrupt, size, meta.DataSize)
	}
	f, err := openParquet(ra, size)
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("%w: data: %v", ErrCorrupt, err)
	}
	r.file = f
	if want := len(rowLeaves); meta.Version == 1 && len(f.Schema().Columns()) != v1Columns || meta.Version > 1 && len(f.Schema().Columns()) != want {
		r.Close()
		return nil, fmt.Errorf("%w: data: %d columns in a version %d block", ErrCorrupt, len(f.Schema().Columns()), meta.Version)
	}
	if r.slotKeys, err = decodeSlotKeys(f); err != nil {
		r.Close()
		return nil, err
	}
	var total int64
	for _, rg := range f.RowGroups() {
		r.rgStarts = append(r.rgStarts, total)
		total += rg.NumRows()
	}
	r.rgStarts = append(r.rgStarts, total)
	r.readers = make([]sync.Pool, len(f.RowGroups()))
	if total != meta.Spans {
		r.Close()
		return nil, fmt.Errorf("%w: data has %d rows, meta %d spans", ErrCorrupt, total, meta.Spans)
	}
	return r, nil
}

// openParquet opens the footer, turning a panic of the decoder on damaged
// input into an error. The footer's structure is checked first (parquet-go
// would allocate whatever sizes a damaged footer claims); the page index
// is read by the row reader, which checks it the same way.
func openParquet(ra io.ReaderAt, size int64) (f *parquet.File, err error) {
	defer func() {
		if p := recover(); p != nil {
			f, err = nil, fmt.Errorf("parquet decoder: %v", p)
		}
	}()
	if err := checkFooter(ra, size); err != nil {
		return nil, err
	}
	return parquet.OpenFile(ra, size, parquet.SkipBloomFilters(true), parquet.SkipPageIndex(true), parquet.ReadBufferSize(16<<10))
}

var errClosed = errors.New("block reader closed")

type rangeReader struct {
	ctx   context.Context
	be    Backend
	block string
}

func (r *rangeReader) ReadAt(p []byte, off int64) (int, error) {
	if err := r.be.ReadRange(r.ctx, r.block, DataName, off, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Meta returns the block's meta.
func (r *Reader) Meta() Meta { return r.meta }

// Close releases the data and index files, and the mapping of the data
// file once the reads using it are done. Reads after Close fail.
func (r *Reader) Close() error {
	var err error
	r.rowOnce.Do(func() { r.rowErr = errClosed })
	if r.rowSrc != nil {
		err = r.rowSrc.unmap()
	}
	if r.closer != nil {
		err = errors.Join(err, r.closer.Close())
	}
	if r.index != nil {
		err = errors.Join(err, r.index.Close())
	}
	return err
}

// MayContain reports whether the bloom filter admits the trace.
func (r *Reader) MayContain(id model.TraceID) bool { return r.bloom.Check(traceHash(id)) }

// indexChunkBytes is the most a lookup reads of the index: a fence's
// entries and the next.
const indexChunkBytes = (FenceEvery + 1) * IndexEntrySize

// indexChunks pools lookups' index buffers.
var indexChunks = sync.Pool{New: func() any { return new([indexChunkBytes]byte) }}

// lookup finds the rows of trace id with one range read of the index.
func (r *Reader) lookup(ctx context.Context, id model.TraceID) (int64, int64, bool, error) {
	i := sort.Search(len(r.fences), func(i int) bool { return bytes.Compare(r.fences[i][:], id[:]) > 0 }) - 1
	if i < 0 {
		return 0, 0, false, nil
	}
	first := i * FenceEvery
	// Read one entry past the chunk for the row count of its last entry.
	n := min(FenceEvery+1, r.nIndex-first)
	buf := indexChunks.Get().(*[indexChunkBytes]byte)
	defer indexChunks.Put(buf)
	chunk := buf[:n*IndexEntrySize]
	off := int64(len(indexMagic) + first*IndexEntrySize)
	if r.index != nil {
		if got, err := r.index.ReadAt(chunk, off); got != len(chunk) {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return 0, 0, false, fmt.Errorf("read index: %w", err)
		}
	} else if err := r.be.ReadRange(ctx, r.meta.ID, IndexName, off, chunk); err != nil {
		return 0, 0, false, fmt.Errorf("read index: %w", err)
	}
	// The index was checked whole at Open; this catches a file changed
	// since.
	if !bytes.Equal(chunk[:16], r.fences[i][:]) {
		return 0, 0, false, fmt.Errorf("%w: index entry %d differs from when the block was opened", ErrCorrupt, first)
	}
	after := r.meta.Spans
	lo, hi, ok := searchChunk(chunk, after, id)
	return lo, hi, ok, nil
}

// FindTrace returns the spans of the trace held by this block (nil when it
// holds none): a bloom check, one range read of the index, and the rows'
// pages of the data file.
func (r *Reader) FindTrace(ctx context.Context, id model.TraceID) ([]*model.Span, error) {
	if !r.MayContain(id) {
		return nil, nil
	}
	lo, hi, ok, err := r.lookup(ctx, id)
	if err != nil || !ok {
		return nil, err
	}
	if hi > r.meta.Spans || lo >= hi || hi-lo > int64(maxTraceRows) {
		return nil, fmt.Errorf("%w: index entry [%d, %d) outside the data", ErrCorrupt, lo, hi)
	}
	rows := make([]Row, hi-lo)
	if err := r.readTraceRows(lo, rows, id); err != nil {
		return nil, err
	}
	var b spanBuilder
	var out []*model.Span
	for i := range rows {
		if rows[i].TraceID != id {
			return nil, fmt.Errorf("%w: index points at rows of another trace", ErrCorrupt)
		}
		out = append(out, b.ToSpan(&rows[i]))
	}
	return out, nil
}

// Prepare builds now what the block's first read would otherwise build (the
// row reader's view of the data file: about 5–10 ms for a million spans),
// so that a block written in the background does not make its first
// lookup slow. Open leaves it out to keep start-up fast.
func (r *Reader) Prepare() {
	_, _ = r.rowSource()
}

// rowSource returns the row reader's view of the block, building it on
// first use.
func (r *Reader) rowSource() (*rowSource, error) {
	r.rowOnce.Do(func() {
		r.rowSrc, r.rowErr = newRowSource(r.meta.ID, r.file)
		if f, ok := r.closer.(*os.File); ok && r.rowErr == nil {
			r.rowSrc.setMapped(mapFile(f, r.meta.DataSize))
		}
	})
	return r.rowSrc, r.rowErr
}

// readRows reads len(rows) rows starting at row first, the first row of a
// trace, with the row reader (rowreader.go), or parquet-go's when the
// block has something the row reader does not handle, and resolves their
// parents.
func (r *Reader) readRows(first int64, rows []Row) error {
	return r.readRowsVia(first, rows, nil)
}

// readTraceRows reads len(rows) rows starting at row first, which the
// index gives as the rows of trace id, as readRows does; the row reader
// then skips the trace_id column where its page bounds agree
// (rowSource.readTrace).
func (r *Reader) readTraceRows(first int64, rows []Row, id model.TraceID) error {
	return r.readRowsVia(first, rows, &id)
}

// readRowsVia reads the rows with the row reader (as the rows of trace
// *id when id is not nil), or with parquet-go's when the row reader does
// not handle the block, and resolves their parents.
func (r *Reader) readRowsVia(first int64, rows []Row, id *model.TraceID) error {
	src, err := r.rowSource()
	switch {
	case err != nil:
	case id != nil:
		err = src.readTrace(first, rows, *id)
	default:
		err = src.readRange(first, rows, nil)
	}
	if errors.Is(err, errUnsupported) {
		clear(rows)
		err = r.readRowsGeneric(first, rows)
	}
	if err != nil {
		return err
	}
	return resolveParents(rows, r.slotKeys)
}

// readRowsGeneric reads rows with parquet-go's reader.
func (r *Reader) readRowsGeneric(first int64, rows []Row) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: data: parquet decoder: %v", ErrCorrupt, p)
		}
	}()
	for len(rows) > 0 {
		g := sort.Search(len(r.rgStarts)-1, func(i int) bool { return r.rgStarts[i+1] > first })
		if g >= len(r.rgStarts)-1 {
			return fmt.Errorf("%w: row %d past the data", ErrCorrupt, first)
		}
		rr, _ := r.readers[g].Get().(*parquet.GenericReader[Row])
		if rr == nil {
			rr = parquet.NewGenericRowGroupReader[Row](r.file.RowGroups()[g])
		}
		if err := rr.SeekToRow(first - r.rgStarts[g]); err != nil {
			rr.Close()
			return fmt.Errorf("%w: data: seek: %v", ErrCorrupt, err)
		}
		n := min(int64(len(rows)), r.rgStarts[g+1]-first)
		got, err := readFull(rr, rows[:n])
		if err != nil {
			rr.Close()
			return fmt.Errorf("%w: data: %v", ErrCorrupt, err)
		}
		r.readers[g].Put(rr)
		rows = rows[got:]
		first += int64(got)
	}
	return nil
}

func readFull[T any](rr *parquet.GenericReader[T], rows []T) (int, error) {
	n := 0
	for n < len(rows) {
		k, err := rr.Read(rows[n:])
		n += k
		if err != nil {
			if errors.Is(err, io.EOF) && n == len(rows) {
				return n, nil
			}
			if errors.Is(err, io.EOF) {
				return n, fmt.Errorf("short read: %d of %d rows", n, len(rows))
			}
			return n, err
		}
	}
	return n, nil
}

// Summary is the searchable columns of one span, read without the rest.
type Summary struct {
	TraceID       [16]byte `parquet:"trace_id"`
	StartUnixNano int64    `parquet:"start_unix_nano,delta"`
	DurationNano  int64    `parquet:"duration_nano,delta"`
	ServiceName   string   `parquet:"service_name,dict"`
	Name          string   `parquet:"name,dict"`
	Kind          int32    `parquet:"kind"`
	StatusCode    int32    `parquet:"status_code"`
}

// summaryColumns are the leaf columns ScanSummaries reads, in Summary's
// field order.
var summaryColumns = []string{"trace_id", "start_unix_nano", "duration_nano", "service_name", "name", "kind", "status_code"}

// ScanSummaries calls fn with the summary of every span, in storage order
// (by trace), until fn returns false. Only the summary's columns are read.
// The summary is only valid during the call.
func (r *Reader) ScanSummaries(ctx context.Context, fn func(*Summary) bool) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: data: parquet decoder: %v", ErrCorrupt, p)
		}
	}()
	idx := make([]int, len(summaryColumns))
	for i, name := range summaryColumns {
		leaf, ok := r.file.Schema().Lookup(name)
		if !ok {
			return fmt.Errorf("%w: data: no column %s", ErrCorrupt, name)
		}
		idx[i] = leaf.ColumnIndex
	}
	const batch = 1024
	bufs := make([][]parquet.Value, len(idx))
	for i := range bufs {
		bufs[i] = make([]parquet.Value, batch)
	}
	intern := map[string]string{}
	str := func(b []byte) string {
		if s, ok := intern[string(b)]; ok {
			return s
		}
		s := string(b)
		if len(intern) < 1<<16 {
			intern[s] = s
		}
		return s
	}
	var sm Summary
	for _, rg := range r.file.RowGroups() {
		if err := ctx.Err(); err != nil {
			return err
		}
		chunks := rg.ColumnChunks()
		curs := make([]*columnCursor, len(idx))
		for i, c := range idx {
			curs[i] = &columnCursor{pages: chunks[c].Pages()}
		}
		left := rg.NumRows()
		for left > 0 {
			n := int(min(left, batch))
			for i, c := range curs {
				if err := c.fill(bufs[i][:n]); err != nil {
					closeCursors(curs)
					return fmt.Errorf("%w: data: column %s: %v", ErrCorrupt, summaryColumns[i], err)
				}
			}
			for j := 0; j < n; j++ {
				copy(sm.TraceID[:], bufs[0][j].ByteArray())
				sm.StartUnixNano = bufs[1][j].Int64()
				sm.DurationNano = bufs[2][j].Int64()
				sm.ServiceName = str(bufs[3][j].ByteArray())
				sm.Name = str(bufs[4][j].ByteArray())
				sm.Kind = bufs[5][j].Int32()
				sm.StatusCode = bufs[6][j].Int32()
				if !fn(&sm) {
					closeCursors(curs)
					return nil
				}
			}
			left -= int64(n)
		}
		closeCursors(curs)
	}
	return nil
}

// columnCursor reads the values of one required column chunk across its
// pages.
type columnCursor struct {
	pages parquet.Pages
	page  parquet.Page
	vals  parquet.ValueReader
}

// fill reads exactly len(dst) values.
func (c *columnCursor) fill(dst []parquet.Value) error {
	for len(dst) > 0 {
		if c.vals == nil {
			p, err := c.pages.ReadPage()
			if err != nil {
				return err
			}
			// Pages are not released to parquet-go's pool: values of the
			// previous page may still be in the caller's batch.
			c.page, c.vals = p, p.Values()
		}
		n, err := c.vals.ReadValues(dst)
		dst = dst[n:]
		if err != nil {
			if !errors.Is(err, io.EOF) {
				return err
			}
			c.vals = nil
		}
	}
	return nil
}

func closeCursors(cs []*columnCursor) {
	for _, c := range cs {
		c.pages.Close()
	}
}

// ScanRows calls fn with every row, in storage order, until fn returns
// false. The row is only valid during the call.
func (r *Reader) ScanRows(ctx context.Context, fn func(*Row) bool) error {
	src, err := r.rowSource()
	if errors.Is(err, errUnsupported) {
		par := newParentResolver(r.slotKeys)
		var perr error
		err := scanRows(ctx, r, func(row *Row) bool {
			if perr = par.row(row); perr != nil {
				return false
			}
			return fn(row)
		})
		if err == nil {
			err = perr
		}
		return err
	}
	if err != nil {
		return err
	}
	sc := src.scanner(r.slotKeys)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		rows, err := sc.batch()
		if err != nil || len(rows) == 0 {
			return err
		}
		for i := range rows {
			if !fn(&rows[i]) {
				return nil
			}
		}
	}
}

// Span builds a span from a row (for rows given by ScanRows). Spans built
// by one builder share equal resources and scopes of consecutive rows.
type SpanBuilder struct{ b spanBuilder }

// Span converts r.
func (b *SpanBuilder) Span(r *Row) *model.Span { return b.b.ToSpan(r) }

func scanRows[T any](ctx context.Context, r *Reader, fn func(*T) bool) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: data: parquet decoder: %v", ErrCorrupt, p)
		}
	}()
	buf := make([]T, 256)
	for _, rg := range r.file.RowGroups() {
		if err := ctx.Err(); err != nil {
			return err
		}
		rr := parquet.NewGenericRowGroupReader[T](rg)
		for {
			n, err := rr.Read(buf)
			for i := 0; i < n; i++ {
				if !fn(&buf[i]) {
					rr.Close()
					return nil
				}
			}
			if err != nil {
				rr.Close()
				if errors.Is(err, io.EOF) {
					break
				}
				return fmt.Errorf("%w: data: %v", ErrCorrupt, err)
			}
		}
	}
	return nil
}

// Verify checks the whole block: the data file's checksum, every row's
// decoding, the index against the rows, and the bloom filter.
func (r *Reader) Verify(ctx context.Context) error {
	data := make([]byte, min(1<<20, max(r.meta.DataSize, 0)))
	crc := crc32.New(castagnoli)
	for off := int64(0); off < r.meta.DataSize; {
		n := min(int64(len(data)), r.meta.DataSize-off)
		if err := r.be.ReadRange(ctx, r.meta.ID, DataName, off, data[:n]); err != nil {
			return fmt.Errorf("read data: %w", err)
		}
		crc.Write(data[:n])
		off += n
	}
	if crc.Sum32() != r.meta.DataCRC32C {
		return fmt.Errorf("%w: data checksum mismatch", ErrCorrupt)
	}
	ib, err := r.be.Read(ctx, r.meta.ID, IndexName)
	if err != nil {
		return err
	}
	n, err := checkIndex(ib)
	if err != nil {
		return err
	}
	entries := indexEntries(ib, n, r.meta.Spans)
	var row int64
	var cur int
	var prev [16]byte
	var b spanBuilder
	var verr error
	sb := r.searchVerifier()
	err = r.ScanRows(ctx, func(rw *Row) bool {
		if row > 0 && bytes.Compare(prev[:], rw.TraceID[:]) > 0 {
			verr = fmt.Errorf("%w: row %d out of trace id order", ErrCorrupt, row)
			return false
		}
		for cur < len(entries) && int64(entries[cur].FirstRow)+int64(entries[cur].Rows) <= row {
			cur++
		}
		if cur >= len(entries) || int64(entries[cur].FirstRow) > row || entries[cur].TraceID != model.TraceID(rw.TraceID) {
			verr = fmt.Errorf("%w: row %d not covered by the index", ErrCorrupt, row)
			return false
		}
		if !r.MayContain(rw.TraceID) {
			verr = fmt.Errorf("%w: bloom filter misses trace %x", ErrCorrupt, rw.TraceID)
			return false
		}
		sp := b.ToSpan(rw)
		if sb != nil {
			sb.add(sp, row == 0 || prev != rw.TraceID)
		}
		prev = rw.TraceID
		row++
		return true
	})
	if err != nil {
		return err
	}
	if verr != nil {
		return verr
	}
	if row != r.meta.Spans {
		return fmt.Errorf("%w: %d rows, meta says %d", ErrCorrupt, row, r.meta.Spans)
	}
	return r.checkSearch(ctx, sb)
}

// ColumnStat is the size of one leaf column over all row groups.
type ColumnStat struct {
	Path         string
	Compressed   int64
	Uncompressed int64
	Values       int64
}

// Stats returns the row group count and the size of every leaf column, from
// the Parquet footer.
func (r *Reader) Stats() (rowGroups int, cols []ColumnStat) {
	md := r.file.Metadata()
	idx := map[string]int{}
	for _, rg := range md.RowGroups {
		for _, c := range rg.Columns {
			p := strings.Join(c.MetaData.PathInSchema, ".")
			i, ok := idx[p]
			if !ok {
				i = len(cols)
				idx[p] = i
				cols = append(cols, ColumnStat{Path: p})
			}
			cols[i].Compressed += c.MetaData.TotalCompressedSize
			cols[i].Uncompressed += c.MetaData.TotalUncompressedSize
			cols[i].Values += c.MetaData.NumValues
		}
	}
	return len(md.RowGroups), cols
}
