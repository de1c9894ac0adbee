package block

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"runtime"
	"runtime/metrics"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"

	"github.com/clew-dev/clew/internal/model"
)

// newParquetGoRowSink is the reference writer: parquet-go's
// GenericWriter[Row] with the options the block writer used before Clew's
// own (pqwrite.go).
func newParquetGoRowSink(out io.Writer, o WriterOptions) (rowSink, error) {
	var skipPageBounds []parquet.WriterOption
	for _, path := range parquet.SchemaOf(Row{}).Columns() {
		if len(path) == 1 && boundedColumns[path[0]] {
			continue
		}
		skipPageBounds = append(skipPageBounds, parquet.SkipPageBounds(path...))
	}
	return parquet.NewGenericWriter[Row](out, append([]parquet.WriterOption{
		parquet.Compression(&zstd.Codec{Level: zstd.SpeedFastest}),
		parquet.PageBufferSize(o.PageBufferSize),
		parquet.MaxRowsPerRowGroup(int64(o.RowGroupRows) * 64),
		parquet.CreatedBy("clew", "block", fmt.Sprint(FormatVersion)),
		parquet.KeyValueMetadata("clew.block.format_version", fmt.Sprint(FormatVersion)),
		parquet.SortingWriterConfig(parquet.SortingColumns(parquet.Ascending("trace_id"), parquet.Ascending("start_unix_nano"))),
		parquet.DataPageStatistics(false),
	}, skipPageBounds...)...), nil
}

// writeBlockSink writes spans (sorting them) as a block whose rows go to
// the sink newSink makes.
func writeBlockSink(t testing.TB, spans []*model.Span, o WriterOptions, newSink func(io.Writer, WriterOptions) (rowSink, error)) (*Dir, Meta) {
	t.Helper()
	dir := t.TempDir()
	be, err := NewDir(filepath.Join(dir, "blocks"))
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(spans, CompareSpans)
	w, err := newWriter(be, filepath.Join(dir, "tmp"), Meta{}, o, newSink)
	if err != nil {
		t.Fatal(err)
	}
	for _, sp := range spans {
		if err := w.Add(sp); err != nil {
			t.Fatal(err)
		}
	}
	m, err := w.Finish(context.Background(), time.Unix(1700000000, 0))
	if err != nil {
		t.Fatal(err)
	}
	return be, m
}

func readData(t testing.TB, be *Dir, id string) []byte {
	t.Helper()
	b, err := be.Read(context.Background(), id, DataName)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pqCase is a differential test case: spans and writer options.
type pqCase struct {
	name  string
	spans func(t testing.TB) []*model.Span
	opts  WriterOptions
}

// TestPQWriterMatchesParquetGo writes the same spans through Clew's
// Parquet writer and through parquet-go's GenericWriter (the reference)
// and checks that the files have the same layout (schema, metadata, row
// groups, each chunk's encodings, pages and their first rows), sizes
// within 1%, that parquet-go's reader reads the same rows from both, and
// that Clew's Reader gives the same results (lookups, ScanRows, Iter,
// Verify: what `clew block verify` runs).
//
// The files are often the same bytes, but not always: parquet-go
// sometimes marks null optional values of a partial last 64-row piece as
// present empty strings (a stale pooled null bitmap), where Clew's writer
// writes the nulls the rows have.
func TestPQWriterMatchesParquetGo(t *testing.T) {
	cases := []pqCase{
		{"load", func(t testing.TB) []*model.Span { return genSpansLoad(t, 600) }, WriterOptions{}},
		{"load-many-pages-and-groups", func(t testing.TB) []*model.Span { return genSpansLoad(t, 300) }, WriterOptions{RowGroupRows: 700, PageBufferSize: 512}},
		{"single", func(testing.TB) []*model.Span { return pqEdgeSpans(1, 1) }, WriterOptions{}},
		{"bare", func(testing.TB) []*model.Span { return pqBareSpans(300) }, WriterOptions{}},
		{"random", func(testing.TB) []*model.Span { return pqRandomSpans(1500, 7) }, WriterOptions{}},
		{"random-small-pages", func(testing.TB) []*model.Span { return pqRandomSpans(2000, 8) }, WriterOptions{RowGroupRows: 500, PageBufferSize: 1024}},
		{"long-strings", func(testing.TB) []*model.Span { return pqEdgeSpans(400, 9) }, WriterOptions{PageBufferSize: 4096}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spans := tc.spans(t)
			beRef, mRef := writeBlockSink(t, spans, tc.opts, newParquetGoRowSink)
			be, m := writeBlockSink(t, spans, tc.opts, newPQRowSink)
			ref, got := readData(t, beRef, mRef.ID), readData(t, be, m.ID)
			if d := float64(len(got)-len(ref)) / float64(len(ref)); d > 0.01 || d < -0.01 {
				t.Errorf("data file %d bytes, parquet-go's %d", len(got), len(ref))
			}
			t.Logf("%d bytes, parquet-go's %d, same bytes: %v", len(got), len(ref), bytes.Equal(ref, got))
			if diff := cmp.Diff(fileLayout(t, ref), fileLayout(t, got)); diff != "" {
				t.Errorf("file layout (-ref +got):\n%s", diff)
			}
			deepDiff(t, "rows read by parquet-go", parquetRows(t, ref), parquetRows(t, got))
			deepDiff(t, "Reader results", readerResults(t, beRef, mRef, spans), readerResults(t, be, m, spans))
		})
	}
}

// deepDiff reports the differences of want and got (cmp.Diff, slow on
// large values, only when they differ).
func deepDiff(t testing.TB, what string, want, got any) {
	t.Helper()
	if reflect.DeepEqual(want, got) {
		return
	}
	t.Errorf("%s (-ref +got):\n%s", what, cmp.Diff(want, got, valueCmp, cmpopts.IgnoreUnexported(Row{}), cmpopts.EquateEmpty()))
}

// pqLayout is what must be the same in Clew's and parquet-go's files
// whatever the values: everything but sizes, offsets, statistics and
// bounds.
type pqLayout struct {
	Version      int32
	Schema       []format.SchemaElement
	NumRows      int64
	KeyValue     []format.KeyValue
	CreatedBy    string
	ColumnOrders []format.ColumnOrder
	Groups       []pqGroupLayout
}

type pqGroupLayout struct {
	NumRows int64
	Sorting []format.SortingColumn
	Ordinal int16
	Chunks  []pqChunkLayout
}

type pqChunkLayout struct {
	Type          format.Type
	Encodings     []format.Encoding
	Path          []string
	Codec         format.CompressionCodec
	NumValues     int64
	HasDictionary bool
	EncodingStats []format.PageEncodingStats
	FirstRows     []int64
	NullPages     []bool
	Min, Max      []byte
	IndexMin      [][]byte
	IndexMax      [][]byte
	Boundary      format.BoundaryOrder
	Histograms    bool
}

func fileLayout(t testing.TB, data []byte) pqLayout {
	t.Helper()
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	md := f.Metadata()
	l := pqLayout{Version: md.Version, Schema: md.Schema, NumRows: md.NumRows, KeyValue: md.KeyValueMetadata, CreatedBy: md.CreatedBy, ColumnOrders: md.ColumnOrders}
	cis, ois := f.ColumnIndexes(), f.OffsetIndexes()
	k := 0
	for _, rg := range md.RowGroups {
		g := pqGroupLayout{NumRows: rg.NumRows, Sorting: rg.SortingColumns, Ordinal: rg.Ordinal}
		for _, cc := range rg.Columns {
			m := cc.MetaData
			c := pqChunkLayout{Type: m.Type, Encodings: m.Encoding, Path: m.PathInSchema, Codec: m.Codec, NumValues: m.NumValues,
				HasDictionary: m.DictionaryPageOffset != 0, EncodingStats: m.EncodingStats,
				Min: m.Statistics.MinValue, Max: m.Statistics.MaxValue, Histograms: m.SizeStatistics.DefinitionLevelHistogram != nil}
			for _, p := range ois[k].PageLocations {
				c.FirstRows = append(c.FirstRows, p.FirstRowIndex)
			}
			c.NullPages, c.Boundary, c.IndexMin, c.IndexMax = cis[k].NullPages, cis[k].BoundaryOrder, cis[k].MinValues, cis[k].MaxValues
			g.Chunks = append(g.Chunks, c)
			k++
		}
		l.Groups = append(l.Groups, g)
	}
	return l
}

// parquetRows reads a data file's rows with parquet-go.
func parquetRows(t testing.TB, data []byte) []Row {
	t.Helper()
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	r := parquet.NewGenericReader[Row](f)
	defer r.Close()
	rows := make([]Row, f.NumRows())
	if n, err := r.Read(rows); n != len(rows) || (err != nil && err != io.EOF) {
		t.Fatalf("read %d of %d rows: %v", n, len(rows), err)
	}
	return rows
}

// pqReaderResults is what Clew's Reader gives of a block.
type pqReaderResults struct {
	Traces [][]*model.Span
	Rows   []Row
	Iter   []*model.Span
	Verify string
}

func readerResults(t testing.TB, be *Dir, m Meta, spans []*model.Span) pqReaderResults {
	t.Helper()
	ctx := context.Background()
	rd, err := Open(ctx, be, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	var res pqReaderResults
	seen := map[model.TraceID]bool{}
	for _, sp := range spans {
		if seen[sp.TraceID] {
			continue
		}
		seen[sp.TraceID] = true
		got, err := rd.FindTrace(ctx, sp.TraceID)
		if err != nil {
			t.Fatal(err)
		}
		res.Traces = append(res.Traces, got)
	}
	if err := rd.ScanRows(ctx, func(r *Row) bool {
		c := cloneRow(r)
		c.slotKeys = nil
		res.Rows = append(res.Rows, c)
		return true
	}); err != nil {
		t.Fatal(err)
	}
	it := rd.Iter()
	for sp := it.Next(); sp != nil; sp = it.Next() {
		res.Iter = append(res.Iter, sp)
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	it.Close()
	if err := rd.Verify(ctx); err != nil {
		res.Verify = err.Error()
	}
	if len(res.Iter) != len(spans) || res.Verify != "" {
		t.Errorf("block of %d spans: Iter gives %d, Verify %q", len(spans), len(res.Iter), res.Verify)
	}
	return res
}

// pqBareSpans are spans with nothing but ids and times: no resource,
// scope, attributes, events or links (every optional column null, every
// list empty).
func pqBareSpans(n int) []*model.Span {
	var out []*model.Span
	for i := 0; i < n; i++ {
		out = append(out, &model.Span{TraceID: model.TraceIDFromUint64s(0, uint64(i/3+1)), SpanID: model.SpanIDFromUint64(uint64(i + 1)),
			StartTimeUnixNano: 1e18 + uint64(i), EndTimeUnixNano: 1e18 + uint64(i)})
	}
	return out
}

// pqEdgeSpans are spans with long strings: service and span names past
// the column index's 16 bytes (ending in 0xff bytes, which the truncated
// maximum carries over), statements larger than a page, and long
// attribute values.
func pqEdgeSpans(n int, seed uint64) []*model.Span {
	rng := rand.New(rand.NewPCG(seed, seed))
	var out []*model.Span
	for i := 0; i < n; i++ {
		svc := strings.Repeat("s", 10+rng.IntN(20)) + string([]byte{0xff, 0xff, byte(rng.IntN(256))})
		res := &model.Resource{Attributes: model.Attributes{{Key: "service.name", Value: model.StringValue(svc)}}}
		sp := &model.Span{Resource: res, TraceID: model.TraceIDFromUint64s(rng.Uint64(), rng.Uint64()), SpanID: model.SpanIDFromUint64(rng.Uint64() | 1),
			Name: strings.Repeat("\xff", rng.IntN(40)) + fmt.Sprint(i), StartTimeUnixNano: 1e18 + rng.Uint64N(1e12)}
		sp.EndTimeUnixNano = sp.StartTimeUnixNano + rng.Uint64N(1e9)
		if i%5 == 0 {
			sp.Attributes = append(sp.Attributes, model.KeyValue{Key: "db.query.text", Value: model.StringValue(strings.Repeat("select 1; ", 1000+rng.IntN(10000)))})
		}
		if i%3 == 0 {
			sp.Attributes = append(sp.Attributes, model.KeyValue{Key: "blob", Value: model.BytesValue(bytes.Repeat([]byte{byte(i)}, rng.IntN(5000)))})
		}
		out = append(out, sp)
	}
	return out
}

// pqRandomSpans are varied spans from a seeded generator: every value
// type on spans, events, links, resources and scopes, optional values set
// or not, empty and long lists, negative durations.
func pqRandomSpans(n int, seed uint64) []*model.Span {
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	str := func(k int) string { return fmt.Sprintf("v%d", rng.IntN(k)) }
	val := func() model.Value {
		switch rng.IntN(8) {
		case 0:
			return model.IntValue(rng.Int64N(1000) - 500)
		case 1:
			return model.DoubleValue(rng.Float64() * 100)
		case 2:
			return model.BoolValue(rng.IntN(2) == 0)
		case 3:
			return model.BytesValue([]byte(str(50)))
		case 4:
			return model.SliceValue([]model.Value{model.IntValue(1), model.StringValue(str(5))})
		case 5:
			return model.StringValue("")
		default:
			return model.StringValue(str(200))
		}
	}
	attrs := func(max int) model.Attributes {
		var a model.Attributes
		for k := rng.IntN(max + 1); k > 0; k-- {
			a = append(a, model.KeyValue{Key: fmt.Sprintf("k%d", rng.IntN(12)), Value: val()})
		}
		return a
	}
	var resources []*model.Resource
	for i := 0; i < 20; i++ {
		r := &model.Resource{Attributes: attrs(3), DroppedAttributesCount: uint32(rng.IntN(2)), SchemaURL: str(3)}
		if i%4 != 0 {
			r.Attributes = append(r.Attributes, model.KeyValue{Key: "service.name", Value: model.StringValue(fmt.Sprintf("svc-%d", i))})
		}
		if i%3 == 0 {
			r.Attributes = append(r.Attributes, model.KeyValue{Key: "host.name", Value: model.StringValue(str(4))}, model.KeyValue{Key: "k8s.pod.name", Value: model.StringValue(str(40))})
		}
		resources = append(resources, r)
	}
	resources = append(resources, nil)
	dedicated := []string{"http.request.method", "http.method", "http.route", "url.path", "db.system", "db.statement", "rpc.service", "user.id", "tenant"}
	var out []*model.Span
	for i := 0; i < n; i++ {
		sp := &model.Span{Resource: resources[rng.IntN(len(resources))],
			TraceID: model.TraceIDFromUint64s(0, uint64(i/(1+rng.IntN(12))+1)), SpanID: model.SpanIDFromUint64(rng.Uint64() | 1),
			Name: str(30), Kind: model.SpanKind(rng.IntN(6)), StartTimeUnixNano: 1e18 + rng.Uint64N(1e10), Flags: uint32(rng.IntN(3)),
			TraceState: []string{"", "", "a=b"}[rng.IntN(3)], DroppedAttributesCount: uint32(rng.IntN(2))}
		sp.EndTimeUnixNano = sp.StartTimeUnixNano + rng.Uint64N(1e6)
		if rng.IntN(20) == 0 {
			sp.EndTimeUnixNano = sp.StartTimeUnixNano - 5
		}
		if rng.IntN(3) == 0 {
			sp.ParentSpanID = model.SpanIDFromUint64(rng.Uint64())
		}
		sp.Attributes = attrs(6)
		for _, k := range dedicated {
			if rng.IntN(3) == 0 {
				sp.Attributes = append(sp.Attributes, model.KeyValue{Key: k, Value: model.StringValue(str(20))})
			}
		}
		if rng.IntN(2) == 0 {
			sp.Attributes = append(sp.Attributes, model.KeyValue{Key: "http.response.status_code", Value: model.IntValue(int64(200 + 100*rng.IntN(4)))})
		}
		for k := rng.IntN(4) - 1; k > 0; k-- {
			sp.Events = append(sp.Events, model.Event{TimeUnixNano: sp.StartTimeUnixNano + rng.Uint64N(100), Name: str(5), Attributes: attrs(3), DroppedAttributesCount: uint32(rng.IntN(2))})
		}
		for k := rng.IntN(4) - 1; k > 0; k-- {
			sp.Links = append(sp.Links, model.Link{TraceID: model.TraceIDFromUint64s(rng.Uint64(), rng.Uint64()), SpanID: model.SpanIDFromUint64(rng.Uint64()),
				TraceState: []string{"", "x=y"}[rng.IntN(2)], Attributes: attrs(3), DroppedAttributesCount: uint32(rng.IntN(2)), Flags: uint32(rng.IntN(2))})
		}
		if rng.IntN(5) == 0 {
			sp.Status = model.Status{Code: model.StatusError, Message: str(10)}
		}
		if rng.IntN(4) != 0 {
			sp.Scope = &model.Scope{Name: str(3), Version: str(2), Attributes: attrs(2), DroppedAttributesCount: uint32(rng.IntN(2)), SchemaURL: str(2)}
		}
		out = append(out, sp)
	}
	return out
}

// BenchmarkWriteGenParquetGo is BenchmarkWriteGen with parquet-go's
// writer, the reference (-bench WriteGen runs both in the same minute).
func BenchmarkWriteGenParquetGo(b *testing.B) {
	benchWriteSink(b, genSpansLoad(b, 5000), newParquetGoRowSink)
}

// BenchmarkWriteGenClew is BenchmarkWriteGen measured as
// BenchmarkWriteGenParquetGo is (with the process's CPU time per span).
func BenchmarkWriteGenClew(b *testing.B) {
	benchWriteSink(b, genSpansLoad(b, 5000), newPQRowSink)
}

// benchWriteSink is benchWrite with the sink newSink makes.
func benchWriteSink(b *testing.B, spans []*model.Span, newSink func(io.Writer, WriterOptions) (rowSink, error)) {
	dir := b.TempDir()
	be, _ := NewDir(filepath.Join(dir, "blocks"))
	slices.SortFunc(spans, CompareSpans)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	var size int64
	for i := 0; i < b.N; i++ {
		w, err := newWriter(be, filepath.Join(dir, "tmp"), Meta{}, WriterOptions{}, newSink)
		if err != nil {
			b.Fatal(err)
		}
		for _, sp := range spans {
			if err := w.Add(sp); err != nil {
				b.Fatal(err)
			}
		}
		m, err := w.Finish(context.Background(), time.Now())
		if err != nil {
			b.Fatal(err)
		}
		size = m.Size()
		be.DeleteBlock(context.Background(), m.ID)
	}
	b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N*len(spans)), "cpu-ns/span")
	b.ReportMetric(float64(size)/float64(len(spans)), "bytes/span")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(spans)), "ns/span")
}

// genRows returns the rows the block writer makes of the benchmark load
// (attribute columns chosen), in batches of 1,024 as it writes them.
func genRows(tb testing.TB, traces int) [][]Row {
	spans := genSpansLoad(tb, traces)
	slices.SortFunc(spans, CompareSpans)
	var batches [][]Row
	sink := &captureSink{batches: &batches}
	w, err := newWriter(nil, tb.TempDir(), Meta{}, WriterOptions{}, func(io.Writer, WriterOptions) (rowSink, error) { return sink, nil })
	if err != nil {
		tb.Fatal(err)
	}
	for _, sp := range spans {
		if err := w.Add(sp); err != nil {
			tb.Fatal(err)
		}
	}
	if err := w.flushRows(); err != nil {
		tb.Fatal(err)
	}
	w.Abort()
	return batches
}

// captureSink keeps deep copies of the rows written to it.
type captureSink struct {
	batches *[][]Row
	meta    map[string]string
}

func (s *captureSink) Write(rows []Row) (int, error) {
	cp := make([]Row, len(rows))
	for i := range rows {
		cp[i] = cloneRow(&rows[i])
	}
	*s.batches = append(*s.batches, cp)
	return len(rows), nil
}
func (s *captureSink) Flush() error { return nil }
func (s *captureSink) Close() error { return nil }
func (s *captureSink) SetKeyValueMetadata(k, v string) {
	if s.meta == nil {
		s.meta = map[string]string{}
	}
	s.meta[k] = v
}

// cloneRow copies r with its slices (strings are immutable).
func cloneRow(r *Row) Row {
	c := *r
	c.AttrsStr = slices.Clone(r.AttrsStr)
	c.AttrsInt = slices.Clone(r.AttrsInt)
	c.AttrsDouble = slices.Clone(r.AttrsDouble)
	c.AttrsBool = slices.Clone(r.AttrsBool)
	c.AttrsOther = cloneOthersNil(r.AttrsOther)
	c.Events = slices.Clone(r.Events)
	for i := range c.Events {
		c.Events[i].AttrsStr = slices.Clone(c.Events[i].AttrsStr)
		c.Events[i].AttrsOther = cloneOthersNil(c.Events[i].AttrsOther)
	}
	c.Links = slices.Clone(r.Links)
	for i := range c.Links {
		c.Links[i].AttrsStr = slices.Clone(c.Links[i].AttrsStr)
		c.Links[i].AttrsOther = cloneOthersNil(c.Links[i].AttrsOther)
	}
	c.ResourceAttrsStr = slices.Clone(r.ResourceAttrsStr)
	c.ResourceAttrsOther = cloneOthersNil(r.ResourceAttrsOther)
	c.ScopeAttrsStr = slices.Clone(r.ScopeAttrsStr)
	c.ScopeAttrsOther = cloneOthersNil(r.ScopeAttrsOther)
	return c
}

func cloneOthersNil(in []OtherAttr) []OtherAttr {
	if in == nil {
		return nil
	}
	return cloneOthers(in)
}

// BenchmarkPQWriter writes the benchmark load's rows with Clew's Parquet
// writer alone (to io.Discard): the Parquet part of a flush.
func BenchmarkPQWriter(b *testing.B) {
	benchParquet(b, func(out io.Writer) (rowSink, error) {
		return newPQRowSink(out, WriterOptions{RowGroupRows: 65536, PageBufferSize: 32 << 10})
	})
}

// BenchmarkPQWriterParquetGo is BenchmarkPQWriter with parquet-go's
// GenericWriter, the reference.
func BenchmarkPQWriterParquetGo(b *testing.B) {
	benchParquet(b, func(out io.Writer) (rowSink, error) {
		return newParquetGoRowSink(out, WriterOptions{RowGroupRows: 65536, PageBufferSize: 32 << 10})
	})
}

// BenchmarkPQWriterHead is BenchmarkPQWriter with the rows a flush of the
// head writes (genHeadRows): their strings point into the spans' own
// records, so that equal values of different spans have different
// addresses, as in a flush.
func BenchmarkPQWriterHead(b *testing.B) {
	benchParquetRows(b, genHeadRows(b, 5000), func(out io.Writer) (rowSink, error) {
		return newPQRowSink(out, WriterOptions{RowGroupRows: 65536, PageBufferSize: 32 << 10})
	})
}

// BenchmarkPQShredHead is the shredding part of BenchmarkPQWriterHead
// alone: the rows of a flush of the head put in the columns' page buffers
// (emptied after each batch, no page is encoded), measured in the
// process's CPU time.
func BenchmarkPQShredHead(b *testing.B) {
	batches := genHeadRows(b, 5000)
	w, err := newPQWriter[Row](io.Discard, pqOptions{PageBufferSize: 32 << 10})
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]Row, 1024)
	n := 0
	var cpu time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, bt := range batches {
			b.StopTimer()
			rows := buf[:copy(buf, bt)]
			touchStrings(rows)
			for k := range w.cols {
				c := &w.cols[k]
				c.rows, c.nvals, c.nulls, c.nplain = 0, 0, 0, 0
				c.reps, c.defs, c.idx, c.i64, c.bools, c.plain = c.reps[:0], c.defs[:0], c.idx[:0], c.i64[:0], c.bools[:0], c.plain[:0]
				if d := c.dict; d != nil {
					d.epoch++
				}
			}
			b.StartTimer()
			c0 := processCPU()
			for r := 0; r < len(rows); r += 64 {
				w.shred(unsafe.Pointer(&rows[r]), min(64, len(rows)-r))
			}
			cpu += time.Duration(processCPU() - c0)
			n += len(rows)
		}
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(n), "cpu-ns/span")
}

func benchParquet(b *testing.B, newSink func(io.Writer) (rowSink, error)) {
	benchParquetRows(b, genRows(b, 5000), newSink)
}

func benchParquetRows(b *testing.B, batches [][]Row, newSink func(io.Writer) (rowSink, error)) {
	n := 0
	for _, bt := range batches {
		n += len(bt)
	}
	// Each batch is copied to the buffer written, as the block writer
	// fills its rows just before, and the bytes of its strings are read,
	// as filling the rows and the search index do: rows and strings are
	// in the CPU's caches as in a flush. The copies are left out of the
	// times.
	buf := make([]Row, 1024)
	var cw countWriter
	var cpu, wall time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cw = 0
		s, err := newSink(&cw)
		if err != nil {
			b.Fatal(err)
		}
		for _, bt := range batches {
			b.StopTimer()
			rows := buf[:copy(buf, bt)]
			touchStrings(rows)
			b.StartTimer()
			c0, t0 := processCPU(), time.Now()
			if _, err := s.Write(rows); err != nil {
				b.Fatal(err)
			}
			cpu += time.Duration(processCPU() - c0)
			wall += time.Since(t0)
		}
		c0, t0 := processCPU(), time.Now()
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		cpu += time.Duration(processCPU() - c0)
		wall += time.Since(t0)
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*n), "cpu-ns/span")
	b.ReportMetric(float64(cw)/float64(n), "bytes/span")
	b.ReportMetric(float64(wall.Nanoseconds())/float64(b.N*n), "ns/span")
}

// touchSink keeps touchStrings' sum.
var touchSink byte

// touchStrings reads a byte of each cache line of the rows' top-level
// strings.
func touchStrings(rows []Row) {
	plan, err := pqPlanOf[Row]()
	if err != nil {
		panic(err)
	}
	var x byte
	for i := range rows {
		for _, nd := range plan.top {
			if nd.leaf < 0 || plan.leaves[nd.leaf].kind != pqString {
				continue
			}
			s := *(*string)(unsafe.Add(unsafe.Pointer(&rows[i]), nd.off))
			for k := 0; k < len(s); k += 64 {
				x += s[k]
			}
		}
	}
	touchSink += x
}

// processCPU returns the process's user and system CPU time in
// nanoseconds (garbage collection included): on a shared machine it
// varies less than the elapsed time.
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// countWriter counts the bytes written to it.
type countWriter int64

func (w *countWriter) Write(p []byte) (int, error) {
	*w += countWriter(len(p))
	return len(p), nil
}

// pqTestRow has a field of every kind and tag the plan compiles, nested
// lists included: the writer follows any struct, not Row alone.
type pqTestRow struct {
	ID     [12]byte    `parquet:"id"`
	N      int64       `parquet:"n,delta"`
	D32    int32       `parquet:"d32,delta"`
	DU32   uint32      `parquet:"du32,delta"`
	PlainS string      `parquet:"plain_s,plain"`
	OptD   int64       `parquet:"opt_d,optional,delta"`
	DB     []byte      `parquet:"db,dict"`
	U64    uint64      `parquet:"u64"`
	U64D   uint64      `parquet:"u64d,dict"`
	U64Dt  uint64      `parquet:"u64dt,delta"`
	I      int         `parquet:"i,delta"`
	OptRaw []byte      `parquet:"opt_raw,optional"`
	I32    int32       `parquet:"i32"`
	U32    uint32      `parquet:"u32,dict"`
	OptI   int64       `parquet:"opt_i,optional,dict"`
	OptI32 int32       `parquet:"opt_i32,optional"`
	F      float64     `parquet:"f"`
	B      bool        `parquet:"b"`
	S      string      `parquet:"s,dict"`
	Plain  string      `parquet:"plain"`
	Raw    []byte      `parquet:"raw"`
	OptS   string      `parquet:"opt_s,optional"`
	Tags   []string    `parquet:"tags,list"`
	Nums   []int64     `parquet:"nums"`
	Kids   []pqTestKid `parquet:"kids,list"`
	hidden int
}

type pqTestKid struct {
	Name string  `parquet:"name,dict"`
	Vals []int32 `parquet:"vals,list"`
	Opt  string  `parquet:"opt,optional,dict"`
	F    float64 `parquet:"f,optional"`
}

func pqTestRows(n int, seed uint64) []pqTestRow {
	rng := rand.New(rand.NewPCG(seed, 1))
	rows := make([]pqTestRow, n)
	for i := range rows {
		r := &rows[i]
		r.ID[rng.IntN(12)] = byte(rng.IntN(256))
		r.N = int64(i)*1000 + rng.Int64N(100)
		r.I32 = int32(rng.IntN(100)) - 50
		r.D32 = int32(i) - int32(rng.IntN(1000))
		r.DU32 = uint32(rng.Uint64())
		r.PlainS = fmt.Sprint(rng.IntN(1000))
		if rng.IntN(3) == 0 {
			r.OptD = rng.Int64N(1e9) - 5e8
		}
		r.DB = []byte(fmt.Sprint("b", rng.IntN(9)))
		r.U64 = rng.Uint64()
		r.U64D = uint64(rng.IntN(3)) << 62
		r.U64Dt = uint64(i) << 50
		r.I = i - rng.IntN(50)
		switch rng.IntN(3) {
		case 0:
			r.OptRaw = []byte{} // present, empty
		case 1:
			r.OptRaw = []byte{byte(i)}
		}
		r.U32 = uint32(rng.IntN(5)) << 30
		if rng.IntN(2) == 0 {
			r.OptI = rng.Int64N(10) - 5
		}
		if rng.IntN(3) == 0 {
			r.OptI32 = int32(rng.IntN(1000))
		}
		r.F = rng.Float64() - 0.5
		r.B = rng.IntN(3) == 0
		r.S = fmt.Sprint(rng.IntN(30))
		r.Plain = strings.Repeat("p", rng.IntN(40))
		if rng.IntN(2) == 0 {
			r.Raw = bytes.Repeat([]byte{byte(i)}, rng.IntN(20))
		}
		if rng.IntN(2) == 0 {
			r.OptS = strings.Repeat("\xff", rng.IntN(30))
		}
		for k := rng.IntN(4); k > 0; k-- {
			r.Tags = append(r.Tags, fmt.Sprint("t", rng.IntN(7)))
		}
		for k := rng.IntN(3); k > 0; k-- {
			r.Nums = append(r.Nums, rng.Int64N(1e6))
		}
		for k := rng.IntN(4) - 1; k > 0; k-- {
			kid := pqTestKid{Name: fmt.Sprint("k", rng.IntN(4)), Opt: []string{"", "x"}[rng.IntN(2)], F: float64(rng.IntN(3))}
			for v := rng.IntN(3); v > 0; v-- {
				kid.Vals = append(kid.Vals, int32(rng.IntN(9)))
			}
			r.Kids = append(r.Kids, kid)
		}
	}
	return rows
}

// TestPQWriterGenericStruct writes pqTestRows with Clew's writer and with
// parquet-go's, bounds on every column or on none, in several row groups
// of many pages, and compares the files and the rows parquet-go reads.
func TestPQWriterGenericStruct(t *testing.T) {
	for _, bounded := range []bool{true, false} {
		for _, pageSize := range []int{64, 2048, 1 << 20} {
			t.Run(fmt.Sprintf("bounded=%v/page=%d", bounded, pageSize), func(t *testing.T) {
				rows := pqTestRows(3000, uint64(pageSize))
				opts := []parquet.WriterOption{
					parquet.Compression(&zstd.Codec{Level: zstd.SpeedFastest}),
					parquet.PageBufferSize(pageSize),
					parquet.CreatedBy("test", "1", "2"),
					parquet.KeyValueMetadata("b", "1"),
					parquet.KeyValueMetadata("a", "2"),
					parquet.SortingWriterConfig(parquet.SortingColumns(parquet.Ascending("n"))),
					parquet.DataPageStatistics(false),
				}
				if !bounded {
					for _, path := range parquet.SchemaOf(pqTestRow{}).Columns() {
						opts = append(opts, parquet.SkipPageBounds(path...))
					}
				}
				var ref, got bytes.Buffer
				pw := parquet.NewGenericWriter[pqTestRow](&ref, opts...)
				w, err := newPQWriter[pqTestRow](&got, pqOptions{PageBufferSize: pageSize, CreatedBy: "test version 1(build 2)",
					Metadata: map[string]string{"b": "1", "a": "2"}, Sorting: []string{"n"},
					Bounded: func([]string) bool { return bounded }})
				if err != nil {
					t.Fatal(err)
				}
				for _, part := range [][]pqTestRow{rows[:1], rows[1:1000], rows[1000:1001], rows[1001:2500], rows[2500:]} {
					for _, s := range []rowWriter[pqTestRow]{pw, w} {
						if _, err := s.Write(part); err != nil {
							t.Fatal(err)
						}
						if len(part) == 1 {
							if err := s.Flush(); err != nil {
								t.Fatal(err)
							}
						}
					}
				}
				pw.SetKeyValueMetadata("c", "3")
				w.SetKeyValueMetadata("c", "3")
				if err := errors.Join(pw.Close(), w.Close()); err != nil {
					t.Fatal(err)
				}
				if d := cmp.Diff(fileLayout(t, ref.Bytes()), fileLayout(t, got.Bytes())); d != "" {
					t.Errorf("file layout (-ref +got):\n%s", d)
				}
				if !bytes.Equal(ref.Bytes(), got.Bytes()) {
					t.Errorf("%d bytes, parquet-go's %d, not the same", got.Len(), ref.Len())
				}
				f, err := parquet.OpenFile(bytes.NewReader(got.Bytes()), int64(got.Len()))
				if err != nil {
					t.Fatal(err)
				}
				back := make([]pqTestRow, len(rows))
				r := parquet.NewGenericReader[pqTestRow](f)
				if n, err := r.Read(back); n != len(rows) || (err != nil && err != io.EOF) {
					t.Fatalf("read %d rows: %v", n, err)
				}
				if d := cmp.Diff(rows, back, cmpopts.IgnoreUnexported(pqTestRow{}), cmpopts.EquateEmpty()); d != "" {
					t.Errorf("rows read back (-written +read):\n%s", d)
				}
			})
		}
	}
}

// rowWriter is what TestPQWriterGenericStruct writes through.
type rowWriter[T any] interface {
	Write([]T) (int, error)
	Flush() error
}

// TestPQPlanOfRow checks the plan of Row against its schema: a column per
// leaf, in order, with its levels and encodings.
func TestPQPlanOfRow(t *testing.T) {
	p, err := pqPlanOf[Row]()
	if err != nil {
		t.Fatal(err)
	}
	schema := parquet.SchemaOf(Row{})
	cols := schema.Columns()
	if len(p.leaves) != len(cols) {
		t.Fatalf("%d leaves, schema has %d", len(p.leaves), len(cols))
	}
	for i, l := range p.leaves {
		lc, _ := schema.Lookup(cols[i]...)
		if !slices.Equal(l.path, cols[i]) || int(l.maxDef) != lc.MaxDefinitionLevel || int(l.maxRep) != lc.MaxRepetitionLevel {
			t.Errorf("leaf %d: %v levels %d/%d, schema %v %d/%d", i, l.path, l.maxRep, l.maxDef, cols[i], lc.MaxRepetitionLevel, lc.MaxDefinitionLevel)
		}
	}
}

// pqBadRow has a field the plan does not support.
type pqBadRow struct {
	M map[string]int `parquet:"m"`
}

func TestPQPlanRefusesUnsupported(t *testing.T) {
	if _, err := newPQWriter[pqBadRow](io.Discard, pqOptions{}); err == nil {
		t.Fatal("a map field compiled")
	}
}

// BenchmarkWriterPeakHeap writes 100,000 spans of the benchmark load as
// one block with each Parquet writer and reports the peak of the heap's
// objects during the write above the heap before it (the spans), sampled
// every 200 µs (garbage included, so it depends on GOGC), and the heap
// the writer holds after a collection before Finish (its compressed
// pages, dictionaries, buffers, index and search builders).
func BenchmarkWriterPeakHeap(b *testing.B) {
	spans := genSpansLoad(b, 10000)
	slices.SortFunc(spans, CompareSpans)
	for _, sink := range []struct {
		name string
		new  func(io.Writer, WriterOptions) (rowSink, error)
	}{{"clew", newPQRowSink}, {"parquet-go", newParquetGoRowSink}} {
		b.Run(sink.name, func(b *testing.B) {
			dir := b.TempDir()
			be, _ := NewDir(filepath.Join(dir, "blocks"))
			var peak, held uint64
			for i := 0; i < b.N; i++ {
				runtime.GC()
				base := heapObjects()
				stop := make(chan struct{})
				done := make(chan uint64)
				go func() {
					var p uint64
					t := time.NewTicker(200 * time.Microsecond)
					defer t.Stop()
					for {
						if h := heapObjects(); h > p {
							p = h
						}
						select {
						case <-stop:
							done <- p
							return
						case <-t.C:
						}
					}
				}()
				w, err := newWriter(be, filepath.Join(dir, "tmp"), Meta{}, WriterOptions{}, sink.new)
				if err != nil {
					b.Fatal(err)
				}
				for _, sp := range spans {
					if err := w.Add(sp); err != nil {
						b.Fatal(err)
					}
				}
				runtime.GC()
				if h := heapObjects(); h > base {
					held = max(held, h-base)
				}
				m, err := w.Finish(context.Background(), time.Now())
				if err != nil {
					b.Fatal(err)
				}
				close(stop)
				if p := <-done; p > base {
					peak = max(peak, p-base)
				}
				be.DeleteBlock(context.Background(), m.ID)
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
			b.ReportMetric(float64(held)/(1<<20), "held-MiB")
		})
	}
}

// heapObjects returns the bytes of heap objects, live or not yet swept.
func heapObjects() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestPQDictStrings checks the string dictionary against a map: strings
// of 0 to 70 bytes over two letters (many share lengths, prefixes and
// suffixes), looked up by value and by pointer, across Writes (epochs)
// and a reset.
func TestPQDictStrings(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	d := newPQDict(&pqLeaf{kind: pqString})
	for round := 0; round < 2; round++ {
		want := map[string]int32{}
		var values []string
		for i := 0; i < 20000; i++ {
			if i%1000 == 0 {
				d.epoch++
			}
			var s string
			if len(values) > 0 && rng.IntN(3) == 0 {
				s = values[rng.IntN(len(values))] // the same pointer
			} else {
				b := make([]byte, rng.IntN(71))
				for k := range b {
					b[k] = "ab"[rng.IntN(2)]
				}
				s = string(b)
			}
			got := d.str(s)
			if w, ok := want[s]; ok && got != w {
				t.Fatalf("%q: index %d, first given %d", s, got, w)
			} else if !ok {
				if int(got) != len(want) {
					t.Fatalf("%q: new value has index %d, want %d", s, got, len(want))
				}
				want[s] = got
				values = append(values, s)
			}
			if v := string(d.value(got)); v != s {
				t.Fatalf("value %d is %q, want %q", got, v, s)
			}
		}
		d.reset()
	}
}

// TestAppendPageHeader checks appendPageHeader against parquet-go's
// Thrift encoder: the same bytes for the headers the writer makes (data
// page v2 and dictionary page, with values of every size and sign, a CRC
// of zero left out), and no answer for the others.
func TestAppendPageHeader(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	i32 := func() int32 {
		switch rng.IntN(4) {
		case 0:
			return 0
		case 1:
			return int32(rng.IntN(200)) - 100
		case 2:
			return int32(rng.Uint32())
		}
		return int32(rng.IntN(1 << 20))
	}
	var proto thrift.CompactProtocol
	encode := func(h *format.PageHeader) []byte {
		var buf bytes.Buffer
		if err := thrift.NewEncoder(proto.NewWriter(&buf)).Encode(h); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	for i := 0; i < 5000; i++ {
		h := &format.PageHeader{UncompressedPageSize: i32(), CompressedPageSize: i32(), CRC: i32()}
		if i%2 == 0 {
			h.Type = format.DataPageV2
			h.DataPageHeaderV2.Valid = true
			h.DataPageHeaderV2.V = format.DataPageHeaderV2{NumValues: i32(), NumNulls: i32(), NumRows: i32(),
				Encoding:                   []format.Encoding{format.Plain, format.RLEDictionary, format.DeltaBinaryPacked, format.DeltaLengthByteArray}[rng.IntN(4)],
				DefinitionLevelsByteLength: i32(), RepetitionLevelsByteLength: i32(), IsCompressed: thrift.New(true)}
		} else {
			h.Type = format.DictionaryPage
			h.DictionaryPageHeader.Valid = true
			h.DictionaryPageHeader.V = format.DictionaryPageHeader{NumValues: i32(), Encoding: format.Plain}
		}
		got, ok := appendPageHeader([]byte("x"), h)
		if want := append([]byte("x"), encode(h)...); !ok || !bytes.Equal(got, want) {
			t.Fatalf("%+v: %x %v, want %x", h, got, ok, want)
		}
	}
	// Headers the writer does not make are left to parquet-go's encoder.
	others := []format.PageHeader{
		{Type: format.DataPage, DataPageHeader: thrift.New(format.DataPageHeader{NumValues: 3})},
		{Type: format.DictionaryPage, DictionaryPageHeader: thrift.New(format.DictionaryPageHeader{NumValues: 3, IsSorted: true})},
		{Type: format.DataPageV2, DataPageHeaderV2: thrift.New(format.DataPageHeaderV2{NumValues: 3})},
		{Type: format.DataPageV2, DataPageHeaderV2: thrift.New(format.DataPageHeaderV2{NumValues: 3, IsCompressed: thrift.New(true), Statistics: format.Statistics{NullCount: 1}})},
		{Type: format.DataPageV2},
	}
	for i := range others {
		if b, ok := appendPageHeader(nil, &others[i]); ok {
			t.Errorf("%+v: encoded as %x", others[i], b)
		}
	}
}

// TestAppendPageIndexes checks appendColumnIndex and appendOffsetIndex
// against parquet-go's Thrift encoder: the same bytes for random indexes
// (lists short and long, empty and nil, values of every sign and size).
func TestAppendPageIndexes(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	var proto thrift.CompactProtocol
	encode := func(v any) []byte {
		var buf bytes.Buffer
		if err := thrift.NewEncoder(proto.NewWriter(&buf)).Encode(v); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	num := func() int64 {
		switch rng.IntN(3) {
		case 0:
			return int64(rng.IntN(100)) - 50
		case 1:
			return int64(rng.Uint64())
		}
		return int64(rng.IntN(1 << 30))
	}
	ints := func(n int) []int64 {
		if rng.IntN(4) == 0 {
			return nil
		}
		v := make([]int64, n)
		for i := range v {
			v[i] = num()
		}
		return v
	}
	for i := 0; i < 3000; i++ {
		n := rng.IntN(40)
		if i%7 == 0 {
			n = rng.IntN(400)
		}
		ci := format.ColumnIndex{BoundaryOrder: format.BoundaryOrder(rng.IntN(3)), NullCounts: ints(n),
			RepetitionLevelHistogram: ints(n * rng.IntN(3)), DefinitionLevelHistogram: ints(n * rng.IntN(3))}
		oi := format.OffsetIndex{}
		for k := 0; k < n; k++ {
			ci.NullPages = append(ci.NullPages, rng.IntN(2) == 0)
			mn, mx := make([]byte, rng.IntN(200)), make([]byte, rng.IntN(20))
			for j := range mn {
				mn[j] = byte(rng.Uint32())
			}
			ci.MinValues, ci.MaxValues = append(ci.MinValues, mn), append(ci.MaxValues, mx)
			oi.PageLocations = append(oi.PageLocations, format.PageLocation{Offset: num(), CompressedPageSize: int32(num()), FirstRowIndex: num()})
		}
		if got, ok := appendColumnIndex([]byte("x"), &ci); !ok || !bytes.Equal(got, append([]byte("x"), encode(&ci)...)) {
			t.Fatalf("column index %+v: %x, want %x", ci, got, encode(&ci))
		}
		if got, ok := appendOffsetIndex([]byte("x"), &oi); !ok || !bytes.Equal(got, append([]byte("x"), encode(&oi)...)) {
			t.Fatalf("offset index %+v: %x, want %x", oi, got, encode(&oi))
		}
	}
	if b, ok := appendOffsetIndex(nil, &format.OffsetIndex{UnencodedByteArrayDataBytes: []int64{1}}); ok {
		t.Errorf("offset index with unencoded sizes encoded as %x", b)
	}
}

// TestBounds16 checks bounds16 against bytes.Compare on pages of random
// 16-byte values, many sharing their first 8 bytes (64-bit trace ids) or
// all of them.
func TestBounds16(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for i := 0; i < 2000; i++ {
		n := 1 + rng.IntN(50)
		b := make([]byte, 16*n)
		for k := 0; k < n; k++ {
			v := b[16*k : 16*k+16]
			for j := range v {
				v[j] = byte(rng.IntN(3)) * 127
			}
			if rng.IntN(2) == 0 {
				clear(v[:8])
			}
		}
		lo, hi := b[:16], b[:16]
		for k := 16; k < len(b); k += 16 {
			if v := b[k : k+16]; bytes.Compare(v, lo) < 0 {
				lo = v
			} else if bytes.Compare(v, hi) > 0 {
				hi = v
			}
		}
		if gotLo, gotHi, ok := bounds16(b); !ok || !bytes.Equal(gotLo, lo) || !bytes.Equal(gotHi, hi) {
			t.Fatalf("%x: %x %x, want %x %x", b, gotLo, gotHi, lo, hi)
		}
	}
}

// TestOrInt32Width checks that the bit width of the OR of int32 values is
// that of their largest (as uint32), which rle.DictionaryEncoding writes.
func TestOrInt32Width(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for i := 0; i < 5000; i++ {
		v := make([]int32, rng.IntN(20))
		want := 0
		for k := range v {
			v[k] = int32(rng.Uint32() >> rng.IntN(33))
			want = max(want, bits.Len32(uint32(v[k])))
		}
		if got := bits.Len32(orInt32(v)); got != want {
			t.Fatalf("%v: width %d, want %d", v, got, want)
		}
	}
}

// TestPQDictStrs checks the shredding loop of string columns (pqDict.strs)
// as TestPQDictStrings checks pqDict.str: values of every length up to 40
// bytes, equal ones at the same address or at another (as in a flush),
// empty ones as nulls of an optional column or as a value of a required
// one, in chunks of up to 64 rows.
func TestPQDictStrs(t *testing.T) {
	type row struct {
		pad [3]int64
		s   string
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for _, optional := range []bool{false, true} {
		d := newPQDict(&pqLeaf{kind: pqString})
		want := map[string]int32{}
		var values []string
		for chunk := 0; chunk < 3000; chunk++ {
			if chunk%20 == 0 {
				d.epoch++ // a Write
			}
			rows := make([]row, 1+rng.IntN(64))
			for i := range rows {
				switch {
				case len(values) > 0 && rng.IntN(3) == 0:
					rows[i].s = values[rng.IntN(len(values))] // the same address
				case len(values) > 0 && rng.IntN(2) == 0:
					rows[i].s = string([]byte(values[rng.IntN(len(values))])) // a copy
				case i > 0 && rng.IntN(4) == 0:
					rows[i].s = string([]byte(rows[i-1].s)) // the row before's, copied
				default:
					b := make([]byte, rng.IntN(41))
					for k := range b {
						b[k] = "abc"[rng.IntN(3)]
					}
					rows[i].s = string(b)
				}
			}
			idx, defs := d.strs(make([]int32, 0, len(rows)), make([]byte, 0, len(rows)), optional, unsafe.Pointer(&rows[0].s), len(rows), unsafe.Sizeof(row{}))
			k := 0
			for i, r := range rows {
				if optional {
					if wantDef := byte(min(len(r.s), 1)); defs[i] != wantDef {
						t.Fatalf("row %d (%q): definition level %d, want %d", i, r.s, defs[i], wantDef)
					}
					if r.s == "" {
						continue
					}
				}
				got := idx[k]
				k++
				if w, ok := want[r.s]; ok && got != w {
					t.Fatalf("%q: index %d, first given %d", r.s, got, w)
				} else if !ok {
					if int(got) != len(want) {
						t.Fatalf("%q: new value has index %d, want %d", r.s, got, len(want))
					}
					want[r.s] = got
					values = append(values, r.s)
				}
				if v := string(d.value(got)); v != r.s {
					t.Fatalf("value %d is %q, want %q", got, v, r.s)
				}
			}
			if k != len(idx) {
				t.Fatalf("%d indexes for %d values", len(idx), k)
			}
		}
	}
}

// TestPQDictStrsCollision checks that pqDict.strs and pqDict.str compare
// a value with the one its hash table entry names, of every length up to
// 40 bytes: the first value's entry is put where the second's hash leads
// (as a collision of slots would), with the second's hash for a value
// of more than 16 bytes (whose entry holds its hash, not its bytes, as a
// collision of hashes would), and the second must still get an index of
// its own.
func TestPQDictStrsCollision(t *testing.T) {
	for n := 1; n <= 40; n++ {
		d := newPQDict(&pqLeaf{kind: pqString})
		a, b := strings.Repeat("a", n), strings.Repeat("a", n-1)+"b"
		if i := d.str(a); i != 0 {
			t.Fatalf("%q: index %d", a, i)
		}
		var ea pqStrEntry
		for _, e := range d.stab {
			if e.e != 0 {
				ea = e
			}
		}
		h, _, _ := strKey(b)
		if n > 16 {
			ea.a = h
		}
		mask := uint64(len(d.stab) - 1)
		d.stab[h&mask] = ea
		d.epoch++
		saved := slices.Clone(d.stab)
		idx, _ := d.strs(make([]int32, 0, 1), nil, false, unsafe.Pointer(&b), 1, 0)
		if len(idx) != 1 || idx[0] == 0 || string(d.value(idx[0])) != b {
			t.Fatalf("strs, length %d: %q got %v (value %q)", n, b, idx, d.value(idx[0]))
		}
		// The same through str (list values).
		d.stab, d.plain, d.starts, d.lens = saved, d.plain[:d.starts[1]-4], d.starts[:1], d.lens[:1]
		d.epoch++
		if i := d.str(b); i == 0 || string(d.value(i)) != b {
			t.Fatalf("str, length %d: %q got %d (value %q)", n, b, i, d.value(i))
		}
	}
}

// FuzzPQWriter writes rows of pqTestRow made from the input (a seed, a
// row count, a page size, bounds or not) with Clew's Parquet writer and
// checks that parquet-go reads them back as written
// (TestPQWriterGenericStruct compares the files with parquet-go's).
func FuzzPQWriter(f *testing.F) {
	f.Add(uint64(1), uint8(1), uint16(64), true)
	f.Add(uint64(2), uint8(200), uint16(100), false)
	f.Add(uint64(3), uint8(65), uint16(4096), true)
	f.Fuzz(func(t *testing.T, seed uint64, n uint8, pageSize uint16, bounded bool) {
		n %= 48 // fast execs: small files
		rows := pqTestRows(int(n), seed)
		var got bytes.Buffer
		w, err := newPQWriter[pqTestRow](&got, pqOptions{PageBufferSize: int(pageSize%4096) + 256, Bounded: func([]string) bool { return bounded }})
		if err != nil {
			t.Fatal(err)
		}
		for len(rows) > 0 {
			k := min(len(rows), int(seed%97)+1)
			if _, err := w.Write(rows[:k]); err != nil {
				t.Fatal(err)
			}
			rows = rows[k:]
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		f, err := parquet.OpenFile(bytes.NewReader(got.Bytes()), int64(got.Len()))
		if err != nil {
			t.Fatal(err)
		}
		back := make([]pqTestRow, f.NumRows())
		r := parquet.NewGenericReader[pqTestRow](f)
		if k, err := r.Read(back); k != len(back) || (err != nil && err != io.EOF) {
			t.Fatalf("read %d of %d rows: %v", k, len(back), err)
		}
		if d := cmp.Diff(pqTestRows(int(n), seed), back, cmpopts.IgnoreUnexported(pqTestRow{}), cmpopts.EquateEmpty()); d != "" {
			t.Fatalf("rows read back (-written +read):\n%s", d)
		}
	})
}

// pqID16 is a row of a FIXED_LEN_BYTE_ARRAY(16) column, as trace_id.
type pqID16 struct {
	ID [16]byte `parquet:"id"`
}

// TestPQWriterPageBoundsFixed16 checks each page's min and max of a
// 16-byte column against its rows, for ids of 64 bits (the high half
// zero, as Jaeger and Zipkin ids are stored). parquet-go v0.32.0 gets
// most of these pages' bounds wrong (45 of its 47 pages of this load): its
// blocks' trace_id column index cannot be trusted to prune pages.
func TestPQWriterPageBoundsFixed16(t *testing.T) {
	rng := rand.New(rand.NewPCG(64, 1))
	rows := make([]pqID16, 3000)
	for i := range rows {
		rows[i].ID[8+rng.IntN(8)] = byte(rng.IntN(256))
	}
	var buf bytes.Buffer
	w, err := newPQWriter[pqID16](&buf, pqOptions{PageBufferSize: 64, Bounded: func([]string) bool { return true }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := parquet.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	ci, oi := f.ColumnIndexes()[0], f.OffsetIndexes()[0]
	if len(oi.PageLocations) < 10 {
		t.Fatalf("%d pages", len(oi.PageLocations))
	}
	for p, loc := range oi.PageLocations {
		end := int64(len(rows))
		if p+1 < len(oi.PageLocations) {
			end = oi.PageLocations[p+1].FirstRowIndex
		}
		lo, hi := rows[loc.FirstRowIndex].ID, rows[loc.FirstRowIndex].ID
		for _, r := range rows[loc.FirstRowIndex:end] {
			if bytes.Compare(r.ID[:], lo[:]) < 0 {
				lo = r.ID
			}
			if bytes.Compare(r.ID[:], hi[:]) > 0 {
				hi = r.ID
			}
		}
		if !bytes.Equal(lo[:], ci.MinValues[p]) || !bytes.Equal(hi[:], ci.MaxValues[p]) {
			t.Errorf("page %d (rows %d-%d): min % x max % x, want % x and % x", p, loc.FirstRowIndex, end, ci.MinValues[p], ci.MaxValues[p], lo, hi)
		}
	}
}

// TestPQWriterReuse writes the same rows again and again, from several
// goroutines at once: writers reusing the columns of closed ones (their
// buffers, dictionaries and caches) write the same bytes as the first.
func TestPQWriterReuse(t *testing.T) {
	batches := genRows(t, 300)
	write := func() []byte {
		var buf bytes.Buffer
		w, err := newPQRowSink(&buf, WriterOptions{RowGroupRows: 1000, PageBufferSize: 4096})
		if err != nil {
			t.Error(err)
			return nil
		}
		for _, b := range batches {
			if _, err := w.Write(b); err != nil {
				t.Error(err)
			}
		}
		if err := errors.Join(w.Flush(), w.Close()); err != nil {
			t.Error(err)
		}
		return buf.Bytes()
	}
	want := write()
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 3; i++ {
				if got := write(); !bytes.Equal(got, want) {
					t.Errorf("write %d: %d bytes differ from the first write's %d", i, len(got), len(want))
				}
			}
		}()
	}
	wg.Wait()
}

// TestPQWriterBoundsDictionaries writes blocks whose dedicated
// db_query_text column has 4 KB of distinct text on every span (80 MB
// over one row group of the default size): row groups must end early
// enough that every dictionary page stays within what the row reader
// takes (maxPageBytes). Before, such a block was refused as damage ("page
// of 80240000 bytes") and all its spans were lost to queries. Traces of
// 10 spans keep to one row group each (the group ends at a trace); a
// trace of 20,000 spans is cut within.
func TestPQWriterBoundsDictionaries(t *testing.T) {
	res := &model.Resource{Attributes: model.Attributes{{Key: "service.name", Value: model.StringValue("svc")}}}
	pad := strings.Repeat("q", 4000)
	for _, perTrace := range []int{10, 20000} {
		t.Run(fmt.Sprint(perTrace), func(t *testing.T) {
			var spans []*model.Span
			for i := 0; i < 20000; i++ {
				st := uint64(1e18) + uint64(i)
				spans = append(spans, &model.Span{Resource: res, Scope: &model.Scope{}, TraceID: model.TraceIDFromUint64s(uint64(i/perTrace), 1),
					SpanID: model.SpanIDFromUint64(uint64(i + 1)), Name: "op", StartTimeUnixNano: st, EndTimeUnixNano: st + 1,
					Attributes: model.Attributes{{Key: "db.query.text", Value: model.StringValue(fmt.Sprintf("%08d%s", i, pad))}}})
			}
			be, m := writeBlock(t, spans, WriterOptions{})
			rd := openBlock(t, be, m)
			groups := rd.file.RowGroups()
			if len(groups) < 2 {
				t.Fatalf("%d row groups, want the dictionary to end the first early", len(groups))
			}
			first := int(groups[0].NumRows())
			if perTrace < first && first%perTrace != 0 {
				t.Errorf("first row group of %d rows ends within a trace of %d", first, perTrace)
			}
			for _, i := range []int{0, first / perTrace * perTrace, len(spans) - perTrace} {
				got, err := rd.FindTrace(context.Background(), spans[i].TraceID)
				if err != nil {
					t.Fatalf("FindTrace %d: %v", i, err)
				}
				if len(got) != perTrace {
					t.Fatalf("FindTrace %d: %d spans, want %d", i, len(got), perTrace)
				}
				for k, sp := range got {
					want := spans[i+k]
					if sp.SpanID != want.SpanID || len(sp.Attributes) != 1 || !sp.Attributes[0].Value.Equal(want.Attributes[0].Value) {
						t.Fatalf("FindTrace %d: span %d: %v %v, want %v %v", i, k, sp.SpanID, sp.Attributes, want.SpanID, want.Attributes)
					}
				}
			}
			n := 0
			if err := rd.ScanRows(context.Background(), func(r *Row) bool { n++; return true }); err != nil || n != len(spans) {
				t.Fatalf("ScanRows: %d rows, %v", n, err)
			}
			if err := rd.Verify(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
	}
}
