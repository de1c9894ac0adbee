package jaeger

import (
	"testing"

	"github.com/jaegertracing/jaeger-idl/proto-gen/api_v2"
)

// The benchmarks measure decode + translate + convert to the model of the
// captured payloads (3 spans each), per datagram or request.

func benchThrift(b *testing.B, file string, decode func([]byte) error) {
	data := readTestdata(b, file)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if err := decode(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAgentCompact(b *testing.B) {
	benchThrift(b, "agent_compact.thrift", func(d []byte) error {
		batch, err := DecodeEmitBatch(Compact, d)
		if err != nil {
			return err
		}
		_, err = ThriftToModel(batch)
		return err
	})
}

func BenchmarkAgentBinary(b *testing.B) {
	benchThrift(b, "agent_binary.thrift", func(d []byte) error {
		batch, err := DecodeEmitBatch(Binary, d)
		if err != nil {
			return err
		}
		_, err = ThriftToModel(batch)
		return err
	})
}

func BenchmarkCollectorThrift(b *testing.B) {
	benchThrift(b, "collector_http.thrift", func(d []byte) error {
		batch, err := DecodeBatch(d)
		if err != nil {
			return err
		}
		_, err = ThriftToModel(batch)
		return err
	})
}

func BenchmarkCollectorProto(b *testing.B) {
	req := api_v2.PostSpansRequest{Batch: protoBatch()}
	data, err := req.Marshal()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		var req api_v2.PostSpansRequest
		if err := req.Unmarshal(data); err != nil {
			b.Fatal(err)
		}
		if _, err := ProtoToModel(&req.Batch); err != nil {
			b.Fatal(err)
		}
	}
}
