package zipkin

import (
	"context"
	"testing"

	"github.com/jaegertracing/jaeger-idl/thrift-gen/zipkincore"
	zipkinthriftconverter "github.com/open-telemetry/opentelemetry-collector-contrib/pkg/translator/zipkin/zipkinthriftconverter"
)

// Each target checks that decoding and translating never panics, whatever
// the bytes. Seeds are the captured and written payloads.

func fuzzFormat(f *testing.F, fm Format, seeds ...[]byte) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Add([]byte{})
	d := NewDecoder(false)
	dp := NewDecoder(true)
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = d.Decode(fm, b, false)
		_, _ = dp.Decode(fm, b, true)
	})
}

func FuzzV2JSON(f *testing.F) {
	fuzzFormat(f, V2JSON, readTestdata(f, "v2.json"), []byte(`[{"traceId":"1","id":"1","shared":true,"kind":"SERVER"}]`),
		[]byte(`[{"traceId":"1","id":"1","annotations":[null],"tags":{"a":null},"localEndpoint":{"ipv4":null}},null]`))
}

func FuzzV2Proto(f *testing.F) { fuzzFormat(f, V2Proto, readTestdata(f, "v2.pb")) }

func FuzzV1JSON(f *testing.F) {
	fuzzFormat(f, V1JSON, readTestdata(f, "v1.json"), []byte(`[{"traceId":"1","id":"2","binaryAnnotations":[{"key":"sa","value":true}]}]`),
		[]byte(`[null,{"traceId":"1","id":"2","annotations":[null],"binaryAnnotations":[null]}]`))
}

// v1ThriftSeed is a binary-thrift list of two v1 spans, as the Collector's
// thrift serializer writes them.
func v1ThriftSeed(t testing.TB) []byte {
	parent := int64(1)
	ep := &zipkincore.Endpoint{ServiceName: "svc", Ipv4: 0x7f000001, Port: 8080}
	b, err := zipkinthriftconverter.SerializeThrift(context.Background(), []*zipkincore.Span{{
		TraceID: 1, ID: 1, Name: "root",
		Annotations: []*zipkincore.Annotation{{Timestamp: 1700000000000000, Value: "sr", Host: ep}, {Timestamp: 1700000000002000, Value: "ss", Host: ep}},
	}, {
		TraceID: 1, ID: 2, ParentID: &parent, Name: "op",
		Annotations:       []*zipkincore.Annotation{{Timestamp: 1700000000000500, Value: "cs", Host: ep}, {Timestamp: 1700000000001500, Value: "cr", Host: ep}},
		BinaryAnnotations: []*zipkincore.BinaryAnnotation{{Key: "k", Value: []byte("v"), AnnotationType: zipkincore.AnnotationType_STRING, Host: ep}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func FuzzV1Thrift(f *testing.F) { fuzzFormat(f, V1Thrift, v1ThriftSeed(f)) }
