package demo

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// cacheService is a small key-value store over HTTP:
// GET /kv/{key} and PUT /kv/{key}.
type cacheService struct {
	tel *telemetry
	mu  sync.Mutex
	kv  map[string]string
}

// Limits of the cache service.
const (
	maxCacheKeys       = 10_000
	maxCacheValueBytes = 4 << 10
)

func newCache(tel *telemetry) *cacheService {
	return &cacheService{tel: tel, kv: map[string]string{}}
}

func (c *cacheService) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /kv/{key}", c.get)
	mux.HandleFunc("PUT /kv/{key}", c.put)
	return c.tel.handler(mux)
}

func (c *cacheService) get(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	_, span := c.tel.tracer.Start(r.Context(), "cache get", trace.WithAttributes(
		attribute.String("db.system", "clew-kv"),
		attribute.String("db.operation", "GET"),
		attribute.String("cache.key", key),
	))
	defer span.End()
	c.mu.Lock()
	v, ok := c.kv[key]
	c.mu.Unlock()
	span.SetAttributes(attribute.Bool("cache.hit", ok))
	if !ok {
		http.Error(w, "no such key", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	io.WriteString(w, v)
}

func (c *cacheService) put(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	_, span := c.tel.tracer.Start(r.Context(), "cache set", trace.WithAttributes(
		attribute.String("db.system", "clew-kv"),
		attribute.String("db.operation", "SET"),
		attribute.String("cache.key", key),
	))
	defer span.End()
	body, err := io.ReadAll(io.LimitReader(r.Body, maxCacheValueBytes+1))
	if err != nil || len(body) > maxCacheValueBytes {
		err = fmt.Errorf("value larger than %d bytes", maxCacheValueBytes)
		fail(span, err)
		http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.kv[key]; !ok && len(c.kv) >= maxCacheKeys {
		http.Error(w, "cache full", http.StatusInsufficientStorage)
		return
	}
	c.kv[key] = string(body)
	w.WriteHeader(http.StatusNoContent)
}

// cacheClient calls the cache service.
type cacheClient struct {
	tel  *telemetry
	base string
}

func newCacheClient(tel *telemetry, base string) *cacheClient {
	return &cacheClient{tel: tel, base: base + "/kv/"}
}

// get returns the value of key and whether it exists.
func (c *cacheClient) get(ctx context.Context, key string) (string, bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+key, nil)
	if err != nil {
		return "", false, err
	}
	resp, err := c.tel.client.Do(req)
	if err != nil {
		return "", false, fmt.Errorf("cache: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxCacheValueBytes))
	if err != nil {
		return "", false, fmt.Errorf("cache: %w", err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
		return string(body), true, nil
	case http.StatusNotFound:
		return "", false, nil
	}
	return "", false, fmt.Errorf("cache: HTTP %d", resp.StatusCode)
}

func (c *cacheClient) set(ctx context.Context, key, value string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, c.base+key, strings.NewReader(value))
	if err != nil {
		return err
	}
	resp, err := c.tel.client.Do(req)
	if err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("cache: HTTP %d", resp.StatusCode)
	}
	return nil
}

// freshness is how a donut's freshness is kept in the cache.
func freshnessKey(donut string) string { return "freshness:" + donut }

func bakedAgo(d time.Duration) string { return d.Round(time.Minute).String() }
