package zipkin

import (
	"encoding/json"
	"testing"

	zipkinmodel "github.com/openzipkin/zipkin-go/model"
)

// The benchmarks measure decode + translate + convert to the model of one
// request body (5 spans for v2, 3 for v1).

func benchDecode(b *testing.B, fm Format, file string) {
	data := readTestdata(b, file)
	d := NewDecoder(false)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Decode(fm, data, false); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkV2JSON(b *testing.B)  { benchDecode(b, V2JSON, "v2.json") }
func BenchmarkV2Proto(b *testing.B) { benchDecode(b, V2Proto, "v2.pb") }
func BenchmarkV1JSON(b *testing.B)  { benchDecode(b, V1JSON, "v1.json") }

func BenchmarkV1Thrift(b *testing.B) {
	data := v1ThriftSeed(b)
	d := NewDecoder(false)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Decode(V1Thrift, data, false); err != nil {
			b.Fatal(err)
		}
	}
}

// The v2 JSON parse alone: the fast path against zipkin-go's model through
// encoding/json, on the captured body.
func BenchmarkV2JSONParse(b *testing.B) {
	data := readTestdata(b, "v2.json")
	b.Run("fast", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := parseV2JSON(data); !ok {
				b.Fatal("fast path refused the body")
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			var spans []*zipkinmodel.SpanModel
			if err := json.Unmarshal(data, &spans); err != nil {
				b.Fatal(err)
			}
		}
	})
}
