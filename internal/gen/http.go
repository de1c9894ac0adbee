package gen

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
)

var _ Sender = (*httpSender)(nil)

// httpSender POSTs (or PUTs) bodies to one URL. check, when not nil,
// inspects a 2xx response.
type httpSender struct {
	url, method, contentType string
	header                   http.Header
	gzip                     bool
	client                   *http.Client
	check                    func(*http.Response, []byte) error
}

func newHTTPSender(url, method, contentType string, o SenderOptions, check func(*http.Response, []byte) error) (*httpSender, error) {
	if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
		return nil, fmt.Errorf("endpoint %q: want an http:// or https:// URL", url)
	}
	conns := max(o.Conns, 1)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = conns
	tr.MaxIdleConnsPerHost = conns
	tr.MaxConnsPerHost = conns
	return &httpSender{
		url: url, method: method, contentType: contentType,
		header: http.Header{},
		gzip:   o.Gzip,
		client: &http.Client{Transport: tr, Timeout: o.Timeout},
		check:  check,
	}, nil
}

// maxResponseBytes bounds what a sender reads of a reply.
const maxResponseBytes = 1 << 20

// Send implements Sender.
func (s *httpSender) Send(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, s.method, s.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", s.contentType)
	if s.gzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	for k, v := range s.header {
		req.Header[k] = v
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	reply, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return fmt.Errorf("read response: %w", err)
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable:
		return fmt.Errorf("%w: HTTP %d", ErrThrottled, resp.StatusCode)
	case resp.StatusCode/100 != 2:
		msg := strings.TrimSpace(string(reply))
		if len(msg) > 200 {
			msg = msg[:200] + "…"
		}
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, msg)
	}
	if s.check != nil {
		return s.check(resp, reply)
	}
	return nil
}

// Close implements Sender.
func (s *httpSender) Close() error {
	s.client.CloseIdleConnections()
	return nil
}
