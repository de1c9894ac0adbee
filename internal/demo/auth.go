package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// Tokens the demo's clients send: "user-<id>" is valid, "expired-<id>" has
// expired and is rejected with 401.
const (
	validTokenPrefix   = "user-"
	expiredTokenPrefix = "expired-"
)

// TokenExpiredError is the error the auth service records when it rejects
// a token; its Go type name is the exception.type of the event.
type TokenExpiredError struct {
	User    string
	Expired time.Duration
}

func (e *TokenExpiredError) Error() string {
	return fmt.Sprintf("token of user %s expired %s ago", e.User, e.Expired)
}

// errUnauthorized is what clients of auth see for a rejected token.
var errUnauthorized = errors.New("unauthorized")

// authService validates bearer tokens: POST /validate.
type authService struct{ tel *telemetry }

func newAuth(tel *telemetry) *authService { return &authService{tel: tel} }

func (a *authService) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /validate", a.validate)
	return a.tel.handler(mux)
}

func (a *authService) validate(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	server := trace.SpanFromContext(ctx)
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || token == "" {
		err := errors.New("missing bearer token")
		fail(server, err)
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	ctx, span := a.tel.tracer.Start(ctx, "verify token", trace.WithAttributes(
		attribute.String("auth.scheme", "bearer"),
		attribute.Int("auth.token.length", len(token)),
	))
	// Checking a signature takes a little while.
	_ = sleep(ctx, time.Duration(1+len(token)%3)*time.Millisecond)
	var err error
	switch {
	case strings.HasPrefix(token, validTokenPrefix):
		user := strings.TrimPrefix(token, validTokenPrefix)
		span.SetAttributes(attribute.String("user.id", user), attribute.String("enduser.id", user))
		server.SetAttributes(attribute.String("user.id", user))
	case strings.HasPrefix(token, expiredTokenPrefix):
		user := strings.TrimPrefix(token, expiredTokenPrefix)
		span.SetAttributes(attribute.String("user.id", user), attribute.String("enduser.id", user))
		server.SetAttributes(attribute.String("user.id", user))
		err = &TokenExpiredError{User: user, Expired: time.Duration(len(user)*7) * time.Minute}
	default:
		err = errors.New("malformed token")
	}
	if err != nil {
		// Both the check and the request fail: the request's server span
		// is an error span with the exception event, as a team that
		// alerts on rejected logins would instrument it.
		fail(span, err)
		span.End()
		fail(server, err)
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	span.End()
	w.WriteHeader(http.StatusNoContent)
}

// authClient calls the auth service from another service.
type authClient struct {
	tel *telemetry
	url string
}

func newAuthClient(tel *telemetry, base string) *authClient {
	return &authClient{tel: tel, url: base + "/validate"}
}

// check validates the request's bearer token; it returns errUnauthorized
// when auth rejects it.
func (c *authClient) check(ctx context.Context, r *http.Request) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", r.Header.Get("Authorization"))
	resp, err := c.tel.client.Do(req)
	if err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch resp.StatusCode {
	case http.StatusNoContent, http.StatusOK:
		return nil
	case http.StatusUnauthorized:
		return errUnauthorized
	}
	return fmt.Errorf("auth: HTTP %d", resp.StatusCode)
}

// authorize runs check and answers 401 or 502 itself when it fails; it
// reports whether the handler may go on.
func (c *authClient) authorize(w http.ResponseWriter, r *http.Request) bool {
	err := c.check(r.Context(), r)
	switch {
	case err == nil:
		return true
	case errors.Is(err, errUnauthorized):
		http.Error(w, "unauthorized", http.StatusUnauthorized)
	default:
		fail(trace.SpanFromContext(r.Context()), err)
		http.Error(w, err.Error(), http.StatusBadGateway)
	}
	return false
}
