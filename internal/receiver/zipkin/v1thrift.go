package zipkin

import (
	"bytes"
	"context"
	"fmt"

	"github.com/apache/thrift/lib/go/thrift"
	"github.com/jaegertracing/jaeger-idl/thrift-gen/zipkincore"
)

// checkV1Thrift decodes a v1 thrift body (a binary-protocol list of
// zipkincore spans) with every container length bounded by the body's size.
// The Collector's decoder that runs next allows containers up to thrift's
// default 100 MB, so a few bytes claiming a huge list could make it allocate
// that much; a body that passes this check cannot.
func checkV1Thrift(b []byte) error {
	ctx := context.Background()
	trans := &thrift.TMemoryBuffer{Buffer: bytes.NewBuffer(b)}
	p := thrift.NewTBinaryProtocolConf(trans, &thrift.TConfiguration{MaxMessageSize: int32(min(len(b), 1<<30)) + 1})
	_, size, err := p.ReadListBegin(ctx)
	if err != nil {
		return fmt.Errorf("read span list: %w", err)
	}
	if size < 0 || size > len(b) {
		return fmt.Errorf("span list of %d elements in %d bytes", size, len(b))
	}
	for i := 0; i < size; i++ {
		if err := new(zipkincore.Span).Read(ctx, p); err != nil {
			return fmt.Errorf("read span %d: %w", i, err)
		}
	}
	return nil
}
