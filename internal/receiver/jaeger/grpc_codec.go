package jaeger

import (
	"fmt"

	"google.golang.org/grpc/mem"
)

// rawMessage is a request message left undecoded by rawCodec.
type rawMessage []byte

// gogoMarshaler is what jaeger-idl's gogo-generated messages implement.
type gogoMarshaler interface {
	Marshal() ([]byte, error)
}

// rawCodec is the gRPC codec of the collector port. Requests are read into
// a rawMessage for the handler to decode; replies, jaeger-idl's
// gogo-generated messages, are written with their own Marshal method
// rather than through the protobuf runtime's reflection over gogo types.
type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	m, ok := v.(gogoMarshaler)
	if !ok {
		return nil, fmt.Errorf("cannot marshal %T", v)
	}
	b, err := m.Marshal()
	if err != nil {
		return nil, err
	}
	return mem.BufferSlice{mem.SliceBuffer(b)}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(*rawMessage)
	if !ok {
		return fmt.Errorf("cannot unmarshal into %T", v)
	}
	*m = data.Materialize()
	return nil
}

func (rawCodec) Name() string { return "proto" }
