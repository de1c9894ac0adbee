package datadog

import (
	"testing"

	pb "github.com/DataDog/datadog-agent/pkg/proto/pbgo/trace"
)

// benchPayload is a v0.4 msgpack payload of 100 traces of 10 spans each,
// with the tags a typical web service span carries.
func benchPayload() ([]byte, int) {
	var traces pb.Traces
	for t := range 100 {
		var trace pb.Trace
		for s := range 10 {
			trace = append(trace, &pb.Span{
				Service: "checkout", Name: "http.request", Resource: "GET /cart/{id}",
				TraceID: uint64(t + 1), SpanID: uint64(t*10 + s + 1), ParentID: uint64(t*10 + s),
				Start: 1795240800000000000 + int64(s)*1000, Duration: 1500000, Type: "web",
				Meta: map[string]string{
					"env": "prod", "version": "1.2.3", "span.kind": "server", "http.method": "GET",
					"http.url": "https://shop.example/cart/42", "http.route": "/cart/{id}", "language": "go",
					"runtime-id": "0f739ece-493c-4bd7-955e-3705c8876bd4",
				},
				Metrics: map[string]float64{"_sampling_priority_v1": 1, "http.status_code": 200, "_dd.top_level": 1},
			})
		}
		traces = append(traces, trace)
	}
	b, err := traces.MarshalMsg(nil)
	if err != nil {
		panic(err)
	}
	return b, 1000
}

func BenchmarkDecodeV04(b *testing.B) {
	body, n := benchPayload()
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		traces, err := Decode(V04, "application/msgpack", body)
		if err != nil || len(traces) != 100 {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/span")
}

func BenchmarkDecodeAndTranslateV04(b *testing.B) {
	body, n := benchPayload()
	tr := NewTranslator(0)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		traces, err := Decode(V04, "application/msgpack", body)
		if err != nil {
			b.Fatal(err)
		}
		if spans := tr.ToModel(traces, Tracer{Language: "go"}); len(spans) != n {
			b.Fatal(len(spans))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/span")
}

func BenchmarkDecodeV05Captured(b *testing.B) {
	body := readTestdata(b, "v05_ddtracejs.msgpack")
	tr := NewTranslator(0)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		traces, err := Decode(V05, "application/msgpack", body)
		if err != nil {
			b.Fatal(err)
		}
		tr.ToModel(traces, Tracer{})
	}
}
