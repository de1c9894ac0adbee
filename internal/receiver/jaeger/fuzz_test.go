package jaeger

import (
	"testing"

	"github.com/jaegertracing/jaeger-idl/proto-gen/api_v2"
)

// Each fuzz target checks that a decoder and the translation after it never
// panic, whatever the bytes. Seeds are the captured real payloads.

func fuzzAgent(f *testing.F, enc Encoding) {
	f.Add(readTestdata(f, "agent_compact.thrift"))
	f.Add(readTestdata(f, "agent_binary.thrift"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		batch, err := DecodeEmitBatch(enc, b)
		if err != nil {
			return
		}
		if _, err := ThriftToModel(batch); err != nil {
			t.Skip()
		}
	})
}

func FuzzAgentCompact(f *testing.F) { fuzzAgent(f, Compact) }

func FuzzAgentBinary(f *testing.F) { fuzzAgent(f, Binary) }

func FuzzCollectorThrift(f *testing.F) {
	f.Add(readTestdata(f, "collector_http.thrift"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		batch, err := DecodeBatch(b)
		if err != nil {
			return
		}
		_, _ = ThriftToModel(batch)
	})
}

func FuzzCollectorProto(f *testing.F) {
	f.Add(readTestdata(f, "collector_grpc.pb"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var req api_v2.PostSpansRequest
		if err := req.Unmarshal(b); err != nil {
			return
		}
		_, _ = ProtoToModel(&req.Batch)
	})
}
