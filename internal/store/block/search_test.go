package block

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/google/go-cmp/cmp"

	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/store"
)

// searchSpans makes traces over 5 services with attributes of every kind
// the index handles: low-cardinality strings, ints and bools, an array, a
// high-cardinality key (dropped), a long value (dropped), event and link
// attributes, error and ok statuses.
func searchSpans(traces int, seed uint64) []*model.Span {
	rng := rand.New(rand.NewPCG(seed, 1))
	var res []*model.Resource
	for i := 0; i < 5; i++ {
		res = append(res, &model.Resource{Attributes: model.Attributes{
			{Key: "service.name", Value: model.StringValue(fmt.Sprintf("svc-%d", i))},
			{Key: "host.name", Value: model.StringValue(fmt.Sprintf("host-%d", i%2))},
		}})
	}
	sc := &model.Scope{Name: "lib", Version: "1"}
	base := uint64(time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC).UnixNano())
	var out []*model.Span
	for t := 0; t < traces; t++ {
		tid := model.TraceIDFromUint64s(rng.Uint64(), rng.Uint64())
		start := base + uint64(rng.IntN(3600_000))*1e6 + uint64(rng.IntN(1e6))
		n := 1 + rng.IntN(8)
		for s := 0; s < n; s++ {
			sp := &model.Span{Resource: res[rng.IntN(len(res))], Scope: sc, TraceID: tid,
				SpanID: model.SpanIDFromUint64(rng.Uint64() | 1), Name: fmt.Sprintf("op-%d", rng.IntN(4)),
				Kind:              model.SpanKind(rng.IntN(4)),
				StartTimeUnixNano: start + uint64(rng.IntN(2e8)),
				Attributes: model.Attributes{
					{Key: "http.response.status_code", Value: model.IntValue([]int64{200, 200, 200, 404, 500}[rng.IntN(5)])},
					{Key: "user.id", Value: model.StringValue(fmt.Sprintf("u%d", rng.IntN(100000)))},
					{Key: "cached", Value: model.BoolValue(rng.IntN(3) == 0)},
				}}
			if rng.IntN(4) == 0 {
				sp.Attributes = append(sp.Attributes, model.KeyValue{Key: "tags", Value: model.SliceValue([]model.Value{model.StringValue(fmt.Sprintf("t%d", rng.IntN(2))), model.IntValue(7)})})
			}
			if rng.IntN(50) == 0 {
				sp.Attributes = append(sp.Attributes, model.KeyValue{Key: "blob", Value: model.StringValue(string(make([]byte, 300)))})
			}
			if rng.IntN(10) == 0 {
				sp.Events = []model.Event{{Name: "e", Attributes: model.Attributes{{Key: "exception.type", Value: model.StringValue("Timeout")}}}}
			}
			if rng.IntN(20) == 0 {
				sp.Links = []model.Link{{TraceID: tid, Attributes: model.Attributes{{Key: "link.kind", Value: model.StringValue("follows")}}}}
			}
			switch rng.IntN(10) {
			case 0:
				sp.Status = model.Status{Code: model.StatusError, Message: "boom"}
			case 1:
				sp.Status = model.Status{Code: model.StatusOK}
			}
			sp.EndTimeUnixNano = sp.StartTimeUnixNano + uint64(rng.IntN(5e8))
			out = append(out, sp)
		}
	}
	return out
}

// bySearch returns the trace ids in a block whose spans satisfy q with
// one span, and those where the index must report them (every condition
// met by some span, the service's where a service is asked).
func truth(spans []*model.Span, q *SearchRequest) map[model.TraceID]bool {
	out := map[model.TraceID]bool{}
	tq := store.TraceQuery{Service: q.Service, Operation: q.Name, Tags: q.Tags, DurationMin: q.MinDuration}
	for _, sp := range spans {
		if sp.StartTimeUnixNano < q.StartMin || (q.StartMax != 0 && sp.StartTimeUnixNano > q.StartMax) {
			continue
		}
		tq.Tags = nil
		if !store.MatchSpan(sp, &tq) {
			continue
		}
		ok := true
		for k, v := range q.Tags {
			if !store.SpanMayHaveTag(sp, k, v) {
				ok = false
			}
		}
		if ok {
			out[sp.TraceID] = true
		}
	}
	return out
}

func openSearch(t *testing.T, spans []*model.Span) (*Reader, *SearchIndex) {
	t.Helper()
	be, m := writeBlock(t, spans, WriterOptions{})
	if m.SearchSize == 0 {
		t.Fatal("block written without a search index")
	}
	r, err := Open(context.Background(), be, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	x, err := r.SearchIndex(context.Background(), NewSearchCache(1<<30))
	if err != nil || x == nil {
		t.Fatalf("SearchIndex: %v %v", x, err)
	}
	return r, x
}

func candidateIDs(t *testing.T, r *Reader, x *SearchIndex, q *SearchRequest) []model.TraceID {
	t.Helper()
	var out []model.TraceID
	it := x.Candidates(q)
	last := ^uint64(0)
	for c, ok := it.Next(); ok; c, ok = it.Next() {
		if c.Start > last {
			t.Fatalf("candidates out of time order: %d after %d", c.Start, last)
		}
		last = c.Start
		id, err := r.TraceIDAt(context.Background(), c.Ordinal)
		if err != nil {
			t.Fatal(err)
		}
		id2, spans, err := r.TraceAt(context.Background(), c.Ordinal)
		if err != nil || id2 != id {
			t.Fatalf("TraceAt(%d) = %s, %v; TraceIDAt says %s", c.Ordinal, id2, err, id)
		}
		want, err := r.FindTrace(context.Background(), id)
		if err != nil || len(want) != len(spans) {
			t.Fatalf("TraceAt(%d): %d spans, FindTrace %d (%v)", c.Ordinal, len(spans), len(want), err)
		}
		out = append(out, id)
	}
	return out
}

func TestSearchCandidatesCoverMatches(t *testing.T) {
	spans := searchSpans(3000, 1)
	r, x := openSearch(t, spans)
	lo := spans[0].StartTimeUnixNano
	queries := []SearchRequest{
		{},
		{Service: "svc-1"},
		{Service: "svc-9"},
		{Service: "svc-2", Name: "op-3"},
		{Name: "op-1"},
		{Service: "svc-0", Tags: map[string]string{"http.response.status_code": "500"}},
		{Tags: map[string]string{"http.response.status_code": "404"}},
		{Service: "svc-3", Tags: map[string]string{"error": "true"}},
		{Tags: map[string]string{"otel.status_code": "OK"}},
		{Tags: map[string]string{"otel.status_description": "boom"}},
		{Tags: map[string]string{"span.kind": "client"}},
		{Tags: map[string]string{"cached": "true", "host.name": "host-1"}},
		{Tags: map[string]string{"tags": "t1"}},
		{Tags: map[string]string{"tags": "7"}},
		{Tags: map[string]string{"exception.type": "Timeout"}},
		{Tags: map[string]string{"link.kind": "follows"}},
		{Tags: map[string]string{"otel.scope.name": "lib"}},
		{Tags: map[string]string{"user.id": "u17"}},                  // dropped: too many values
		{Tags: map[string]string{"blob": string(make([]byte, 300))}}, // dropped: long value
		{Tags: map[string]string{"no.such.key": "x"}},
		{Service: "svc-4", Tags: map[string]string{"http.response.status_code": "999"}},
		{Service: "svc-1", MinDuration: 450 * time.Millisecond},
		{StartMin: lo + 20*uint64(time.Minute), StartMax: lo + 21*uint64(time.Minute)},
		{Service: "svc-2", StartMin: lo + 50*uint64(time.Minute), Tags: map[string]string{"cached": "false"}},
	}
	for _, q := range queries {
		want := truth(spans, &q)
		got := candidateIDs(t, r, x, &q)
		set := map[model.TraceID]bool{}
		for _, id := range got {
			if set[id] {
				t.Errorf("%+v: %s twice", q, id)
			}
			set[id] = true
		}
		for id := range want {
			if !set[id] {
				t.Errorf("%+v: misses trace %s", q, id)
			}
		}
		t.Logf("%+v: %d candidates, %d match", q, len(got), len(want))
	}
	// Terms the index holds exactly: the candidates are the matches.
	for _, q := range []SearchRequest{
		{Service: "svc-1"},
		{Service: "svc-2", Name: "op-3"},
		{Service: "svc-0", Tags: map[string]string{"http.response.status_code": "500"}},
		{Service: "svc-3", Tags: map[string]string{"tags": "t1"}},
	} {
		want := truth(spans, &q)
		got := candidateIDs(t, r, x, &q)
		if len(got) != len(want) {
			t.Errorf("%+v: %d candidates, want exactly the %d matches", q, len(got), len(want))
		}
	}
	if x.keys["user.id"] || x.keys["blob"] {
		t.Errorf("user.id and blob should be dropped: %v", x.keys)
	}
	if !x.keys["http.response.status_code"] || !x.keys["tags"] {
		t.Errorf("status code and tags should be indexed: %v", x.keys)
	}
}

func TestSearchCandidatesNewestFirst(t *testing.T) {
	spans := searchSpans(2000, 2)
	r, x := openSearch(t, spans)
	starts := map[model.TraceID]uint64{}
	for _, sp := range spans {
		if st, ok := starts[sp.TraceID]; !ok || sp.StartTimeUnixNano < st {
			starts[sp.TraceID] = sp.StartTimeUnixNano
		}
	}
	it := x.Candidates(&SearchRequest{})
	prev := ^uint64(0)
	n := 0
	for c, ok := it.Next(); ok; c, ok = it.Next() {
		id, _ := r.TraceIDAt(context.Background(), c.Ordinal)
		st := starts[id]
		if st > c.Start || c.Start-st >= searchUnit {
			t.Fatalf("trace %s starts at %d, candidate says %d", id, st, c.Start)
		}
		if prev != ^uint64(0) && st > prev+searchUnit {
			t.Fatalf("trace start %d after %d", st, prev)
		}
		prev = st
		n++
	}
	if n != len(starts) {
		t.Errorf("%d candidates, want all %d traces", n, len(starts))
	}
}

func TestSearchPostingEncodings(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	for _, n := range []int{1, 7, 8, 9, 64, 65, 1000, 5000} {
		for _, density := range []float64{0, 0.001, 0.05, 0.1, 0.13, 0.3, 0.87, 0.9, 0.95, 0.999, 1} {
			var ranks []uint32
			for r := 0; r < n; r++ {
				if rng.Float64() < density {
					ranks = append(ranks, uint32(r))
				}
			}
			enc, count, b := encodePosting(nil, ranks, n)
			p := posting{enc: enc, count: count, b: b}
			if err := checkPosting(p, n); err != nil {
				t.Fatalf("n=%d density=%g enc=%d: %v", n, density, enc, err)
			}
			x := &SearchIndex{n: n, terms: map[searchTerm]posting{{}: p}}
			it := x.iter(searchTerm{})
			var got []uint32
			for r := uint32(0); ; r++ {
				v, ok := it.seek(r)
				if !ok {
					break
				}
				got = append(got, v)
				r = v
			}
			if diff := cmp.Diff(ranks, got); diff != "" && len(ranks)+len(got) > 0 {
				t.Fatalf("n=%d density=%g enc=%d (-want +got):\n%s", n, density, enc, diff)
			}
			if size := len(b); size > (n+7)/8+1 && size > gapsSize(ranks, math.MaxInt) {
				t.Errorf("n=%d density=%g: %d bytes, not the smallest", n, density, size)
			}
			if c := complementSize(ranks, n, math.MaxInt); enc == postComplement && c != len(b) {
				t.Errorf("n=%d density=%g: complementSize %d, the complement takes %d bytes", n, density, c, len(b))
			}
			// The encoding is the one the sizes choose, computed in full.
			list, bitmap, compl := gapsSize(ranks, math.MaxInt), (n+7)/8, 3*(n-len(ranks))
			if n-len(ranks) < len(ranks) {
				compl = complementSize(ranks, n, math.MaxInt)
			}
			want := uint8(postList)
			if compl <= list && compl <= bitmap {
				want = postComplement
			} else if bitmap < list {
				want = postBitmap
			}
			if enc != want {
				t.Errorf("n=%d density=%g: encoding %d, want %d (list %d, bitmap %d, complement %d bytes)", n, density, enc, want, list, bitmap, compl)
			}
		}
	}
}

// TestSearchTermRanks checks the ranks encode gives a term, sparse (sorted
// list) and dense (bitmap of ranks), of one term and of merged terms,
// against a plain sort.
func TestSearchTermRanks(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	for _, n := range []int{1, 63, 64, 65, 1000, 20000} {
		rankOf := make([]uint32, n)
		for i, r := range rng.Perm(n) {
			rankOf[i] = uint32(r)
		}
		rb := make([]uint64, (n+63)/64)
		for _, density := range []float64{0, 0.0005, 0.01, 0.2, 0.9, 1} {
			for merged := 1; merged <= 3; merged++ {
				var tbs []*termBuilder
				var want []uint32
				for range merged {
					tb := &termBuilder{}
					for o := range n {
						if rng.Float64() < density {
							tb.add(uint32(o))
							want = append(want, rankOf[o])
						}
					}
					tbs = append(tbs, tb)
				}
				slices.Sort(want)
				want = slices.Compact(want)
				got := termRanks([]uint32{7}, tbs, rankOf, rb)
				if diff := cmp.Diff(append([]uint32{7}, want...), got); diff != "" {
					t.Fatalf("n=%d density=%g merged=%d (-want +got):\n%s", n, density, merged, diff)
				}
				if i := slices.IndexFunc(rb, func(w uint64) bool { return w != 0 }); i >= 0 {
					t.Fatalf("n=%d density=%g merged=%d: rank bitmap left set", n, density, merged)
				}
			}
		}
	}
}

func TestSearchUnionAndIntersection(t *testing.T) {
	mk := func(n int, ranks ...uint32) postingIter {
		_, _, b := encodePosting(nil, ranks, n)
		enc, count, _ := encodePosting(nil, ranks, n)
		x := &SearchIndex{n: n, terms: map[searchTerm]posting{{}: {enc: enc, count: count, b: b}}}
		return x.iter(searchTerm{})
	}
	u := &unionIter{its: []postingIter{mk(100, 1, 5, 50), mk(100, 2, 5, 99)}, cur: make([]uint32, 2), ok: make([]bool, 2)}
	c := &Candidates{x: &SearchIndex{n: 100}, its: []postingIter{u, mk(100, 0, 2, 3, 50, 98, 99)}}
	var got []uint32
	for r, ok := c.nextRank(); ok; r, ok = c.nextRank() {
		got = append(got, r)
	}
	if diff := cmp.Diff([]uint32{2, 50, 99}, got); diff != "" {
		t.Errorf("intersection (-want +got):\n%s", diff)
	}
}

// TestSearchIndexSizeOnGenLoad checks the index stays small on the
// storage benchmark's load.
func TestSearchIndexSizeOnGenLoad(t *testing.T) {
	spans := genSpansLoad(t, 5000)
	be, m := writeBlock(t, spans, WriterOptions{})
	b, err := be.Read(context.Background(), m.ID, SearchName)
	if err != nil {
		t.Fatal(err)
	}
	per := float64(len(b)) / float64(m.Spans)
	t.Logf("search index: %d bytes, %.2f bytes/span (%d spans, %d traces)", len(b), per, m.Spans, m.Traces)
	if per > 2.5 {
		t.Errorf("search index %.2f bytes per span, want at most 2.5", per)
	}
}

func TestSearchFileDamage(t *testing.T) {
	spans := searchSpans(300, 5)
	be, m := writeBlock(t, spans, WriterOptions{})
	ctx := context.Background()
	good, err := be.Read(ctx, m.ID, SearchName)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(be.Root(), m.ID, SearchName)
	for _, off := range []int{0, 9, len(good) / 2, len(good) - 1} {
		bad := slices.Clone(good)
		bad[off] ^= 0x40
		if err := os.WriteFile(path, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := Open(ctx, be, m.ID)
		if err != nil {
			t.Fatalf("a damaged search index must not stop the block opening: %v", err)
		}
		c := NewSearchCache(1 << 20)
		if x, err := r.SearchIndex(ctx, c); !errors.Is(err, ErrCorrupt) || x != nil {
			t.Errorf("flip at %d: SearchIndex = %v, %v; want ErrCorrupt", off, x, err)
		}
		if _, err := r.SearchIndex(ctx, c); !errors.Is(err, ErrCorrupt) || c.Loads() != 1 {
			t.Errorf("damage should be remembered: %v, %d loads", err, c.Loads())
		}
		got, err := r.FindTrace(ctx, spans[0].TraceID)
		if err != nil || len(got) == 0 {
			t.Errorf("flip at %d: FindTrace = %d spans, %v", off, len(got), err)
		}
		r.Close()
	}
	os.Remove(path)
	r, err := Open(ctx, be, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.SearchIndex(ctx, NewSearchCache(1<<20)); !errors.Is(err, ErrCorrupt) {
		t.Errorf("missing search file: %v, want ErrCorrupt", err)
	}
	// A block from before the index: no index, no error.
	r.meta.SearchSize = 0
	if x, err := r.SearchIndex(ctx, NewSearchCache(1<<20)); x != nil || err != nil {
		t.Errorf("block without index: %v, %v", x, err)
	}
}

func TestSearchCacheBound(t *testing.T) {
	var rs []*Reader
	var size int64
	for i := 0; i < 4; i++ {
		be, m := writeBlock(t, searchSpans(200, uint64(10+i)), WriterOptions{})
		r, err := Open(context.Background(), be, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		rs = append(rs, r)
	}
	x, _ := rs[0].SearchIndex(context.Background(), NewSearchCache(1<<30))
	size = x.Size()
	c := NewSearchCache(2*size + size/2)
	for _, r := range rs {
		if _, err := r.SearchIndex(context.Background(), c); err != nil {
			t.Fatal(err)
		}
		if c.Bytes() > 2*size+size/2 {
			t.Fatalf("cache holds %d bytes, bound %d", c.Bytes(), 2*size+size/2)
		}
	}
	if c.Loads() != 4 {
		t.Errorf("%d loads, want 4", c.Loads())
	}
	rs[3].SearchIndex(context.Background(), c) // the newest is cached
	if c.Loads() != 4 {
		t.Errorf("newest index reloaded")
	}
	rs[0].SearchIndex(context.Background(), c) // the oldest was evicted
	if c.Loads() != 5 {
		t.Errorf("oldest index not evicted")
	}
	small := NewSearchCache(10)
	if x, err := rs[0].SearchIndex(context.Background(), small); x == nil || err != nil || small.Bytes() != 0 {
		t.Errorf("an index over the bound is served but not kept: %v %v %d", x, err, small.Bytes())
	}
}

// TestSearchDecodeRejectsDamage flips every byte of a small search file,
// with and without a recomputed checksum: decoding must fail or succeed,
// never panic, and a decoded index must answer queries.
func TestSearchDecodeRejectsDamage(t *testing.T) {
	b := newSearchBuilder()
	for i, sp := range searchSpans(20, 6) {
		b.add(sp, i == 0 || sp.TraceID != searchSpans(20, 6)[i-1].TraceID)
	}
	good := b.encode()
	if _, err := decodeSearch(good); err != nil {
		t.Fatal(err)
	}
	for i := range good {
		bad := slices.Clone(good)
		bad[i] ^= 0x81
		if _, err := decodeSearch(bad); err == nil {
			t.Errorf("flip at %d: no error", i)
		} else if !errors.Is(err, ErrCorrupt) {
			t.Errorf("flip at %d: %v does not wrap ErrCorrupt", i, err)
		}
		exerciseSearch(bad[:len(bad)-4])
	}
}

// exerciseSearch decodes a search file body (no checksum) and runs
// queries on it.
func exerciseSearch(body []byte) {
	if len(body) < len(searchMagic) {
		return
	}
	x, err := decodeSearchBody(body[len(searchMagic):])
	if err != nil {
		return
	}
	for _, q := range []SearchRequest{{}, {Service: "svc-1"}, {Name: "op-1"}, {Service: "svc-2", Tags: map[string]string{"cached": "true"}}, {Tags: map[string]string{"http.response.status_code": "500"}}, {StartMin: 1, StartMax: 1e18, MinDuration: time.Millisecond}} {
		it := x.Candidates(&q)
		for c, ok := it.Next(); ok; c, ok = it.Next() {
			if c.Ordinal < 0 || c.Ordinal >= x.n {
				panic("ordinal out of range")
			}
		}
	}
}

// FuzzDecodeSearch fuzzes the search file decoder. The input is taken both
// as a whole file and as a body without checksum, so that mutations reach
// the structure behind the CRC. Seeds: testdata/fuzz/FuzzDecodeSearch.
func FuzzDecodeSearch(f *testing.F) {
	b := newSearchBuilder()
	spans := searchSpans(5, 7)
	for i, sp := range spans {
		b.add(sp, i == 0 || sp.TraceID != spans[i-1].TraceID)
	}
	f.Add(b.encode())
	f.Fuzz(func(t *testing.T, data []byte) {
		if x, err := decodeSearch(data); err == nil && x.n < 0 {
			t.Fatal("negative count")
		} else if err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("%v does not wrap ErrCorrupt", err)
		}
		exerciseSearch(data)
	})
}

// TestWriteSearchFuzzSeeds rewrites the fuzz seeds from the writer.
func TestWriteSearchFuzzSeeds(t *testing.T) {
	if os.Getenv("UPDATE_SEEDS") == "" {
		t.Skip("set UPDATE_SEEDS=1 to rewrite testdata/fuzz/FuzzDecodeSearch")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzDecodeSearch")
	os.MkdirAll(dir, 0o755)
	for i, traces := range []int{0, 1, 4, 12} {
		b := newSearchBuilder()
		spans := searchSpans(traces, uint64(20+i))
		for j, sp := range spans {
			b.add(sp, j == 0 || sp.TraceID != spans[j-1].TraceID)
		}
		enc := b.encode()
		for k, data := range [][]byte{enc, enc[:len(enc)-4]} {
			body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%d-%d", traces, k)), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestVerifyChecksSearchIndex checks that Verify rebuilds the search index
// from the rows: a well-formed index of other spans is reported.
func TestVerifyChecksSearchIndex(t *testing.T) {
	ctx := context.Background()
	spans := searchSpans(200, 8)
	be, m := writeBlock(t, spans, WriterOptions{})
	r, err := Open(ctx, be, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Verify(ctx); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	// The same traces, one span renamed: a valid file that lies.
	sb := newSearchBuilder()
	slices.SortFunc(spans, CompareSpans)
	for i, sp := range spans {
		if i == 7 {
			c := *sp
			c.Name = "renamed"
			sp = &c
		}
		sb.add(sp, i == 0 || sp.TraceID != spans[i-1].TraceID)
	}
	lie := sb.encode()
	m.SearchSize = int64(len(lie))
	mj, _ := json.Marshal(m)
	if err := errors.Join(os.WriteFile(filepath.Join(be.Root(), m.ID, SearchName), lie, 0o644),
		os.WriteFile(filepath.Join(be.Root(), m.ID, MetaName), mj, 0o644)); err != nil {
		t.Fatal(err)
	}
	r2, err := Open(ctx, be, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if x, err := r2.SearchIndex(ctx, NewSearchCache(1<<20)); x == nil || err != nil {
		t.Fatalf("the lying index should decode: %v", err)
	}
	if err := r2.Verify(ctx); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Verify with a lying search index: %v, want ErrCorrupt", err)
	}
}

// searchGenIndex returns the encoded search index of traces of the
// benchmark load.
func searchGenIndex(b *testing.B, traces int) []byte {
	spans := genSpansLoad(b, traces)
	slices.SortFunc(spans, CompareSpans)
	sb := newSearchBuilder()
	for i, sp := range spans {
		sb.add(sp, i == 0 || sp.TraceID != spans[i-1].TraceID)
	}
	return sb.encode()
}

// BenchmarkSearchBuild is the index's share of a block write, per span of
// the benchmark load.
func BenchmarkSearchBuild(b *testing.B) {
	spans := genSpansLoad(b, 5000)
	slices.SortFunc(spans, CompareSpans)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sb := newSearchBuilder()
		for j, sp := range spans {
			sb.add(sp, j == 0 || sp.TraceID != spans[j-1].TraceID)
		}
		sb.encode()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(spans)), "ns/span")
}

// BenchmarkSearchEncode is the encoding of a block's index when the block
// is finished (Writer.Finish): the index of 20,000 traces (200,000 spans)
// of the benchmark load, as a flush's head block.
func BenchmarkSearchEncode(b *testing.B) {
	spans := genSpansLoad(b, 20000)
	slices.SortFunc(spans, CompareSpans)
	sb := newSearchBuilder()
	for i, sp := range spans {
		sb.add(sp, i == 0 || sp.TraceID != spans[i-1].TraceID)
	}
	b.ReportAllocs()
	b.ResetTimer()
	c0 := rusageCPU()
	for i := 0; i < b.N; i++ {
		sb.encode()
	}
	b.ReportMetric(float64(rusageCPU()-c0)/float64(b.N)/1e6, "cpu-ms/op")
}

// BenchmarkSearchDecode loads the index of 100,000 traces (1,000,000
// spans): what a block's first search costs.
func BenchmarkSearchDecode(b *testing.B) {
	enc := searchGenIndex(b, 100000)
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	b.ResetTimer()
	var x *SearchIndex
	for i := 0; i < b.N; i++ {
		var err error
		if x, err = decodeSearch(enc); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(enc))/1e6, "file-MB")
	b.ReportMetric(float64(x.Size())/1e6, "decoded-MB")
}

// BenchmarkSearchCandidates takes the 20 newest candidates of searches
// over the index of 100,000 traces.
func BenchmarkSearchCandidates(b *testing.B) {
	x, err := decodeSearch(searchGenIndex(b, 100000))
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		q    SearchRequest
	}{
		{"Service", SearchRequest{Service: "frontend"}},
		{"Tag", SearchRequest{Service: "frontend", Tags: map[string]string{"http.response.status_code": "503"}}},
		{"TagNone", SearchRequest{Service: "frontend", Tags: map[string]string{"http.response.status_code": "500"}}},
		{"NameAnyService", SearchRequest{Name: "GET /api/items"}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				it := x.Candidates(&c.q)
				for n := 0; n < 20; n++ {
					if _, ok := it.Next(); !ok {
						break
					}
				}
			}
		})
	}
}

// BenchmarkSearchBuilder is the search index's share of a head flush, per
// span of the benchmark load, in a block of 200,000 spans (a head is cut at
// 250,000; the keys past their bounds are dropped early in a block of this
// size, as in a flush). The spans are decoded from the head's encoding one
// trace at a time into reused spans, as local.flushHead does (so the index
// sees them hot in the cache, strings sharing the records' bytes).
// "decode" is that decoding alone; "build" adds the builder's add of every
// span and its encode: the builder's cost is the difference. In "build",
// resources and scopes are shared by pointer over the block; in
// "build-requests" by requests of about 5 traces, as in a server's head,
// where every request brings its own.
// Both report the process's CPU time per span (getrusage).
func BenchmarkSearchBuilder(b *testing.B) {
	enc, res, scopes := headSpans(b, 20000)
	// The resources and scopes of requests of about 5 traces each (the
	// traces' spans sorted by trace id, so a request's traces are spread
	// over the block): new pointers for each request, the same content.
	type reqPtr struct {
		req int
		res *model.Resource
		sc  *model.Scope
	}
	reqRes, reqScopes := slices.Clone(res), slices.Clone(scopes)
	resCopies := map[reqPtr]*model.Resource{}
	scopeCopies := map[reqPtr]*model.Scope{}
	for j := range enc {
		req := int(binary.BigEndian.Uint32(enc[j][:4])) % (len(enc) / 50)
		k := reqPtr{req, res[j], nil}
		if c := resCopies[k]; c != nil {
			reqRes[j] = c
		} else {
			c := *res[j]
			c.Attributes = slices.Clone(c.Attributes)
			for i := range c.Attributes {
				a := &c.Attributes[i]
				a.Key = strings.Clone(a.Key)
				if a.Value.Type() == model.ValueString {
					a.Value = model.StringValue(strings.Clone(a.Value.Str()))
				}
			}
			resCopies[k], reqRes[j] = &c, &c
		}
		k = reqPtr{req, nil, scopes[j]}
		if c := scopeCopies[k]; c != nil {
			reqScopes[j] = c
		} else {
			c := *scopes[j]
			c.Name, c.Version = strings.Clone(c.Name), strings.Clone(c.Version)
			scopeCopies[k], reqScopes[j] = &c, &c
		}
	}
	for _, bench := range []string{"decode", "build", "build-requests"} {
		b.Run(bench, func(b *testing.B) {
			replay := newHeadReplay(enc, res, scopes)
			if bench == "build-requests" {
				replay = newHeadReplay(enc, reqRes, reqScopes)
			}
			build := bench != "decode"
			b.ReportAllocs()
			b.ResetTimer()
			c0 := rusageCPU()
			for i := 0; i < b.N; i++ {
				sb := newSearchBuilder()
				replay.each(b, func(sp *model.Span, newTrace bool) {
					if build {
						sb.add(sp, newTrace)
					}
				})
				if build {
					sb.encode()
				}
			}
			b.ReportMetric(float64(rusageCPU()-c0)/float64(b.N*len(enc)), "cpu-ns/span")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(enc)), "ns/span")
		})
	}
}

// randomSearchLoad makes spans in block order for the builder comparison:
// services with several resources (new resource and scope pointers per
// trace at times, as requests bring them), span names with a shape of
// keys each plus random extras, values of every type (low and high
// cardinality strings, ints equal to strings, long values, arrays, maps),
// many keys at times (past maxSearchKeys, long keys), event and link
// attributes, every span kind (and unknown ones) and status.
func randomSearchLoad(rng *rand.Rand, traces int) []*model.Span {
	nsvc := 1 + rng.IntN(8)
	nkeys := 1 + rng.IntN(40)
	if rng.IntN(4) == 0 {
		nkeys = 600 // past maxSearchKeys
	}
	nnames := 1 + rng.IntN(30)
	if rng.IntN(4) == 0 {
		nnames = 400 // past maxSlotPositions with the shapes' positions
	}
	key := func(i int) string {
		if i%97 == 96 {
			return strings.Repeat("k", 130) + strconv.Itoa(i) // too long
		}
		return "key." + strconv.Itoa(i)
	}
	value := func() model.Value {
		switch rng.IntN(14) {
		case 0:
			return model.StringValue(fmt.Sprintf("hi-%d", rng.IntN(100000)))
		case 1:
			return model.IntValue(int64(rng.IntN(5)))
		case 2:
			return model.StringValue(strconv.Itoa(rng.IntN(5))) // the same terms as the ints
		case 3:
			return model.BoolValue(rng.IntN(2) == 0)
		case 4:
			return model.DoubleValue(float64(rng.IntN(4)) / 2)
		case 5:
			return model.SliceValue([]model.Value{model.StringValue(fmt.Sprintf("e%d", rng.IntN(3))), model.IntValue(int64(rng.IntN(3)))})
		case 6:
			if rng.IntN(20) == 0 {
				return model.StringValue(strings.Repeat("x", 129)) // too long
			}
			return model.StringValue("")
		case 7:
			return model.MapValue([]model.KeyValue{{Key: "a", Value: model.IntValue(1)}})
		case 8:
			return model.IntValue(int64(rng.IntN(1000)))
		case 9:
			return model.BytesValue([]byte{byte(rng.IntN(3))})
		default:
			return model.StringValue(fmt.Sprintf("v%d", rng.IntN(8)))
		}
	}
	type svc struct {
		res    []*model.Resource
		shapes [][]model.KeyValue // by name
	}
	svcs := make([]svc, nsvc)
	for i := range svcs {
		for j := 0; j < 1+rng.IntN(3); j++ {
			r := &model.Resource{Attributes: model.Attributes{
				{Key: "service.name", Value: model.StringValue(fmt.Sprintf("svc-%d", i))},
				{Key: "host.name", Value: model.StringValue(fmt.Sprintf("host-%d", rng.IntN(3)))},
			}}
			if rng.IntN(2) == 0 {
				r.Attributes = append(r.Attributes, model.KeyValue{Key: "instance", Value: model.StringValue(fmt.Sprintf("i-%d", rng.IntN(1000)))})
			}
			if rng.IntN(3) == 0 {
				r.Attributes = append(r.Attributes, model.KeyValue{Key: key(rng.IntN(nkeys)), Value: value()})
			}
			if rng.IntN(8) == 0 {
				r.Attributes = r.Attributes[1:] // no service name
			}
			svcs[i].res = append(svcs[i].res, r)
		}
		for j := 0; j < nnames; j++ {
			var shape []model.KeyValue
			for k := 0; k < rng.IntN(12); k++ {
				shape = append(shape, model.KeyValue{Key: key(rng.IntN(nkeys)), Value: value()})
			}
			svcs[i].shapes = append(svcs[i].shapes, shape)
		}
	}
	scopes := []*model.Scope{
		{Name: "lib", Version: "1"},
		{Name: "other"},
		{Attributes: model.Attributes{{Key: "scope.attr", Value: model.StringValue("s")}}},
		nil,
	}
	clone := func(r *model.Resource) *model.Resource {
		c := *r
		c.Attributes = slices.Clone(r.Attributes)
		return &c
	}
	var out []*model.Span
	start := uint64(time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC).UnixNano())
	for t := 0; t < traces; t++ {
		tid := model.TraceIDFromUint64s(uint64(t+1), rng.Uint64())
		fresh := rng.IntN(3) == 0
		n := 1 + rng.IntN(15)
		ts := start + uint64(rng.IntN(3600_000))*1e6
		var spans []*model.Span
		for s := 0; s < n; s++ {
			si := rng.IntN(nsvc)
			name := rng.IntN(nnames)
			sp := &model.Span{TraceID: tid, SpanID: model.SpanIDFromUint64(rng.Uint64() | 1),
				Resource: svcs[si].res[rng.IntN(len(svcs[si].res))], Scope: scopes[rng.IntN(len(scopes))],
				Name: fmt.Sprintf("op-%d", name), Kind: model.SpanKind(rng.IntN(9)),
				StartTimeUnixNano: ts + uint64(rng.IntN(1e9))}
			sp.EndTimeUnixNano = sp.StartTimeUnixNano + uint64(rng.IntN(1e9))
			if fresh {
				sp.Resource = clone(sp.Resource)
				if sp.Scope != nil {
					c := *sp.Scope
					sp.Scope = &c
				}
			}
			for _, kv := range svcs[si].shapes[name] {
				if rng.IntN(6) == 0 {
					kv.Value = value()
				}
				if rng.IntN(20) != 0 {
					sp.Attributes = append(sp.Attributes, kv)
				}
			}
			for k := 0; k < rng.IntN(3); k++ {
				sp.Attributes = append(sp.Attributes, model.KeyValue{Key: key(rng.IntN(nkeys)), Value: value()})
			}
			if rng.IntN(5) == 0 {
				sp.Events = append(sp.Events, model.Event{Name: "e", Attributes: model.Attributes{
					{Key: "event.seq", Value: model.IntValue(int64(rng.IntN(3)))},
					{Key: key(rng.IntN(nkeys)), Value: value()}}})
			}
			if rng.IntN(10) == 0 {
				sp.Links = append(sp.Links, model.Link{TraceID: tid, Attributes: model.Attributes{{Key: key(rng.IntN(nkeys)), Value: value()}}})
			}
			switch rng.IntN(8) {
			case 0:
				sp.Status = model.Status{Code: model.StatusError, Message: fmt.Sprintf("boom %d", rng.IntN(3))}
			case 1:
				sp.Status = model.Status{Code: model.StatusOK}
			}
			spans = append(spans, sp)
		}
		slices.SortFunc(spans, CompareSpans)
		out = append(out, spans...)
	}
	return out
}

// scribbleSpan returns a copy of sp whose strings (names, keys, string
// values, the resource's and scope's) live in buf, which the caller
// overwrites once the builder has the span: the builder must keep copies.
func scribbleSpan(sp *model.Span, buf *[]byte) *model.Span {
	*buf = (*buf)[:0]
	var offs [][2]int
	str := func(s string) { offs = append(offs, [2]int{len(*buf), len(s)}); *buf = append(*buf, s...) }
	attrs := func(as model.Attributes) {
		for _, a := range as {
			str(a.Key)
			str(a.Value.Str())
		}
	}
	str(sp.Name)
	attrs(sp.Attributes)
	for _, e := range sp.Events {
		attrs(e.Attributes)
	}
	for _, l := range sp.Links {
		attrs(l.Attributes)
	}
	if sp.Resource != nil {
		attrs(sp.Resource.Attributes)
	}
	if sp.Scope != nil {
		str(sp.Scope.Name)
		str(sp.Scope.Version)
		attrs(sp.Scope.Attributes)
	}
	i := 0
	next := func() string {
		o := offs[i]
		i++
		return unsafe.String(unsafe.SliceData((*buf)[o[0]:]), o[1])
	}
	re := func(as model.Attributes) model.Attributes {
		out := slices.Clone(as)
		for j := range out {
			out[j].Key = next()
			s := next()
			if out[j].Value.Type() == model.ValueString {
				out[j].Value = model.StringValue(s)
			}
		}
		return out
	}
	c := *sp
	c.Name = next()
	c.Attributes = re(sp.Attributes)
	c.Events = slices.Clone(sp.Events)
	for j := range c.Events {
		c.Events[j].Attributes = re(c.Events[j].Attributes)
	}
	c.Links = slices.Clone(sp.Links)
	for j := range c.Links {
		c.Links[j].Attributes = re(c.Links[j].Attributes)
	}
	// Resources and scopes are shared by pointer: a new copy per span
	// would change what the builder caches, so they keep theirs.
	return &c
}

// TestSearchBuilderMatchesReference checks that the builder writes the
// same index bytes as the reference builder (search_ref_test.go) on random
// loads, the storage benchmark's and searchSpans', with the spans' strings
// overwritten after each add.
func TestSearchBuilderMatchesReference(t *testing.T) {
	check := func(name string, spans []*model.Span) {
		t.Helper()
		got, want := newSearchBuilder(), newRefSearchBuilder()
		var buf []byte
		for i, sp := range spans {
			newTrace := i == 0 || sp.TraceID != spans[i-1].TraceID
			want.add(sp, newTrace)
			got.add(scribbleSpan(sp, &buf), newTrace)
			for j := range buf {
				buf[j] = '#'
			}
		}
		if g, w := got.encode(), want.encode(); !bytes.Equal(g, w) {
			t.Errorf("%s (%d spans): index of %d bytes, want %d bytes as the reference writes", name, len(spans), len(g), len(w))
		}
	}
	n := 3000
	if testing.Short() {
		n = 300
	}
	for seed := uint64(1); seed <= 24; seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		traces := []int{1, 10, 300, n}[rng.IntN(4)]
		check(fmt.Sprintf("random load %d", seed), randomSearchLoad(rng, traces))
	}
	gen := genSpansLoad(t, n)
	slices.SortFunc(gen, CompareSpans)
	check("benchmark load", gen)
	spans := searchSpans(n, 3)
	slices.SortFunc(spans, CompareSpans)
	check("searchSpans", spans)
	if testing.Short() {
		return
	}
	// Past maxSearchNames span names, then past maxSearchServices.
	spans = randomSearchLoad(rand.New(rand.NewPCG(1, 8)), 10000)
	for i, sp := range spans {
		sp.Name = fmt.Sprintf("name-%d", i%(maxSearchNames+5000))
	}
	check("many names", spans)
	spans = randomSearchLoad(rand.New(rand.NewPCG(2, 8)), maxSearchServices+500)
	for i, sp := range spans {
		if i == 0 || sp.TraceID != spans[i-1].TraceID {
			sp.Resource = &model.Resource{Attributes: model.Attributes{{Key: "service.name", Value: model.StringValue(fmt.Sprintf("svc-%d", i))}}}
		} else {
			sp.Resource = spans[i-1].Resource
		}
	}
	check("many services", spans)
	// A resource key of many values, each in few traces, past its budget.
	var res []*model.Resource
	for i := 0; i < 200; i++ {
		res = append(res, &model.Resource{Attributes: model.Attributes{
			{Key: "service.name", Value: model.StringValue("svc")},
			{Key: "res.id", Value: model.IntValue(int64(i))}}})
	}
	rng := rand.New(rand.NewPCG(3, 8))
	spans = randomSearchLoad(rng, 4000)
	for _, sp := range spans {
		sp.Resource, sp.Scope = res[rng.IntN(len(res))], nil
	}
	check("resource key past its budget", spans)
	// A service's second resource late in the block: the terms the first
	// one made (dense, in bitmaps by then) are marked through the second.
	spans = randomSearchLoad(rng, 3000)
	for i, sp := range spans {
		sp.Resource, sp.Scope = res[0], nil
		if i > len(spans)/2 && rng.IntN(2) == 0 {
			sp.Resource = res[1]
		}
	}
	check("late resource", spans)
}
