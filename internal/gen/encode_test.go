package gen

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/translator/zipkin/zipkinv2"

	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/model/pdataconv"
)

// TestZipkinEncoding decodes what the Zipkin protocols send with the
// Collector's own Zipkin unmarshalers and checks that every span, with its
// ids, parent and name (Zipkin lowercases names), comes back.
func TestZipkinEncoding(t *testing.T) {
	o := DefaultOptions()
	g, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	var spans []*model.Span
	for range 5 {
		spans = append(spans, g.Trace(time.Now())...)
	}
	check := func(protocol string, decode func([]byte) ([]*model.Span, error)) {
		t.Helper()
		p, err := Lookup(protocol)
		if err != nil {
			t.Fatal(err)
		}
		bodies, err := p.Encode(spans)
		if err != nil || len(bodies) != 1 {
			t.Fatalf("%s: %d bodies, %v", protocol, len(bodies), err)
		}
		got, err := decode(bodies[0])
		if err != nil {
			t.Fatalf("%s: decode: %v", protocol, err)
		}
		want := map[model.SpanID]*model.Span{}
		for _, sp := range spans {
			want[sp.SpanID] = sp
		}
		if len(got) != len(spans) {
			t.Fatalf("%s: %d spans back, want %d", protocol, len(got), len(spans))
		}
		for _, sp := range got {
			w, ok := want[sp.SpanID]
			if !ok || w.TraceID != sp.TraceID || w.ParentSpanID != sp.ParentSpanID || !strings.EqualFold(w.Name, sp.Name) || w.ServiceName() != sp.ServiceName() {
				t.Fatalf("%s: span %s came back as %+v", protocol, sp.SpanID, sp)
			}
		}
	}
	check("zipkin", func(b []byte) ([]*model.Span, error) {
		td, err := zipkinv2.NewJSONTracesUnmarshaler(false).UnmarshalTraces(b)
		return pdataconv.ToModel(td), err
	})
	check("zipkin-proto", func(b []byte) ([]*model.Span, error) {
		td, err := zipkinv2.NewProtobufTracesUnmarshaler(false, false).UnmarshalTraces(b)
		return pdataconv.ToModel(td), err
	})
}

func TestXRayEncoding(t *testing.T) {
	o := DefaultOptions()
	o.IDs, o.ErrorRatio = IDXRay, 1
	g, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Unix(0x5f84c7a1, 0)
	spans := g.Trace(start)
	bodies, err := encodeXRay(spans)
	if err != nil {
		t.Fatal(err)
	}
	if len(bodies) != len(spans) {
		t.Fatalf("%d datagrams for %d spans", len(bodies), len(spans))
	}
	for i, b := range bodies {
		header, doc, ok := strings.Cut(string(b), "\n")
		if !ok || header != `{"format": "json", "version": 1}` {
			t.Fatalf("datagram %d header %q", i, header)
		}
		var seg struct {
			Name, ID, Type string
			TraceID        string  `json:"trace_id"`
			ParentID       string  `json:"parent_id"`
			Start          float64 `json:"start_time"`
			End            float64 `json:"end_time"`
			Fault          bool
			Cause          struct {
				Exceptions []struct{ ID, Type, Message string }
			}
		}
		if err := json.Unmarshal([]byte(doc), &seg); err != nil {
			t.Fatalf("datagram %d: %v", i, err)
		}
		sp := spans[i]
		if seg.ID != sp.SpanID.String() || !strings.HasPrefix(seg.TraceID, "1-5f84c7a1-") || len(seg.TraceID) != 35 {
			t.Errorf("segment ids %q %q for span %s", seg.ID, seg.TraceID, sp.SpanID)
		}
		if (seg.ParentID == "") != sp.IsRoot() || (seg.Type == "subsegment") == (sp.Kind == model.SpanKindServer) {
			t.Errorf("segment %s: parent %q type %q for a %s span", seg.ID, seg.ParentID, seg.Type, sp.Kind)
		}
		if seg.End < seg.Start || seg.Start < float64(start.Unix()) {
			t.Errorf("segment %s times %f..%f", seg.ID, seg.Start, seg.End)
		}
		if !seg.Fault || len(seg.Cause.Exceptions) != 1 || seg.Cause.Exceptions[0].Type != "TimeoutError" || len(seg.Cause.Exceptions[0].ID) != 16 {
			t.Errorf("failed span %s: fault %v cause %+v", seg.ID, seg.Fault, seg.Cause)
		}
	}
}
