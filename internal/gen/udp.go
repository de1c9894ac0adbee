package gen

import (
	"context"
	"fmt"
	"net"
)

// udpSender writes each body as one datagram on a connected socket. A
// datagram has no answer: a body counts as sent once written.
type udpSender struct{ conn *net.UDPConn }

var _ Sender = (*udpSender)(nil)

func dialUDP(endpoint string, _ SenderOptions) (Sender, error) {
	addr, err := net.ResolveUDPAddr("udp", endpoint)
	if err != nil {
		return nil, fmt.Errorf("endpoint %q: %w", endpoint, err)
	}
	conn, err := net.DialUDP("udp", nil, addr)
	if err != nil {
		return nil, fmt.Errorf("dial udp %s: %w", endpoint, err)
	}
	return &udpSender{conn: conn}, nil
}

// Send implements Sender; UDPConn.Write is safe for concurrent use.
func (s *udpSender) Send(_ context.Context, body []byte) error {
	_, err := s.conn.Write(body)
	return err
}

// Close implements Sender.
func (s *udpSender) Close() error { return s.conn.Close() }
