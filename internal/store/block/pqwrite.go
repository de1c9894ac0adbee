package block

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/maphash"
	"io"
	"math"
	"math/bits"
	"reflect"
	"slices"
	"strings"
	"sync"
	"unsafe"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"
	"github.com/parquet-go/parquet-go/encoding/delta"
	"github.com/parquet-go/parquet-go/encoding/rle"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// Clew's Parquet writer. It writes the file parquet-go's GenericWriter[Row]
// writes with the options of the block writer, byte for byte as a rule
// (data pages v2 of about PageBufferSize before compression, zstd, a
// dictionary page per dictionary column chunk, RLE levels, chunk
// statistics with null counts, a column index and an offset index per
// column chunk, min/max bounds only for the bounded columns; the
// exceptions are parquet-go's mistakes, see TestPQWriterMatchesParquetGo),
// for half of the CPU or less: rows
// are shredded column by column, 64 rows at a time, by a plan compiled
// once from the struct type and its Parquet schema (pqPlan), values go
// straight to their page buffers (dictionary indexes through the column's
// own hash table), and each page is encoded and compressed as it fills.
// A row group's compressed pages and dictionaries stay in memory until the
// row group is written, as parquet-go's in-memory page buffers do.

// rowSink is what the block writer writes its rows to: Clew's Parquet
// writer, or parquet-go's GenericWriter[Row] in tests (the reference).
type rowSink interface {
	// Write shreds rows; the sink keeps no reference to them (nor to
	// their strings or slices) once it returns.
	Write(rows []Row) (int, error)
	// Flush ends the current row group.
	Flush() error
	// SetKeyValueMetadata sets a key-value pair of the file's footer.
	SetKeyValueMetadata(key, value string)
	// Close writes the last row group, the page index and the footer.
	Close() error
}

// newPQRowSink returns Clew's Parquet writer of Rows for the block writer.
func newPQRowSink(out io.Writer, o WriterOptions) (rowSink, error) {
	return newPQWriter[Row](out, pqOptions{
		PageBufferSize: o.PageBufferSize,
		MaxRows:        int64(o.RowGroupRows) * 64,
		CreatedBy:      blockCreatedBy(),
		Metadata:       map[string]string{"clew.block.format_version": fmt.Sprint(FormatVersion)},
		Sorting:        []string{"trace_id", "start_unix_nano"},
		Bounded:        func(path []string) bool { return len(path) == 1 && boundedColumns[path[0]] },
	})
}

// blockCreatedBy is the footer's created_by, as parquet.CreatedBy("clew",
// "block", version) formats it.
func blockCreatedBy() string {
	return fmt.Sprintf("clew version block(build %d)", FormatVersion)
}

// pqOptions configure a pqWriter.
type pqOptions struct {
	// PageBufferSize is the page size target before encoding: a page
	// ends once its buffered values reach 98% of it, checked every 64
	// rows (as parquet-go does).
	PageBufferSize int
	// MaxRows ends a row group after this many rows (0: no limit).
	MaxRows int64
	// CreatedBy is the footer's created_by.
	CreatedBy string
	// Metadata is the footer's key-value metadata.
	Metadata map[string]string
	// Sorting lists the top-level columns rows are sorted by (ascending).
	Sorting []string
	// Bounded says which leaf columns keep page min/max values.
	Bounded func(path []string) bool
}

// Leaf value kinds.
const (
	pqBool = iota
	pqInt32
	pqUint32
	pqInt64
	pqUint64 // also INT64
	pqDouble
	pqString // Go string, BYTE_ARRAY
	pqBytes  // Go []byte, BYTE_ARRAY
	pqFixed  // Go [N]byte, FIXED_LEN_BYTE_ARRAY
)

// pqLeaf is a leaf column of a plan.
type pqLeaf struct {
	path     []string
	kind     uint8
	size     int // bytes of a value in memory (and of a FIXED_LEN_BYTE_ARRAY)
	enc      format.Encoding
	optional bool // null when the Go value is the zero value
	maxDef   byte
	maxRep   byte
	physical format.Type
	// encodings is the chunk metadata's sorted list of encodings.
	encodings []format.Encoding
}

// pqNode is a field of a struct in a plan: a leaf column or a list.
type pqNode struct {
	off      uintptr
	leaf     int // column of a leaf; -1 for a list
	elemSize uintptr
	// elem are the fields of a list's element (one leaf node at offset 0
	// for a list of scalars).
	elem []pqNode
	// rep is the repetition level of a list's elements, def the
	// definition level of a present element.
	rep, def byte
	// leaves are the columns under a list, which an empty list nulls.
	leaves []int
}

// pqPlan is the compiled shredding plan of a struct type.
type pqPlan struct {
	rowSize uintptr
	top     []pqNode
	leaves  []pqLeaf
	// The schema elements and column orders of the footer (shared by
	// the writers, read only).
	schema       []format.SchemaElement
	columnOrders []format.ColumnOrder
	colIndex     map[string]int
	// cols keeps the columns of closed writers (*[]pqColumn).
	cols sync.Pool
}

var pqPlans sync.Map // reflect.Type -> *pqPlan or error

// pqPlanOf returns the plan of T, compiled once.
func pqPlanOf[T any]() (*pqPlan, error) {
	t := reflect.TypeFor[T]()
	if v, ok := pqPlans.Load(t); ok {
		if err, ok := v.(error); ok {
			return nil, err
		}
		return v.(*pqPlan), nil
	}
	p, err := compilePQPlan[T]()
	if err != nil {
		pqPlans.Store(t, err)
		return nil, err
	}
	pqPlans.Store(t, p)
	return p, nil
}

// compilePQPlan derives the leaf columns of T from its Parquet schema and
// its fields' offsets.
func compilePQPlan[T any]() (*pqPlan, error) {
	t := reflect.TypeFor[T]()
	schema := parquet.SchemaOf(reflect.New(t).Elem().Interface())
	p := &pqPlan{rowSize: t.Size(), colIndex: map[string]int{}}
	var err error
	p.top, err = p.walk(schema, t, nil, 0, 0, 0)
	if err != nil {
		return nil, err
	}
	if len(p.leaves) != len(schema.Columns()) {
		return nil, fmt.Errorf("parquet plan of %v: %d leaves, the schema has %d", t, len(p.leaves), len(schema.Columns()))
	}
	// The schema elements and column orders, exactly as parquet-go
	// writes them: from the footer of an empty file.
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[T](&buf, schema)
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("parquet plan of %v: template: %w", t, err)
	}
	f, err := parquet.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		return nil, fmt.Errorf("parquet plan of %v: template: %w", t, err)
	}
	md := f.Metadata()
	p.schema, p.columnOrders = md.Schema, md.ColumnOrders
	if len(p.columnOrders) != len(p.leaves) {
		return nil, fmt.Errorf("parquet plan of %v: %d column orders", t, len(p.columnOrders))
	}
	return p, nil
}

// walk compiles the fields of struct type t at offset base.
func (p *pqPlan) walk(schema *parquet.Schema, t reflect.Type, prefix []string, base uintptr, rep, def byte) ([]pqNode, error) {
	var nodes []pqNode
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("parquet")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		var optional, list bool
		for _, o := range strings.Split(opts, ",") {
			switch o {
			case "optional":
				optional = true
			case "list":
				list = true
			case "", "dict", "delta", "plain":
			default:
				return nil, fmt.Errorf("parquet plan: field %s: tag option %q not supported", f.Name, o)
			}
		}
		path := append(slices.Clip(prefix), name)
		off := base + f.Offset
		ft := f.Type
		switch {
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() != reflect.Uint8:
			if optional {
				return nil, fmt.Errorf("parquet plan: field %s: optional list", f.Name)
			}
			elemPath := path
			if list {
				elemPath = append(slices.Clip(path), "list", "element")
			}
			n := pqNode{off: off, leaf: -1, elemSize: ft.Elem().Size(), rep: rep + 1, def: def + 1}
			first := len(p.leaves)
			var err error
			if ft.Elem().Kind() == reflect.Struct {
				n.elem, err = p.walk(schema, ft.Elem(), elemPath, 0, rep+1, def+1)
			} else {
				var leaf pqNode
				leaf, err = p.leaf(schema, elemPath, ft.Elem(), 0, false, rep+1, def+1)
				n.elem = []pqNode{leaf}
			}
			if err != nil {
				return nil, err
			}
			for c := first; c < len(p.leaves); c++ {
				n.leaves = append(n.leaves, c)
			}
			nodes = append(nodes, n)
		case ft.Kind() == reflect.Struct:
			sub, err := p.walk(schema, ft, path, off, rep, def)
			if err != nil {
				return nil, err
			}
			nodes = append(nodes, sub...)
		default:
			if list {
				return nil, fmt.Errorf("parquet plan: field %s: list tag on %v", f.Name, ft)
			}
			n, err := p.leaf(schema, path, ft, off, optional, rep, def)
			if err != nil {
				return nil, err
			}
			nodes = append(nodes, n)
		}
	}
	return nodes, nil
}

// leaf compiles a leaf column.
func (p *pqPlan) leaf(schema *parquet.Schema, path []string, t reflect.Type, off uintptr, optional bool, rep, def byte) (pqNode, error) {
	l := pqLeaf{path: path, size: int(t.Size()), optional: optional, maxRep: rep, maxDef: def}
	if optional {
		l.maxDef++
	}
	switch t.Kind() {
	case reflect.Bool:
		l.kind, l.physical = pqBool, format.Boolean
	case reflect.Int32:
		l.kind, l.physical = pqInt32, format.Int32
	case reflect.Uint32:
		l.kind, l.physical = pqUint32, format.Int32
	case reflect.Int64, reflect.Int:
		if t.Size() != 8 {
			return pqNode{}, fmt.Errorf("parquet plan: %s: type %v not supported", strings.Join(path, "."), t)
		}
		l.kind, l.physical = pqInt64, format.Int64
	case reflect.Uint64:
		l.kind, l.physical = pqUint64, format.Int64
	case reflect.Float64:
		l.kind, l.physical = pqDouble, format.Double
	case reflect.String:
		l.kind, l.physical = pqString, format.ByteArray
	case reflect.Slice:
		l.kind, l.physical = pqBytes, format.ByteArray
	case reflect.Array:
		if t.Elem().Kind() != reflect.Uint8 {
			return pqNode{}, fmt.Errorf("parquet plan: %s: type %v not supported", strings.Join(path, "."), t)
		}
		l.kind, l.physical = pqFixed, format.FixedLenByteArray
	default:
		return pqNode{}, fmt.Errorf("parquet plan: %s: type %v not supported", strings.Join(path, "."), t)
	}
	lc, ok := schema.Lookup(path...)
	if !ok {
		return pqNode{}, fmt.Errorf("parquet plan: %s: not in the schema", strings.Join(path, "."))
	}
	if int(lc.ColumnIndex) != len(p.leaves) || byte(lc.MaxDefinitionLevel) != l.maxDef || byte(lc.MaxRepetitionLevel) != l.maxRep ||
		format.Type(lc.Node.Type().Kind()) != l.physical || (l.kind == pqFixed && lc.Node.Type().Length() != l.size) {
		return pqNode{}, fmt.Errorf("parquet plan: %s: schema column %d (levels %d/%d, %v) differs from the field",
			strings.Join(path, "."), lc.ColumnIndex, lc.MaxRepetitionLevel, lc.MaxDefinitionLevel, lc.Node.Type())
	}
	// As parquet-go: the tag's encoding, else DELTA_LENGTH_BYTE_ARRAY for
	// byte arrays and PLAIN for the others.
	l.enc = format.Plain
	if e := lc.Node.Encoding(); e != nil {
		l.enc = e.Encoding()
	} else if l.physical == format.ByteArray {
		l.enc = format.DeltaLengthByteArray
	}
	switch l.enc {
	case format.Plain:
	case format.DeltaLengthByteArray:
		if l.physical != format.ByteArray {
			return pqNode{}, fmt.Errorf("parquet plan: %s: delta length encoding of %v not supported", strings.Join(path, "."), t)
		}
	case format.PlainDictionary, format.RLEDictionary:
		l.enc = format.RLEDictionary
		if l.kind == pqBool || l.kind == pqDouble || l.kind == pqFixed {
			return pqNode{}, fmt.Errorf("parquet plan: %s: dictionary of %v not supported", strings.Join(path, "."), t)
		}
	case format.DeltaBinaryPacked:
		if l.kind != pqInt64 && l.kind != pqUint64 && l.kind != pqInt32 && l.kind != pqUint32 {
			return pqNode{}, fmt.Errorf("parquet plan: %s: delta encoding of %v not supported", strings.Join(path, "."), t)
		}
	default:
		return pqNode{}, fmt.Errorf("parquet plan: %s: encoding %v not supported", strings.Join(path, "."), l.enc)
	}
	if l.maxDef > 0 {
		l.encodings = append(l.encodings, format.RLE)
	}
	if l.enc == format.RLEDictionary {
		l.encodings = append(l.encodings, format.Plain)
	}
	if !slices.Contains(l.encodings, l.enc) {
		l.encodings = append(l.encodings, l.enc)
	}
	slices.Sort(l.encodings)
	p.colIndex[strings.Join(path, ".")] = len(p.leaves)
	p.leaves = append(p.leaves, l)
	return pqNode{off: off, leaf: len(p.leaves) - 1}, nil
}

// pqWriter writes a Parquet file of T rows.
type pqWriter[T any] struct {
	plan     *pqPlan
	opts     pqOptions
	out      *bufio.Writer
	offset   int64
	err      error
	cols     []pqColumn
	rgRows   int64 // rows of the current row group
	dictFull bool  // a dictionary of the row group passed the soft bounds (GroupFull)
	limit    int   // page size target
	metadata []format.KeyValue
	sorting  []format.SortingColumn
	// written row groups and their page indexes
	rowGroups     []format.RowGroup
	columnIndexes [][]format.ColumnIndex
	offsetIndexes [][]format.OffsetIndex
	// scratch buffers of page encoding
	levels, values, comp, data []byte
	slabs                      [][]byte // free page buffers
	hdr                        format.PageHeader
	offs                       []uint32
	hdrBuf                     bytes.Buffer
	hdrBytes                   []byte // the last page header encoded
	enc                        *thrift.Encoder
	proto                      thrift.CompactProtocol
	zstd                       *zstd.Codec
}

// newPQWriter starts a file on out.
func newPQWriter[T any](out io.Writer, o pqOptions) (*pqWriter[T], error) {
	plan, err := pqPlanOf[T]()
	if err != nil {
		return nil, err
	}
	if o.PageBufferSize <= 0 {
		o.PageBufferSize = parquet.DefaultPageBufferSize
	}
	if o.MaxRows <= 0 {
		o.MaxRows = math.MaxInt64
	}
	w := &pqWriter[T]{plan: plan, opts: o, out: bufio.NewWriterSize(out, parquet.DefaultWriteBufferSize),
		limit: int(float64(o.PageBufferSize) * 0.98), zstd: pqZstd}
	w.enc = thrift.NewEncoder(w.proto.NewWriter(&w.hdrBuf))
	for k, v := range o.Metadata {
		w.metadata = append(w.metadata, format.KeyValue{Key: k, Value: v})
	}
	slices.SortFunc(w.metadata, func(a, b format.KeyValue) int { return cmp.Compare(a.Key, b.Key) })
	for _, name := range o.Sorting {
		c, ok := plan.colIndex[name]
		if !ok {
			return nil, fmt.Errorf("parquet writer: sorting column %q not in the schema", name)
		}
		w.sorting = append(w.sorting, format.SortingColumn{ColumnIdx: int32(c)})
	}
	// The columns' page buffers and dictionaries of a closed writer
	// serve the next one.
	if v, ok := plan.cols.Get().(*[]pqColumn); ok {
		w.cols = *v
	} else {
		w.cols = make([]pqColumn, len(plan.leaves))
		for i := range w.cols {
			l := &plan.leaves[i]
			c := &w.cols[i]
			c.leaf = l
			if l.enc == format.RLEDictionary {
				c.dict = newPQDict(l)
			}
			c.repHist, c.defHist = newHistogram(l.maxRep), newHistogram(l.maxDef)
		}
	}
	for i := range w.cols {
		w.cols[i].bounded = o.Bounded != nil && o.Bounded(plan.leaves[i].path)
	}
	return w, nil
}

// pqMaxPageBytes bounds a page and a dictionary (parquet-go falls back
// from a dictionary past 1 GiB to PLAIN; this writer reports an error).
const pqMaxPageBytes = 1 << 30

// Limits of what a closed writer's columns keep for the next writer.
const (
	pqKeepPageBytes = 1 << 20 // a page buffer
	pqKeepDictBytes = 1 << 20 // a dictionary's values
)

// release gives the columns of a closed writer to the next one, without
// their large buffers.
func (w *pqWriter[T]) release() {
	for i := range w.cols {
		c := &w.cols[i]
		c.resetChunk()
		if cap(c.plain) > pqKeepPageBytes || cap(c.idx) > pqKeepPageBytes/4 || cap(c.defs) > pqKeepPageBytes || cap(c.reps) > pqKeepPageBytes {
			c.plain, c.idx, c.defs, c.reps, c.i64, c.bools = nil, nil, nil, nil, nil, nil
		}
		if d := c.dict; d != nil && (cap(d.plain) > pqKeepDictBytes || len(d.table) > pqKeepDictBytes/8 || len(d.stab) > pqKeepDictBytes/24) {
			c.dict = newPQDict(c.leaf)
		}
	}
	cols := w.cols
	w.cols = nil
	w.plan.cols.Put(&cols)
}

// SetKeyValueMetadata sets a key-value pair of the footer.
func (w *pqWriter[T]) SetKeyValueMetadata(key, value string) {
	for i := range w.metadata {
		if w.metadata[i].Key == key {
			w.metadata[i].Value = value
			return
		}
	}
	// Appended, as parquet-go does: only the initial pairs are sorted.
	w.metadata = append(w.metadata, format.KeyValue{Key: key, Value: value})
}

// Write shreds rows into the columns' pages. It keeps no reference to
// rows once it returns.
func (w *pqWriter[T]) Write(rows []T) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	for i := range w.cols {
		if d := w.cols[i].dict; d != nil {
			d.epoch++ // the caller may reuse the strings' memory
		}
	}
	written := 0
	for written < len(rows) {
		if w.rgRows >= w.opts.MaxRows {
			if err := w.Flush(); err != nil {
				return written, err
			}
		}
		n := min(len(rows)-written, pqChunk, int(min(w.opts.MaxRows-w.rgRows, pqChunk)))
		w.shred(unsafe.Pointer(&rows[written]), n)
		written += n
		w.rgRows += int64(n)
		hardFull := false
		for i := range w.cols {
			c := &w.cols[i]
			if c.bufferedSize() >= w.limit {
				if err := w.flushPage(c); err != nil {
					w.err = err
					return written, err
				}
			}
			if d := c.dict; d != nil {
				if len(d.plain) >= pqSoftDictBytes || d.len() >= pqSoftDictValues {
					w.dictFull = true
				}
				if len(d.plain) >= pqHardDictBytes || d.len() >= pqHardDictValues {
					hardFull = true
				}
			}
		}
		if hardFull {
			// The row group ends here, within a trace if need be, rather
			// than carry a dictionary page readers refuse.
			if err := w.Flush(); err != nil {
				return written, err
			}
		}
	}
	return written, nil
}

// GroupFull reports whether a column's dictionary asks the caller to end
// the row group at its next chance (the block writer: a trace boundary).
func (w *pqWriter[T]) GroupFull() bool { return w.dictFull }

// Bounds of a column chunk's dictionary (checked every 64 rows). The row
// reader refuses dictionary pages past maxPageBytes (64 MiB) or
// maxPageValues values as damage, and a row group of many long distinct
// strings (SQL statements, say) reaches that well before RowGroupRows
// rows. Past the soft bounds GroupFull asks for the row group to end at
// the next trace; past the hard ones the writer ends it at once.
const (
	pqSoftDictBytes  = 16 << 20
	pqSoftDictValues = 1 << 20
	pqHardDictBytes  = 48 << 20
	pqHardDictValues = 3 << 20
)

// shred appends n rows at base to the columns.
func (w *pqWriter[T]) shred(base unsafe.Pointer, n int) {
	stride := w.plan.rowSize
	for i := range w.plan.top {
		nd := &w.plan.top[i]
		if nd.leaf >= 0 {
			w.cols[nd.leaf].appendTop(unsafe.Add(base, nd.off), n, stride)
			continue
		}
		for r := 0; r < n; {
			// Runs of empty lists null every leaf at once.
			k := r
			for k < n && (*sliceHeader)(unsafe.Add(base, uintptr(k)*stride+nd.off)).len == 0 {
				k++
			}
			if k > r {
				for _, c := range nd.leaves {
					w.cols[c].appendNulls(k - r)
				}
				r = k
				continue
			}
			w.shredList(nd, unsafe.Add(base, uintptr(r)*stride), 0, 0)
			r++
		}
	}
	for i := range w.cols {
		w.cols[i].rows += n
	}
}

// sliceHeader is the memory layout of a Go slice.
type sliceHeader struct {
	data unsafe.Pointer
	len  int
	cap  int
}

// shredList appends the list of nd in the struct at p. It goes field by
// field (column by column) over the list's elements: each column gets its
// values in the same order as element by element, with fewer calls, and
// each field's values in one loop of its kind.
func (w *pqWriter[T]) shredList(nd *pqNode, p unsafe.Pointer, rep, def byte) {
	h := (*sliceHeader)(unsafe.Add(p, nd.off))
	if h.len == 0 {
		for _, c := range nd.leaves {
			w.cols[c].appendNull(rep, def)
		}
		return
	}
	for k := range nd.elem {
		e := &nd.elem[k]
		if e.leaf >= 0 {
			w.cols[e.leaf].appendList(unsafe.Add(h.data, e.off), h.len, nd.elemSize, rep, nd.rep, nd.def)
			continue
		}
		r := rep
		for i := 0; i < h.len; i++ {
			w.shredList(e, unsafe.Add(h.data, uintptr(i)*nd.elemSize), r, nd.def)
			r = nd.rep
		}
	}
}

// pqColumn is a leaf column being written: the values of its current
// page, and its chunk of the current row group.
type pqColumn struct {
	leaf    *pqLeaf
	bounded bool
	dict    *pqDict

	// The current page.
	rows   int // rows
	nvals  int // levels (values and nulls)
	nulls  int
	reps   []byte
	defs   []byte
	idx    []int32 // dictionary indexes
	i64    []int64 // delta values
	bools  []byte  // booleans, 0 or 1
	plain  []byte  // PLAIN encoded values
	nplain int     // values in plain

	// The current row group's chunk.
	pages      [][]byte // data pages, header and body, compressed, in slabs
	pagesLen   int64
	locs       []format.PageLocation
	chunkRows  int64
	numValues  int64
	nullCount  int64
	uncomp     int64 // total uncompressed size of the pages with headers
	compSize   int64 // total compressed size
	dataPages  int32
	min, max   []byte // chunk bounds (bounded columns)
	hasBounds  bool
	unencoded  int64
	repHist    []int64
	defHist    []int64
	pageRepH   []int64
	pageDefH   []int64
	nullPages  []bool
	nullCounts []int64
	minVals    [][]byte
	maxVals    [][]byte
}

// bufferedSize is the page's size as parquet-go's column buffers count
// it, which decides where pages end.
func (c *pqColumn) bufferedSize() int {
	if c.rows == 0 {
		return 0
	}
	l := c.leaf
	var n int
	switch {
	case l.enc == format.RLEDictionary:
		n = 4 * len(c.idx)
	case l.enc == format.DeltaBinaryPacked:
		n = 8*len(c.i64) + 4*len(c.idx) // int64 values, or 32-bit ones
	case l.kind == pqBool:
		n = (len(c.bools) + 7) / 8
	default:
		n = len(c.plain)
	}
	switch {
	case l.maxRep > 0:
		n += 8*c.rows + len(c.reps) + len(c.defs)
	case l.maxDef > 0:
		n += 4*c.rows + len(c.defs)
	}
	return n
}

// appendTop appends a top-level leaf's values of n rows (no repetition,
// definition level 0 or 1). The common kinds have loops of their own.
func (c *pqColumn) appendTop(p unsafe.Pointer, n int, stride uintptr) {
	l := c.leaf
	c.nvals += n
	// A loop per kind, each in a function of its own: small functions
	// keep the loop's values in registers.
	switch {
	case l.optional && l.enc == format.RLEDictionary && l.kind == pqString:
		c.appendOptStrings(p, n, stride)
	case l.optional && l.enc == format.RLEDictionary && is64(l.kind):
		c.appendOptNums64(p, n, stride)
	case l.optional:
		c.defs = slices.Grow(c.defs, n)
		for r := 0; r < n; r++ {
			c.appendOptional(unsafe.Add(p, uintptr(r)*stride), 0)
		}
	default:
		c.appendValues(p, n, stride)
	}
}

// appendList appends the values of n elements of a list (at p, stride
// bytes apart) with their levels: repetition level rep0 for the first
// and rep for the others, definition level def (and def+1 for the
// present values of an optional leaf).
func (c *pqColumn) appendList(p unsafe.Pointer, n int, stride uintptr, rep0, rep, def byte) {
	if n == 1 { // most lists of spans (an event, an int attribute)
		c.appendAt(p, rep0, def)
		return
	}
	c.nvals += n
	c.reps = append(c.reps, rep0)
	c.reps = appendRepeat(c.reps, rep, n-1)
	if c.leaf.optional {
		c.defs = slices.Grow(c.defs, n)
		for r := 0; r < n; r++ {
			c.appendOptional(unsafe.Add(p, uintptr(r)*stride), def)
		}
		return
	}
	c.defs = appendRepeat(c.defs, def, n)
	c.appendValues(p, n, stride)
}

// appendRepeat appends k copies of v to b.
func appendRepeat(b []byte, v byte, k int) []byte {
	n := len(b)
	b = slices.Grow(b, k)[:n+k]
	for i := n; i < len(b); i++ {
		b[i] = v
	}
	return b
}

// appendValues appends the (non-null) values of n rows or elements, at p
// and stride bytes apart; the caller appends their levels.
func (c *pqColumn) appendValues(p unsafe.Pointer, n int, stride uintptr) {
	l := c.leaf
	switch {
	case l.enc == format.RLEDictionary && l.kind == pqString:
		c.appendStrings(p, n, stride)
	case l.enc == format.RLEDictionary && is64(l.kind):
		c.appendNums64(p, n, stride)
	case l.enc == format.RLEDictionary && (l.kind == pqInt32 || l.kind == pqUint32):
		c.appendNums32(p, n, stride)
	case l.enc == format.DeltaBinaryPacked && is64(l.kind):
		i64 := slices.Grow(c.i64, n)
		for r := 0; r < n; r++ {
			i64 = append(i64, *(*int64)(unsafe.Add(p, uintptr(r)*stride)))
		}
		c.i64 = i64
	case l.kind == pqFixed:
		c.appendFixed(p, n, stride)
	case l.kind == pqBytes && l.enc != format.RLEDictionary:
		c.appendPlainBytes(p, n, stride)
	default:
		for r := 0; r < n; r++ {
			c.appendValue(unsafe.Add(p, uintptr(r)*stride))
		}
	}
}

// appendFixed appends fixed-size byte arrays (ids: 8 and 16 bytes by
// words, without a call).
func (c *pqColumn) appendFixed(p unsafe.Pointer, n int, stride uintptr) {
	size := c.leaf.size
	k := len(c.plain)
	c.plain = slices.Grow(c.plain, n*size)[:k+n*size]
	q := unsafe.Add(unsafe.Pointer(unsafe.SliceData(c.plain)), k)
	switch size {
	case 16:
		for r := 0; r < n; r++ {
			v := unsafe.Add(p, uintptr(r)*stride)
			*(*[2]uint64)(unsafe.Add(q, 16*r)) = *(*[2]uint64)(v)
		}
	case 8:
		for r := 0; r < n; r++ {
			*(*uint64)(unsafe.Add(q, 8*r)) = *(*uint64)(unsafe.Add(p, uintptr(r)*stride))
		}
	default:
		for r := 0; r < n; r++ {
			copy(c.plain[k+r*size:], unsafe.Slice((*byte)(unsafe.Add(p, uintptr(r)*stride)), size))
		}
	}
	c.nplain += n
}

// appendPlainBytes appends []byte values of a PLAIN or
// DELTA_LENGTH_BYTE_ARRAY column (kept PLAIN while the page fills).
func (c *pqColumn) appendPlainBytes(p unsafe.Pointer, n int, stride uintptr) {
	size := 4 * n
	for r := 0; r < n; r++ {
		size += (*sliceHeader)(unsafe.Add(p, uintptr(r)*stride)).len
	}
	plain := slices.Grow(c.plain, size)
	for r := 0; r < n; r++ {
		b := *(*[]byte)(unsafe.Add(p, uintptr(r)*stride))
		plain = binary.LittleEndian.AppendUint32(plain, uint32(len(b)))
		plain = append(plain, b...)
	}
	c.plain = plain
	c.nplain += n
}

// appendOptNums64 appends the values of an optional dictionary int64
// column: zeros are nulls.
func (c *pqColumn) appendOptNums64(p unsafe.Pointer, n int, stride uintptr) {
	d := c.dict
	defs := slices.Grow(c.defs, n)
	idx := slices.Grow(c.idx, n)
	for r := 0; r < n; r++ {
		v := *(*uint64)(unsafe.Add(p, uintptr(r)*stride))
		if v == 0 {
			defs = append(defs, 0)
			c.nulls++
			continue
		}
		defs = append(defs, 1)
		if d.hasLast && v == d.lastNum {
			idx = append(idx, d.lastIdx)
		} else {
			idx = append(idx, d.num(v))
		}
	}
	c.defs, c.idx = defs, idx
}

// appendOptStrings appends the values of an optional dictionary string
// column: empty strings are nulls.
func (c *pqColumn) appendOptStrings(p unsafe.Pointer, n int, stride uintptr) {
	k := len(c.idx)
	c.idx, c.defs = c.dict.strs(slices.Grow(c.idx, n), slices.Grow(c.defs, n), true, p, n, stride)
	c.nulls += n - (len(c.idx) - k)
}

// appendStrings appends the values of a required dictionary string column.
func (c *pqColumn) appendStrings(p unsafe.Pointer, n int, stride uintptr) {
	c.idx, _ = c.dict.strs(slices.Grow(c.idx, n), nil, false, p, n, stride)
}

// strs appends the indexes of the strings of n rows (at p, stride bytes
// apart) to idx, which has room for them. When optional, empty strings
// are nulls, and the definition levels of the rows are appended to defs,
// which has room for them.
func (d *pqDict) strs(idx []int32, defs []byte, optional bool, p unsafe.Pointer, n int, stride uintptr) ([]int32, []byte) {
	if optional {
		return d.optStrs(idx, defs, p, n, stride)
	}
	return d.reqStrs(idx, p, n, stride), defs
}

// optStrs is strs for an optional column. The loop is kept small, its
// values in registers: a string found by its address in the pointer
// cache costs a few instructions, one of at most 16 bytes found at the
// first place of the hash table (in a flush, most values point into
// their spans' own records, at new addresses) a few more, without a
// call; the others are looked up by lookup.
func (d *pqDict) optStrs(idx []int32, defs []byte, p unsafe.Pointer, n int, stride uintptr) ([]int32, []byte) {
	ni, nd := len(idx), len(defs)
	idx, defs = idx[:ni+n], defs[:nd+n] // the caller made room
	ip, dp := unsafe.Pointer(unsafe.SliceData(idx)), unsafe.Pointer(unsafe.SliceData(defs))
	epoch := d.epoch
	for r := 0; r < n; r++ {
		s := *(*string)(unsafe.Add(p, uintptr(r)*stride))
		if len(s) == 0 {
			*(*byte)(unsafe.Add(dp, nd)) = 0
			nd++
			continue
		}
		*(*byte)(unsafe.Add(dp, nd)) = 1
		nd++
		slot := d.slot(s)
		i := slot.idx
		if slot.ptr != uintptr(unsafe.Pointer(unsafe.StringData(s))) || slot.n != uint32(len(s)) || slot.epoch != epoch {
			i = d.strMissInline(s, slot, epoch)
		}
		*(*int32)(unsafe.Add(ip, 4*ni)) = i
		ni++
	}
	return idx[:ni], defs[:nd]
}

// reqStrs is strs for a required column.
func (d *pqDict) reqStrs(idx []int32, p unsafe.Pointer, n int, stride uintptr) []int32 {
	ni := len(idx)
	idx = idx[:ni+n] // the caller made room
	ip := unsafe.Pointer(unsafe.SliceData(idx))
	epoch := d.epoch
	for r := 0; r < n; r++ {
		s := *(*string)(unsafe.Add(p, uintptr(r)*stride))
		slot := d.slot(s)
		i := slot.idx
		if slot.ptr != uintptr(unsafe.Pointer(unsafe.StringData(s))) || slot.n != uint32(len(s)) || slot.epoch != epoch {
			i = d.strMissInline(s, slot, epoch)
		}
		*(*int32)(unsafe.Add(ip, 4*ni)) = i
		ni++
	}
	return idx[:ni]
}

// pqChunk is the number of rows shredded at a time: a Write goes column
// by column over this many rows, then checks whether pages are full.
const pqChunk = 64

// strMissInline returns the index of s, missing from its pointer cache
// slot, and fills the slot: inlined, a value of at most 16 bytes found at
// the first place of the hash table costs no call.
func (d *pqDict) strMissInline(s string, slot *pqPtrSlot, epoch uint32) int32 {
	var i int32 = -1
	if n := len(s); n <= 16 {
		a, b := pqWords(unsafe.Pointer(unsafe.StringData(s)), n)
		e := &d.stab[pqMix(a, b, n)&uint64(len(d.stab)-1)]
		if e.a == a && e.b == b && e.n == uint32(n) {
			i = e.e - 1 // -1 for an empty slot (of a, b, n all 0)
		}
	}
	if i < 0 {
		i = d.lookup(s)
	}
	*slot = pqPtrSlot{ptr: uintptr(unsafe.Pointer(unsafe.StringData(s))), n: uint32(len(s)), idx: i, epoch: epoch}
	return i
}

// appendNums64 appends the values of a required dictionary int64 column.
func (c *pqColumn) appendNums64(p unsafe.Pointer, n int, stride uintptr) {
	c.idx = c.dict.nums(slices.Grow(c.idx, n), p, n, stride, 8)
}

// appendNums32 appends the values of a required dictionary 32-bit
// integer column.
func (c *pqColumn) appendNums32(p unsafe.Pointer, n int, stride uintptr) {
	c.idx = c.dict.nums(slices.Grow(c.idx, n), p, n, stride, 4)
}

// nums appends the indexes of the integers of width bytes (4 or 8) of n
// rows (at p, stride bytes apart) to idx, which has room for them. Most
// of these columns repeat one value (flags, counts, kinds): the last
// value looked up and its index stay in registers.
func (d *pqDict) nums(idx []int32, p unsafe.Pointer, n int, stride uintptr, width int) []int32 {
	ni := len(idx)
	idx = idx[:ni+n] // the caller made room
	ip := unsafe.Pointer(unsafe.SliceData(idx))
	last, lastIdx, has := d.lastNum, d.lastIdx, d.hasLast
	for r, off := 0, uintptr(0); r < n; r, off = r+1, off+stride {
		var v uint64
		if width == 8 {
			v = *(*uint64)(unsafe.Add(p, off))
		} else {
			v = uint64(*(*uint32)(unsafe.Add(p, off)))
		}
		if !has || v != last {
			last, lastIdx, has = v, d.num(v), true
		}
		*(*int32)(unsafe.Add(ip, 4*ni)) = lastIdx
		ni++
	}
	return idx
}

// appendNulls appends k top-level nulls (empty lists).
func (c *pqColumn) appendNulls(k int) {
	c.nvals += k
	c.nulls += k
	if c.leaf.maxRep > 0 {
		c.reps = appendZeros(c.reps, k)
	}
	c.defs = appendZeros(c.defs, k)
}

func appendZeros(b []byte, k int) []byte {
	n := len(b)
	b = slices.Grow(b, k)[:n+k]
	clear(b[n:])
	return b
}

// appendOptional appends a value of an optional top-level column, or a
// null for the zero value.
func (c *pqColumn) appendOptional(p unsafe.Pointer, def byte) {
	if isZero(c.leaf, p) {
		c.defs = append(c.defs, def)
		c.nulls++
		return
	}
	c.defs = append(c.defs, def+1)
	c.appendValue(p)
}

// appendAt appends a value under a list with its levels.
func (c *pqColumn) appendAt(p unsafe.Pointer, rep, def byte) {
	c.nvals++
	c.reps = append(c.reps, rep)
	if c.leaf.optional {
		c.appendOptional(p, def)
		return
	}
	c.defs = append(c.defs, def)
	c.appendValue(p)
}

// appendNull appends a null under a list.
func (c *pqColumn) appendNull(rep, def byte) {
	c.nvals++
	c.nulls++
	c.reps = append(c.reps, rep)
	c.defs = append(c.defs, def)
}

// appendValue appends the (non-null) value at p.
func (c *pqColumn) appendValue(p unsafe.Pointer) {
	l := c.leaf
	switch l.enc {
	case format.RLEDictionary:
		switch l.kind {
		case pqString:
			c.idx = append(c.idx, c.dict.str(*(*string)(p)))
		case pqBytes:
			b := *(*[]byte)(p)
			c.idx = append(c.idx, c.dict.str(unsafe.String(unsafe.SliceData(b), len(b))))
		default:
			c.idx = append(c.idx, c.dict.num(loadNum(l.kind, p)))
		}
		return
	case format.DeltaBinaryPacked:
		if is64(l.kind) {
			c.i64 = append(c.i64, *(*int64)(p))
		} else {
			c.idx = append(c.idx, *(*int32)(p)) // 32-bit values
		}
		return
	}
	switch l.kind {
	case pqBool:
		b := byte(0)
		if *(*bool)(p) {
			b = 1
		}
		c.bools = append(c.bools, b)
	case pqInt32, pqUint32:
		c.plain = binary.LittleEndian.AppendUint32(c.plain, *(*uint32)(p))
	case pqInt64, pqUint64, pqDouble:
		c.plain = binary.LittleEndian.AppendUint64(c.plain, *(*uint64)(p))
	case pqString:
		s := *(*string)(p)
		c.plain = binary.LittleEndian.AppendUint32(c.plain, uint32(len(s)))
		c.plain = append(c.plain, s...)
	case pqBytes:
		b := *(*[]byte)(p)
		c.plain = binary.LittleEndian.AppendUint32(c.plain, uint32(len(b)))
		c.plain = append(c.plain, b...)
	case pqFixed:
		c.plain = append(c.plain, unsafe.Slice((*byte)(p), l.size)...)
	}
	if l.kind != pqBool {
		c.nplain++
	}
}

// is64 says whether kind is a 64-bit integer.
func is64(kind uint8) bool { return kind == pqInt64 || kind == pqUint64 }

// loadNum loads an integer of a dictionary column as its key.
func loadNum(kind uint8, p unsafe.Pointer) uint64 {
	if is64(kind) {
		return *(*uint64)(p)
	}
	return uint64(*(*uint32)(p))
}

// isZero says whether the value at p is the zero value of its kind.
func isZero(l *pqLeaf, p unsafe.Pointer) bool {
	switch l.kind {
	case pqBool:
		return !*(*bool)(p)
	case pqInt32, pqUint32:
		return *(*uint32)(p) == 0
	case pqInt64, pqUint64, pqDouble:
		return *(*uint64)(p) == 0
	case pqString:
		return len(*(*string)(p)) == 0
	case pqBytes:
		return (*sliceHeader)(p).data == nil // as parquet-go: empty is not null
	default:
		for _, b := range unsafe.Slice((*byte)(p), l.size) {
			if b != 0 {
				return false
			}
		}
		return true
	}
}

// flushPage encodes, compresses and appends the column's current page to
// its chunk.
func (w *pqWriter[T]) flushPage(c *pqColumn) error {
	if c.rows == 0 {
		return nil
	}
	l := c.leaf
	// Levels, RLE without length prefixes (data page v2).
	w.levels = w.levels[:0]
	var repLen, defLen int
	var err error
	if l.maxRep > 0 {
		enc := rle.Encoding{BitWidth: bits.Len8(l.maxRep)}
		if w.comp, err = enc.EncodeLevels(w.comp[:0], c.reps); err != nil {
			return err
		}
		w.levels = append(w.levels, w.comp...)
		repLen = len(w.levels)
	}
	if l.maxDef > 0 {
		enc := rle.Encoding{BitWidth: bits.Len8(l.maxDef)}
		if w.comp, err = enc.EncodeLevels(w.comp[:0], c.defs); err != nil {
			return err
		}
		w.levels = append(w.levels, w.comp...)
		defLen = len(w.levels) - repLen
	}
	// Values.
	var values []byte
	switch {
	case l.enc == format.RLEDictionary:
		// As rle.DictionaryEncoding: the bit width of the largest index,
		// then the indexes; the width from the indexes' OR (the same
		// highest bit as their maximum), cheaper than its loop of
		// bits.Len32.
		bw := bits.Len32(orInt32(c.idx))
		enc := rle.Encoding{BitWidth: bw}
		if w.data, err = enc.EncodeInt32(w.data[:0], c.idx); err != nil {
			return err
		}
		w.values = append(append(w.values[:0], byte(bw)), w.data...)
		values = w.values
	case l.enc == format.DeltaBinaryPacked:
		var enc delta.BinaryPackedEncoding
		if is64(l.kind) {
			w.values, err = enc.EncodeInt64(w.values[:0], c.i64)
		} else {
			w.values, err = enc.EncodeInt32(w.values[:0], c.idx)
		}
		if err != nil {
			return err
		}
		values = w.values
	case l.enc == format.DeltaLengthByteArray:
		// From the PLAIN form kept while the page fills (its size is what
		// parquet-go's buffer counts) to lengths then bytes.
		w.data, w.offs = w.data[:0], append(w.offs[:0], 0)
		for b := c.plain; len(b) >= 4; {
			n := int(binary.LittleEndian.Uint32(b))
			w.data = append(w.data, b[4:4+n]...)
			w.offs = append(w.offs, uint32(len(w.data)))
			b = b[4+n:]
		}
		var enc delta.LengthByteArrayEncoding
		if w.values, err = enc.EncodeByteArray(w.values[:0], w.data, w.offs); err != nil {
			return err
		}
		values = w.values
	case l.kind == pqBool:
		w.values = slices.Grow(w.values[:0], (len(c.bools)+7)/8)[:(len(c.bools)+7)/8]
		clear(w.values)
		for i, b := range c.bools {
			w.values[i/8] |= b << (i % 8)
		}
		values = w.values
	default:
		values = c.plain
	}
	uncompressed := len(w.levels) + len(values)
	if uncompressed > pqMaxPageBytes || (c.dict != nil && len(c.dict.plain) > pqMaxPageBytes) {
		return fmt.Errorf("parquet writer: column %s: page or dictionary past %d bytes", strings.Join(l.path, "."), pqMaxPageBytes)
	}
	if w.comp, err = w.zstd.Encode(w.comp[:0], values); err != nil {
		return fmt.Errorf("compress page: %w", err)
	}
	crc := crc32.Update(crc32.ChecksumIEEE(w.levels), crc32.IEEETable, w.comp)
	h := &w.hdr
	*h = format.PageHeader{
		Type:                 format.DataPageV2,
		UncompressedPageSize: int32(uncompressed),
		CompressedPageSize:   int32(len(w.levels) + len(w.comp)),
		CRC:                  int32(crc),
	}
	h.DataPageHeaderV2.Valid = true
	h.DataPageHeaderV2.V = format.DataPageHeaderV2{
		NumValues:                  int32(c.nvals),
		NumNulls:                   int32(c.nulls),
		NumRows:                    int32(c.rows),
		Encoding:                   l.enc,
		DefinitionLevelsByteLength: int32(defLen),
		RepetitionLevelsByteLength: int32(repLen),
		IsCompressed:               thrift.New(true),
	}
	if err := w.encodeHeader(h); err != nil {
		return err
	}
	hl := int64(len(w.hdrBytes))
	c.locs = append(c.locs, format.PageLocation{Offset: c.pagesLen, CompressedPageSize: int32(hl) + h.CompressedPageSize, FirstRowIndex: c.chunkRows})
	w.appendPage(c, w.hdrBytes, w.levels, w.comp)
	c.uncomp += hl + int64(uncompressed)
	c.compSize += hl + int64(h.CompressedPageSize)
	c.dataPages++
	c.chunkRows += int64(c.rows)
	c.numValues += int64(c.nvals)
	c.nullCount += int64(c.nulls)
	if l.physical == format.ByteArray && l.enc != format.RLEDictionary {
		c.unencoded += int64(len(c.plain) - 4*c.nplain)
	}
	// Level histograms.
	if l.maxRep > 0 {
		c.pageRepH = appendHistogram(c.pageRepH, c.repHist, c.reps, l.maxRep)
	}
	if l.maxDef > 0 {
		c.pageDefH = appendHistogram(c.pageDefH, c.defHist, c.defs, l.maxDef)
	}
	// Column index entry.
	c.nullPages = append(c.nullPages, c.nvals == c.nulls)
	c.nullCounts = append(c.nullCounts, int64(c.nulls))
	minV, maxV, ok := []byte(nil), []byte(nil), false
	if c.bounded {
		minV, maxV, ok = c.pageBounds()
	}
	if ok {
		if !c.hasBounds || c.compare(minV, c.min) < 0 {
			c.min = append([]byte{}, minV...)
		}
		if !c.hasBounds || c.compare(maxV, c.max) > 0 {
			c.max = append([]byte{}, maxV...)
		}
		c.hasBounds = true
	} else {
		minV, maxV = c.nullBound(), c.nullBound()
	}
	if minV != nil || l.kind != pqFixed {
		c.minVals = append(c.minVals, truncateMin(minV, l))
		c.maxVals = append(c.maxVals, truncateMax(maxV, l))
	}
	// Reset the page.
	c.rows, c.nvals, c.nulls, c.nplain = 0, 0, 0, 0
	c.reps, c.defs, c.idx, c.i64, c.bools, c.plain = c.reps[:0], c.defs[:0], c.idx[:0], c.i64[:0], c.bools[:0], c.plain[:0]
	return nil
}

// encodeHeader encodes the page header h into w.hdrBytes.
func (w *pqWriter[T]) encodeHeader(h *format.PageHeader) error {
	if b, ok := appendPageHeader(w.hdrBytes[:0], h); ok {
		w.hdrBytes = b
		return nil
	}
	w.hdrBuf.Reset()
	if err := w.enc.Encode(h); err != nil {
		return err
	}
	w.hdrBytes = append(w.hdrBytes[:0], w.hdrBuf.Bytes()...)
	return nil
}

// appendPageHeader appends h in Thrift's compact protocol, byte for byte
// as parquet-go's encoder writes it (TestAppendPageHeader), without the
// encoder's reflection, a microsecond per page: a block has over a
// thousand pages, most of them tiny. It knows the two kinds of headers
// this writer makes, a data page v2 header (compressed, no statistics)
// and a dictionary page header; ok is false for any other.
func appendPageHeader(b []byte, h *format.PageHeader) (_ []byte, ok bool) {
	v2, dict := &h.DataPageHeaderV2, &h.DictionaryPageHeader
	switch {
	case h.DataPageHeader.Valid || h.IndexPageHeader.Valid || v2.Valid == dict.Valid:
		return b, false
	case v2.Valid && (v2.V.IsCompressed != thrift.New(true) || !isZeroStatistics(&v2.V.Statistics)):
		return b, false
	case dict.Valid && dict.V.IsSorted:
		return b, false
	}
	// Fields: a byte of the field id's delta from the previous one and
	// the type (0x5: i32, 0xC: struct, 0x1: true), an i32 as a zigzag
	// varint.
	i32 := func(b []byte, v int32) []byte { return binary.AppendVarint(append(b, 0x15), int64(v)) }
	b = i32(b, int32(h.Type))
	b = i32(b, h.UncompressedPageSize)
	b = i32(b, h.CompressedPageSize)
	last := byte(3)
	if h.CRC != 0 { // optional, left out when zero
		b = i32(b, h.CRC)
		last = 4
	}
	if v2.Valid {
		v := &v2.V
		b = append(b, (8-last)<<4|0xC)
		b = i32(b, v.NumValues)
		b = i32(b, v.NumNulls)
		b = i32(b, v.NumRows)
		b = i32(b, int32(v.Encoding))
		b = i32(b, v.DefinitionLevelsByteLength)
		b = i32(b, v.RepetitionLevelsByteLength)
		// is_compressed true; statistics (written even when empty) with
		// null_count 0 (i64 0x6, written even when zero); the two ends.
		b = append(b, 0x11, 0x1C, 0x36, 0x00, 0x00, 0x00)
	} else {
		b = append(b, (7-last)<<4|0xC)
		b = i32(b, dict.V.NumValues)
		b = i32(b, int32(dict.V.Encoding))
		b = append(b, 0x00)
	}
	return append(b, 0x00), true
}

// Thrift compact types.
const (
	tcBool   = 2 // in a list
	tcI32    = 5
	tcI64    = 6
	tcBinary = 8
	tcList   = 9
	tcStruct = 12
)

// appendTList appends the header of a list of n elements of type typ.
func appendTList(b []byte, n int, typ byte) []byte {
	if n <= 14 {
		return append(b, byte(n)<<4|typ)
	}
	return binary.AppendUvarint(append(b, 0xF0|typ), uint64(n))
}

// appendI64List appends field delta's list of int64 (the field's id is
// delta more than the previous one's).
func appendI64List(b []byte, delta byte, v []int64) []byte {
	b = appendTList(append(b, delta<<4|tcList), len(v), tcI64)
	for _, x := range v {
		b = binary.AppendVarint(b, x)
	}
	return b
}

// appendOffsetIndex appends x in Thrift's compact protocol, as parquet-go's
// encoder writes it (TestAppendPageIndexes); ok is false for an offset
// index with unencoded byte array sizes, which this writer leaves out.
func appendOffsetIndex(b []byte, x *format.OffsetIndex) (_ []byte, ok bool) {
	if x.UnencodedByteArrayDataBytes != nil {
		return b, false
	}
	b = appendTList(append(b, 1<<4|tcList), len(x.PageLocations), tcStruct)
	for i := range x.PageLocations {
		l := &x.PageLocations[i]
		b = binary.AppendVarint(append(b, 1<<4|tcI64), l.Offset)
		b = binary.AppendVarint(append(b, 1<<4|tcI32), int64(l.CompressedPageSize))
		b = binary.AppendVarint(append(b, 1<<4|tcI64), l.FirstRowIndex)
		b = append(b, 0)
	}
	return append(b, 0), true
}

// appendColumnIndex appends x in Thrift's compact protocol, as parquet-go's
// encoder writes it (TestAppendPageIndexes): the optional lists are left
// out when nil, written when empty.
func appendColumnIndex(b []byte, x *format.ColumnIndex) (_ []byte, ok bool) {
	b = appendTList(append(b, 1<<4|tcList), len(x.NullPages), tcBool)
	for _, v := range x.NullPages {
		if v {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
	}
	for _, vals := range [2][][]byte{x.MinValues, x.MaxValues} {
		b = appendTList(append(b, 1<<4|tcList), len(vals), tcBinary)
		for _, v := range vals {
			b = append(binary.AppendUvarint(b, uint64(len(v))), v...)
		}
	}
	b = binary.AppendVarint(append(b, 1<<4|tcI32), int64(x.BoundaryOrder))
	last := byte(4)
	for id, v := range [3][]int64{x.NullCounts, x.RepetitionLevelHistogram, x.DefinitionLevelHistogram} {
		if v != nil {
			b = appendI64List(b, byte(5+id)-last, v)
			last = byte(5 + id)
		}
	}
	return append(b, 0), true
}

// isZeroStatistics says whether s is empty.
func isZeroStatistics(s *format.Statistics) bool {
	return s.Max == nil && s.Min == nil && s.NullCount == 0 && s.DistinctCount == 0 && s.MaxValue == nil && s.MinValue == nil
}

// orInt32 returns the OR of the values of v, as uint32.
func orInt32(v []int32) uint32 {
	var a, b, c, d uint32
	for len(v) >= 4 {
		a, b, c, d = a|uint32(v[0]), b|uint32(v[1]), c|uint32(v[2]), d|uint32(v[3])
		v = v[4:]
	}
	for _, x := range v {
		a |= uint32(x)
	}
	return a | b | c | d
}

// newHistogram returns a level histogram, nil for a column without such
// levels.
func newHistogram(maxLevel byte) []int64 {
	if maxLevel == 0 {
		return nil
	}
	return make([]int64, maxLevel+1)
}

// pqZstd compresses pages at zstd's fastest level (the level the block
// writer has always used: its default level costs more CPU for no
// measurable gain on span data, its better one about 3%). Its encoders
// are pooled: writers share them.
var pqZstd = &zstd.Codec{Level: zstd.SpeedFastest}

// pqSlabSize is the size of the buffers holding a row group's compressed
// pages (a page larger than that gets a buffer of its own).
const pqSlabSize = 64 << 10

// pqSlabs keeps page buffers from one writer to the next.
var pqSlabs sync.Pool

// appendPage appends a page's parts to the column's chunk: to its last
// slab when they fit, else to a new one.
func (w *pqWriter[T]) appendPage(c *pqColumn, parts ...[]byte) {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	k := len(c.pages) - 1
	if k < 0 || cap(c.pages[k])-len(c.pages[k]) < n {
		var b []byte
		switch {
		case n > pqSlabSize:
			b = make([]byte, 0, n)
		case len(w.slabs) > 0:
			b = w.slabs[len(w.slabs)-1]
			w.slabs = w.slabs[:len(w.slabs)-1]
		default:
			if v, ok := pqSlabs.Get().(*[]byte); ok {
				b = (*v)[:0]
			} else {
				b = make([]byte, 0, pqSlabSize)
			}
		}
		c.pages = append(c.pages, b)
		k++
	}
	for _, p := range parts {
		c.pages[k] = append(c.pages[k], p...)
	}
	c.pagesLen += int64(n)
}

// releaseSlabs gives the writer's free page buffers back to the pool.
func (w *pqWriter[T]) releaseSlabs() {
	for _, b := range w.slabs {
		if cap(b) == pqSlabSize {
			pqSlabs.Put(&b)
		}
	}
	w.slabs = nil
}

// appendHistogram counts levels into the chunk's histogram and appends
// the page's.
func appendHistogram(pages, chunk []int64, levels []byte, maxLevel byte) []int64 {
	n := len(pages)
	pages = slices.Grow(pages, int(maxLevel)+1)[:n+int(maxLevel)+1]
	rest := len(levels)
	for v := 1; v <= int(maxLevel); v++ {
		k := bytes.Count(levels, []byte{byte(v)})
		pages[n+v] = int64(k)
		rest -= k
	}
	pages[n] = int64(rest)
	for i := range chunk {
		chunk[i] += pages[n+i]
	}
	return pages
}

// nullBound is the column index value of a page without bounds, as
// parquet-go's column indexers write it (the null value's bytes).
func (c *pqColumn) nullBound() []byte {
	switch c.leaf.kind {
	case pqBool:
		return []byte{0}
	case pqInt32, pqUint32:
		return []byte{0, 0, 0, 0}
	case pqInt64, pqUint64, pqDouble:
		return make([]byte, 8)
	case pqFixed:
		return nil
	default:
		return []byte{}
	}
}

// columnIndexLimit is the size past which byte array bounds are truncated
// in the column index (parquet-go's default).
const columnIndexLimit = parquet.DefaultColumnIndexSizeLimit

func truncateMin(v []byte, l *pqLeaf) []byte {
	v = slices.Clone(v)
	if v == nil {
		v = []byte{}
	}
	if (l.physical == format.ByteArray || l.physical == format.FixedLenByteArray) && len(v) > columnIndexLimit {
		v = v[:columnIndexLimit]
	}
	return v
}

func truncateMax(v []byte, l *pqLeaf) []byte {
	v = slices.Clone(v)
	if v == nil {
		v = []byte{}
	}
	if (l.physical == format.ByteArray || l.physical == format.FixedLenByteArray) && len(v) > columnIndexLimit {
		v = v[:columnIndexLimit]
		i := len(v) - 1
		for ; i >= 0; i-- {
			v[i]++
			if v[i] != 0 {
				break
			}
		}
		if i < 0 {
			for k := range v {
				v[k] = 0xFF
			}
		}
	}
	return v
}

// compare orders two plain-encoded values (byte arrays without their
// length) of the column's type.
func (c *pqColumn) compare(a, b []byte) int {
	switch c.leaf.kind {
	case pqInt32:
		return cmp.Compare(int32(binary.LittleEndian.Uint32(a)), int32(binary.LittleEndian.Uint32(b)))
	case pqUint32:
		return cmp.Compare(binary.LittleEndian.Uint32(a), binary.LittleEndian.Uint32(b))
	case pqInt64:
		return cmp.Compare(int64(binary.LittleEndian.Uint64(a)), int64(binary.LittleEndian.Uint64(b)))
	case pqUint64:
		return cmp.Compare(binary.LittleEndian.Uint64(a), binary.LittleEndian.Uint64(b))
	case pqDouble:
		return cmp.Compare(math.Float64frombits(binary.LittleEndian.Uint64(a)), math.Float64frombits(binary.LittleEndian.Uint64(b)))
	case pqBool:
		return cmp.Compare(a[0], b[0])
	default:
		return bytes.Compare(a, b)
	}
}

// pageBounds returns the minimum and maximum non-null values of the
// current page, plain encoded (byte arrays without their length).
func (c *pqColumn) pageBounds() (minV, maxV []byte, ok bool) {
	l := c.leaf
	switch {
	case l.enc == format.RLEDictionary:
		if len(c.idx) == 0 {
			return nil, nil, false
		}
		lo, hi := c.idx[0], c.idx[0]
		d := c.dict
		// Each value of the page is compared once: marks[i] is the page
		// that compared value i last.
		d.page++
		if len(d.marks) < d.len() {
			d.marks = append(d.marks, make([]uint32, d.len()-len(d.marks))...)
		}
		marks, page := d.marks, d.page
		for _, i := range c.idx[1:] {
			if marks[i] == page {
				continue
			}
			marks[i] = page
			if d.less(c, i, lo) {
				lo = i
			}
			if d.less(c, hi, i) {
				hi = i
			}
		}
		return d.value(lo), d.value(hi), true
	case l.enc == format.DeltaBinaryPacked && is64(l.kind):
		if len(c.i64) == 0 {
			return nil, nil, false
		}
		lo, hi := slices.Min(c.i64), slices.Max(c.i64)
		if l.kind == pqUint64 {
			lo, hi = c.i64[0], c.i64[0]
			for _, v := range c.i64[1:] {
				lo, hi = int64(min(uint64(lo), uint64(v))), int64(max(uint64(hi), uint64(v)))
			}
		}
		return binary.LittleEndian.AppendUint64(nil, uint64(lo)), binary.LittleEndian.AppendUint64(nil, uint64(hi)), true
	case l.enc == format.DeltaBinaryPacked:
		if len(c.idx) == 0 {
			return nil, nil, false
		}
		lo, hi := c.idx[0], c.idx[0]
		for _, v := range c.idx[1:] {
			if (l.kind == pqInt32 && v < lo) || (l.kind == pqUint32 && uint32(v) < uint32(lo)) {
				lo = v
			}
			if (l.kind == pqInt32 && v > hi) || (l.kind == pqUint32 && uint32(v) > uint32(hi)) {
				hi = v
			}
		}
		return binary.LittleEndian.AppendUint32(nil, uint32(lo)), binary.LittleEndian.AppendUint32(nil, uint32(hi)), true
	case l.kind == pqBool:
		if len(c.bools) == 0 {
			return nil, nil, false
		}
		return []byte{slices.Min(c.bools)}, []byte{slices.Max(c.bools)}, true
	}
	// Plain values: byte arrays with their length, or fixed-size values.
	see := func(v []byte) {
		if !ok || c.compare(v, minV) < 0 {
			minV = v
		}
		if !ok || c.compare(v, maxV) > 0 {
			maxV = v
		}
		ok = true
	}
	if l.kind == pqString || l.kind == pqBytes {
		for b := c.plain; len(b) >= 4; {
			n := int(binary.LittleEndian.Uint32(b))
			see(b[4 : 4+n])
			b = b[4+n:]
		}
		return minV, maxV, ok
	}
	if l.kind == pqFixed && l.size == 16 && len(c.plain) >= 16 {
		return bounds16(c.plain)
	}
	size := 4
	switch {
	case l.kind == pqFixed:
		size = l.size
	case l.kind == pqInt64 || l.kind == pqUint64 || l.kind == pqDouble:
		size = 8
	}
	for b := c.plain; len(b) >= size; b = b[size:] {
		see(b[:size])
	}
	return minV, maxV, ok
}

// bounds16 returns the least and the greatest of the 16-byte values of b
// (at least one), in bytes' order, which is that of their two big-endian
// words: trace_id's pages, compared without a call per value.
func bounds16(b []byte) (minV, maxV []byte, ok bool) {
	lo, hi := 0, 0
	loH, loL := binary.BigEndian.Uint64(b), binary.BigEndian.Uint64(b[8:])
	hiH, hiL := loH, loL
	for i := 16; i+16 <= len(b); i += 16 {
		h, l := binary.BigEndian.Uint64(b[i:]), binary.BigEndian.Uint64(b[i+8:])
		if h < loH || (h == loH && l < loL) {
			lo, loH, loL = i, h, l
		}
		if h > hiH || (h == hiH && l > hiL) {
			hi, hiH, hiL = i, h, l
		}
	}
	return b[lo : lo+16], b[hi : hi+16], true
}

// boundaryOrder is the column index's boundary order of min and max
// values, as parquet-go computes it.
func (c *pqColumn) boundaryOrder() format.BoundaryOrder {
	mo, xo := c.orderOf(c.minVals), c.orderOf(c.maxVals)
	if mo == xo {
		switch {
		case mo > 0:
			return format.Ascending
		case mo < 0:
			return format.Descending
		}
	}
	return format.Unordered
}

func (c *pqColumn) orderOf(vals [][]byte) int {
	if len(vals) < 2 {
		return 0
	}
	if c.leaf.physical == format.ByteArray || c.leaf.physical == format.FixedLenByteArray {
		// Equal leading values are skipped; all equal is ascending.
		i := 1
		for i < len(vals) && bytes.Equal(vals[i], vals[0]) {
			i++
		}
		if i == len(vals) {
			return 1
		}
		vals = vals[i-1:]
		if len(vals) < 2 {
			return 1
		}
		o := bytes.Compare(vals[0], vals[1])
		for k := 2; k < len(vals); k++ {
			if bytes.Compare(vals[k-1], vals[k])*o < 0 {
				return 0
			}
		}
		return -o
	}
	asc, desc := true, true
	for k := 1; k < len(vals); k++ {
		switch c.compare(vals[k-1], vals[k]) {
		case 1:
			asc = false
		case -1:
			desc = false
		}
	}
	switch {
	case asc:
		return 1
	case desc:
		return -1
	}
	return 0
}

// Flush ends the current row group: it writes the column chunks.
func (w *pqWriter[T]) Flush() error {
	if w.err != nil {
		return w.err
	}
	if w.rgRows == 0 {
		return nil
	}
	if err := w.writeRowGroup(); err != nil {
		w.err = err
		return err
	}
	return nil
}

func (w *pqWriter[T]) write(b []byte) {
	if w.err != nil {
		return
	}
	n, err := w.out.Write(b)
	w.offset += int64(n)
	w.err = err
}

func (w *pqWriter[T]) writeRowGroup() error {
	for i := range w.cols {
		if err := w.flushPage(&w.cols[i]); err != nil {
			return err
		}
	}
	if w.offset == 0 {
		w.write([]byte("PAR1"))
	}
	rg := format.RowGroup{NumRows: w.rgRows, FileOffset: w.offset, SortingColumns: slices.Clone(w.sorting), Ordinal: int16(len(w.rowGroups))}
	cis := make([]format.ColumnIndex, len(w.cols))
	ois := make([]format.OffsetIndex, len(w.cols))
	for i := range w.cols {
		c := &w.cols[i]
		l := c.leaf
		md := format.ColumnMetaData{
			Type:         l.physical,
			Encoding:     l.encodings,
			PathInSchema: l.path,
			Codec:        format.Zstd,
			NumValues:    c.numValues,
			Statistics:   format.Statistics{NullCount: c.nullCount},
		}
		if c.hasBounds {
			md.Statistics.MinValue, md.Statistics.MaxValue = c.min, c.max
		}
		var stats []format.PageEncodingStats
		if c.dict != nil {
			md.DictionaryPageOffset = w.offset
			n, err := w.writeDictionary(c)
			if err != nil {
				return err
			}
			stats = append(stats, format.PageEncodingStats{PageType: format.DictionaryPage, Encoding: format.Plain, Count: 1})
			md.TotalUncompressedSize += n[0]
			md.TotalCompressedSize += n[1]
		}
		md.DataPageOffset = w.offset
		for k := range c.locs {
			c.locs[k].Offset += w.offset
		}
		for _, b := range c.pages {
			w.write(b)
			w.slabs = append(w.slabs, b[:0])
		}
		md.TotalUncompressedSize += c.uncomp
		md.TotalCompressedSize += c.compSize
		if c.dataPages > 0 {
			stats = append(stats, format.PageEncodingStats{PageType: format.DataPageV2, Encoding: l.enc, Count: c.dataPages})
		}
		md.EncodingStats = stats
		md.SizeStatistics = format.SizeStatistics{
			UnencodedByteArrayDataBytes: c.unencoded,
			RepetitionLevelHistogram:    slices.Clone(c.repHist),
			DefinitionLevelHistogram:    slices.Clone(c.defHist),
		}
		rg.Columns = append(rg.Columns, format.ColumnChunk{MetaData: md})
		rg.TotalByteSize += md.TotalUncompressedSize
		rg.TotalCompressedSize += md.TotalCompressedSize
		cis[i] = format.ColumnIndex{
			NullPages:                c.nullPages,
			MinValues:                c.minVals,
			MaxValues:                c.maxVals,
			BoundaryOrder:            c.boundaryOrder(),
			NullCounts:               c.nullCounts,
			RepetitionLevelHistogram: c.pageRepH,
			DefinitionLevelHistogram: c.pageDefH,
		}
		ois[i] = format.OffsetIndex{PageLocations: c.locs}
		c.resetChunk()
	}
	w.rowGroups = append(w.rowGroups, rg)
	w.columnIndexes = append(w.columnIndexes, cis)
	w.offsetIndexes = append(w.offsetIndexes, ois)
	w.rgRows = 0
	w.dictFull = false
	return w.err
}

// resetChunk starts the column's next chunk; the slices given to the
// footer are left to it.
func (c *pqColumn) resetChunk() {
	*c = pqColumn{leaf: c.leaf, bounded: c.bounded, dict: c.dict,
		reps: c.reps, defs: c.defs, idx: c.idx, i64: c.i64, bools: c.bools, plain: c.plain, pages: c.pages[:0],
		repHist: newHistogram(c.leaf.maxRep), defHist: newHistogram(c.leaf.maxDef)}
	if c.dict != nil {
		c.dict.reset()
	}
}

// writeDictionary writes the column's dictionary page and returns its
// uncompressed and compressed sizes with its header.
func (w *pqWriter[T]) writeDictionary(c *pqColumn) ([2]int64, error) {
	d := c.dict
	var err error
	if w.comp, err = w.zstd.Encode(w.comp[:0], d.plain); err != nil {
		return [2]int64{}, fmt.Errorf("compress dictionary: %w", err)
	}
	h := &w.hdr
	*h = format.PageHeader{
		Type:                 format.DictionaryPage,
		UncompressedPageSize: int32(len(d.plain)),
		CompressedPageSize:   int32(len(w.comp)),
		CRC:                  int32(crc32.ChecksumIEEE(w.comp)),
	}
	h.DictionaryPageHeader.Valid = true
	h.DictionaryPageHeader.V = format.DictionaryPageHeader{NumValues: int32(d.len()), Encoding: format.Plain}
	if err := w.encodeHeader(h); err != nil {
		return [2]int64{}, err
	}
	hl := int64(len(w.hdrBytes))
	w.write(w.hdrBytes)
	w.write(w.comp)
	return [2]int64{hl + int64(len(d.plain)), hl + int64(len(w.comp))}, nil
}

// Close writes the last row group, the page index and the footer.
func (w *pqWriter[T]) Close() error {
	if err := w.Flush(); err != nil {
		return err
	}
	if w.offset == 0 {
		w.write([]byte("PAR1"))
	}
	var buf bytes.Buffer
	enc := thrift.NewEncoder(w.proto.NewWriter(&buf))
	put := func(v any) (int64, int32, error) {
		buf.Reset()
		if err := enc.Encode(v); err != nil {
			return 0, 0, err
		}
		off := w.offset
		w.write(buf.Bytes())
		return off, int32(buf.Len()), w.err
	}
	// The page indexes, as put writes them, without the encoder's
	// reflection (a few microseconds per column chunk).
	var idxBuf []byte
	putIndex := func(b []byte, ok bool, v any) (int64, int32, error) {
		if !ok {
			return put(v)
		}
		idxBuf = b
		off := w.offset
		w.write(b)
		return off, int32(len(b)), w.err
	}
	var err error
	for i := range w.columnIndexes {
		for j := range w.columnIndexes[i] {
			cc := &w.rowGroups[i].Columns[j]
			ci := &w.columnIndexes[i][j]
			b, ok := appendColumnIndex(idxBuf[:0], ci)
			if cc.ColumnIndexOffset, cc.ColumnIndexLength, err = putIndex(b, ok, ci); err != nil {
				return err
			}
		}
	}
	for i := range w.offsetIndexes {
		for j := range w.offsetIndexes[i] {
			cc := &w.rowGroups[i].Columns[j]
			oi := &w.offsetIndexes[i][j]
			b, ok := appendOffsetIndex(idxBuf[:0], oi)
			if cc.OffsetIndexOffset, cc.OffsetIndexLength, err = putIndex(b, ok, oi); err != nil {
				return err
			}
		}
	}
	var rows int64
	for i := range w.rowGroups {
		rows += w.rowGroups[i].NumRows
	}
	md := format.FileMetaData{
		Version:          2,
		Schema:           w.plan.schema,
		NumRows:          rows,
		RowGroups:        w.rowGroups,
		KeyValueMetadata: w.metadata,
		CreatedBy:        w.opts.CreatedBy,
		ColumnOrders:     w.plan.columnOrders,
	}
	_, n, err := put(&md)
	if err != nil {
		return err
	}
	var footer [8]byte
	binary.LittleEndian.PutUint32(footer[:4], uint32(n))
	copy(footer[4:], "PAR1")
	w.write(footer[:])
	if w.err != nil {
		return w.err
	}
	if err := w.out.Flush(); err != nil {
		return err
	}
	w.releaseSlabs()
	w.release()
	w.err = errors.New("parquet writer: closed")
	return nil
}

// pqDict is a column's dictionary: its values in insertion order, PLAIN
// encoded as the dictionary page holds them, and an open-addressing hash
// table of their indexes (strs for strings, table for numbers).
type pqDict struct {
	kind  uint8
	width int // bytes of a numeric value
	plain []byte
	// starts are the offsets of the values in plain (after the length
	// of byte arrays); lens their lengths.
	starts []uint32
	lens   []uint32
	// The hash table of numbers, and the hashes of its values.
	hashes []uint64
	table  []pqEntry
	// The hash table of strings (and byte arrays).
	stab []pqStrEntry
	// Strings looked up in this Write (epoch), by their data pointer:
	// the spans of a resource share its strings.
	ptrs  [16]pqPtrSlot
	epoch uint32
	// The last number looked up.
	lastIdx int32
	hasLast bool
	lastNum uint64
	// marks and page serve pageBounds.
	marks []uint32
	page  uint32
}

// pqPtrSlot remembers the index of a string by its data pointer and
// length, valid during the Write of its epoch (when the caller may not
// reuse the memory). The pointer is kept as a uintptr, which costs no
// write barrier: it is only compared, and while the epoch lasts the rows
// being written keep its string alive, so no other string can take its
// address.
type pqPtrSlot struct {
	ptr   uintptr // not a reference: only compared
	n     uint32
	idx   int32
	epoch uint32
}

// pqEntry is a slot of a dictionary's hash table of numbers: the value's
// index+1 (0 for an empty slot) and the high half of its hash, so that a
// probe reads the value only when that matches.
type pqEntry struct {
	tag uint32
	e   int32
}

// pqStrEntry is a slot of a dictionary's hash table of strings: the
// value's index+1 (0 for an empty slot), its length, and either its
// bytes (pqWords: two strings of at most 16 bytes are equal exactly when
// their lengths and words are) or, for a longer value, its hash in a (b
// is 0), which the value itself then confirms. A lookup of a short value
// thus reads one entry, not the entry, the lengths, the offsets and the
// dictionary's bytes.
type pqStrEntry struct {
	a, b uint64
	n    uint32
	e    int32
}

var pqSeed = maphash.MakeSeed()

// pqSeed64 seeds strHash.
var pqSeed64 = maphash.Comparable(pqSeed, 0) | 1

// strHash hashes s: strings of at most 16 bytes (most dictionary values)
// by their whole content in two words (pqWords, pqMix), longer ones by
// strHashLong.
func strHash(s string) uint64 {
	if len(s) > 16 {
		return strHashLong(s)
	}
	a, b := pqWords(unsafe.Pointer(unsafe.StringData(s)), len(s))
	return pqMix(a, b, len(s))
}

// pqWords returns two words holding the n <= 16 bytes at p: the first
// and last 8 or 4 (overlapping), or the first, middle and last bytes of
// fewer than 4. Two strings of n bytes are equal exactly when their
// words are.
func pqWords(p unsafe.Pointer, n int) (a, b uint64) {
	if n >= 8 {
		return *(*uint64)(p), *(*uint64)(unsafe.Add(p, n-8))
	}
	if n >= 4 {
		return uint64(*(*uint32)(p)), uint64(*(*uint32)(unsafe.Add(p, n-4)))
	}
	if n > 0 {
		return uint64(*(*byte)(p)) | uint64(*(*byte)(unsafe.Add(p, n>>1)))<<8 | uint64(*(*byte)(unsafe.Add(p, n-1)))<<16, 0
	}
	return 0, 0
}

// pqMix hashes the words of a string of n bytes.
func pqMix(a, b uint64, n int) uint64 {
	hi, lo := bits.Mul64(a^pqSeed64, b^uint64(n)^0x9E3779B97F4A7C15)
	return hi ^ lo
}

// strHashLong hashes strings of more than 16 bytes: those of at most 32
// by their whole content in four words, cheaper than maphash, longer
// ones by maphash.
func strHashLong(s string) uint64 {
	n := len(s)
	if n > 32 {
		return maphash.String(pqSeed, s)
	}
	p := unsafe.Pointer(unsafe.StringData(s))
	h1, l1 := bits.Mul64(*(*uint64)(p)^pqSeed64, *(*uint64)(unsafe.Add(p, 8))^0x9E3779B97F4A7C15)
	h2, l2 := bits.Mul64(*(*uint64)(unsafe.Add(p, n-16))^uint64(n), *(*uint64)(unsafe.Add(p, n-8))^pqSeed64)
	hi, lo := bits.Mul64(h1^l1^pqSeed64, h2^l2^uint64(n)^0x9E3779B97F4A7C15)
	return hi ^ lo
}

// strKey returns the hash of s and the words of its hash table entry.
func strKey(s string) (h, a, b uint64) {
	if n := len(s); n <= 16 {
		a, b = pqWords(unsafe.Pointer(unsafe.StringData(s)), n)
		return pqMix(a, b, n), a, b
	}
	h = strHashLong(s)
	return h, h, 0
}

func newPQDict(l *pqLeaf) *pqDict {
	d := &pqDict{kind: l.kind, width: 4}
	if l.kind == pqString || l.kind == pqBytes {
		d.stab = make([]pqStrEntry, 64)
	} else {
		d.table = make([]pqEntry, 64)
	}
	if is64(l.kind) {
		d.width = 8
	}
	return d
}

func (d *pqDict) len() int { return len(d.starts) }

func (d *pqDict) reset() {
	d.plain = d.plain[:0]
	d.starts, d.lens, d.hashes = d.starts[:0], d.lens[:0], d.hashes[:0]
	switch {
	case len(d.table) > 4096:
		d.table = make([]pqEntry, 64)
	case len(d.stab) > 4096:
		d.stab = make([]pqStrEntry, 64)
	default:
		clear(d.table)
		clear(d.stab)
	}
	d.hasLast = false
	d.epoch++
}

// slot returns the pointer cache slot of s.
func (d *pqDict) slot(s string) *pqPtrSlot {
	return &d.ptrs[(uint64(uintptr(unsafe.Pointer(unsafe.StringData(s))))*0x9E3779B97F4A7C15)>>60]
}

// str returns the index of s, adding it.
func (d *pqDict) str(s string) int32 {
	slot := d.slot(s)
	if slot.ptr == uintptr(unsafe.Pointer(unsafe.StringData(s))) && slot.n == uint32(len(s)) && slot.epoch == d.epoch {
		return slot.idx
	}
	return d.strMissInline(s, slot, d.epoch)
}

// lookup returns the index of s in the table, adding it.
func (d *pqDict) lookup(s string) int32 {
	h, a, b := strKey(s)
	n := uint32(len(s))
	mask := uint64(len(d.stab) - 1)
	for slot := h & mask; ; slot = (slot + 1) & mask {
		e := &d.stab[slot]
		if e.e == 0 {
			i := int32(len(d.starts))
			d.plain = binary.LittleEndian.AppendUint32(d.plain, n)
			d.starts = append(d.starts, uint32(len(d.plain)))
			d.lens = append(d.lens, n)
			d.plain = append(d.plain, s...)
			*e = pqStrEntry{a: a, b: b, n: n, e: i + 1}
			d.growStrs()
			return i
		}
		if e.a == a && e.b == b && e.n == n && (n <= 16 || equalLong(d.plain[d.starts[e.e-1]:], s)) {
			return e.e - 1
		}
	}
}

// growStrs doubles the string table when it is half full.
func (d *pqDict) growStrs() {
	if 2*len(d.starts) <= len(d.stab) {
		return
	}
	old := d.stab
	d.stab = make([]pqStrEntry, 2*len(old))
	mask := uint64(len(d.stab) - 1)
	for _, e := range old {
		if e.e == 0 {
			continue
		}
		h := e.a // a long value's hash
		if e.n <= 16 {
			h = pqMix(e.a, e.b, int(e.n))
		}
		slot := h & mask
		for d.stab[slot].e != 0 {
			slot = (slot + 1) & mask
		}
		d.stab[slot] = e
	}
}

// equalLong says whether b starts with s (len(b) >= len(s) > 16):
// strings of up to 32 bytes are compared by loads of words instead of a
// call.
func equalLong(b []byte, s string) bool {
	n := len(s)
	if n > 32 {
		return string(b[:n]) == s
	}
	p, q := unsafe.Pointer(unsafe.SliceData(b)), unsafe.Pointer(unsafe.StringData(s))
	return *(*uint64)(p) == *(*uint64)(q) && *(*uint64)(unsafe.Add(p, 8)) == *(*uint64)(unsafe.Add(q, 8)) &&
		*(*uint64)(unsafe.Add(p, n-16)) == *(*uint64)(unsafe.Add(q, n-16)) && *(*uint64)(unsafe.Add(p, n-8)) == *(*uint64)(unsafe.Add(q, n-8))
}

// num returns the index of the integer v, adding it.
func (d *pqDict) num(v uint64) int32 {
	if d.hasLast && v == d.lastNum {
		return d.lastIdx
	}
	h := v * 0x9E3779B97F4A7C15
	h ^= h >> 29
	tag := uint32(h >> 32)
	mask := uint64(len(d.table) - 1)
	for slot := h & mask; ; slot = (slot + 1) & mask {
		e := d.table[slot]
		if e.e == 0 {
			i := int32(len(d.starts))
			d.starts = append(d.starts, uint32(len(d.plain)))
			if d.width == 8 {
				d.plain = binary.LittleEndian.AppendUint64(d.plain, v)
			} else {
				d.plain = binary.LittleEndian.AppendUint32(d.plain, uint32(v))
			}
			d.hashes = append(d.hashes, h)
			d.table[slot] = pqEntry{tag, i + 1}
			d.grow()
			d.lastNum, d.lastIdx, d.hasLast = v, i, true
			return i
		}
		if i := e.e - 1; e.tag == tag && d.numAt(i) == v {
			d.lastNum, d.lastIdx, d.hasLast = v, i, true
			return i
		}
	}
}

func (d *pqDict) numAt(i int32) uint64 {
	if d.width == 8 {
		return binary.LittleEndian.Uint64(d.plain[d.starts[i]:])
	}
	return uint64(binary.LittleEndian.Uint32(d.plain[d.starts[i]:]))
}

// grow doubles the table when it is half full.
func (d *pqDict) grow() {
	if 2*len(d.starts) <= len(d.table) {
		return
	}
	d.table = make([]pqEntry, 2*len(d.table))
	mask := uint64(len(d.table) - 1)
	for i, h := range d.hashes {
		slot := h & mask
		for d.table[slot].e != 0 {
			slot = (slot + 1) & mask
		}
		d.table[slot] = pqEntry{uint32(h >> 32), int32(i) + 1}
	}
}

// value returns the plain bytes of value i (a byte array without its
// length).
func (d *pqDict) value(i int32) []byte {
	st := d.starts[i]
	if d.kind == pqString || d.kind == pqBytes {
		return d.plain[st : st+d.lens[i]]
	}
	return d.plain[st : int(st)+d.width]
}

// less orders values i and j.
func (d *pqDict) less(c *pqColumn, i, j int32) bool {
	return c.compare(d.value(i), d.value(j)) < 0
}
