package block

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"reflect"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"github.com/clew-dev/clew/internal/model"
)

// The row reader reads a range of rows of a block without parquet-go's
// row readers: for each leaf column it skips the column chunk when the
// chunk's statistics say every value is null, finds the page holding the
// rows through the offset index (skipping pages the column index marks all
// null), reads that page with one read, decodes only the levels and values
// of the rows wanted (decompressing the values only when one of them is not
// null) and stores them straight into Row fields. Dictionaries are decoded
// once into strings and kept in a bounded cache.
//
// A block whose metadata lists an encoding the reader does not decode, or
// that has no page index, makes newRowSource return errUnsupported, and
// the caller falls back to parquet-go's reader for that block. Anything
// else unexpected (another schema, another codec than zstd, a page whose
// encoding the metadata did not list) is damage: ErrCorrupt.

// Limits on what a page may claim; beyond them the block is corrupt.
const (
	maxPageBytes  = 64 << 20 // a page, compressed or not, or a dictionary page
	maxPageValues = 1 << 22  // values (levels) in one page
)

var errUnsupported = errors.New("not supported by the row reader")

// rowLeaf is one leaf column of Row as the row reader sees it.
type rowLeaf struct {
	col      int
	path     string
	maxRep   int
	maxDef   int
	listDef  [3]int // definition level of the repeated node at depth 1 and 2
	kind     parquet.Kind
	typeLen  int
	setter   leafSetter
	repWidth uint
	defWidth uint
	// top is where the values of a leaf outside lists go in a Row: the
	// row reader stores them there itself (readTop), without the setter.
	top topField
}

// topKind is the Go type of the Row field of a leaf outside lists.
type topKind uint8

const (
	topNone   topKind = iota // a leaf inside a list
	topString                // string (dictionary strings shared, not copied)
	topInt32
	topUint32
	topInt64
	topFixed // [typeLen]byte
)

// topField is the Row field of a leaf outside lists.
type topField struct {
	kind topKind
	off  uintptr // in Row
	size uintptr // of the field
}

// topFields maps the path of each leaf of Row outside lists to its field.
var topFields = func() map[string]topField {
	out := map[string]topField{}
	t := reflect.TypeFor[Row]()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("parquet"), ",")
		if name == "" || name == "-" {
			continue
		}
		var k topKind
		switch f.Type.Kind() {
		case reflect.String:
			k = topString
		case reflect.Int32:
			k = topInt32
		case reflect.Uint32:
			k = topUint32
		case reflect.Int64:
			k = topInt64
		case reflect.Array:
			if f.Type.Elem().Kind() == reflect.Uint8 {
				k = topFixed
			}
		}
		if k != topNone {
			out[name] = topField{kind: k, off: f.Offset, size: f.Type.Size()}
		}
	}
	return out
}()

// traceIDLeaf is the leaf column of trace_id: the first, so that a read
// that knows the trace id starts at the next leaf.
const traceIDLeaf = 0

// v1Columns is the number of leaf columns of a version 1 block: the
// columns of Row before ParentOffset.
var v1Columns = func() int {
	leaf, ok := parquet.SchemaOf(Row{}).Lookup("parent_offset")
	if !ok {
		panic("BUG: no parent_offset column")
	}
	return leaf.ColumnIndex
}()

// rowLeaves describes Row's leaf columns in column order.
var rowLeaves = func() []rowLeaf {
	schema := parquet.SchemaOf(Row{})
	var out []rowLeaf
	for _, path := range schema.Columns() {
		leaf, ok := schema.Lookup(path...)
		if !ok {
			panic("BUG: row reader: no leaf " + strings.Join(path, "."))
		}
		l := rowLeaf{col: leaf.ColumnIndex, path: strings.Join(path, "."), maxRep: leaf.MaxRepetitionLevel, maxDef: leaf.MaxDefinitionLevel,
			kind: leaf.Node.Type().Kind(), typeLen: leaf.Node.Type().Length()}
		s, ok := rowSetters[l.path]
		if !ok {
			panic("BUG: row reader: no setter for " + l.path)
		}
		l.setter = s
		if l.maxRep == 0 {
			l.top = topFields[l.path]
			ok := false
			switch l.top.kind {
			case topString:
				ok = s.kind == kindString && l.kind == parquet.ByteArray
			case topInt32, topUint32:
				ok = s.kind == kindInt && l.kind == parquet.Int32
			case topInt64:
				ok = s.kind == kindInt && l.kind == parquet.Int64
			case topFixed:
				ok = s.kind == kindFixed && l.kind == parquet.FixedLenByteArray && int(l.top.size) == l.typeLen
			}
			if !ok {
				panic("BUG: row reader: no Row field of the type of " + l.path)
			}
		}
		// Walk the path for the definition levels of the repeated nodes.
		var node parquet.Node = schema
		def, rep := 0, 0
		for _, name := range path {
			for _, f := range node.Fields() {
				if f.Name() == name {
					node = f
					break
				}
			}
			if node.Optional() || node.Repeated() {
				def++
			}
			if node.Repeated() {
				rep++
				l.listDef[rep] = def
			}
		}
		if rep != l.maxRep || def != l.maxDef || rep > 2 || (rep >= 1) != (s.grow1 != nil) || (rep == 2) != (s.grow2 != nil) {
			panic("BUG: row reader: unexpected levels for " + l.path)
		}
		l.repWidth, l.defWidth = uint(bits.Len(uint(l.maxRep))), uint(bits.Len(uint(l.maxDef)))
		out = append(out, l)
		if l.col != len(out)-1 {
			panic("BUG: row reader: columns out of order")
		}
		if (l.path == "trace_id") != (l.col == traceIDLeaf) {
			panic("BUG: row reader: trace_id is not leaf " + fmt.Sprint(traceIDLeaf))
		}
	}
	return out
}()

// pageLoc is a page of a column chunk, from the offset index.
type pageLoc struct {
	offset   int64
	size     int32 // header and body
	firstRow int64
	allNull  bool // from the column index
}

type chunkInfo struct {
	group      int
	allNull    bool // the chunk statistics count only nulls
	codec      format.CompressionCodec
	dictOffset int64 // 0 without a dictionary
	pages      []pageLoc
	// idBounds are the min and max trace id of each page, from the column
	// index, for the trace_id chunk only (nil otherwise, or when the
	// column index has no such bounds).
	idBounds [][2][16]byte
	// headers are the pages' decoded headers, kept once a lookup has
	// read and checked them (nil until then).
	headers []atomic.Pointer[pageHeader]
}

type groupInfo struct {
	rows   int64
	chunks []chunkInfo
}

// rowSource is what the row reader keeps about a block: where each page
// of each column chunk is.
type rowSource struct {
	id     string
	leaves []rowLeaf // the block's columns: rowLeaves or, for version 1, a prefix
	seq    uint64    // unique to this view: the dictionary cache's key
	ra     io.ReaderAt
	size   int64
	groups []groupInfo
	// index is the page index region, read at once while building (then
	// dropped), starting at indexOff.
	index    []byte
	indexOff int64
	readBuf  []byte
	// mapped is the data file mapped into memory, or nil: lookups' pages
	// (fetch) are then slices of it instead of pread copies. Reads hold
	// mapMu for reading while they use it; unmap takes it for writing.
	mapMu  sync.RWMutex
	mapped []byte
}

// setMapped makes fetch use the mapping m of the data file.
func (s *rowSource) setMapped(m []byte) {
	s.mapMu.Lock()
	s.mapped = m
	s.mapMu.Unlock()
}

// unmap releases the mapping once no read uses it; later reads use pread.
func (s *rowSource) unmap() error {
	s.mapMu.Lock()
	defer s.mapMu.Unlock()
	m := s.mapped
	s.mapped = nil
	if m == nil {
		return nil
	}
	return unmapFile(m)
}

// pin holds the mapping (if any) for a read, and turns a fault on it (an
// I/O error of the file under the mapping, a file cut short) into a panic
// that the read's recover reports as damage. The caller defers the
// returned function.
func (s *rowSource) pin() func() {
	s.mapMu.RLock()
	fault := debug.SetPanicOnFault(true)
	return func() {
		debug.SetPanicOnFault(fault)
		s.mapMu.RUnlock()
	}
}

// sourceSeq numbers row sources.
var sourceSeq atomic.Uint64

// maxPageIndexBytes bounds the page index region read at once.
const maxPageIndexBytes = 64 << 20

// newRowSource checks that f has Row's schema and reads its page index.
func newRowSource(id string, f *parquet.File) (src *rowSource, err error) {
	defer func() {
		if p := recover(); p != nil {
			src, err = nil, fmt.Errorf("%w: data: page index: %v", ErrCorrupt, p)
		}
	}()
	schema := f.Schema()
	// A version 1 block has the columns before version 2's.
	leaves := rowLeaves
	if n := len(schema.Columns()); n == v1Columns {
		leaves = rowLeaves[:v1Columns]
	} else if n != len(rowLeaves) {
		return nil, fmt.Errorf("%w: data: %d columns", ErrCorrupt, len(schema.Columns()))
	}
	for _, l := range leaves {
		leaf, ok := schema.Lookup(strings.Split(l.path, ".")...)
		if !ok || leaf.ColumnIndex != l.col || leaf.MaxRepetitionLevel != l.maxRep || leaf.MaxDefinitionLevel != l.maxDef ||
			leaf.Node.Type().Kind() != l.kind || leaf.Node.Type().Length() != l.typeLen {
			return nil, fmt.Errorf("%w: data: column %s differs", ErrCorrupt, l.path)
		}
	}
	s := &rowSource{id: id, seq: sourceSeq.Add(1), ra: f, size: f.Size(), leaves: leaves}
	md := f.Metadata()
	// The writer puts the whole page index (every column index, then every
	// offset index) in one region before the footer: read it at once.
	lo, hi := s.size, int64(0)
	for g := range md.RowGroups {
		for _, cc := range md.RowGroups[g].Columns {
			for _, r := range [2][2]int64{{cc.ColumnIndexOffset, int64(cc.ColumnIndexLength)}, {cc.OffsetIndexOffset, int64(cc.OffsetIndexLength)}} {
				if r[0] > 0 && r[1] > 0 {
					lo, hi = min(lo, r[0]), max(hi, r[0]+r[1])
				}
			}
		}
	}
	if lo < hi && hi <= s.size && hi-lo <= maxPageIndexBytes {
		s.index = make([]byte, hi-lo)
		if _, err := s.ra.ReadAt(s.index, lo); err != nil {
			return nil, fmt.Errorf("%w: data: read page index: %v", ErrCorrupt, err)
		}
		s.indexOff = lo
	}
	for g := range md.RowGroups {
		rg := &md.RowGroups[g]
		if len(rg.Columns) != len(leaves) || rg.NumRows < 0 {
			return nil, fmt.Errorf("%w: data: row group %d has %d columns", ErrCorrupt, g, len(rg.Columns))
		}
		gi := groupInfo{rows: rg.NumRows, chunks: make([]chunkInfo, len(rg.Columns))}
		for c := range rg.Columns {
			cc := &rg.Columns[c]
			m := &cc.MetaData
			ci := &gi.chunks[c]
			ci.group, ci.codec = g, m.Codec
			if m.Codec != format.Zstd && m.Codec != format.Uncompressed {
				return nil, fmt.Errorf("%w: data: codec %v", ErrCorrupt, m.Codec)
			}
			for _, e := range m.Encoding {
				if !decodedEncodings[e] {
					return nil, fmt.Errorf("%w: encoding %v", errUnsupported, e)
				}
			}
			ci.allNull = m.NumValues > 0 && m.Statistics.NullCount == m.NumValues
			ci.dictOffset = m.DictionaryPageOffset
			if cc.OffsetIndexOffset <= 0 || cc.OffsetIndexLength <= 0 {
				return nil, fmt.Errorf("%w: no offset index", errUnsupported)
			}
			buf, err := s.readAt(cc.OffsetIndexOffset, cc.OffsetIndexLength)
			if err != nil {
				return nil, fmt.Errorf("%w: data: offset index of column %d in row group %d: %v", ErrCorrupt, c, g, err)
			}
			if ci.pages, err = decodeOffsetIndex(buf, nil); err != nil {
				return nil, fmt.Errorf("%w: data: offset index of column %d in row group %d: %v", ErrCorrupt, c, g, err)
			}
			for p, loc := range ci.pages {
				if loc.offset < 0 || loc.size <= 0 || loc.offset+int64(loc.size) > s.size ||
					loc.size > maxPageBytes || (p == 0) != (loc.firstRow == 0) ||
					(p > 0 && loc.firstRow <= ci.pages[p-1].firstRow) || loc.firstRow >= max(rg.NumRows, 1) {
					return nil, fmt.Errorf("%w: data: offset index of column %d in row group %d: bad page %d", ErrCorrupt, c, g, p)
				}
			}
			ci.headers = make([]atomic.Pointer[pageHeader], len(ci.pages))
			if len(ci.pages) == 0 && rg.NumRows > 0 {
				return nil, fmt.Errorf("%w: data: column %d in row group %d has no pages", ErrCorrupt, c, g)
			}
			if cc.ColumnIndexOffset > 0 && cc.ColumnIndexLength > 0 {
				if buf, err = s.readAt(cc.ColumnIndexOffset, cc.ColumnIndexLength); err == nil {
					err = decodeNullPages(buf, ci.pages)
				}
				if err == nil && c == traceIDLeaf {
					ci.idBounds = make([][2][16]byte, len(ci.pages))
					var ok bool
					if ok, err = decodeIDBounds(buf, ci.idBounds); !ok {
						ci.idBounds = nil
					}
				}
				if err != nil {
					return nil, fmt.Errorf("%w: data: column index of column %d in row group %d: %v", ErrCorrupt, c, g, err)
				}
			}
		}
		s.groups = append(s.groups, gi)
	}
	s.index, s.readBuf = nil, nil
	return s, nil
}

// readAt returns the n bytes at off, from the page index region when they
// are in it, else read into readBuf (valid until the next call).
func (s *rowSource) readAt(off int64, n int32) ([]byte, error) {
	if off < 0 || n < 0 || off+int64(n) > s.size || n > maxPageBytes {
		return nil, fmt.Errorf("range [%d, +%d) outside the file", off, n)
	}
	if i := off - s.indexOff; s.index != nil && i >= 0 && i+int64(n) <= int64(len(s.index)) {
		return s.index[i : i+int64(n)], nil
	}
	s.readBuf = grow(s.readBuf, int(n))
	if _, err := s.ra.ReadAt(s.readBuf, off); err != nil {
		return nil, err
	}
	return s.readBuf, nil
}

// rowScratch is the per-call memory of the row reader, pooled.
type rowScratch struct {
	lp loadedPage // the page being read, when not a scan's
	// pre holds the byte ranges read ahead for a lookup (prefetch), in
	// file order; plan is prefetch's list of page ranges.
	pre    []byteRange
	preBuf []byte
	plan   []byteRange
	rep    []byte
	def    []byte
	vals   []leafValue
	ints   []int64
	idx    []uint32 // dictionary indexes (readTop)
}

var scratchPool = sync.Pool{New: func() any { return new(rowScratch) }}

// maxPooledScratch bounds the buffers a pooled scratch keeps.
const maxPooledScratch = 1 << 20

func putScratch(sc *rowScratch) {
	if cap(sc.preBuf) > maxPrefetchBytes || cap(sc.lp.raw) > maxPooledScratch || cap(sc.lp.dec) > maxPooledScratch || cap(sc.ints) > maxPooledScratch/8 || cap(sc.idx) > maxPooledScratch/4 || cap(sc.vals) > 1<<14 {
		return
	}
	sc.lp.page, sc.lp.rep, sc.lp.def, sc.lp.vals = -1, nil, nil, nil
	sc.pre = sc.pre[:0]
	clear(sc.vals) // drop references to strings and bytes
	scratchPool.Put(sc)
}

func grow[T any](b []T, n int) []T {
	if cap(b) < n {
		return make([]T, n)
	}
	return b[:n]
}

var zstdDecoder = func() *zstd.Decoder {
	d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(maxPageBytes), zstd.WithDecodeAllCapLimit(true))
	if err != nil {
		panic("BUG: zstd decoder: " + err.Error())
	}
	return d
}()

// zstdSlack is the room the zstd decoder needs past a frame's content to
// use its fast copies (klauspost/compress's compressedBlockOverAlloc is 16;
// without it the decoder takes its bounds-exact path, about twice as slow).
const zstdSlack = 64

// decompress decompresses src into *dst, which must end up n bytes.
func decompress(dst *[]byte, codec format.CompressionCodec, src []byte, n int) ([]byte, error) {
	if n < 0 || n > maxPageBytes {
		return nil, fmt.Errorf("page of %d bytes", n)
	}
	switch codec {
	case format.Uncompressed:
		if len(src) != n {
			return nil, fmt.Errorf("page of %d bytes, header says %d", len(src), n)
		}
		return src, nil
	case format.Zstd:
		if b, v, ok := zstdSingleBlock(src, n); ok {
			if b != nil {
				return b, nil // a raw block: the bytes as they are
			}
			*dst = grow(*dst, n)
			fillBytes(*dst, v)
			return *dst, nil
		}
		// The slack past n lets the decoder use its faster copies, which
		// may write up to zstdSlack bytes past the output.
		*dst = grow(*dst, n+zstdSlack)
		out, err := zstdDecoder.DecodeAll(src, (*dst)[:0])
		if err != nil {
			return nil, err
		}
		if len(out) != n {
			return nil, fmt.Errorf("page decompressed to %d bytes, header says %d", len(out), n)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: codec %v", errUnsupported, codec)
}

// zstdSingleBlock recognises a zstd frame (RFC 8878) of n bytes of
// content made of one raw block (returned as raw, a part of src) or one
// RLE block (n copies of v): the encoder writes those for incompressible
// pages (random ids) and for constant ones (a column of zeros), and the
// general decoder is slow on them. ok is false for anything else, which is
// left to the decoder: a dictionary, a checksum, several blocks, a
// compressed block, or sizes that disagree.
func zstdSingleBlock(src []byte, n int) (raw []byte, v byte, ok bool) {
	if len(src) < 5 || binary.LittleEndian.Uint32(src) != 0xFD2FB528 {
		return nil, 0, false
	}
	fhd := src[4]
	fcsFlag, single := fhd>>6, fhd>>5&1
	if fhd&0x0f != 0 { // reserved bit, checksum, dictionary id
		return nil, 0, false
	}
	pos := 5
	if single == 0 {
		pos++ // window descriptor
	}
	fcsLen := [4]int{0, 2, 4, 8}[fcsFlag]
	if fcsFlag == 0 && single == 1 {
		fcsLen = 1
	}
	if len(src) < pos+fcsLen+3 {
		return nil, 0, false
	}
	if fcsLen > 0 {
		var fcs uint64
		for i := fcsLen - 1; i >= 0; i-- {
			fcs = fcs<<8 | uint64(src[pos+i])
		}
		if fcsLen == 2 {
			fcs += 256
		}
		if fcs != uint64(n) {
			return nil, 0, false
		}
	}
	pos += fcsLen
	bh := uint32(src[pos]) | uint32(src[pos+1])<<8 | uint32(src[pos+2])<<16
	pos += 3
	last, typ, size := bh&1, bh>>1&3, int(bh>>3)
	if last != 1 || size != n {
		return nil, 0, false
	}
	switch {
	case typ == 0 && len(src)-pos == n: // raw
		return src[pos:len(src):len(src)], 0, true
	case typ == 1 && len(src)-pos == 1: // RLE
		return nil, src[pos], true
	}
	return nil, 0, false
}

// fillBytes sets every byte of b to v.
func fillBytes(b []byte, v byte) {
	if v == 0 || len(b) == 0 {
		clear(b)
		return
	}
	b[0] = v
	for i := 1; i < len(b); i *= 2 {
		copy(b[i:], b[:i])
	}
}

// loadedPage is a data page read and split into its sections.
type loadedPage struct {
	group, page int
	h           pageHeader
	raw         []byte // the page as read (owned when cached)
	rep, def    []byte // encoded levels
	vals        []byte // values section, decompressed once decoded is set
	decoded     bool
	dec         []byte     // decompression buffer (owned when cached)
	cur         scanCursor // a scan's: where its last read of the page ended
}

// rowScan is the state of a sequential read: the last page of each
// column, kept so that consecutive ranges do not read and decompress it
// again. It is not safe for concurrent use.
type rowScan struct {
	pages []loadedPage // by column
}

func newRowScan() *rowScan {
	sc := &rowScan{pages: make([]loadedPage, len(rowLeaves))}
	for i := range sc.pages {
		sc.pages[i].page = -1
	}
	return sc
}

// readRange reads rows [first, first+len(rows)) of the block into rows,
// which must be reset. scan is nil for a one-off read.
func (s *rowSource) readRange(first int64, rows []Row, scan *rowScan) error {
	return s.read(first, rows, scan, nil)
}

// readTrace reads rows [first, first+len(rows)), which the trace-ID index
// gives as the rows of trace id, into rows (reset). Where the trace_id
// column index bounds the pages of those rows (every block Clew writes),
// the trace_id column is not read: its pages would only repeat id, and
// are half the bytes a lookup decompresses. Instead the bounds are
// checked against the index's claim (checkTraceBounds) and id is set.
func (s *rowSource) readTrace(first int64, rows []Row, id model.TraceID) error {
	return s.read(first, rows, nil, &id)
}

// read reads rows as readRange does; with id, as readTrace does.
func (s *rowSource) read(first int64, rows []Row, scan *rowScan, id *model.TraceID) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: data: row reader: %v", ErrCorrupt, p)
		}
	}()
	defer s.pin()()
	sc := scratchPool.Get().(*rowScratch)
	defer putScratch(sc)
	var start int64
	for g := range s.groups {
		gi := &s.groups[g]
		end := start + gi.rows
		if len(rows) > 0 && first < end && first >= start {
			n := min(int64(len(rows)), end-first)
			from := 0
			if id != nil {
				known, err := s.checkTraceBounds(g, first-start, first-start+n, id)
				if err != nil {
					return err
				}
				if known {
					from = traceIDLeaf + 1
				}
			}
			if scan == nil {
				if err := s.prefetch(sc, g, first-start, first-start+n, from); err != nil {
					return fmt.Errorf("%w: data: %v", ErrCorrupt, err)
				}
			}
			if err := s.readLeavesFrom(sc, scan, g, first-start, first-start+n, rows[:n], from); err != nil {
				return err
			}
			if from > traceIDLeaf {
				for i := range rows[:n] {
					rows[i].TraceID = *id
				}
			}
			rows = rows[n:]
			first += n
			sc.pre = sc.pre[:0]
		}
		start = end
	}
	if len(rows) > 0 {
		return fmt.Errorf("%w: row %d past the data", ErrCorrupt, first)
	}
	return nil
}

// readLeaves reads every leaf of rows [a, b) of row group g into rows.
// (Decoding the columns on two goroutines was tried: on the shared 2-core
// machine it made lookups slower.)
func (s *rowSource) readLeaves(sc *rowScratch, scan *rowScan, g int, a, b int64, rows []Row) error {
	return s.readLeavesFrom(sc, scan, g, a, b, rows, 0)
}

// readLeavesFrom reads the leaves from leaf from on, as readLeaves.
func (s *rowSource) readLeavesFrom(sc *rowScratch, scan *rowScan, g int, a, b int64, rows []Row, from int) error {
	for l := from; l < len(s.leaves); l++ {
		var lp *loadedPage
		if scan != nil {
			lp = &scan.pages[l]
		}
		if err := s.readLeaf(sc, lp, g, &s.leaves[l], a, b, rows); err != nil {
			return fmt.Errorf("%w: data: column %s, row group %d: %v", ErrCorrupt, s.leaves[l].path, g, err)
		}
	}
	return nil
}

// readLeaf reads leaf lf of rows [a, b) of row group g into rows.
func (s *rowSource) readLeaf(sc *rowScratch, lp *loadedPage, g int, lf *rowLeaf, a, b int64, rows []Row) error {
	gi := &s.groups[g]
	ch := &gi.chunks[lf.col]
	if ch.allNull {
		return nil
	}
	for cur := a; cur < b; {
		p := sort.Search(len(ch.pages), func(i int) bool { return ch.pages[i].firstRow > cur }) - 1
		if p < 0 {
			return fmt.Errorf("no page holds row %d", cur)
		}
		pageEnd := gi.rows
		if p+1 < len(ch.pages) {
			pageEnd = ch.pages[p+1].firstRow
		}
		end := min(b, pageEnd)
		if !ch.pages[p].allNull {
			first := ch.pages[p].firstRow
			if err := s.readPage(sc, lp, lf, ch, p, int(cur-first), int(end-first), int(pageEnd-first), rows[cur-a:end-a]); err != nil {
				return err
			}
		}
		cur = end
	}
	return nil
}

// loadPage reads page p of chunk ch into lp (a scan's cached page, kept
// when it is already that page) or into the scratch.
func (s *rowSource) loadPage(sc *rowScratch, lp *loadedPage, lf *rowLeaf, ch *chunkInfo, p, pageRows int) (*loadedPage, error) {
	if lp != nil && lp.group == ch.group && lp.page == p {
		return lp, nil
	}
	lookup := lp == nil
	if lookup {
		lp = &sc.lp
	}
	lp.page = -1
	loc := &ch.pages[p]
	buf := sc.prefetched(loc.offset, int(loc.size))
	if buf == nil {
		lp.raw = grow(lp.raw, int(loc.size))
		buf = lp.raw
		if _, err := s.ra.ReadAt(buf, loc.offset); err != nil {
			return nil, fmt.Errorf("read page: %w", err)
		}
	}
	var h pageHeader
	known := ch.headers[p].Load()
	if known != nil {
		h = *known
	} else {
		var err error
		if h, err = decodePageHeader(buf); err != nil {
			return nil, err
		}
	}
	if h.size > len(buf) {
		return nil, fmt.Errorf("page header of %d bytes in %d", h.size, len(buf))
	}
	body := buf[h.size:]
	if int(h.compressedSize) != len(body) {
		return nil, fmt.Errorf("page body of %d bytes, header says %d", len(body), h.compressedSize)
	}
	if nv := int(h.numValues); nv > maxPageValues || nv < pageRows {
		return nil, fmt.Errorf("page of %d values for %d rows", nv, pageRows)
	}
	if known == nil && lookup {
		// Lookups keep the headers they read (scans read each page once).
		hc := h
		ch.headers[p].Store(&hc)
	}
	lp.h, lp.rep, lp.def, lp.vals, lp.decoded = h, nil, nil, nil, false
	lp.cur.reset()
	switch h.typ {
	case pageDataV2:
		rl, dl := int(h.repLength), int(h.defLength)
		if rl+dl > len(body) || int(h.numRows) != pageRows || int(h.uncompressedSize) < rl+dl {
			return nil, fmt.Errorf("bad v2 page header")
		}
		lp.rep, lp.def, lp.vals = body[:rl], body[rl:rl+dl], body[rl+dl:]
		lp.decoded = !h.compressed || ch.codec == format.Uncompressed
		if lp.decoded && len(lp.vals) != int(h.uncompressedSize)-rl-dl {
			return nil, fmt.Errorf("uncompressed page of %d bytes, header says %d", len(lp.vals), int(h.uncompressedSize)-rl-dl)
		}
	case pageData:
		data, err := decompress(&lp.dec, ch.codec, body, int(h.uncompressedSize))
		if err != nil {
			return nil, err
		}
		cut := func() ([]byte, error) {
			if len(data) < 4 {
				return nil, fmt.Errorf("levels past the page")
			}
			n := binary.LittleEndian.Uint32(data)
			if uint64(n) > uint64(len(data)-4) {
				return nil, fmt.Errorf("levels past the page")
			}
			lv := data[4 : 4+n]
			data = data[4+n:]
			return lv, nil
		}
		if lf.maxRep > 0 {
			if h.repEncoding != int32(format.RLE) {
				return nil, fmt.Errorf("%w: level encoding %d", errUnsupported, h.repEncoding)
			}
			if lp.rep, err = cut(); err != nil {
				return nil, err
			}
		}
		if lf.maxDef > 0 {
			if h.defEncoding != int32(format.RLE) {
				return nil, fmt.Errorf("%w: level encoding %d", errUnsupported, h.defEncoding)
			}
			if lp.def, err = cut(); err != nil {
				return nil, err
			}
		}
		lp.vals, lp.decoded = data, true
	default:
		return nil, fmt.Errorf("page of type %d where a data page belongs", h.typ)
	}
	lp.group, lp.page = ch.group, p
	return lp, nil
}

// values returns the page's values section, decompressing it once. With
// key (a lookup's page), a section the zstd decoder had to decompress is
// taken from or kept in the page cache (pagecache).
func (lp *loadedPage) values(codec format.CompressionCodec, key *pageKey) ([]byte, error) {
	if !lp.decoded {
		n := int(lp.h.uncompressedSize) - len(lp.rep) - len(lp.def)
		keep := key != nil && codec == format.Zstd && n <= maxCachedPage
		if keep {
			if _, _, single := zstdSingleBlock(lp.vals, n); single {
				keep = false // read in place or filled: cheaper than a copy
			} else if b := pageVals.get(*key); b != nil && len(b) == n {
				lp.vals, lp.decoded = b, true
				return b, nil
			}
		}
		v, err := decompress(&lp.dec, codec, lp.vals, n)
		if err != nil {
			lp.page = -1
			return nil, err
		}
		if keep {
			pageVals.put(*key, bytes.Clone(v))
		}
		lp.vals, lp.decoded = v, true
	}
	return lp.vals, nil
}

// scanCursor is where the last read of a scan's loaded page ended, so that
// a read of later rows of the page (the next batch of a scan, the next
// range of TracesAt) goes on from there instead of decoding the page's
// levels and values from its start again (which made a scan in batches
// quadratic in the page's rows). Each part is valid at its own position;
// loadPage resets the cursor with the page.
type scanCursor struct {
	ok       bool
	row      int    // rows of the page read
	level    int    // levels passed: where row starts
	val      int    // values (non-null) passed
	rep, def hybrid // level decoders at level
	// idx is the dictionary index decoder at value idxVal (idxOK).
	idx    hybrid
	idxVal int
	idxOK  bool
	// off is the byte offset of PLAIN byte array value offVal (offOK).
	off, offVal int
	offOK       bool
	// ints are all the page's DELTA_BINARY_PACKED values once decoded
	// (intsOK), for pages of at most maxCursorInts values.
	ints   []int64
	intsOK bool
}

// maxCursorInts bounds the values of a page a scan decodes at once (512
// KiB of ints); bigger pages are decoded from their start at each read.
const maxCursorInts = 1 << 16

// reset forgets the cursor, keeping the ints' storage unless it is big.
func (c *scanCursor) reset() {
	ints := c.ints[:0]
	if cap(ints) > maxCursorInts {
		ints = nil
	}
	*c = scanCursor{ints: ints}
}

// at reports whether the cursor can go on to row lo.
func (c *scanCursor) at(lo int) bool { return c != nil && c.ok && lo >= c.row }

// indexes returns the dictionary index decoder of the values section src
// at value vstart: from the cursor when it is at or before vstart.
func (c *scanCursor) indexes(src []byte, vstart int) (hybrid, error) {
	if c != nil && c.idxOK && vstart >= c.idxVal {
		h := c.idx
		return h, h.skip(vstart - c.idxVal)
	}
	if len(src) < 1 || src[0] > dictionaryMaxBits {
		return hybrid{}, fmt.Errorf("dictionary index width")
	}
	h := newHybrid(src[1:], uint(src[0]))
	return h, h.skip(vstart)
}

// keepIndexes records h, at value val.
func (c *scanCursor) keepIndexes(h hybrid, val int) {
	if c != nil {
		c.idx, c.idxVal, c.idxOK = h, val, true
	}
}

// deltas returns values [vstart, vstart+n) of a DELTA_BINARY_PACKED values
// section src of nv values at most: from the whole page's values, decoded
// at the scan's first read of the page, or decoded up to there.
func (c *scanCursor) deltas(sc *rowScratch, src []byte, nv, vstart, n int) ([]int64, error) {
	if c != nil && nv <= maxCursorInts {
		if !c.intsOK {
			ints, _, _, err := deltaInts(c.ints[:0], src, nv, 0, -1, false)
			c.ints = ints[:0]
			if err != nil {
				return nil, err
			}
			c.ints, c.intsOK = ints, true
		}
		if vstart+n > len(c.ints) {
			return nil, fmt.Errorf("%d delta values, want %d", max(len(c.ints)-vstart, 0), n)
		}
		return c.ints[vstart : vstart+n], nil
	}
	ints, _, _, err := deltaInts(sc.ints[:0], src, nv, vstart, vstart+n, false)
	sc.ints = ints[:0]
	if err != nil {
		return nil, err
	}
	if len(ints) != n {
		return nil, fmt.Errorf("%d delta values, want %d", len(ints), n)
	}
	return ints, nil
}

// readPage reads rows [lo, hi) of page p (of pageRows rows) into rows.
func (s *rowSource) readPage(sc *rowScratch, cached *loadedPage, lf *rowLeaf, ch *chunkInfo, p, lo, hi, pageRows int, rows []Row) error {
	lp, err := s.loadPage(sc, cached, lf, ch, p, pageRows)
	if err != nil {
		return err
	}
	var cur *scanCursor // a scan's: reads go on from the last one
	if cached != nil {
		cur = &lp.cur
	}
	if lf.top.kind != topNone {
		if len(rows) != hi-lo {
			return fmt.Errorf("BUG: %d rows for [%d, %d)", len(rows), lo, hi)
		}
		return s.readTop(sc, lp, cur, lf, ch, p, lo, rows)
	}
	resume := cur.at(lo)
	if cur != nil {
		cur.ok = false // until this read succeeds
	}
	nv := int(lp.h.numValues)
	repB, defB := lp.rep, lp.def

	// Levels: the entries of rows [lo, hi) and the values before them.
	start, n := lo, hi-lo
	var repH, defH hybrid
	if lf.maxRep > 0 {
		if resume {
			repH = cur.rep
			k, err := repH.seekZero(lo-cur.row, nv-cur.level)
			if err != nil {
				return err
			}
			start = cur.level + k
		} else {
			repH = newHybrid(repB, lf.repWidth)
			if start, err = repH.seekZero(lo, nv); err != nil {
				return err
			}
		}
		sc.rep = sc.rep[:0]
		rowsSeen := 0
		for i := start; i < nv; i++ {
			v, err := repH.next()
			if err != nil {
				return err
			}
			if v == 0 {
				if rowsSeen == hi-lo {
					repH.unread() // the next row's: the cursor stops before it
					break
				}
				rowsSeen++
			}
			if v > uint32(lf.maxRep) {
				return fmt.Errorf("repetition level %d", v)
			}
			sc.rep = append(sc.rep, byte(v))
		}
		if rowsSeen != hi-lo {
			return fmt.Errorf("rows end early")
		}
		n = len(sc.rep)
	}
	vstart, vn := start, n
	if lf.maxDef > 0 {
		if defH, vstart, vn, err = readDefs(sc, cur, resume, defB, lf, start, n); err != nil {
			return err
		}
	}
	if vstart+vn > nv {
		return fmt.Errorf("values past the page")
	}

	// Values, decompressed only when some are wanted.
	sc.vals = grow(sc.vals, vn)
	if vn > 0 {
		var key *pageKey
		if cached == nil {
			key = &pageKey{source: s.seq, group: ch.group, col: lf.col, page: p}
		}
		vals, err := lp.values(ch.codec, key)
		if err != nil {
			return err
		}
		if err := s.decodeValues(sc, cur, lf, ch, lp.h.encoding, vals, vstart, sc.vals, nv); err != nil {
			return err
		}
	}

	// Assemble.
	row, i, j, vi := -1, -1, -1, 0
	st := &lf.setter
	for e := 0; e < n; e++ {
		rp, df := 0, lf.maxDef
		if lf.maxRep > 0 {
			rp = int(sc.rep[e])
		}
		if lf.maxDef > 0 {
			df = int(sc.def[e])
		}
		if rp == 0 {
			row++
			i, j = -1, -1
		}
		if row >= len(rows) || row < 0 {
			return fmt.Errorf("levels do not start a row")
		}
		r := &rows[row]
		if lf.maxRep >= 1 && rp <= 1 && df >= lf.listDef[1] {
			i++
			st.grow1(r, i+1)
			j = -1
		}
		if lf.maxRep >= 2 && df >= lf.listDef[2] {
			if i < 0 {
				return fmt.Errorf("inner list outside an element")
			}
			j++
			st.grow2(r, i, j+1)
		}
		if df == lf.maxDef {
			if (lf.maxRep >= 1 && i < 0) || (lf.maxRep >= 2 && j < 0) {
				return fmt.Errorf("value outside an element")
			}
			st.set(r, i, j, &sc.vals[vi])
			vi++
		}
	}
	if row != len(rows)-1 {
		return fmt.Errorf("levels hold %d rows, want %d", row+1, len(rows))
	}
	if cur != nil {
		cur.ok, cur.row, cur.level, cur.val, cur.rep, cur.def = true, hi, start+n, vstart+vn, repH, defH
	}
	return nil
}

// readTop reads rows [lo, lo+len(rows)) of the loaded page lp of a leaf
// outside lists (lf.top) into rows, storing the values straight into
// their fields: strings of a dictionary are the dictionary's own (shared
// by the rows, not copied), integers of a dictionary or of
// DELTA_BINARY_PACKED and fixed-size ids of PLAIN are converted in one
// loop per column, without readPage's per value setter call. Other
// encodings are decoded by decodeValues and stored by the setter. cur is
// the page's scan cursor, or nil.
func (s *rowSource) readTop(sc *rowScratch, lp *loadedPage, cur *scanCursor, lf *rowLeaf, ch *chunkInfo, p, lo int, rows []Row) error {
	n := len(rows)
	resume := cur.at(lo)
	if cur != nil {
		cur.ok = false // until this read succeeds
	}
	vstart, vn := lo, n
	var def []byte // nil: every row has a value
	var defH hybrid
	if lf.maxDef > 0 {
		// A top-level column's levels are its rows: cur.level is cur.row.
		var err error
		if defH, vstart, vn, err = readDefs(sc, cur, resume, lp.def, lf, lo, n); err != nil {
			return err
		}
		def = sc.def
	}
	if err := s.storeTop(sc, lp, cur, lf, ch, p, def, vstart, vn, rows); err != nil {
		return err
	}
	if cur != nil {
		cur.ok, cur.row, cur.level, cur.val, cur.def = true, lo+n, lo+n, vstart+vn, defH
	}
	return nil
}

// readDefs reads the definition levels [at, at+n) of a page into sc.def
// and returns their decoder (after them), the values before level at and
// the values among the n: from the cursor's decoder when resume (the
// page's last read ended at level cur.level), else from the page's levels
// defs.
func readDefs(sc *rowScratch, cur *scanCursor, resume bool, defs []byte, lf *rowLeaf, at, n int) (defH hybrid, vstart, vn int, err error) {
	if resume {
		defH = cur.def
		c, err := defH.countEq(at-cur.level, uint32(lf.maxDef))
		if err != nil {
			return defH, 0, 0, err
		}
		vstart = cur.val + c
	} else {
		defH = newHybrid(defs, lf.defWidth)
		if vstart, err = defH.countEq(at, uint32(lf.maxDef)); err != nil {
			return defH, 0, 0, err
		}
	}
	sc.def = grow(sc.def, n)
	if err := defH.readBytes(sc.def); err != nil {
		return defH, 0, 0, err
	}
	maxDef := byte(lf.maxDef)
	for _, d := range sc.def {
		if d > maxDef {
			return defH, 0, 0, fmt.Errorf("definition level %d", d)
		}
		if d == maxDef {
			vn++
		}
	}
	return defH, vstart, vn, nil
}

// storeTop decodes values [vstart, vstart+vn) of lp and stores them into
// the rows whose definition level in def is the leaf's maximum (all rows
// when def is nil), as readTop does.
func (s *rowSource) storeTop(sc *rowScratch, lp *loadedPage, cur *scanCursor, lf *rowLeaf, ch *chunkInfo, p int, def []byte, vstart, vn int, rows []Row) error {
	nv, n, maxDef := int(lp.h.numValues), len(rows), byte(lf.maxDef)
	if vn == 0 {
		return nil
	}
	if vstart+vn > nv {
		return fmt.Errorf("values past the page")
	}
	var key *pageKey
	if cur == nil {
		key = &pageKey{source: s.seq, group: ch.group, col: lf.col, page: p}
	}
	src, err := lp.values(ch.codec, key)
	if err != nil {
		return err
	}
	base, stride, off, kind := unsafe.Pointer(unsafe.SliceData(rows)), unsafe.Sizeof(Row{}), lf.top.off, lf.top.kind
	enc := lp.h.encoding
	switch {
	case enc == encPlainDict || enc == encRLEDictionary:
		d, err := s.dictionary(lf, ch)
		if err != nil {
			return err
		}
		h, err := cur.indexes(src, vstart)
		if err != nil {
			return err
		}
		sc.idx = grow(sc.idx, vn)
		idx := sc.idx
		if err := h.readU32(idx); err != nil {
			return err
		}
		cur.keepIndexes(h, vstart+vn)
		dn := uint32(d.len())
		for _, x := range idx {
			if x >= dn {
				return fmt.Errorf("dictionary index %d of %d", x, dn)
			}
		}
		switch kind {
		case topString, topFixed:
			strs := d.strs
			if len(strs) != int(dn) {
				return fmt.Errorf("dictionary of another type")
			}
			if kind == topFixed {
				size := int(lf.top.size)
				for _, x := range idx {
					if len(strs[x]) != size {
						return fmt.Errorf("dictionary value of %d bytes", len(strs[x]))
					}
				}
			}
			vi := 0
			for e := 0; e < n; e++ {
				if def != nil && def[e] != maxDef {
					continue
				}
				p := unsafe.Add(base, uintptr(e)*stride+off)
				if kind == topString {
					*(*string)(p) = strs[idx[vi]]
				} else {
					copy(unsafe.Slice((*byte)(p), lf.top.size), strs[idx[vi]])
				}
				vi++
			}
		default:
			ints := d.ints
			if len(ints) != int(dn) {
				return fmt.Errorf("dictionary of another type")
			}
			storeInts(base, stride, off, kind, def, maxDef, ints, idx)
		}
		return nil
	case enc == encDeltaBinary && kind != topString && kind != topFixed:
		ints, err := cur.deltas(sc, src, nv, vstart, vn)
		if err != nil {
			return err
		}
		storeInts(base, stride, off, kind, def, maxDef, ints, nil)
		return nil
	case enc == encPlain && kind == topFixed:
		size := int(lf.top.size)
		if vstart+vn > len(src)/size {
			return fmt.Errorf("plain values past the page")
		}
		b := src[vstart*size : (vstart+vn)*size]
		vi := 0
		for e := 0; e < n; e++ {
			if def != nil && def[e] != maxDef {
				continue
			}
			p := unsafe.Add(base, uintptr(e)*stride+off)
			switch size {
			case 16:
				*(*[16]byte)(p) = [16]byte(b[vi*16:])
			case 8:
				*(*[8]byte)(p) = [8]byte(b[vi*8:])
			default:
				copy(unsafe.Slice((*byte)(p), size), b[vi*size:])
			}
			vi++
		}
		return nil
	}
	sc.vals = grow(sc.vals, vn)
	if err := s.decodeValues(sc, cur, lf, ch, enc, src, vstart, sc.vals, nv); err != nil {
		return err
	}
	vi := 0
	for e := range rows {
		if def != nil && def[e] != maxDef {
			continue
		}
		lf.setter.set(&rows[e], 0, 0, &sc.vals[vi])
		vi++
	}
	return nil
}

// storeInts stores integers into the field at off (of kind) of the rows
// at base: one per row whose definition level is maxDef (every row when
// def is nil), ints[idx[k]] for the k-th such row, or ints[k] when idx is
// nil. The caller has checked that there are as many values as such rows
// and that idx is inside ints.
func storeInts(base unsafe.Pointer, stride, off uintptr, kind topKind, def []byte, maxDef byte, ints []int64, idx []uint32) {
	vi := 0
	for e := 0; ; e++ {
		if def != nil {
			if e >= len(def) {
				return
			}
			if def[e] != maxDef {
				continue
			}
		}
		var v int64
		if idx != nil {
			if vi >= len(idx) {
				return
			}
			v = ints[idx[vi]]
		} else {
			if vi >= len(ints) {
				return
			}
			v = ints[vi]
		}
		p := unsafe.Add(base, uintptr(e)*stride+off)
		if kind == topInt64 {
			*(*int64)(p) = v
		} else {
			*(*uint32)(p) = uint32(v)
		}
		vi++
	}
}

// unread steps back over the value next returned (only right after it).
func (h *hybrid) unread() {
	h.left++
	if !h.rle {
		h.idx--
	}
}

// readBytes decodes len(dst) values of width 8 or less into dst, a run
// at a time.
func (h *hybrid) readBytes(dst []byte) error {
	if h.width > 8 {
		return fmt.Errorf("%w: levels of width %d", errEncoding, h.width)
	}
	for len(dst) > 0 {
		if h.left == 0 {
			if err := h.nextRun(); err != nil {
				return err
			}
		}
		k := min(len(dst), h.left)
		if h.rle {
			v := byte(h.val)
			for i := range dst[:k] {
				dst[i] = v
			}
		} else {
			i := h.unpackFast(dst[:k], nil)
			for ; i < k; i++ {
				dst[i] = byte(h.packedAt(h.idx + i))
			}
			h.idx += k
		}
		h.left -= k
		dst = dst[k:]
	}
	return nil
}

// unpackFast decodes the next values of the current bit-packed run into
// d8 (or d32), as many as are wanted and whose 8 bytes from their first
// byte are inside the run's buffer (up to its capacity), each with one
// load, and returns how many. The caller decodes the rest with packedAt.
func (h *hybrid) unpackFast(d8 []byte, d32 []uint32) int {
	b := h.packed[:cap(h.packed)]
	w := h.width
	if w == 0 || w > 32 || len(b) < 8 {
		return 0
	}
	mask := uint64(1)<<w - 1
	// Value i's first byte is (idx+i)*w/8; its load needs 8 bytes.
	last := (len(b)-8)*8/int(w) - h.idx // values idx .. idx+last are in
	if last < 0 {
		return 0
	}
	bit := uint(h.idx) * w
	if d8 != nil {
		n := min(len(d8), last+1)
		for i := range d8[:n] {
			d8[i] = byte(binary.LittleEndian.Uint64(b[bit>>3:]) >> (bit & 7) & mask)
			bit += w
		}
		return n
	}
	n := min(len(d32), last+1)
	for i := range d32[:n] {
		d32[i] = uint32(binary.LittleEndian.Uint64(b[bit>>3:]) >> (bit & 7) & mask)
		bit += w
	}
	return n
}

// readU32 decodes len(dst) values into dst, a run at a time.
func (h *hybrid) readU32(dst []uint32) error {
	for len(dst) > 0 {
		if h.left == 0 {
			if err := h.nextRun(); err != nil {
				return err
			}
		}
		k := min(len(dst), h.left)
		if h.rle {
			v := h.val
			for i := range dst[:k] {
				dst[i] = v
			}
		} else {
			i := h.unpackFast(nil, dst[:k])
			for ; i < k; i++ {
				dst[i] = h.packedAt(h.idx + i)
			}
			h.idx += k
		}
		h.left -= k
		dst = dst[k:]
	}
	return nil
}

// decodedEncodings are the encodings the row reader decodes (RLE for
// levels and booleans).
var decodedEncodings = map[format.Encoding]bool{
	format.Plain: true, format.PlainDictionary: true, format.RLE: true, format.DeltaBinaryPacked: true,
	format.DeltaLengthByteArray: true, format.RLEDictionary: true,
}

// Parquet encodings the row reader decodes.
const (
	encPlain          = 0
	encPlainDict      = 2
	encRLE            = 3
	encDeltaBinary    = 5
	encDeltaLengthBA  = 6
	encRLEDictionary  = 8
	dictionaryMaxBits = 32
)

// decodeValues decodes values [vstart, vstart+len(out)) of a page's values
// section (nv values at most, nulls included).
func (s *rowSource) decodeValues(sc *rowScratch, cur *scanCursor, lf *rowLeaf, ch *chunkInfo, enc int32, src []byte, vstart int, out []leafValue, nv int) error {
	n := len(out)
	switch enc {
	case encPlain:
		if lf.kind == parquet.ByteArray {
			from, off := 0, 0
			if cur != nil && cur.offOK && vstart >= cur.offVal {
				from, off = cur.offVal, cur.off
			}
			end, err := plainByteArrays(lf, src, from, off, vstart, out)
			if err != nil {
				return err
			}
			if cur != nil {
				cur.off, cur.offVal, cur.offOK = end, vstart+n, true
			}
			return nil
		}
		return decodePlain(lf, src, vstart, out)
	case encPlainDict, encRLEDictionary:
		d, err := s.dictionary(lf, ch)
		if err != nil {
			return err
		}
		h, err := cur.indexes(src, vstart)
		if err != nil {
			return err
		}
		sc.idx = grow(sc.idx, n)
		if err := h.readU32(sc.idx); err != nil {
			return err
		}
		cur.keepIndexes(h, vstart+n)
		dn := d.len()
		for k, x := range sc.idx {
			if int(x) >= dn {
				return fmt.Errorf("dictionary index %d of %d", x, dn)
			}
			d.value(int(x), lf.setter.kind, &out[k])
		}
		return nil
	case encRLE:
		// Booleans: a 4-byte length, then the hybrid of width 1.
		if lf.kind != parquet.Boolean || len(src) < 4 {
			return fmt.Errorf("rle encoding of %v", lf.kind)
		}
		l := binary.LittleEndian.Uint32(src)
		if uint64(l) > uint64(len(src)-4) {
			return fmt.Errorf("rle booleans past the page")
		}
		h := newHybrid(src[4:4+l], 1)
		if err := h.skip(vstart); err != nil {
			return err
		}
		for k := range out {
			x, err := h.next()
			if err != nil {
				return err
			}
			out[k].i = int64(x)
		}
		return nil
	case encDeltaBinary:
		if lf.kind != parquet.Int32 && lf.kind != parquet.Int64 {
			return fmt.Errorf("delta encoding of %v", lf.kind)
		}
		ints, err := cur.deltas(sc, src, nv, vstart, n)
		if err != nil {
			return err
		}
		for k := range out {
			v := ints[k]
			if lf.kind == parquet.Int32 {
				v = int64(int32(v))
			}
			out[k].i = v
		}
		return nil
	case encDeltaLengthBA:
		if lf.kind != parquet.ByteArray {
			return fmt.Errorf("delta length encoding of %v", lf.kind)
		}
		// The lengths of the wanted values, and the sum of those before
		// them: where the first wanted value starts.
		lens, before, data, err := deltaInts(sc.ints[:0], src, nv, vstart, vstart+n, true)
		sc.ints = lens[:0]
		if err != nil {
			return err
		}
		if len(lens) != n {
			return fmt.Errorf("%d lengths, want %d", len(lens), n)
		}
		if before < 0 || before > int64(len(data)) {
			return fmt.Errorf("byte arrays start at %d of %d bytes", before, len(data))
		}
		off := int(before)
		for k, l := range lens {
			if l < 0 || l > int64(len(data)-off) {
				return fmt.Errorf("byte array length %d", l)
			}
			setBytes(lf.setter.kind, data[off:off+int(l)], &out[k])
			off += int(l)
		}
		return nil
	}
	return fmt.Errorf("%w: encoding %d", errUnsupported, enc)
}

// setBytes stores a byte array value for a setter of kind k.
func setBytes(k valueKind, b []byte, v *leafValue) {
	if k == kindString {
		v.s = string(b)
	} else {
		v.b = b
	}
}

// decodePlain decodes PLAIN values [vstart, vstart+len(out)).
func decodePlain(lf *rowLeaf, src []byte, vstart int, out []leafValue) error {
	n := len(out)
	fixed := func(size int) ([]byte, error) {
		if size <= 0 || vstart+n > len(src)/size {
			return nil, fmt.Errorf("plain values past the page")
		}
		return src[vstart*size : (vstart+n)*size], nil
	}
	switch lf.kind {
	case parquet.Boolean:
		if (vstart+n+7)/8 > len(src) {
			return fmt.Errorf("plain values past the page")
		}
		for k := range out {
			bit := vstart + k
			out[k].i = int64(src[bit/8] >> (bit % 8) & 1)
		}
	case parquet.Int32:
		b, err := fixed(4)
		if err != nil {
			return err
		}
		for k := range out {
			out[k].i = int64(int32(binary.LittleEndian.Uint32(b[4*k:])))
		}
	case parquet.Int64:
		b, err := fixed(8)
		if err != nil {
			return err
		}
		for k := range out {
			out[k].i = int64(binary.LittleEndian.Uint64(b[8*k:]))
		}
	case parquet.Double:
		b, err := fixed(8)
		if err != nil {
			return err
		}
		for k := range out {
			out[k].f = math.Float64frombits(binary.LittleEndian.Uint64(b[8*k:]))
		}
	case parquet.FixedLenByteArray:
		b, err := fixed(lf.typeLen)
		if err != nil {
			return err
		}
		for k := range out {
			setBytes(lf.setter.kind, b[k*lf.typeLen:(k+1)*lf.typeLen], &out[k])
		}
	case parquet.ByteArray:
		_, err := plainByteArrays(lf, src, 0, 0, vstart, out)
		return err
	default:
		return fmt.Errorf("%w: plain %v", errUnsupported, lf.kind)
	}
	return nil
}

// plainByteArrays decodes PLAIN byte arrays [vstart, vstart+len(out)),
// walking from value from (at most vstart), which starts at byte off of
// src, and returns the offset of the value after the last one.
func plainByteArrays(lf *rowLeaf, src []byte, from, off, vstart int, out []leafValue) (int, error) {
	if off < 0 || off > len(src) {
		return 0, fmt.Errorf("plain values past the page")
	}
	for k := from; k < vstart+len(out); k++ {
		if len(src)-off < 4 {
			return 0, fmt.Errorf("plain values past the page")
		}
		l := binary.LittleEndian.Uint32(src[off:])
		off += 4
		if uint64(l) > uint64(len(src)-off) {
			return 0, fmt.Errorf("plain values past the page")
		}
		if k >= vstart {
			setBytes(lf.setter.kind, src[off:off+int(l)], &out[k-vstart])
		}
		off += int(l)
	}
	return off, nil
}

// scanBatch is the number of rows a scan reads at a time.
const scanBatch = 256

// rowScanner reads a block's rows in order, scanBatch at a time. It is not
// safe for concurrent use.
type rowScanner struct {
	src   *rowSource
	scan  *rowScan
	next  int64
	total int64
	buf   []Row
	par   parentResolver
}

func (s *rowSource) scanner(keys *slotKeys) *rowScanner {
	var total int64
	for _, g := range s.groups {
		total += g.rows
	}
	return &rowScanner{src: s, scan: newRowScan(), total: total, buf: make([]Row, min(scanBatch, total)), par: newParentResolver(keys)}
}

// batch returns the next rows (none at the end), valid until the next
// call.
func (rs *rowScanner) batch() ([]Row, error) {
	n := int(min(int64(len(rs.buf)), rs.total-rs.next))
	rows := rs.buf[:n]
	for i := range rows {
		resetRow(&rows[i])
	}
	if err := rs.src.readRange(rs.next, rows, rs.scan); err != nil {
		return nil, err
	}
	if err := rs.par.resolve(rows); err != nil {
		return nil, err
	}
	rs.next += int64(n)
	return rows, nil
}

// resetRow clears r, keeping the storage of its lists.
func resetRow(r *Row) {
	*r = Row{
		AttrsStr: r.AttrsStr[:0], AttrsInt: r.AttrsInt[:0], AttrsDouble: r.AttrsDouble[:0],
		AttrsBool: r.AttrsBool[:0], AttrsOther: r.AttrsOther[:0],
		Events: r.Events[:0], Links: r.Links[:0],
		ResourceAttrsStr: r.ResourceAttrsStr[:0], ResourceAttrsOther: r.ResourceAttrsOther[:0],
		ScopeAttrsStr: r.ScopeAttrsStr[:0], ScopeAttrsOther: r.ScopeAttrsOther[:0],
	}
}

// Read-ahead of a lookup: the pages a row range needs, of every column,
// read with one read per run of pages less than prefetchGap apart (the
// small columns' chunks sit next to each other), instead of one read per
// page.
const (
	prefetchGap      = 8 << 10
	maxPrefetchBytes = 4 << 20
)

// byteRange is a range of the data file, and its bytes once read.
type byteRange struct {
	off, end int64
	b        []byte
}

// prefetch reads the pages that rows [a, b) of row group g need, of the
// leaves from leaf from on.
func (s *rowSource) prefetch(sc *rowScratch, g int, a, b int64, from int) error {
	gi := &s.groups[g]
	plan := sc.plan[:0]
	for l := from; l < len(gi.chunks); l++ {
		ch := &gi.chunks[l]
		if ch.allNull {
			continue
		}
		p := sort.Search(len(ch.pages), func(i int) bool { return ch.pages[i].firstRow > a }) - 1
		for p = max(p, 0); p < len(ch.pages) && ch.pages[p].firstRow < b; p++ {
			if loc := &ch.pages[p]; !loc.allNull {
				plan = append(plan, byteRange{off: loc.offset, end: loc.offset + int64(loc.size)})
			}
		}
	}
	err := s.fetch(sc, plan)
	sc.plan = plan[:0]
	return err
}

// prefetched returns the n bytes at off if prefetch read them, else nil.
func (sc *rowScratch) prefetched(off int64, n int) []byte {
	i := sort.Search(len(sc.pre), func(i int) bool { return sc.pre[i].end > off })
	if i < len(sc.pre) && sc.pre[i].off <= off && off+int64(n) <= sc.pre[i].end {
		r := &sc.pre[i]
		return r.b[off-r.off : off-r.off+int64(n) : off-r.off+int64(n)]
	}
	return nil
}

// checkTraceBounds checks rows [a, b) of row group g, which the trace-ID
// index gives as trace id's (all of them in this row group), against the
// min and max trace id the column index gives each trace_id page. Rows are
// sorted by trace id, so a page holding rows of the trace has id between
// its bounds; its min is id exactly when the trace starts the page (else
// smaller: earlier traces), and its max exactly when the trace ends it
// (else larger). An index that points at another trace's rows fails this
// unless it is off by rows inside one page. known is false when the chunk
// has no bounds: the caller then reads the trace_id column and compares.
func (s *rowSource) checkTraceBounds(g int, a, b int64, id *model.TraceID) (known bool, err error) {
	gi := &s.groups[g]
	ch := &gi.chunks[traceIDLeaf]
	if ch.idBounds == nil || a >= b {
		return false, nil
	}
	p := sort.Search(len(ch.pages), func(i int) bool { return ch.pages[i].firstRow > a }) - 1
	if p < 0 {
		return false, fmt.Errorf("%w: data: no trace_id page holds row %d", ErrCorrupt, a)
	}
	for ; p < len(ch.pages) && ch.pages[p].firstRow < b; p++ {
		if ch.pages[p].allNull {
			return false, nil
		}
		pageEnd := gi.rows
		if p+1 < len(ch.pages) {
			pageEnd = ch.pages[p+1].firstRow
		}
		lo := bytes.Compare(ch.idBounds[p][0][:], id[:])
		hi := bytes.Compare(ch.idBounds[p][1][:], id[:])
		wantLo, wantHi := 0, 0
		if a > ch.pages[p].firstRow {
			wantLo = -1
		}
		if b < pageEnd {
			wantHi = 1
		}
		if lo != wantLo || hi != wantHi {
			return false, fmt.Errorf("%w: index points at rows of another trace (trace_id page %d of row group %d)", ErrCorrupt, p, g)
		}
	}
	return true, nil
}
