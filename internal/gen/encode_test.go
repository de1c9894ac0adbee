package gen

import (
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
