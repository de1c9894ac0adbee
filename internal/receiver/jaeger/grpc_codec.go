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

// gogoUnmarshaler is a request message that decodes itself (the other
// services of the port, such as remote sampling, use it).
type gogoUnmarshaler interface {
	Unmarshal([]byte) error
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	switch m := v.(type) {
	case *rawMessage:
		*m = data.Materialize()
		return nil
	case gogoUnmarshaler:
		return m.Unmarshal(data.Materialize())
	}
	return fmt.Errorf("cannot unmarshal into %T", v)
}

func (rawCodec) Name() string { return "proto" }
