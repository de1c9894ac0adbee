package pdataconv

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/clew-dev/clew/internal/model"
)

const otlpJSON = `{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"svc"}}]},"schemaUrl":"https://s/1",
"scopeSpans":[{"scope":{"name":"lib","version":"1.0","attributes":[{"key":"sa","value":{"intValue":"3"}}]},
"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","parentSpanId":"eee19b7ec3c1b173","traceState":"a=b","flags":1,
"name":"op","kind":2,"startTimeUnixNano":"1544712660000000000","endTimeUnixNano":"1544712661000000000",
"attributes":[{"key":"s","value":{"stringValue":"v"}},{"key":"b","value":{"boolValue":true}},{"key":"i","value":{"intValue":"-4"}},{"key":"d","value":{"doubleValue":1.5}},
{"key":"x","value":{"bytesValue":"AAEC"}},{"key":"a","value":{"arrayValue":{"values":[{"intValue":"1"},{"stringValue":"two"}]}}},{"key":"m","value":{"kvlistValue":{"values":[{"key":"k","value":{"boolValue":false}}]}}}],
"droppedAttributesCount":2,"events":[{"timeUnixNano":"1544712660500000000","name":"ev","attributes":[{"key":"e","value":{"stringValue":"x"}}]}],
"links":[{"traceId":"5b8efff798038103d269b633813fc60d","spanId":"eee19b7ec3c1b175","attributes":[{"key":"l","value":{"intValue":"1"}}]}],
"status":{"code":2,"message":"bad"}},{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b173","name":"root","startTimeUnixNano":"1544712660000000000","endTimeUnixNano":"1544712662000000000"}]}]}]}`

func TestRoundTrip(t *testing.T) {
	td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces([]byte(otlpJSON))
	if err != nil {
		t.Fatal(err)
	}
	spans := ToModel(td)
	if len(spans) != 2 {
		t.Fatalf("got %d spans", len(spans))
	}
	sp := spans[0]
	if sp.ServiceName() != "svc" || sp.Scope.Name != "lib" || sp.Kind != model.SpanKindServer || sp.Status.Code != model.StatusError {
		t.Errorf("bad span: %+v", sp)
	}
	if spans[0].Resource != spans[1].Resource || spans[0].Scope != spans[1].Scope {
		t.Error("spans of one resource/scope must share pointers")
	}
	if v, _ := sp.Attributes.Get("i"); v.Type() != model.ValueInt || v.Int() != -4 {
		t.Errorf("int attribute: %v", v)
	}
	if v, _ := sp.Attributes.Get("x"); string(v.Bytes()) != "\x00\x01\x02" {
		t.Errorf("bytes attribute: %q", v.Bytes())
	}
	back := FromModel(spans)
	a, _ := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
	b, _ := (&ptrace.JSONMarshaler{}).MarshalTraces(back)
	if diff := cmp.Diff(string(a), string(b)); diff != "" {
		t.Errorf("round trip differs (-in +out):\n%s", diff)
	}
}

func BenchmarkToModel(b *testing.B) {
	td, _ := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces([]byte(otlpJSON))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_ = ToModel(td)
	}
}
