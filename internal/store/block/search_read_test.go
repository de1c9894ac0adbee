package block

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/crc32"
	"math/rand"
	"os"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// oneByOne reads ordinals with TraceAt, as TracesAt should return them.
func oneByOne(t testing.TB, rd *Reader, ords []int) []TraceRead {
	t.Helper()
	var want []TraceRead
	seen := map[int]bool{}
	for _, o := range ords {
		if seen[o] {
			continue
		}
		seen[o] = true
		id, spans, err := rd.TraceAt(context.Background(), o)
		if err != nil {
			t.Fatalf("TraceAt(%d): %v", o, err)
		}
		want = append(want, TraceRead{Ordinal: o, ID: id, Spans: spans})
	}
	sortReads(want)
	return want
}

func sortReads(r []TraceRead) {
	for i := 1; i < len(r); i++ {
		for j := i; j > 0 && r[j].Ordinal < r[j-1].Ordinal; j-- {
			r[j], r[j-1] = r[j-1], r[j]
		}
	}
}

// genBlock writes the spans of traces traces of the benchmark load with
// the writer's options o, and opens it.
func genBlock(t testing.TB, traces int, o WriterOptions) *Reader {
	t.Helper()
	be, m := writeBlock(t, genSpansLoad(t, traces), o)
	rd, err := Open(context.Background(), be, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rd.Close() })
	return rd
}

func TestTracesAt(t *testing.T) {
	ctx := context.Background()
	// Small row groups, so that traces cross them, the default pages, and
	// an index of more than maxIndexRun bytes.
	rd := genBlock(t, 4000, WriterOptions{RowGroupRows: 2500})
	n := rd.nIndex
	if n*IndexEntrySize <= maxIndexRun {
		t.Fatalf("index of %d entries: want more than one run", n)
	}
	rng := rand.New(rand.NewSource(1))
	check := func(name string, ords []int) {
		t.Helper()
		got, err := rd.TracesAt(ctx, ords)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want := oneByOne(t, rd, ords)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("%s: TracesAt differs from TraceAt one by one (-want +got):\n%s", name, diff)
		}
	}
	check("none", nil)
	check("first", []int{0})
	check("last", []int{n - 1})
	check("neighbours", []int{10, 11, 12, 13, 14})
	check("unsorted with duplicates", []int{900, 3, 900, 17, 2, 3, n - 1})
	check("runs of the index", []int{0, 1, maxIndexRun/IndexEntrySize - 2, maxIndexRun/IndexEntrySize - 1, n / 2, n - 2, n - 1})
	var random []int
	for range 20 {
		random = append(random, rng.Intn(n))
	}
	check("20 random", random)
	var every []int
	for o := range n {
		every = append(every, o)
	}
	check("all", every[:maxTracesAt])

	if _, err := rd.TracesAt(ctx, []int{1, n}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("ordinal past the index: %v, want ErrCorrupt", err)
	}
	if _, err := rd.TracesAt(ctx, []int{-1}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("negative ordinal: %v, want ErrCorrupt", err)
	}
	if _, err := rd.TracesAt(ctx, every[:maxTracesAt+1]); err == nil {
		t.Errorf("%d ordinals: no error", maxTracesAt+1)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := rd.TracesAt(cctx, []int{1}); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: %v", err)
	}
}

// TestTracesAtDamagedIndex gives TracesAt an index whose entries are out
// of order (with a valid checksum): overlapping or empty row ranges must
// be reported as damage, not read.
func TestTracesAtDamagedIndex(t *testing.T) {
	be, m := writeBlock(t, genSpansLoad(t, 50), WriterOptions{})
	p, err := be.path(m.ID, IndexName)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	// Swap the first rows of entries 5 and 6, and fix the checksum.
	e5, e6 := b[len(indexMagic)+5*IndexEntrySize+16:][:4], b[len(indexMagic)+6*IndexEntrySize+16:][:4]
	var tmp [4]byte
	copy(tmp[:], e5)
	copy(e5, e6)
	copy(e6, tmp[:])
	binary.LittleEndian.PutUint32(b[len(b)-4:], crc32.Checksum(b[:len(b)-4], castagnoli))
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	rd := openBlock(t, be, m)
	for _, ords := range [][]int{{5}, {4, 6}, {5, 6}, {3, 4, 5, 6, 7}} {
		if _, err := rd.TracesAt(context.Background(), ords); !errors.Is(err, ErrCorrupt) {
			t.Errorf("TracesAt(%v): %v, want ErrCorrupt", ords, err)
		}
	}
	got, err := rd.TracesAt(context.Background(), []int{0, 1, 2, 3, 8, 9})
	if err != nil {
		t.Fatalf("entries the damage does not touch: %v", err)
	}
	if diff := cmp.Diff(oneByOne(t, rd, []int{0, 1, 2, 3, 8, 9}), got); diff != "" {
		t.Errorf("TracesAt differs from TraceAt one by one (-want +got):\n%s", diff)
	}
}

// TestTracesAtManyPages reads more traces than one prefetch holds
// (maxPrefetchBytes), so that TracesAt fetches in several runs.
func TestTracesAtManyPages(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a block of 300,000 spans")
	}
	rd := genBlock(t, 30000, WriterOptions{})
	src, err := rd.rowSource()
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(2))
	var ords []int
	seen := map[int64]struct{}{}
	var bytes int64
	for len(ords) < maxTracesAt {
		o := rng.Intn(rd.nIndex)
		var tr [1]TraceRead
		var rows [1][2]int64
		if err := rd.entriesRows(context.Background(), []int{o}, tr[:], rows[:]); err != nil {
			t.Fatal(err)
		}
		var add int64
		_, add = src.planPages(nil, seen, rows[0][0], rows[0][1])
		bytes += add
		ords = append(ords, o)
	}
	if bytes <= maxPrefetchBytes {
		t.Fatalf("the traces' pages are %d bytes: want more than one prefetch", bytes)
	}
	got, err := rd.TracesAt(context.Background(), ords)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(oneByOne(t, rd, ords), got); diff != "" {
		t.Fatalf("TracesAt differs from TraceAt one by one (-want +got):\n%s", diff)
	}
}

// TestTracesAtConcurrent reads from one block on several goroutines (the
// pooled scans and scratch must not be shared).
func TestTracesAtConcurrent(t *testing.T) {
	rd := genBlock(t, 2000, WriterOptions{})
	var sets [][]int
	var want [][]TraceRead
	rng := rand.New(rand.NewSource(3))
	for range 8 {
		var ords []int
		for range 15 {
			ords = append(ords, rng.Intn(rd.nIndex))
		}
		sets = append(sets, ords)
		want = append(want, oneByOne(t, rd, ords))
	}
	var wg sync.WaitGroup
	errs := make([]error, len(sets))
	for i := range sets {
		wg.Go(func() {
			for range 5 {
				got, err := rd.TracesAt(context.Background(), sets[i])
				if err == nil && !cmp.Equal(want[i], got) {
					err = errors.New("differs from TraceAt")
				}
				if err != nil {
					errs[i] = err
					return
				}
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("set %d: %v", i, err)
		}
	}
}

// FuzzTracesAt damages the data file of the fuzz base block (as
// FuzzReadData does) and reads every trace with TracesAt: an error must
// wrap ErrCorrupt, never panic, and a read that succeeds must agree with
// TraceAt one by one. Seeds: damage at every page header of the block
// (from its page index) and at the footer.
func FuzzTracesAt(f *testing.F) {
	be, m, data, _ := fuzzBase(f)
	rd, err := Open(context.Background(), be, m.ID)
	if err != nil {
		f.Fatal(err)
	}
	src, err := rd.rowSource()
	if err != nil {
		f.Fatal(err)
	}
	for _, g := range src.groups {
		for _, ch := range g.chunks {
			for _, p := range ch.pages {
				f.Add(uint32(p.offset), []byte{0xff}, uint16(0))
				f.Add(uint32(p.offset+int64(p.size)-2), []byte{0x00, 0x7f}, uint16(0))
			}
		}
	}
	rd.Close()
	f.Add(uint32(len(data)-8), []byte{0xff, 0xff, 0xff, 0x7f}, uint16(0))
	f.Fuzz(func(t *testing.T, off uint32, patch []byte, cut uint16) {
		d := damage(data, off, patch, cut)
		be2 := newMem()
		for k, v := range be.objs {
			be2.objs[k] = v
		}
		meta := m
		meta.DataSize = int64(len(d))
		meta.DataCRC32C = crc32.Checksum(d, castagnoli)
		mj, _ := json.Marshal(meta)
		be2.objs[m.ID+"/"+DataName] = d
		be2.objs[m.ID+"/"+MetaName] = mj
		ctx := context.Background()
		r, err := Open(ctx, be2, m.ID)
		if err != nil {
			return
		}
		defer r.Close()
		ords := make([]int, r.nIndex)
		for i := range ords {
			ords[i] = i
		}
		got, err := r.TracesAt(ctx, ords)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		for _, tr := range got {
			id, spans, err := r.TraceAt(ctx, tr.Ordinal)
			if err != nil {
				t.Fatalf("TracesAt read entry %d, TraceAt failed: %v", tr.Ordinal, err)
			}
			if id != tr.ID || !cmp.Equal(spans, tr.Spans) {
				t.Fatalf("entry %d: TracesAt and TraceAt differ", tr.Ordinal)
			}
		}
	})
}

// BenchmarkTracesAt reads the 20 newest candidates of a search by service
// in a block of 250,000 spans of the benchmark load (the size of a flush),
// one by one with TraceAt and together with TracesAt.
func BenchmarkTracesAt(b *testing.B) {
	rd := genBlock(b, 25000, WriterOptions{})
	ctx := context.Background()
	x, err := rd.SearchIndex(ctx, NewSearchCache(64<<20))
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		q    SearchRequest
	}{
		{"Service", SearchRequest{Service: "frontend"}},
		{"Tag", SearchRequest{Service: "frontend", Tags: map[string]string{"http.response.status_code": "503"}}},
	} {
		it := x.Candidates(&c.q)
		var ords []int
		for cand, ok := it.Next(); ok && len(ords) < 20; cand, ok = it.Next() {
			ords = append(ords, cand.Ordinal)
		}
		if len(ords) < 20 {
			b.Fatalf("%s: %d candidates", c.name, len(ords))
		}
		b.Run(c.name+"/OneByOne", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				for _, o := range ords {
					if _, _, err := rd.TraceAt(ctx, o); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
		b.Run(c.name+"/Together", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := rd.TracesAt(ctx, ords); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
