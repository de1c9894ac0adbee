package block

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand"
	"reflect"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	kzstd "github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"
	"github.com/parquet-go/parquet-go/format"

	"github.com/clew-dev/clew/internal/model"
)

// richSpans makes traces using every column: all dedicated span and
// resource columns (some through their older keys), every attribute type,
// events and links with attributes, status messages, trace states, scope
// attributes, dropped counts; and spans with none of them.
func richSpans(traces int, seed int64) []*model.Span {
	rng := rand.New(rand.NewSource(seed))
	str := func(p string, n int) model.Value { return model.StringValue(fmt.Sprintf("%s-%d", p, rng.Intn(n))) }
	var resources []*model.Resource
	for i := 0; i < 6; i++ {
		attrs := model.Attributes{{Key: "service.name", Value: model.StringValue(fmt.Sprintf("svc-%d", i))}}
		if i%2 == 0 {
			for _, c := range resCols {
				key := c.key
				if c.alias != "" && i%4 == 0 {
					key = c.alias
				}
				attrs = append(attrs, model.KeyValue{Key: key, Value: str(c.key, 3)})
			}
			attrs = append(attrs,
				model.KeyValue{Key: "res.int", Value: model.IntValue(int64(i))},
				model.KeyValue{Key: "res.str", Value: model.StringValue("x")},
				model.KeyValue{Key: "res.arr", Value: model.SliceValue([]model.Value{model.StringValue("a"), model.BoolValue(true)})})
		}
		if i == 5 {
			attrs = attrs[1:] // no service.name
		}
		resources = append(resources, &model.Resource{Attributes: attrs, DroppedAttributesCount: uint32(i % 2), SchemaURL: []string{"", "https://x"}[i%2]})
	}
	scopes := []*model.Scope{
		{Name: "lib", Version: "1"},
		{Name: "other", Attributes: model.Attributes{{Key: "s", Value: model.StringValue("v")}, {Key: "n", Value: model.IntValue(2)}}, DroppedAttributesCount: 1, SchemaURL: "u"},
		{},
	}
	base := uint64(1_700_000_000_000_000_000) // fixed: the fuzz target's base block must not change
	var out []*model.Span
	for t := 0; t < traces; t++ {
		tid := model.TraceIDFromUint64s(rng.Uint64(), rng.Uint64())
		n := 1 + rng.Intn(12)
		for s := 0; s < n; s++ {
			sp := &model.Span{Resource: resources[rng.Intn(len(resources))], Scope: scopes[rng.Intn(len(scopes))], TraceID: tid,
				SpanID: model.SpanIDFromUint64(rng.Uint64() | 1), Name: fmt.Sprintf("op-%d", rng.Intn(20)),
				Kind: model.SpanKind(rng.Intn(6)), StartTimeUnixNano: base + uint64(t)*1e6 + uint64(rng.Intn(1e6)), Flags: uint32(rng.Intn(3))}
			sp.EndTimeUnixNano = sp.StartTimeUnixNano + uint64(rng.Intn(1e9))
			if s > 0 {
				sp.ParentSpanID = model.SpanIDFromUint64(rng.Uint64())
			}
			switch rng.Intn(4) {
			case 0: // bare
			case 1:
				sp.Status = model.Status{Code: model.StatusError, Message: str("boom", 5).Str()}
				sp.TraceState = "k=v"
				fallthrough
			default:
				for _, c := range spanCols {
					if rng.Intn(3) == 0 {
						continue
					}
					key := c.key
					if c.alias != "" && rng.Intn(2) == 0 {
						key = c.alias
					}
					v := str(c.key, 50)
					if c.isInt {
						v = model.IntValue(int64(200 + rng.Intn(400)))
					}
					sp.Attributes = append(sp.Attributes, model.KeyValue{Key: key, Value: v})
				}
				for k := rng.Intn(8); k > 0; k-- {
					var v model.Value
					switch rng.Intn(8) {
					case 0:
						v = str("s", 1000)
					case 1:
						v = model.IntValue(rng.Int63n(1e6) - 5e5)
					case 2:
						v = model.DoubleValue(rng.NormFloat64())
					case 3:
						v = model.BoolValue(rng.Intn(2) == 0)
					case 4:
						v = model.BytesValue([]byte{byte(rng.Intn(256)), 0})
					case 5:
						v = model.SliceValue([]model.Value{model.IntValue(1), model.StringValue("e")})
					case 6:
						v = model.MapValue([]model.KeyValue{{Key: "m", Value: model.DoubleValue(1.5)}})
					default:
						v = model.Value{}
					}
					sp.Attributes = append(sp.Attributes, model.KeyValue{Key: fmt.Sprintf("k%d", rng.Intn(30)), Value: v})
				}
				for k := rng.Intn(4); k > 0; k-- {
					ev := model.Event{TimeUnixNano: sp.StartTimeUnixNano + uint64(rng.Intn(1000)), Name: str("ev", 4).Str(), DroppedAttributesCount: uint32(rng.Intn(2))}
					for a := rng.Intn(3); a > 0; a-- {
						ev.Attributes = append(ev.Attributes, model.KeyValue{Key: "ea", Value: str("v", 10)}, model.KeyValue{Key: "eb", Value: model.IntValue(int64(a))})
					}
					sp.Events = append(sp.Events, ev)
				}
				for k := rng.Intn(3); k > 0; k-- {
					l := model.Link{TraceID: model.TraceIDFromUint64s(rng.Uint64(), 1), SpanID: model.SpanIDFromUint64(rng.Uint64()), Flags: uint32(rng.Intn(2))}
					if rng.Intn(2) == 0 {
						l.TraceState = "a=b"
						l.Attributes = model.Attributes{{Key: "la", Value: str("l", 3)}, {Key: "lb", Value: model.BoolValue(true)}}
						l.DroppedAttributesCount = 2
					}
					sp.Links = append(sp.Links, l)
				}
				sp.DroppedAttributesCount = uint32(rng.Intn(2))
				sp.DroppedEventsCount = uint32(rng.Intn(2))
				sp.DroppedLinksCount = uint32(rng.Intn(2))
			}
			out = append(out, sp)
		}
	}
	return out
}

// TestRowReaderMatchesParquetGo reads rows with the row reader and with
// parquet-go's reader, over whole traces and over random ranges that
// cross pages and row groups, and compares them.
func TestRowReaderMatchesParquetGo(t *testing.T) {
	opts := []WriterOptions{{}, {RowGroupRows: 300, PageBufferSize: 512}, {RowGroupRows: 1000, PageBufferSize: 4096}}
	for i, o := range opts {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			spans := richSpans(400, int64(i))
			be, m := writeBlock(t, spans, o)
			rd := openBlock(t, be, m)
			src, err := rd.rowSource()
			if err != nil {
				t.Fatalf("row reader refuses the block: %v", err)
			}
			rng := rand.New(rand.NewSource(int64(i)))
			all := make([]Row, m.Spans)
			if err := rd.readRowsGeneric(0, all); err != nil {
				t.Fatalf("rows with parquet-go: %v", err)
			}
			check := func(first, n int64) {
				t.Helper()
				got, want := make([]Row, n), all[first:first+n]
				if err := src.readRange(first, got, nil); err != nil {
					t.Fatalf("rows [%d, +%d): %v", first, n, err)
				}
				for k := range got {
					normalizeRow(&got[k])
				}
				if reflect.DeepEqual(want, got) {
					return
				}
				if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
					t.Fatalf("rows [%d, +%d) (-parquet-go +row reader):\n%s", first, n, diff)
				}
			}
			for k := range all {
				normalizeRow(&all[k])
			}
			check(0, m.Spans)
			for k := 0; k < 200; k++ {
				first := rng.Int63n(m.Spans)
				check(first, 1+rng.Int63n(min(m.Spans-first, 700)))
			}
			// The whole block through ScanRows (the row reader's scanner).
			var k int
			err = rd.ScanRows(context.Background(), func(r *Row) bool {
				c := *r
				normalizeRow(&c)
				if !reflect.DeepEqual(all[k], c) {
					t.Fatalf("ScanRows row %d (-parquet-go +row reader):\n%s", k, cmp.Diff(all[k], c, cmpopts.EquateEmpty()))
				}
				k++
				return true
			})
			if err != nil || k != len(all) {
				t.Fatalf("ScanRows: %d rows, %v; want %d", k, err, len(all))
			}
			// Every trace through FindTrace.
			seen := map[model.TraceID]int{}
			for _, sp := range spans {
				seen[sp.TraceID]++
			}
			for id, n := range seen {
				got, err := rd.FindTrace(context.Background(), id)
				if err != nil || len(got) != n {
					t.Fatalf("trace %v: %d spans, %v; want %d", id, len(got), err, n)
				}
			}
		})
	}
}

// TestRowReaderRoundTrip checks that spans come back as written through the
// row reader, every field included.
func TestRowReaderRoundTrip(t *testing.T) {
	spans := richSpans(200, 7)
	be, m := writeBlock(t, spans, WriterOptions{RowGroupRows: 100, PageBufferSize: 1024})
	rd := openBlock(t, be, m)
	byTrace := map[model.TraceID][]*model.Span{}
	for _, sp := range spans {
		byTrace[sp.TraceID] = append(byTrace[sp.TraceID], sp)
	}
	byKey := cmpopts.SortSlices(func(a, b model.KeyValue) bool {
		return a.Key < b.Key || (a.Key == b.Key && a.Value.AsString() < b.Value.AsString())
	})
	for id, want := range byTrace {
		got, err := rd.FindTrace(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		model.SortSpans(want)
		model.SortSpans(got)
		if diff := cmp.Diff(want, got, valueCmp, byKey, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("trace %v (-want +got):\n%s", id, diff)
		}
	}
}

// TestRowReaderFlippedBytes flips bytes all over the data file: reads
// fail with ErrCorrupt or succeed, never panic.
func TestRowReaderFlippedBytes(t *testing.T) {
	spans := richSpans(100, 3)
	be := newMem()
	m, err := Write(context.Background(), be, t.TempDir(), Meta{}, WriterOptions{RowGroupRows: 100, PageBufferSize: 1024}, spans, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	data, _ := be.get(m.ID, DataName)
	rng := rand.New(rand.NewSource(1))
	for k := 0; k < 300; k++ {
		bad := append([]byte(nil), data...)
		off := rng.Intn(len(bad))
		bad[off] ^= byte(1 + rng.Intn(255))
		be.objs[m.ID+"/"+DataName] = bad
		rd, err := Open(context.Background(), be, m.ID)
		if err != nil {
			continue
		}
		for _, sp := range spans[:20] {
			_, err := rd.FindTrace(context.Background(), sp.TraceID)
			if err != nil && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("flip at %d: %v does not wrap ErrCorrupt", off, err)
			}
		}
		rd.Close()
	}
}

// normalizeRow makes empty slices nil, for reflect.DeepEqual (cmp is too
// slow for thousands of rows).
func normalizeRow(r *Row) {
	nilEmpty(&r.AttrsStr)
	nilEmpty(&r.AttrsInt)
	nilEmpty(&r.AttrsDouble)
	nilEmpty(&r.AttrsBool)
	nilEmpty(&r.Events)
	nilEmpty(&r.Links)
	nilEmpty(&r.ResourceAttrsStr)
	nilEmpty(&r.ScopeAttrsStr)
	r.AttrsOther = normalizeOthers(r.AttrsOther)
	r.ResourceAttrsOther = normalizeOthers(r.ResourceAttrsOther)
	r.ScopeAttrsOther = normalizeOthers(r.ScopeAttrsOther)
	for i := range r.Events {
		nilEmpty(&r.Events[i].AttrsStr)
		r.Events[i].AttrsOther = normalizeOthers(r.Events[i].AttrsOther)
	}
	for i := range r.Links {
		nilEmpty(&r.Links[i].AttrsStr)
		r.Links[i].AttrsOther = normalizeOthers(r.Links[i].AttrsOther)
	}
}

func nilEmpty[E any](s *[]E) {
	if len(*s) == 0 {
		*s = nil
	}
}

func normalizeOthers(s []OtherAttr) []OtherAttr {
	for i := range s {
		nilEmpty(&s[i].Value)
	}
	nilEmpty(&s)
	return s
}

// TestRowSourcePageIndex checks the row reader's own decoding of the page
// index against parquet-go's, and that it finds all-null chunks and pages
// to skip.
func TestRowSourcePageIndex(t *testing.T) {
	be, m := writeBlock(t, genSpans(300, 10), WriterOptions{RowGroupRows: 1000, PageBufferSize: 1024})
	rd := openBlock(t, be, m)
	src, err := rd.rowSource()
	if err != nil {
		t.Fatal(err)
	}
	cix, oix, err := rd.file.ReadPageIndex()
	if err != nil {
		t.Fatal(err)
	}
	var nullChunks, nullPages int
	for g := range src.groups {
		for c, ch := range src.groups[g].chunks {
			k := g*len(rowLeaves) + c
			if len(ch.pages) != len(oix[k].PageLocations) || len(ch.pages) != len(cix[k].NullPages) {
				t.Fatalf("group %d column %d: %d pages, parquet-go %d / %d", g, c, len(ch.pages), len(oix[k].PageLocations), len(cix[k].NullPages))
			}
			for p, loc := range oix[k].PageLocations {
				want := pageLoc{offset: loc.Offset, size: loc.CompressedPageSize, firstRow: loc.FirstRowIndex, allNull: cix[k].NullPages[p]}
				if ch.pages[p] != want {
					t.Fatalf("group %d column %d page %d: %+v, parquet-go %+v", g, c, p, ch.pages[p], want)
				}
				if want.allNull {
					nullPages++
				}
			}
			if ch.allNull {
				nullChunks++
			}
		}
	}
	if nullChunks == 0 || nullPages == 0 {
		t.Errorf("%d all-null chunks, %d all-null pages: want some of each", nullChunks, nullPages)
	}
}

// BenchmarkFindTraceGen looks traces up by id in a block of 100,000 spans
// of the storage benchmark's load, for several page sizes, and reports the
// block's size per span beside the time per lookup.
func BenchmarkFindTraceGen(b *testing.B) {
	spans := genSpansLoad(b, 10000)
	var ids []model.TraceID
	for _, sp := range spans {
		if len(ids) == 0 || ids[len(ids)-1] != sp.TraceID {
			ids = append(ids, sp.TraceID)
		}
	}
	rand.New(rand.NewSource(1)).Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	for _, page := range []int{8 << 10, 16 << 10, 32 << 10} {
		b.Run(fmt.Sprintf("page=%dKiB", page>>10), func(b *testing.B) {
			be, m := writeBlock(b, append([]*model.Span(nil), spans...), WriterOptions{PageBufferSize: page})
			rd := openBlock(b, be, m)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				got, err := rd.FindTrace(context.Background(), ids[i%len(ids)])
				if err != nil || len(got) == 0 {
					b.Fatal(err, len(got))
				}
			}
			b.ReportMetric(float64(m.DataSize)/float64(m.Spans), "data-bytes/span")
		})
	}
}

// BenchmarkScanRows reads every row of a block of the storage benchmark's
// load, with the row reader and with parquet-go's.
func BenchmarkScanRows(b *testing.B) {
	spans := genSpansLoad(b, 5000)
	be, m := writeBlock(b, spans, WriterOptions{})
	rd := openBlock(b, be, m)
	for _, generic := range []bool{false, true} {
		b.Run(fmt.Sprintf("parquet-go=%v", generic), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				n := 0
				fn := func(*Row) bool { n++; return true }
				var err error
				if generic {
					err = scanRows(context.Background(), rd, fn)
				} else {
					err = rd.ScanRows(context.Background(), fn)
				}
				if err != nil || n != int(m.Spans) {
					b.Fatal(err, n)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(m.Spans), "ns/row")
		})
	}
}

// TestRowReaderWriterOptions reads files written with other Parquet options
// than the block writer's: data pages v1, no compression, booleans in RLE
// (the row reader must match parquet-go's reader); another codec (damage
// for a block); an encoding the row reader does not decode (it declines,
// and the block is read with parquet-go's reader).
func TestRowReaderWriterOptions(t *testing.T) {
	spans := richSpans(60, 5)
	rows := make([]Row, len(spans))
	for i, sp := range spans {
		rows[i].FromSpan(sp)
	}
	write := func(opts ...parquet.WriterOption) *parquet.File {
		t.Helper()
		var buf bytes.Buffer
		w := parquet.NewGenericWriter[Row](&buf, append([]parquet.WriterOption{parquet.PageBufferSize(512)}, opts...)...)
		for i := 0; i < len(rows); i += 50 {
			if _, err := w.Write(rows[i:min(i+50, len(rows))]); err != nil {
				t.Fatal(err)
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		f, err := parquet.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	same := func(name string, f *parquet.File) {
		t.Helper()
		src, err := newRowSource("x-"+name, f)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got := make([]Row, len(rows))
		if err := src.readRange(0, got, nil); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want := make([]Row, len(rows))
		rr := parquet.NewGenericReader[Row](f)
		if _, err := readFull(rr, want); err != nil {
			t.Fatalf("%s: parquet-go: %v", name, err)
		}
		for i := range got {
			normalizeRow(&got[i])
			normalizeRow(&want[i])
		}
		if !reflect.DeepEqual(want, got) {
			t.Fatalf("%s (-parquet-go +row reader):\n%s", name, cmp.Diff(want, got, cmpopts.EquateEmpty()))
		}
	}
	same("v1", write(parquet.DataPageVersion(1), parquet.Compression(&zstd.Codec{})))
	same("uncompressed", write(parquet.Compression(&parquet.Uncompressed)))
	same("rle-booleans", write(parquet.Compression(&zstd.Codec{}), parquet.DefaultEncodingFor(parquet.Boolean, &parquet.RLE)))
	if _, err := newRowSource("x-snappy", write(parquet.Compression(&parquet.Snappy))); !errors.Is(err, ErrCorrupt) {
		t.Errorf("snappy: %v, want ErrCorrupt", err)
	}
	if _, err := newRowSource("x-delta", write(parquet.DefaultEncodingFor(parquet.ByteArray, &parquet.DeltaByteArray))); !errors.Is(err, errUnsupported) {
		t.Errorf("delta byte array: %v, want errUnsupported", err)
	}
}

// TestRowReaderConcurrent looks traces up from several goroutines at once
// (run with -race): the reader's scratch is per call, its dictionaries
// shared.
func TestRowReaderConcurrent(t *testing.T) {
	spans := richSpans(300, 9)
	want := map[model.TraceID]int{}
	for _, sp := range spans {
		want[sp.TraceID]++
	}
	be, m := writeBlock(t, spans, WriterOptions{RowGroupRows: 200, PageBufferSize: 2048})
	rd := openBlock(t, be, m)
	errs := make(chan error, 4)
	for w := 0; w < 4; w++ {
		go func() {
			for id, n := range want {
				got, err := rd.FindTrace(context.Background(), id)
				if err == nil && len(got) != n {
					err = fmt.Errorf("trace %v: %d spans, want %d", id, len(got), n)
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for w := 0; w < 4; w++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// TestDecompressSingleBlock checks decompress on frames of the writer's
// codec and of the zstd encoder with other options: constant pages (one
// RLE block), random ones (one raw block), compressible ones, with a
// checksum (left to the decoder), and that the writer's constant and
// random pages take the single-block path.
func TestDecompressSingleBlock(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	random := make([]byte, 3000)
	rng.Read(random)
	text := bytes.Repeat([]byte("GET /api/v1/orders/{id} 200 "), 100)
	inputs := map[string][]byte{
		"empty": {}, "one": {7}, "zeros": make([]byte, 8000), "sevens": bytes.Repeat([]byte{7}, 5000),
		"random": random, "text": text, "zeros-big": make([]byte, 300<<10),
	}
	crc, err := kzstd.NewWriter(nil, kzstd.WithEncoderCRC(true))
	if err != nil {
		t.Fatal(err)
	}
	defer crc.Close()
	for name, in := range inputs {
		for _, enc := range []string{"writer", "crc"} {
			var frame []byte
			if enc == "writer" {
				if frame, err = pqZstd.Encode(nil, in); err != nil {
					t.Fatal(err)
				}
			} else {
				frame = crc.EncodeAll(in, nil)
			}
			var dst []byte
			got, err := decompress(&dst, format.Zstd, frame, len(in))
			if err != nil || !bytes.Equal(got, in) {
				t.Errorf("%s/%s: decompress differs (err %v)", name, enc, err)
			}
			_, _, ok := zstdSingleBlock(frame, len(in))
			if enc == "crc" && ok && len(in) > 0 { // (the encoder writes no checksum for no content)
				t.Errorf("%s/%s: a frame with a checksum taken as a single block", name, enc)
			}
			if enc == "writer" && (name == "zeros" || name == "sevens" || name == "random") && !ok {
				t.Errorf("%s/%s: not taken as a single block", name, enc)
			}
			if _, err := decompress(&dst, format.Zstd, frame, len(in)+1); err == nil {
				t.Errorf("%s/%s: a wrong size is not an error", name, enc)
			}
		}
	}
}

// TestRowScanResumes reads blocks through scans in batches of several
// sizes, and through one scan over increasing ranges with gaps (as
// TracesAt does), and compares the rows with parquet-go's: a scan's reads
// of a page go on from where the last one ended (scanCursor), in levels,
// dictionary indexes, delta values and PLAIN byte arrays.
func TestRowScanResumes(t *testing.T) {
	opts := []WriterOptions{{}, {PageBufferSize: 4096}, {RowGroupRows: 700, PageBufferSize: 16 << 10}}
	for i, o := range opts {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			spans := richSpans(500, int64(10+i))
			be, m := writeBlock(t, spans, o)
			rd := openBlock(t, be, m)
			src, err := rd.rowSource()
			if err != nil {
				t.Fatal(err)
			}
			all := make([]Row, m.Spans)
			if err := rd.readRowsGeneric(0, all); err != nil {
				t.Fatal(err)
			}
			for k := range all {
				normalizeRow(&all[k])
			}
			same := func(what string, first int64, got []Row) {
				t.Helper()
				for k := range got {
					c := got[k]
					normalizeRow(&c)
					if !reflect.DeepEqual(all[first+int64(k)], c) {
						t.Fatalf("%s: row %d (-parquet-go +row reader):\n%s", what, first+int64(k), cmp.Diff(all[first+int64(k)], c, cmpopts.EquateEmpty(), cmpopts.IgnoreUnexported(Row{})))
					}
				}
			}
			for _, batch := range []int{1, 3, 64, 257, 1000} {
				rs := src.scanner(rd.slotKeys)
				rs.buf = make([]Row, batch)
				var first int64
				for {
					rows, err := rs.batch()
					if err != nil {
						t.Fatalf("batch %d: %v", batch, err)
					}
					if len(rows) == 0 {
						break
					}
					same(fmt.Sprintf("batches of %d", batch), first, rows)
					first += int64(len(rows))
				}
				if first != m.Spans {
					t.Fatalf("batches of %d: %d rows, want %d", batch, first, m.Spans)
				}
			}
			rng := rand.New(rand.NewSource(int64(i)))
			for rep := 0; rep < 5; rep++ {
				scan := newRowScan()
				for first := rng.Int63n(20); first < m.Spans; first += rng.Int63n(40) {
					n := min(1+rng.Int63n(30), m.Spans-first)
					rows := make([]Row, n)
					if err := src.readRange(first, rows, scan); err != nil {
						t.Fatalf("rows [%d, +%d): %v", first, n, err)
					}
					same("ranges with gaps", first, rows)
					first += n
				}
			}
		})
	}
}
