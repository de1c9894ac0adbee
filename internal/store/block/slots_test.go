package block

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/clew-dev/clew/internal/model"
)

// slotSpans returns spans whose string attributes are frequent (on every
// span, on 1 in 4, with empty values, twice on a span, as another type),
// rare (1 in 20), or first seen after the block's first rows.
func slotSpans(n int) []*model.Span {
	res := &model.Resource{Attributes: model.Attributes{{Key: "service.name", Value: model.StringValue("svc")}}}
	scope := &model.Scope{Name: "lib"}
	var spans []*model.Span
	for i := 0; i < n; i++ {
		start := uint64(1e18) + uint64(i)*1000
		sp := &model.Span{Resource: res, Scope: scope, TraceID: model.TraceIDFromUint64s(uint64(i/7), 1), SpanID: model.SpanIDFromUint64(uint64(i + 1)),
			Name: "op", StartTimeUnixNano: start, EndTimeUnixNano: start + 5}
		a := model.Attributes{{Key: "every", Value: model.StringValue(fmt.Sprint("e", i%50))}}
		if i%4 == 0 {
			a = append(a, model.KeyValue{Key: "quarter", Value: model.StringValue(fmt.Sprint("q", i%3))})
		}
		switch i % 9 {
		case 1:
			a = append(a, model.KeyValue{Key: "every", Value: model.StringValue("again")})
		case 2:
			a[0].Value = model.StringValue("")
		case 3:
			a[0].Value = model.IntValue(int64(i))
		case 4: // empty first, then a value: the value takes the column
			a = append(model.Attributes{{Key: "every", Value: model.StringValue("")}}, a...)
		}
		if i%20 == 0 {
			a = append(a, model.KeyValue{Key: "rare", Value: model.StringValue("r")})
		}
		if i >= 1200 {
			a = append(a, model.KeyValue{Key: "late", Value: model.StringValue(fmt.Sprint("l", i%5))})
		}
		a = append(a, model.KeyValue{Key: "http.route", Value: model.StringValue("/x")}, model.KeyValue{Key: "http.route", Value: model.StringValue("/y")})
		sp.Attributes = a
		spans = append(spans, sp)
	}
	return spans
}

// TestAttrColumns checks which keys get attribute columns and that spans
// come back as written from every read path.
func TestAttrColumns(t *testing.T) {
	spans := slotSpans(1600)
	be, m := writeBlock(t, spans, WriterOptions{RowGroupRows: 700, PageBufferSize: 2048})
	rd, err := Open(context.Background(), be, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	if rd.slotKeys == nil || *rd.slotKeys != (slotKeys{"every", "quarter"}) {
		t.Fatalf("attribute columns %v, want every and quarter", rd.slotKeys)
	}
	byKey := cmpopts.SortSlices(func(a, b model.KeyValue) bool {
		return a.Key < b.Key || (a.Key == b.Key && a.Value.AsString() < b.Value.AsString())
	})
	same := func(what string, want, got []*model.Span) {
		t.Helper()
		if diff := cmp.Diff(want, got, valueCmp, byKey, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("%s (-want +got):\n%s", what, diff)
		}
	}
	for lo := 0; lo < len(spans); lo += 7 {
		got, err := rd.FindTrace(context.Background(), spans[lo].TraceID)
		if err != nil {
			t.Fatal(err)
		}
		same(fmt.Sprint("trace ", lo/7), spans[lo:min(lo+7, len(spans))], got)
	}
	var all []*model.Span
	var sb SpanBuilder
	inCols := 0
	err = rd.ScanRows(context.Background(), func(r *Row) bool {
		all = append(all, sb.Span(r))
		if r.Attr0 != "" {
			inCols++
		}
		for _, a := range r.AttrsStr {
			if a.Key == "every" && a.Value != "" && r.Attr0 == "" {
				t.Errorf("row %d: every=%q in the list, not the column", len(all)-1, a.Value)
			}
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	same("ScanRows", spans, all)
	if inCols < len(spans)*3/4 {
		t.Errorf("%d of %d rows with a value in attr_0", inCols, len(spans))
	}
	all = all[:0]
	it := rd.Iter()
	for sp := it.Next(); sp != nil; sp = it.Next() {
		all = append(all, sp)
	}
	it.Close()
	same("Iter", spans, all)
	if err := rd.Verify(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestAttrColumnsNone checks a block whose attributes are all rare: no
// columns, no metadata.
func TestAttrColumnsNone(t *testing.T) {
	spans := genSpans(50, 4)
	for _, sp := range spans {
		sp.Attributes = append(sp.Attributes[:0:0], sp.Attributes...)
	}
	spans[0].Attributes = append(spans[0].Attributes, model.KeyValue{Key: "once", Value: model.StringValue("x")})
	be, m := writeBlock(t, spans, WriterOptions{})
	rd := openBlock(t, be, m)
	if rd.slotKeys != nil {
		if _, ok := rd.file.Lookup(slotKeysMeta); !ok {
			t.Fatal("keys without metadata")
		}
		for _, k := range rd.slotKeys {
			if k == "once" {
				t.Errorf("a key on 1 span of 200 has a column: %v", rd.slotKeys)
			}
		}
	}
}

// TestAttrColumnsDamage rewrites the keys' metadata of a block in place
// (same length): malformed keys, or fewer keys than columns with values,
// are ErrCorrupt.
func TestAttrColumnsDamage(t *testing.T) {
	spans := slotSpans(300)
	be := newMem()
	m, err := Write(context.Background(), be, t.TempDir(), Meta{}, WriterOptions{}, spans, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	data, _ := be.get(m.ID, DataName)
	orig, _ := json.Marshal([]string{"every", "quarter"})
	at := bytes.Index(data, orig)
	if at < 0 {
		t.Fatalf("no %s in the data", orig)
	}
	for _, bad := range []string{`["every","every"  ]`, `["every"          ]`, `["every",""       ]`, `{"every":"quarter"}`, `[]                 `} {
		if len(bad) != len(orig) {
			t.Fatalf("%q: %d bytes, want %d", bad, len(bad), len(orig))
		}
		d := bytes.Clone(data)
		copy(d[at:], bad)
		be2 := newMem()
		for k, v := range be.objs {
			be2.objs[k] = v
		}
		meta := m
		meta.DataCRC32C = crc32.Checksum(d, castagnoli)
		mj, _ := json.Marshal(meta)
		be2.objs[m.ID+"/"+DataName] = d
		be2.objs[m.ID+"/"+MetaName] = mj
		rd, err := Open(context.Background(), be2, m.ID)
		if err == nil {
			// Fewer keys than columns with values: the rows are damage.
			_, err = rd.FindTrace(context.Background(), spans[0].TraceID)
			if err == nil {
				err = rd.ScanRows(context.Background(), func(*Row) bool { return true })
			}
			rd.Close()
		}
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("keys %s: %v, want ErrCorrupt", bad, err)
		}
	}
}

// TestAttrColumnsOddKeys writes blocks whose most frequent string
// attribute keys are empty or not valid UTF-8 (OTLP receivers pass both
// through): the block must open and give every attribute back with its
// key, byte for byte. An empty key in clew.block.attr_columns is damage to
// readers, and JSON turns invalid UTF-8 into U+FFFD (two such keys then
// collide), so the writer must not choose these keys.
func TestAttrColumnsOddKeys(t *testing.T) {
	for name, keys := range map[string][]string{
		"empty":        {""},
		"invalid utf8": {"k\xff"},
		"two invalid":  {"k\xfe", "k\xff"},
	} {
		t.Run(name, func(t *testing.T) {
			res := &model.Resource{Attributes: model.Attributes{{Key: "service.name", Value: model.StringValue("svc")}}}
			scope := &model.Scope{Name: "lib"}
			var spans []*model.Span
			for i := 0; i < 200; i++ {
				start := uint64(1e18) + uint64(i)*1000
				sp := &model.Span{Resource: res, Scope: scope, TraceID: model.TraceIDFromUint64s(uint64(i/5), 1), SpanID: model.SpanIDFromUint64(uint64(i + 1)),
					Name: "op", StartTimeUnixNano: start, EndTimeUnixNano: start + 5,
					Attributes: model.Attributes{{Key: "ok", Value: model.StringValue(fmt.Sprint("v", i%3))}}}
				for _, k := range keys {
					sp.Attributes = append(sp.Attributes, model.KeyValue{Key: k, Value: model.StringValue(fmt.Sprint("x", i%4))})
				}
				spans = append(spans, sp)
			}
			be, m := writeBlock(t, spans, WriterOptions{})
			rd, err := Open(context.Background(), be, m.ID)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer rd.Close()
			byKey := cmpopts.SortSlices(func(a, b model.KeyValue) bool {
				return a.Key < b.Key || (a.Key == b.Key && a.Value.AsString() < b.Value.AsString())
			})
			for i := 0; i < len(spans); i += 5 {
				got, err := rd.FindTrace(context.Background(), spans[i].TraceID)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(spans[i:i+5], got, valueCmp, byKey, cmpopts.EquateEmpty()); diff != "" {
					t.Fatalf("trace %d (-want +got):\n%s", i/5, diff)
				}
			}
		})
	}
}
