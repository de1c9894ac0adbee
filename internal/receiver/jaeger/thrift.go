package jaeger

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/apache/thrift/lib/go/thrift"
	"github.com/jaegertracing/jaeger-idl/thrift-gen/agent"
	"github.com/jaegertracing/jaeger-idl/thrift-gen/jaeger"
)

// ErrUnsupportedMethod is returned (wrapped) by DecodeEmitBatch for a
// well-formed agent message other than emitBatch (the long-removed
// emitZipkinBatch, for one).
var ErrUnsupportedMethod = errors.New("unsupported agent method")

// Encoding is a thrift protocol of the agent's UDP ports.
type Encoding int

// The agent encodings.
const (
	// Compact is TCompactProtocol, port 6831, what the Jaeger clients use.
	Compact Encoding = iota
	// Binary is TBinaryProtocol, port 6832, used by the Node.js client.
	Binary
)

// String returns "compact" or "binary".
func (e Encoding) String() string {
	if e == Binary {
		return "binary"
	}
	return "compact"
}

// newProtocol returns a protocol reading b. MaxMessageSize is len(b), so no
// container length in b can make the decoder allocate more than the input
// could hold.
func newProtocol(enc Encoding, b []byte) thrift.TProtocol {
	trans := &thrift.TMemoryBuffer{Buffer: bytes.NewBuffer(b)}
	cfg := &thrift.TConfiguration{MaxMessageSize: int32(min(len(b), 1<<30)) + 1}
	if enc == Binary {
		return thrift.NewTBinaryProtocolConf(trans, cfg)
	}
	return thrift.NewTCompactProtocolConf(trans, cfg)
}

// DecodeEmitBatch decodes one agent datagram: a thrift message calling
// Agent.emitBatch(batch) in enc.
func DecodeEmitBatch(enc Encoding, b []byte) (*jaeger.Batch, error) {
	ctx := context.Background()
	p := newProtocol(enc, b)
	name, typ, _, err := p.ReadMessageBegin(ctx)
	if err != nil {
		return nil, fmt.Errorf("read %s thrift message header: %w", enc, err)
	}
	if typ != thrift.ONEWAY && typ != thrift.CALL {
		return nil, fmt.Errorf("%s thrift message %q has type %d, want a call", enc, truncate(name), typ)
	}
	if name != "emitBatch" {
		return nil, fmt.Errorf("%w %q", ErrUnsupportedMethod, truncate(name))
	}
	args := agent.NewAgentEmitBatchArgs()
	if err := args.Read(ctx, p); err != nil {
		return nil, fmt.Errorf("read emitBatch arguments: %w", err)
	}
	if err := p.ReadMessageEnd(ctx); err != nil {
		return nil, fmt.Errorf("read %s thrift message end: %w", enc, err)
	}
	if args.Batch == nil {
		return nil, errors.New("emitBatch without a batch")
	}
	if err := checkBatch(args.Batch); err != nil {
		return nil, err
	}
	return args.Batch, nil
}

// DecodeBatch decodes a binary thrift Batch, the body of the collector's
// POST /api/traces.
func DecodeBatch(b []byte) (*jaeger.Batch, error) {
	batch := jaeger.NewBatch()
	if err := batch.Read(context.Background(), newProtocol(Binary, b)); err != nil {
		return nil, fmt.Errorf("read thrift batch: %w", err)
	}
	if err := checkBatch(batch); err != nil {
		return nil, err
	}
	return batch, nil
}

// checkBatch rejects what the translator would dereference blindly.
func checkBatch(b *jaeger.Batch) error {
	if b.Process == nil {
		return errors.New("batch without a process")
	}
	for i, s := range b.Spans {
		if s == nil {
			return fmt.Errorf("span %d is null", i)
		}
	}
	return nil
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
