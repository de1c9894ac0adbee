package demo

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// The menu.
var (
	donuts = []string{"glazed", "chocolate", "maple", "jelly", "boston-cream", "cinnamon", "powdered", "old-fashioned"}
	beers  = []struct {
		name, style string
		abv         float64
		candidates  []string
	}{
		{"ipa", "India pale ale", 6.5, []string{"glazed", "maple", "jelly", "cinnamon", "powdered", "old-fashioned"}},
		{"stout", "dry stout", 4.2, []string{"chocolate", "boston-cream", "glazed", "old-fashioned", "maple"}},
		{"pilsner", "Czech pilsner", 4.4, []string{"powdered", "glazed", "jelly", "cinnamon"}},
		{"porter", "robust porter", 5.6, []string{"chocolate", "maple", "boston-cream", "cinnamon", "old-fashioned"}},
		{"saison", "farmhouse ale", 6.8, []string{"jelly", "powdered", "cinnamon", "glazed", "maple"}},
		{"lager", "helles lager", 4.9, []string{"glazed", "powdered", "old-fashioned", "jelly"}},
		{"sour", "Berliner weisse", 3.5, []string{"jelly", "powdered", "glazed", "boston-cream", "cinnamon", "maple"}},
	}
)

// A donut baked longer ago than this is not offered.
const staleAfter = 6 * time.Hour

// matchmaker is the web service: GET /beers, GET /donuts and
// GET /pair/beer?name=.
type matchmaker struct {
	tel    *telemetry
	auth   *authClient
	cache  *cacheClient
	taster string
	db     *sqlDB
}

func newMatchmaker(ctx context.Context, tel *telemetry, auth *authClient, cache *cacheClient, tasterURL string) (*matchmaker, error) {
	db, err := openSQL("matchmaker", tel.tracer)
	if err != nil {
		return nil, err
	}
	m := &matchmaker{tel: tel, auth: auth, cache: cache, taster: tasterURL + "/taste", db: db}
	if err := m.migrate(ctx); err != nil {
		db.close()
		return nil, err
	}
	return m, nil
}

// migrate creates and fills the beers table. It runs before the services
// answer and is not traced: a migration is not a request.
func (m *matchmaker) migrate(ctx context.Context) error {
	if _, err := m.db.db.ExecContext(ctx, `CREATE TABLE beers (name TEXT PRIMARY KEY, style TEXT NOT NULL, abv REAL NOT NULL, candidates TEXT NOT NULL)`); err != nil {
		return fmt.Errorf("create beers: %w", err)
	}
	for _, b := range beers {
		if _, err := m.db.db.ExecContext(ctx, `INSERT INTO beers VALUES (?, ?, ?, ?)`, b.name, b.style, b.abv, strings.Join(b.candidates, ",")); err != nil {
			return fmt.Errorf("insert beer: %w", err)
		}
	}
	return nil
}

// seed stores the menu and each donut's bake time in the cache, as the
// bakery's morning job would; it is a trace of its own.
func (m *matchmaker) seed(ctx context.Context) error {
	ctx, span := m.tel.tracer.Start(ctx, "stock donuts", trace.WithNewRoot())
	defer span.End()
	if err := m.cache.set(ctx, "menu", strings.Join(donuts, ",")); err != nil {
		fail(span, err)
		return err
	}
	for i, d := range donuts {
		// Every third donut is from yesterday.
		baked := time.Duration(i+1) * 25 * time.Minute
		if i%3 == 2 {
			baked = 20 * time.Hour
		}
		if err := m.cache.set(ctx, freshnessKey(d), bakedAgo(baked)); err != nil {
			fail(span, err)
			return err
		}
	}
	return nil
}

func (m *matchmaker) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /beers", m.listBeers)
	mux.HandleFunc("GET /donuts", m.listDonuts)
	mux.HandleFunc("GET /pair/beer", m.pair)
	return m.tel.handler(mux)
}

func (m *matchmaker) close() error { return m.db.close() }

func (m *matchmaker) listBeers(w http.ResponseWriter, r *http.Request) {
	if !m.auth.authorize(w, r) {
		return
	}
	type beer struct {
		Name  string  `json:"name"`
		Style string  `json:"style"`
		ABV   float64 `json:"abv"`
	}
	var out []beer
	err := m.db.query(r.Context(), "beers", "SELECT name, style, abv FROM beers ORDER BY name", func(rows *sql.Rows) error {
		var b beer
		if err := rows.Scan(&b.Name, &b.Style, &b.ABV); err != nil {
			return err
		}
		out = append(out, b)
		return nil
	})
	if err != nil {
		fail(trace.SpanFromContext(r.Context()), err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, out)
}

func (m *matchmaker) listDonuts(w http.ResponseWriter, r *http.Request) {
	if !m.auth.authorize(w, r) {
		return
	}
	menu, ok, err := m.cache.get(r.Context(), "menu")
	if err == nil && !ok {
		err = errors.New("the menu is not in the cache")
	}
	if err != nil {
		fail(trace.SpanFromContext(r.Context()), err)
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	writeJSON(w, strings.Split(menu, ","))
}

// pair finds the best donut for a beer. For each candidate it reads the
// donut's freshness from the cache and asks the taster, one candidate after
// the other: the N+1 pattern that makes this route slow.
func (m *matchmaker) pair(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	server := trace.SpanFromContext(ctx)
	if !m.auth.authorize(w, r) {
		return
	}
	name := r.URL.Query().Get("name")
	server.SetAttributes(attribute.String("beer.name", name))
	var style, list string
	found := false
	err := m.db.query(ctx, "beers", "SELECT style, candidates FROM beers WHERE name = ?", func(rows *sql.Rows) error {
		found = true
		return rows.Scan(&style, &list)
	}, name)
	if err != nil {
		fail(server, err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if !found {
		http.Error(w, "no such beer", http.StatusNotFound)
		return
	}
	candidates := strings.Split(list, ",")
	server.AddEvent("candidates loaded", trace.WithAttributes(
		attribute.Int("pairing.candidates", len(candidates)),
		attribute.String("beer.style", style),
	))
	best, bestScore, tasted := "", -1, 0
	for _, donut := range candidates {
		fresh, err := m.fresh(ctx, donut)
		if err != nil {
			fail(server, err)
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		if !fresh {
			server.AddEvent("stale donut skipped", trace.WithAttributes(attribute.String("donut.name", donut)))
			continue
		}
		score, err := m.taste(ctx, name, donut)
		if err != nil {
			fail(server, err)
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		tasted++
		if score > bestScore {
			best, bestScore = donut, score
		}
	}
	server.SetAttributes(
		attribute.String("pairing.donut", best),
		attribute.Int("pairing.score", bestScore),
		attribute.Int("pairing.tasted", tasted),
	)
	writeJSON(w, map[string]any{"beer": name, "donut": best, "score": bestScore, "tasted": tasted})
}

func (m *matchmaker) fresh(ctx context.Context, donut string) (bool, error) {
	v, ok, err := m.cache.get(ctx, freshnessKey(donut))
	if err != nil || !ok {
		return false, err
	}
	age, err := time.ParseDuration(v)
	if err != nil {
		return false, fmt.Errorf("freshness of %s: %w", donut, err)
	}
	return age < staleAfter, nil
}

func (m *matchmaker) taste(ctx context.Context, beer, donut string) (int, error) {
	u := m.taster + "?" + url.Values{"beer": {beer}, "donut": {donut}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	resp, err := m.tel.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("taster: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return 0, fmt.Errorf("taster: HTTP %d", resp.StatusCode)
	}
	var out struct {
		Score int `json:"score"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&out); err != nil {
		return 0, fmt.Errorf("taster: %w", err)
	}
	return out.Score, nil
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}
