// Package server runs Clew's listeners: it owns their lifecycle (start in
// order, stop in reverse order draining what was accepted), the shared HTTP
// plumbing (request metrics, panic recovery, body limits, error replies) and
// the health endpoints.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Component is one part of the running server with its own listeners or
// goroutines: a receiver, the query port, a background job.
//
// Start binds its listeners and returns once it serves (an error when it
// cannot bind); it must not block. Shutdown stops accepting new work, waits
// until the work already accepted is done or ctx ends, and releases
// everything Start took. Shutdown is called once, only after a successful
// Start.
type Component interface {
	Name() string
	Start(ctx context.Context) error
	Shutdown(ctx context.Context) error
}

// Group starts components in order and shuts them down in reverse order.
type Group struct {
	log     *slog.Logger
	started []Component
}

// NewGroup returns an empty group logging to log.
func NewGroup(log *slog.Logger) *Group { return &Group{log: log} }

// Start starts each component in turn. On the first failure it shuts down
// those already started and returns the error.
func (g *Group) Start(ctx context.Context, comps ...Component) error {
	for _, c := range comps {
		if err := c.Start(ctx); err != nil {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return errors.Join(fmt.Errorf("start %s: %w", c.Name(), err), g.Shutdown(sctx))
		}
		g.started = append(g.started, c)
	}
	return nil
}

// Shutdown stops the started components in reverse order.
func (g *Group) Shutdown(ctx context.Context) error {
	var errs []error
	for i := len(g.started) - 1; i >= 0; i-- {
		c := g.started[i]
		if err := c.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("shutdown %s: %w", c.Name(), err))
		} else {
			g.log.Debug("stopped", "component", c.Name())
		}
	}
	g.started = nil
	return errors.Join(errs...)
}

// HTTPServer is a Component serving one handler on one TCP address.
type HTTPServer struct {
	name string
	addr string
	srv  *http.Server
	log  *slog.Logger

	mu       sync.Mutex
	listener net.Listener
	done     chan struct{}
}

var _ Component = (*HTTPServer)(nil)

// NewHTTPServer returns a component serving h on addr.
func NewHTTPServer(name, addr string, h http.Handler, log *slog.Logger) *HTTPServer {
	return &HTTPServer{
		name: name,
		addr: addr,
		log:  log,
		srv: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       2 * time.Minute,
			MaxHeaderBytes:    1 << 20,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		},
	}
}

// Name implements Component.
func (s *HTTPServer) Name() string { return s.name }

// Addr returns the bound address once started (useful with port 0).
func (s *HTTPServer) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listener == nil {
		return s.addr
	}
	return s.listener.Addr().String()
}

// Start implements Component.
func (s *HTTPServer) Start(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.listener = ln
	s.done = make(chan struct{})
	s.mu.Unlock()
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("http server stopped", "component", s.name, "err", err)
		}
	}()
	s.log.Info("listening", "component", s.name, "addr", ln.Addr().String())
	return nil
}

// Shutdown implements Component: it stops accepting connections and waits
// for in-flight requests to finish.
func (s *HTTPServer) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	<-s.done
	return err
}
