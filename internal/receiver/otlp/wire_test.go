package otlp

import (
	"reflect"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/clew-dev/clew/internal/gen"
	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/model/pdataconv"
)

func viaPdata(b []byte) ([]*model.Span, error) {
	req := ptraceotlp.NewExportRequest()
	if err := req.UnmarshalProto(b); err != nil {
		return nil, err
	}
	return pdataconv.ToModel(req.Traces()), nil
}

func asJSON(t testing.TB, spans []*model.Span) string {
	b, err := (&ptrace.JSONMarshaler{}).MarshalTraces(pdataconv.FromModel(spans))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// decodeProto is decodeProtoPooled without the pool: the spans are the
// caller's to keep. The tests compare and keep decoded spans with it.
func decodeProto(b []byte) ([]*model.Span, error) {
	d := wireDecoder{strs: make(map[string]string, 64), alias: true}
	return d.request(b, nil)
}

func TestWireMatchesPdata(t *testing.T) {
	for name, b := range map[string][]byte{
		"seed":          seedProto(t),
		"bench":         mustProto(t, benchRequest(50)),
		"seed, sdk":     sdkOrder(t, seedProto(t)),
		"bench, sdk":    sdkOrder(t, mustProto(t, benchRequest(50))),
		"gen load":      genLoad(t, 5),
		"gen load, sdk": sdkOrder(t, genLoad(t, 5)),
	} {
		want, err := viaPdata(b)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeProto(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if diff := cmp.Diff(asJSON(t, want), asJSON(t, got)); diff != "" {
			t.Errorf("%s: wire decoder differs from pdata (-pdata +wire):\n%s", name, diff)
		}
	}
	for _, bad := range [][]byte{{0x0a, 0xff}, {0x0a, 0x02, 0x12, 0x05}, {0x0a, 0x04, 0x12, 0x02, 0x12, 0x7f}} {
		if _, err := decodeProto(bad); err == nil {
			t.Errorf("decodeProto(%x): no error", bad)
		}
	}
}

// sdkOrder re-encodes the request b as the OpenTelemetry SDKs do, through
// the generated protobuf code: fields in ascending order of their numbers,
// where pdata writes a message's fields last to first.
func sdkOrder(t testing.TB, b []byte) []byte {
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(b, &req); err != nil {
		t.Fatal(err)
	}
	out, err := proto.MarshalOptions{Deterministic: true}.Marshal(&req)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// genLoad is what `clew gen` sends for n default traces, in one request.
func genLoad(t testing.TB, n int) []byte {
	g, err := gen.New(gen.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	var spans []*model.Span
	for range n {
		spans = append(spans, g.Trace(time.Now())...)
	}
	p, err := gen.Lookup("otlp-grpc")
	if err != nil {
		t.Fatal(err)
	}
	bodies, err := p.Encode(spans)
	if err != nil {
		t.Fatal(err)
	}
	return bodies[0]
}

func mustProto(t testing.TB, req ptraceotlp.ExportRequest) []byte {
	b, err := req.MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzWireMatchesPdata checks the hand-written decoder against pdata's:
// when both accept an input they agree, and whatever pdata accepts, the wire
// decoder decodes pdata's canonical re-encoding of it to the same spans.
// (pdata skips some malformed unknown fields, such as unterminated groups,
// that the wire decoder rejects.)
func FuzzWireMatchesPdata(f *testing.F) {
	f.Add(seedProto(f))
	f.Add(mustProto(f, benchRequest(3)))
	f.Add(sdkOrder(f, mustProto(f, benchRequest(3))))
	f.Add(sdkOrder(f, genLoad(f, 1)))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, gerr := decodeProto(b)
		want, werr := viaPdata(b)
		if werr != nil {
			return
		}
		if gerr != nil {
			canon := mustProto(t, ptraceotlp.NewExportRequestFromTraces(pdataconv.FromModel(want)))
			if got, gerr = decodeProto(canon); gerr != nil {
				t.Fatalf("wire decoder fails on pdata's encoding %x: %v", canon, gerr)
			}
		}
		if diff := cmp.Diff(asJSON(t, want), asJSON(t, got)); diff != "" {
			t.Fatalf("wire decoder differs from pdata on %x (-pdata +wire):\n%s", b, diff)
		}
	})
}

// BenchmarkDecodeWire is BenchmarkDecodeProto's load through the wire decoder.
func BenchmarkDecodeWire(b *testing.B) {
	body := mustProto(b, benchRequest(500))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := decodeProto(body); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*500), "ns/span")
}

// TestDecodeProtoResourcesOwnTheirStrings checks that resources and scopes,
// which stores keep long after the request, do not share the request's
// bytes (span strings do, to save copying them).
func TestDecodeProtoResourcesOwnTheirStrings(t *testing.T) {
	b := seedProto(t)
	spans, err := decodeProto(b)
	if err != nil || len(spans) == 0 {
		t.Fatalf("decode: %v, %d spans", err, len(spans))
	}
	want, err := decodeProto(append([]byte(nil), b...))
	if err != nil {
		t.Fatal(err)
	}
	clear(b) // what reusing the request's buffer would do
	for i, sp := range spans {
		if diff := cmp.Diff(want[i].Resource, sp.Resource, cmp.AllowUnexported(model.Value{})); diff != "" {
			t.Errorf("span %d resource changed with the request's bytes:\n%s", i, diff)
		}
		if diff := cmp.Diff(want[i].Scope, sp.Scope, cmp.AllowUnexported(model.Value{})); diff != "" {
			t.Errorf("span %d scope changed with the request's bytes:\n%s", i, diff)
		}
	}
}

// TestDecodeArenaReuse checks that pooled decoding gives what pdata does
// request after request, with the arena released in between (its memory
// cleared and reused), for requests smaller and larger than its chunks.
func TestDecodeArenaReuse(t *testing.T) {
	for round, n := range []int{50, 1000, 3, 600, 50} {
		b := mustProto(t, benchRequest(n))
		want, err := viaPdata(b)
		if err != nil {
			t.Fatal(err)
		}
		got, arena, err := decodeProtoPooled(b)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if diff := cmp.Diff(asJSON(t, want), asJSON(t, got)); diff != "" {
			t.Fatalf("round %d (%d spans): pooled decoding differs from pdata (-pdata +wire):\n%s", round, n, diff)
		}
		arena.release()
		if _, arena, err = decodeProtoPooled([]byte{0x0a, 0xff}); err == nil || arena != nil {
			t.Fatalf("malformed request: error %v, arena %v", err, arena)
		}
	}
}

// TestArenaChunksZeroAfterReset checks the arena's invariant: once reset,
// every chunk it keeps is all zero (release clears only the part of each
// chunk that was handed out, and spans are decoded into zero memory), over
// requests that end chunks at different points, cross from one chunk to
// the next, and overflow them, each decoded as pdata decodes it.
func TestArenaChunksZeroAfterReset(t *testing.T) {
	a := &decodeArena{strs: make(map[string]string)}
	reqs := [][]byte{
		genLoad(t, 3), mustProto(t, benchRequest(1000)), genLoad(t, 60), mustProto(t, benchRequest(3)),
		mustProto(t, benchRequest(2000)), genLoad(t, 110), seedProto(t), mustProto(t, benchRequest(600)), genLoad(t, 1),
	}
	for round, b := range reqs {
		want, err := viaPdata(b)
		if err != nil {
			t.Fatal(err)
		}
		got, err := a.decode(b)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if diff := cmp.Diff(asJSON(t, want), asJSON(t, got)); diff != "" {
			t.Fatalf("round %d: arena decoding differs from pdata (-pdata +wire):\n%s", round, diff)
		}
		a.reset()
		checkZero(t, round, "attribute", a.kvs, slabSize)
		checkZero(t, round, "span", a.spans, spanChunk)
		checkZero(t, round, "event", a.evs, evChunk)
		if len(a.kvs) == 0 || len(a.spans) == 0 || len(a.evs) == 0 {
			t.Fatalf("round %d: no chunks kept (%d, %d, %d)", round, len(a.kvs), len(a.spans), len(a.evs))
		}
	}
}

// FuzzArenaReuse decodes input after input into one arena, reset in
// between, and checks each against the decoder without an arena (which
// FuzzWireMatchesPdata checks against pdata) and the arena's chunks all
// zero after each reset, whether the input decoded or failed half-way.
func FuzzArenaReuse(f *testing.F) {
	f.Add(seedProto(f))
	f.Add(mustProto(f, benchRequest(3)))
	f.Add(sdkOrder(f, genLoad(f, 1)))
	f.Add([]byte{0x0a, 0x04, 0x12, 0x02, 0x12, 0x7f})
	a := &decodeArena{strs: make(map[string]string)}
	f.Fuzz(func(t *testing.T, b []byte) {
		want, werr := decodeProto(b)
		got, gerr := a.decode(b)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("without an arena: %v; with one: %v", werr, gerr)
		}
		if werr == nil {
			if diff := cmp.Diff(asJSON(t, want), asJSON(t, got)); diff != "" {
				t.Fatalf("arena decoding of %x differs (-plain +arena):\n%s", b, diff)
			}
		}
		a.reset()
		checkZero(t, 0, "attribute", a.kvs, slabSize)
		checkZero(t, 0, "span", a.spans, spanChunk)
		checkZero(t, 0, "event", a.evs, evChunk)
	})
}

func checkZero[T any](t *testing.T, round int, what string, chunks [][]T, size int) {
	t.Helper()
	for i, c := range chunks {
		if len(c) != size {
			t.Fatalf("round %d: %s chunk %d of length %d, want %d", round, what, i, len(c), size)
		}
		for j := range c {
			if !reflect.ValueOf(c[j]).IsZero() {
				t.Fatalf("round %d: %s chunk %d not cleared at %d: %+v", round, what, i, j, c[j])
			}
		}
	}
}

// BenchmarkDecodeWirePooled is BenchmarkDecodeWire as the receivers decode:
// into the pooled arena, released after each request.
func BenchmarkDecodeWirePooled(b *testing.B) {
	body := mustProto(b, benchRequest(500))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_, arena, err := decodeProtoPooled(body)
		if err != nil {
			b.Fatal(err)
		}
		arena.release()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*500), "ns/span")
}

// BenchmarkDecodeGenLoad decodes what `clew gen` sends in the storage
// benchmark (make bench): one export of 50 default traces, 500 spans of 11
// attributes and an event each, into the pooled arena as the receivers do.
// The sdk case is the same request with its fields in the order the
// OpenTelemetry SDKs write them.
func BenchmarkDecodeGenLoad(b *testing.B) {
	for _, c := range []struct {
		name string
		body []byte
	}{{"pdata", genLoad(b, 50)}, {"sdk", sdkOrder(b, genLoad(b, 50))}} {
		b.Run(c.name, func(b *testing.B) { benchDecodePooled(b, c.body, 500) })
	}
}

func benchDecodePooled(b *testing.B, body []byte, spans int) {
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		_, arena, err := decodeProtoPooled(body)
		if err != nil {
			b.Fatal(err)
		}
		arena.release()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*spans), "ns/span")
}
