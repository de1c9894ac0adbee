package jaeger

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jaegertracing/jaeger-idl/proto-gen/api_v2"
	"github.com/jaegertracing/jaeger-idl/thrift-gen/jaeger"

	"github.com/clew-dev/clew/internal/receiver/receivertest"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decoders of the golden payloads, by file name prefix.
var goldenDecoders = map[string]func([]byte) (*jaeger.Batch, error){
	"agent_compact":  func(b []byte) (*jaeger.Batch, error) { return DecodeEmitBatch(Compact, b) },
	"agent_binary":   func(b []byte) (*jaeger.Batch, error) { return DecodeEmitBatch(Binary, b) },
	"collector_http": DecodeBatch,
}

// TestGoldenPayloads decodes what jaeger-client-go sent (captured by
// TestCapturePayloads) and compares the spans with the golden rendering.
func TestGoldenPayloads(t *testing.T) {
	for prefix, decode := range goldenDecoders {
		t.Run(prefix, func(t *testing.T) {
			batch, err := decode(readTestdata(t, prefix+".thrift"))
			if err != nil {
				t.Fatal(err)
			}
			spans, err := ThriftToModel(batch)
			if err != nil {
				t.Fatal(err)
			}
			if len(spans) != 3 {
				t.Fatalf("got %d spans, want 3", len(spans))
			}
			receivertest.Golden(t, filepath.Join("testdata", prefix+".want.json"), spans)
		})
	}
}

// TestGoldenProto decodes the stored PostSpansRequest as the gRPC receiver
// does and compares the spans with the golden rendering.
func TestGoldenProto(t *testing.T) {
	var req api_v2.PostSpansRequest
	if err := req.Unmarshal(readTestdata(t, "collector_grpc.pb")); err != nil {
		t.Fatal(err)
	}
	spans, err := ProtoToModel(&req.Batch)
	if err != nil {
		t.Fatal(err)
	}
	receivertest.Golden(t, filepath.Join("testdata", "collector_grpc.want.json"), spans)
}

func TestDecodeErrors(t *testing.T) {
	compact := readTestdata(t, "agent_compact.thrift")
	binary := readTestdata(t, "agent_binary.thrift")
	f := func(name string, enc Encoding, b []byte, want string) {
		t.Helper()
		_, err := DecodeEmitBatch(enc, b)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want one containing %q", name, err, want)
		}
	}
	f("empty", Compact, nil, "message header")
	f("truncated compact", Compact, compact[:len(compact)/2], "emitBatch arguments")
	f("truncated binary", Binary, binary[:len(binary)/2], "emitBatch arguments")
	f("binary on the compact port", Compact, binary, "")
	f("compact on the binary port", Binary, compact, "")
	f("garbage", Compact, []byte("GET / HTTP/1.1\r\n\r\n"), "")

	// A well-formed call of another method is unsupported, not malformed.
	other := append([]byte(nil), compact...)
	i := strings.Index(string(other), "emitBatch")
	copy(other[i:], "emitBatcX")
	if _, err := DecodeEmitBatch(Compact, other); !errors.Is(err, ErrUnsupportedMethod) {
		t.Errorf("other method: err = %v, want ErrUnsupportedMethod", err)
	}

	if _, err := DecodeBatch(binary); err == nil {
		t.Error("DecodeBatch took an agent message")
	}
}

func TestTranslatorPanicIsAnError(t *testing.T) {
	// Decoded batches never hold nil elements; one built in code may.
	b := &jaeger.Batch{Process: &jaeger.Process{ServiceName: "s"}, Spans: []*jaeger.Span{{TraceIdLow: 1, SpanId: 1, Logs: []*jaeger.Log{nil}}}}
	if _, err := ThriftToModel(b); !errors.Is(err, ErrTranslatorPanic) {
		t.Errorf("err = %v, want ErrTranslatorPanic", err)
	}
}
