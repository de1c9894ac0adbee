package gen

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/clew-dev/clew/internal/model"
)

// Protocol is one wire protocol gen speaks: how a batch of spans becomes a
// request body and how a body is delivered.
type Protocol struct {
	// Name is the value of `clew gen --protocol`.
	Name string
	// Summary says what is sent where, for --help.
	Summary string
	// DefaultEndpoint is where the receiver listens by default.
	DefaultEndpoint string
	// MaxBodyBytes, when positive, bounds one body (a UDP datagram);
	// batches that encode larger are split.
	MaxBodyBytes int
	// IDs constrains trace ids (nil: 128 random bits).
	IDs IDPolicy
	// HTTP is true for protocols sent over HTTP, whose bodies may be
	// gzip-compressed (SenderOptions.Gzip).
	HTTP bool
	// UDP is true for protocols sent as datagrams: no answer, no
	// back-pressure.
	UDP bool
	// Encode turns spans into request bodies: one, or one per resource for
	// protocols whose requests carry a single process (Jaeger).
	Encode func(spans []*model.Span) ([][]byte, error)
	// Dial returns a sender to endpoint.
	Dial func(endpoint string, o SenderOptions) (Sender, error)
}

// SenderOptions configure a sender.
type SenderOptions struct {
	// Timeout bounds one request.
	Timeout time.Duration
	// Conns is the number of concurrent requests the sender will carry
	// (connection pool size).
	Conns int
	// Gzip says the bodies are gzip-compressed (HTTP protocols only).
	Gzip bool
}

// Sender delivers pre-encoded bodies. Send is safe for concurrent use.
type Sender interface {
	// Send delivers one body. It returns nil when the receiver accepted
	// every span, an error wrapping ErrThrottled when the receiver asked to
	// slow down, a *RejectedError when it accepted the request but refused
	// some spans, and another error otherwise.
	Send(ctx context.Context, body []byte) error
	// Close releases connections.
	Close() error
}

// ErrThrottled marks the retryable "slow down" answers: gRPC
// RESOURCE_EXHAUSTED (or UNAVAILABLE with a RetryInfo), HTTP 429 or 503.
var ErrThrottled = errors.New("throttled")

// RejectedError reports spans the receiver refused in an accepted request
// (OTLP partial success).
type RejectedError struct {
	Spans   int64
	Message string
}

// Error implements error.
func (e *RejectedError) Error() string {
	return fmt.Sprintf("%d spans rejected: %s", e.Spans, e.Message)
}

var protocols = map[string]*Protocol{}

func registerProtocol(p *Protocol) {
	if _, dup := protocols[p.Name]; dup {
		panic("BUG: duplicate protocol " + p.Name)
	}
	protocols[p.Name] = p
}

// Lookup returns the protocol with the given name.
func Lookup(name string) (*Protocol, error) {
	if p, ok := protocols[name]; ok {
		return p, nil
	}
	return nil, fmt.Errorf("unknown protocol %q: want one of %s", name, strings.Join(ProtocolNames(), ", "))
}

// ProtocolNames lists the protocols, sorted.
func ProtocolNames() []string {
	names := make([]string, 0, len(protocols))
	for n := range protocols {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Protocols returns every protocol, sorted by name.
func Protocols() []*Protocol {
	out := make([]*Protocol, 0, len(protocols))
	for _, n := range ProtocolNames() {
		out = append(out, protocols[n])
	}
	return out
}
