package block

import (
	"context"
	"crypto/sha256"
	"flag"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clew-dev/clew/internal/gen"
	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/store/spancodec"
)

var updateGolden = flag.Bool("update-golden", false, "rewrite testdata/writer_golden.txt")

// hashSink is a rowSink that hashes the rows it is given, field by field:
// what the block writer makes of its spans, apart from the Parquet
// encoder. A nil slice counts as an empty one (the Parquet encoder writes
// both alike, and whether a row's slice is nil or emptied depends only on
// whether the writer reused the row).
type hashSink struct{ h hash.Hash }

// nilSlice matches a nil slice as %#v prints it.
var nilSlice = regexp.MustCompile(`(\[\][A-Za-z0-9_.]+)\(nil\)`)

func (s *hashSink) Write(rows []Row) (int, error) {
	for i := range rows {
		fmt.Fprintln(s.h, nilSlice.ReplaceAllString(fmt.Sprintf("%#v", rows[i]), "$1{}"))
	}
	return len(rows), nil
}
func (s *hashSink) Flush() error                          { fmt.Fprintln(s.h, "flush"); return nil }
func (s *hashSink) SetKeyValueMetadata(key, value string) { fmt.Fprintln(s.h, key, value) }
func (s *hashSink) Close() error                          { return nil }

// goldenSpans returns two loads, each in block order: 300 traces of the
// benchmark load (clew gen, fixed seed and time) and spans with values of
// every type on spans, events, links, resources and scopes, dedicated
// columns under their old keys, statuses, keys past the search index's
// bounds (long values, many values).
func goldenSpans(tb testing.TB) map[string][]*model.Span {
	g, err := gen.New(gen.DefaultOptions())
	if err != nil {
		tb.Fatal(err)
	}
	var load []*model.Span
	for i := 0; i < 300; i++ {
		load = append(load, g.Trace(time.Unix(1.7e9, 0).Add(time.Duration(i)*time.Millisecond))...)
	}
	res := make([]*model.Resource, 6)
	for i := range res {
		attrs := model.Attributes{
			{Key: "service.name", Value: model.StringValue(fmt.Sprintf("svc-%d", i%4))},
			{Key: "host.name", Value: model.StringValue(fmt.Sprintf("host-%d", i%3))},
			{Key: "deployment.environment", Value: model.StringValue("prod")},
			{Key: "n", Value: model.IntValue(int64(i))},
			{Key: "r", Value: model.StringValue(strings.Repeat("x", i))},
			{Key: "d", Value: model.DoubleValue(1.5)},
		}
		if i == 5 {
			attrs = attrs[1:] // no service.name
		}
		res[i] = &model.Resource{Attributes: attrs, DroppedAttributesCount: uint32(i % 2), SchemaURL: fmt.Sprint("s", i%2)}
	}
	scopes := []*model.Scope{
		{Name: "lib", Version: "1", Attributes: model.Attributes{{Key: "sv", Value: model.DoubleValue(1.5)}, {Key: "ss", Value: model.StringValue("a")}}},
		{Name: "other"},
		nil,
	}
	var varied []*model.Span
	for tr := 0; tr < 400; tr++ {
		for s := 0; s < 7; s++ {
			i := tr*7 + s
			start := uint64(1.7e18) + uint64(tr)*1e6 + uint64(s%5)*1000
			sp := &model.Span{Resource: res[i%len(res)], Scope: scopes[i%len(scopes)],
				TraceID: model.TraceIDFromUint64s(uint64(tr%97), uint64(tr)*7+1), SpanID: model.SpanIDFromUint64(uint64(i*31%1000 + 1)),
				Name: fmt.Sprintf("op-%d", i%13), Kind: model.SpanKind(i % 7), StartTimeUnixNano: start, EndTimeUnixNano: start + uint64(i%50)*1000,
				TraceState: []string{"", "k=v"}[i%2], Flags: uint32(i % 3),
				Status:                 model.Status{Code: model.StatusCode(i % 3), Message: []string{"", "boom", "bad"}[i%3]},
				DroppedAttributesCount: uint32(i % 2), DroppedEventsCount: uint32(i % 3), DroppedLinksCount: uint32(i % 4),
				Attributes: model.Attributes{
					{Key: []string{"http.request.method", "http.method"}[i%2], Value: model.StringValue([]string{"GET", "POST", ""}[i%3])},
					{Key: []string{"http.response.status_code", "http.status_code"}[i%2], Value: model.IntValue(int64(200 + i%5))},
					{Key: "db.system", Value: model.StringValue("pg")},
					{Key: "db.system.name", Value: model.StringValue("mysql")},
					{Key: "i", Value: model.IntValue(int64(i % 40))},
					{Key: "d", Value: model.DoubleValue(float64(i) / 3)},
					{Key: "b", Value: model.BoolValue(i%2 == 0)},
					{Key: "x", Value: model.BytesValue([]byte{byte(i), byte(i >> 8)})},
					{Key: "a", Value: model.SliceValue([]model.Value{model.IntValue(int64(i % 9)), model.StringValue("q")})},
					{Key: "m", Value: model.MapValue(model.Attributes{{Key: "k", Value: model.IntValue(int64(i % 4))}})},
					{Key: "e", Value: model.Value{}},
					{Key: fmt.Sprint("k", i%11), Value: model.StringValue(fmt.Sprint("v", i%17))},
					{Key: "long", Value: model.StringValue(strings.Repeat("l", 100+i%60))},
					{Key: fmt.Sprint("many", i%3), Value: model.StringValue(fmt.Sprint("id", i))},
				},
				Events: []model.Event{
					{TimeUnixNano: start + 1, Name: "e1", Attributes: model.Attributes{{Key: "seq", Value: model.IntValue(int64(i))}, {Key: "s", Value: model.StringValue("v")}}},
					{TimeUnixNano: start + 2, Name: "e2", Attributes: model.Attributes{{Key: "f", Value: model.DoubleValue(float64(i))}}, DroppedAttributesCount: 2},
				},
			}
			sp.Attributes = sp.Attributes[:len(sp.Attributes)-i%4]
			if i%4 == 0 {
				sp.Events = sp.Events[:1]
			}
			if i%5 == 0 {
				sp.Events = nil
			}
			if i%9 == 0 {
				sp.Links = []model.Link{{TraceID: model.TraceIDFromUint64s(9, uint64(i)), SpanID: model.SpanIDFromUint64(3), TraceState: "t",
					Attributes: model.Attributes{{Key: "li", Value: model.IntValue(int64(i))}, {Key: "ls", Value: model.StringValue("x")}}, Flags: 1, DroppedAttributesCount: 1}}
			}
			if s > 0 {
				sp.ParentSpanID = model.SpanIDFromUint64(uint64((i-1)*31%1000 + 1))
			}
			varied = append(varied, sp)
		}
	}
	out := map[string][]*model.Span{"gen": load, "varied": varied}
	for _, spans := range out {
		slices.SortStableFunc(spans, CompareSpans)
	}
	return out
}

// writeGolden writes spans as the flush does (each span decoded from its
// spancodec encoding into a reused span, so that strings share the
// encoding's bytes) into a block whose rows go to a hashSink, and returns
// the hashes of the rows and of the search index.
func writeGolden(t *testing.T, spans []*model.Span) (rows, search string) {
	dir := t.TempDir()
	be, err := NewDir(filepath.Join(dir, "blocks"))
	if err != nil {
		t.Fatal(err)
	}
	sink := &hashSink{h: sha256.New()}
	w, err := newWriter(be, filepath.Join(dir, "tmp"), Meta{}, WriterOptions{RowGroupRows: 1000},
		func(io.Writer, WriterOptions) (rowSink, error) { return sink, nil })
	if err != nil {
		t.Fatal(err)
	}
	var dec spancodec.SpanDecoder
	var sp model.Span
	for _, in := range spans {
		dec.Reset()
		sp.Resource, sp.Scope = in.Resource, in.Scope
		if err := dec.Decode(spancodec.AppendSpan(nil, in), &sp); err != nil {
			t.Fatal(err)
		}
		if err := w.Add(&sp); err != nil {
			t.Fatal(err)
		}
	}
	m, err := w.Finish(context.Background(), time.Unix(1.7e9, 0))
	if err != nil {
		t.Fatal(err)
	}
	sr, err := be.Read(context.Background(), m.ID, SearchName)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(sink.h, "%v\n", m.Services)
	return fmt.Sprintf("%x", sink.h.Sum(nil)), fmt.Sprintf("%x", sha256.Sum256(sr))
}

// TestWriterGolden checks that the block writer turns the same spans into
// the same rows (as given to the Parquet encoder, and the meta's
// operations) and the same search index, byte for byte, as when
// testdata/writer_golden.txt was written (go test -run TestWriterGolden
// -update-golden): changes meant to make the flush cheaper must not change
// what it writes.
func TestWriterGolden(t *testing.T) {
	loads := goldenSpans(t)
	var got []string
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range loads {
			if !yield(k) {
				return
			}
		}
	}) {
		rows, search := writeGolden(t, loads[name])
		got = append(got, fmt.Sprintf("%s rows %s", name, rows), fmt.Sprintf("%s search %s", name, search))
	}
	path := filepath.Join("testdata", "writer_golden.txt")
	if *updateGolden {
		if err := os.WriteFile(path, []byte(strings.Join(got, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if g := strings.Join(got, "\n") + "\n"; g != string(want) {
		t.Errorf("the writer's output changed:\n got:\n%s want:\n%s", g, want)
	}
}
