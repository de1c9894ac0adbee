package datadog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"

	pb "github.com/DataDog/datadog-agent/pkg/proto/pbgo/trace"
	"github.com/tinylib/msgp/msgp"
)

// Version is a trace endpoint version of the Datadog agent API.
type Version string

// The trace endpoint versions Clew accepts.
const (
	V03 Version = "v0.3"
	V04 Version = "v0.4"
	V05 Version = "v0.5"
)

// ErrMalformed is wrapped by Decode's errors for bodies that are not a
// valid payload of the endpoint.
var ErrMalformed = errors.New("malformed payload")

// Decode parses the body of a /vX/traces request into traces with
// Datadog's own msgpack types.
//
// v0.3 and v0.4 are an array of traces, each an array of span maps, in
// msgpack (application/msgpack) or JSON (application/json, text/json); a
// body without a Content-Type is read as msgpack when it starts like a
// msgpack array and as JSON otherwise, as the agent does. v0.5 is msgpack
// only: [string table, traces] with every span an array of 12 fields whose
// strings are indexes into the table. An empty body holds no traces.
func Decode(v Version, contentType string, body []byte) (pb.Traces, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil
	}
	var traces pb.Traces
	if v == V05 {
		if _, err := msgp.Skip(body); err != nil {
			return nil, fmt.Errorf("%w: v0.5 msgpack: %w", ErrMalformed, err)
		}
		if err := traces.UnmarshalMsgDictionary(body); err != nil {
			return nil, fmt.Errorf("%w: v0.5 msgpack: %w", ErrMalformed, err)
		}
		return traces, nil
	}
	mediaType, _, _ := mime.ParseMediaType(contentType)
	useJSON := false
	switch mediaType {
	case "application/msgpack", "application/x-msgpack":
	case "application/json", "text/json":
		useJSON = true
	default:
		useJSON = !looksLikeMsgpackArray(body[0])
	}
	if useJSON {
		if err := json.Unmarshal(body, &traces); err != nil {
			return nil, fmt.Errorf("%w: %s JSON: %w", ErrMalformed, v, err)
		}
		return traces, nil
	}
	// A first pass checks the structure without allocating: every array
	// and map then really has the elements its header claims, so the
	// decoder's allocations stay proportional to the body (a 5-byte
	// header claiming 500000 spans would otherwise cost megabytes).
	if rest, err := msgp.Skip(body); err != nil {
		return nil, fmt.Errorf("%w: %s msgpack: %w", ErrMalformed, v, err)
	} else if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %s msgpack: %d bytes after the traces", ErrMalformed, v, len(rest))
	}
	rest, err := traces.UnmarshalMsg(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %s msgpack: %w", ErrMalformed, v, err)
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %s msgpack: %d bytes after the traces", ErrMalformed, v, len(rest))
	}
	return traces, nil
}

// looksLikeMsgpackArray reports whether b opens a msgpack array (fixarray,
// array 16 or array 32).
func looksLikeMsgpackArray(b byte) bool {
	return b&0xf0 == 0x90 || b == 0xdc || b == 0xdd
}
