package zipkin

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	zipkinmodel "github.com/openzipkin/zipkin-go/model"

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

// FuzzV2JSONFastPath checks that the v2 JSON fast path decodes every body it
// accepts exactly as zipkin-go's model does with encoding/json.
func FuzzV2JSONFastPath(f *testing.F) {
	for _, s := range v2JSONSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fast, ok := parseV2JSON(b)
		if !ok {
			return
		}
		var lib []*zipkinmodel.SpanModel
		var err error
		func() {
			defer func() {
				if r := recover(); r != nil {
					err = fmt.Errorf("panic: %v", r)
				}
			}()
			err = json.Unmarshal(b, &lib)
		}()
		if err != nil {
			t.Fatalf("fast path accepted %q, encoding/json: %v", b, err)
		}
		if diff := cmp.Diff(lib, fast); diff != "" {
			t.Fatalf("fast path differs on %q (-encoding/json +fast):\n%s", b, diff)
		}
	})
}

func v2JSONSeeds(t testing.TB) [][]byte {
	return [][]byte{
		readTestdata(t, "v2.json"),
		[]byte(`[]`), []byte(`null`), []byte(` [ null ] `),
		[]byte(`[{"traceId":"1","id":"1","shared":true,"kind":"SERVER"}]`),
		[]byte(`[{"traceId":"00000000000000010000000000000002","id":"a","parentId":"b","name":"n\u00e9","debug":true,
		  "timestamp":1700000000000000,"duration":0,"unknown":{"x":[1,2,{"y":"\"}"}]},
		  "localEndpoint":{"serviceName":"s","ipv4":"10.0.0.1","ipv6":"::1","port":8080,"extra":1},
		  "remoteEndpoint":{"SERVICENAME":"r","IPV4":null,"Port":null},
		  "annotations":[{"timestamp":2,"value":"v","Value":"w"}],"tags":{"k":"v","k":"w","\u00e9":"\ud83d\ude00"}}]`),
		[]byte(`[{"traceId":"1","id":"1","TraceId":"2"}]`),
		[]byte(`[{"traceId":"1","id":"1","timestamp":1.5}]`),
		[]byte(`[{"traceId":"1","id":"1","tags":null,"annotations":null,"parentId":null,"localEndpoint":null}]`),
		[]byte(`[{"traceId":"1","id":"1","localEndpoint":{"serviceName":"a"},"localEndpoint":{"port":1}}]`),
		[]byte("[{\"traceId\":\"1\",\"id\":\"1\",\"name\":\"\xff\"}]"),
	}
}
