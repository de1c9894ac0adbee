// Package model is Clew's internal span model: OpenTelemetry's data model
// (resource, instrumentation scope, span, typed attributes, events, links,
// status) as plain Go values. Every receiver decodes into it, every store keeps
// it and every API renders from it. The package does no I/O.
package model

import (
	"encoding/hex"
	"errors"
	"fmt"
)

// TraceID is a 128-bit trace identifier. IDs of 64-bit protocols (Jaeger,
// Zipkin, Datadog) are kept in the low 8 bytes with the high 8 bytes zero, so
// a trace crossing tracers stays one trace.
type TraceID [16]byte

// SpanID is a 64-bit span identifier.
type SpanID [8]byte

// ErrInvalidID is returned by ParseTraceID and ParseSpanID for text that is
// not 1 to 32 (or 16) hexadecimal digits.
var ErrInvalidID = errors.New("invalid id")

// IsZero reports whether all bytes of id are zero (an invalid id in OTLP).
func (id TraceID) IsZero() bool { return id == TraceID{} }

// String returns the id as 32 lowercase hexadecimal digits.
func (id TraceID) String() string { return hex.EncodeToString(id[:]) }

// Uint64s returns the high and low halves of id, big-endian.
func (id TraceID) Uint64s() (high, low uint64) {
	for i := 0; i < 8; i++ {
		high = high<<8 | uint64(id[i])
		low = low<<8 | uint64(id[8+i])
	}
	return high, low
}

// TraceIDFromUint64s builds a TraceID from its big-endian halves.
func TraceIDFromUint64s(high, low uint64) TraceID {
	var id TraceID
	for i := 7; i >= 0; i-- {
		id[i] = byte(high)
		id[8+i] = byte(low)
		high >>= 8
		low >>= 8
	}
	return id
}

// JaegerString formats id as Jaeger does: 16 hex digits when the high half is
// zero, 32 otherwise.
func (id TraceID) JaegerString() string {
	high, low := id.Uint64s()
	if high == 0 {
		return fmt.Sprintf("%016x", low)
	}
	return fmt.Sprintf("%016x%016x", high, low)
}

// IsZero reports whether all bytes of id are zero.
func (id SpanID) IsZero() bool { return id == SpanID{} }

// String returns the id as 16 lowercase hexadecimal digits.
func (id SpanID) String() string { return hex.EncodeToString(id[:]) }

// Uint64 returns id as a big-endian integer.
func (id SpanID) Uint64() uint64 {
	var v uint64
	for _, b := range id {
		v = v<<8 | uint64(b)
	}
	return v
}

// SpanIDFromUint64 builds a SpanID from a big-endian integer.
func SpanIDFromUint64(v uint64) SpanID {
	var id SpanID
	for i := 7; i >= 0; i-- {
		id[i] = byte(v)
		v >>= 8
	}
	return id
}

// ParseTraceID parses 1 to 32 hexadecimal digits (either case), left-padding
// shorter ids with zeros, so "abc" and "00000000000000000000000000000abc" are
// the same trace.
func ParseTraceID(s string) (TraceID, error) {
	var id TraceID
	if err := parseHexPadded(id[:], s); err != nil {
		return TraceID{}, fmt.Errorf("trace id %q: %w", truncateForError(s), err)
	}
	return id, nil
}

// ParseSpanID parses 1 to 16 hexadecimal digits, left-padding with zeros.
func ParseSpanID(s string) (SpanID, error) {
	var id SpanID
	if err := parseHexPadded(id[:], s); err != nil {
		return SpanID{}, fmt.Errorf("span id %q: %w", truncateForError(s), err)
	}
	return id, nil
}

func parseHexPadded(dst []byte, s string) error {
	if len(s) == 0 || len(s) > 2*len(dst) {
		return fmt.Errorf("%w: want 1 to %d hex digits", ErrInvalidID, 2*len(dst))
	}
	// Walk from the right, two digits per byte.
	j := len(dst) - 1
	for i := len(s); i > 0; i -= 2 {
		lo, ok := fromHex(s[i-1])
		if !ok {
			return fmt.Errorf("%w: bad hex digit", ErrInvalidID)
		}
		var hi byte
		if i >= 2 {
			if hi, ok = fromHex(s[i-2]); !ok {
				return fmt.Errorf("%w: bad hex digit", ErrInvalidID)
			}
		}
		dst[j] = hi<<4 | lo
		j--
	}
	return nil
}

func fromHex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func truncateForError(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
