// Command benchstore is the query half of `make bench`: it checks that every
// trace id clew gen sent is stored whole, and times trace-by-id lookups and
// searches through the Jaeger HTTP API of a running clew. It prints one
// JSON object.
//
//	go run ./test/benchstore -query http://127.0.0.1:16686 -ids ids.txt -spans-per-trace 10
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type traceResponse struct {
	Data []struct {
		TraceID string `json:"traceID"`
		Spans   []struct {
			SpanID string `json:"spanID"`
		} `json:"spans"`
	} `json:"data"`
}

// Result is the JSON this command prints.
type Result struct {
	TraceIDs         int     `json:"trace_ids"`
	TracesComplete   int     `json:"traces_complete"`
	TracesIncomplete int     `json:"traces_incomplete"`
	TracesMissing    int     `json:"traces_missing"`
	CheckSeconds     float64 `json:"check_seconds"`
	ByIDSamples      int     `json:"trace_by_id_samples"`
	ByIDP50Ms        float64 `json:"trace_by_id_p50_ms"`
	ByIDP99Ms        float64 `json:"trace_by_id_p99_ms"`
	// Searches are timed to the last byte of the response; decoding it
	// (the *_decode_p50_ms figures) comes after.
	ServiceP50Ms       float64 `json:"search_by_service_p50_ms"`
	TagP50Ms           float64 `json:"search_by_tag_p50_ms"`
	ServiceDecodeP50Ms float64 `json:"search_by_service_client_decode_p50_ms"`
	TagDecodeP50Ms     float64 `json:"search_by_tag_client_decode_p50_ms"`
	// The server's CPU time per search (user and system, from
	// /proc/PID/stat with -server-pid): a figure the machine's other load
	// changes less than the latency.
	ServiceCPUMs   float64 `json:"search_by_service_server_cpu_ms,omitempty"`
	TagCPUMs       float64 `json:"search_by_tag_server_cpu_ms,omitempty"`
	SearchResults  int     `json:"search_results"`
	TagResults     int     `json:"search_by_tag_results"`
	TraceQLP50Ms   float64 `json:"tempo_traceql_search_p50_ms"`
	TraceQLResults int     `json:"tempo_traceql_search_results"`
}

func main() {
	query := flag.String("query", "http://127.0.0.1:16686", "base URL of clew's query port")
	idsFile := flag.String("ids", "", "file of trace ids, one per line (clew gen --trace-ids)")
	perTrace := flag.Int("spans-per-trace", 10, "spans every trace must have")
	workers := flag.Int("workers", 4, "concurrent requests while checking every id")
	samples := flag.Int("samples", 2000, "trace-by-id lookups timed one at a time")
	searches := flag.Int("searches", 5, "searches of each kind timed one at a time")
	service := flag.String("service", "frontend", "service to search for")
	// The load's failed HTTP server spans answer 501 or 503 (clew gen
	// derives the code from the span id), so 503 matches about 1 trace in 20.
	tag := flag.String("tag", `{"http.response.status_code":"503"}`, "tags (Jaeger JSON) to search for, with -service")
	traceql := flag.String("traceql", `{ resource.service.name = "frontend" && span.http.response.status_code = 503 }`, "TraceQL search timed through the Tempo API (/tempo/api/search)")
	serverPID := flag.Int("server-pid", 0, "process id of the server, to report its CPU time per search (0: not reported)")
	cpuSearches := flag.Int("cpu-searches", 100, "searches of each kind run, after the timed ones, to measure the server's CPU time per search (with -server-pid)")
	flag.Parse()
	ids, err := readIDs(*idsFile)
	if err != nil {
		fail(err)
	}
	client := &http.Client{Timeout: 120 * time.Second}
	res := Result{TraceIDs: len(ids)}

	// Every id, concurrently.
	start := time.Now()
	var next, complete, incomplete, missing atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < *workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(ids) {
					return
				}
				n, err := getTrace(client, *query, ids[i])
				switch {
				case err != nil || n == 0:
					missing.Add(1)
				case n == *perTrace:
					complete.Add(1)
				default:
					incomplete.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	res.CheckSeconds = time.Since(start).Seconds()
	fmt.Fprintf(os.Stderr, "checked %d trace ids in %.0fs\n", len(ids), res.CheckSeconds)
	res.TracesComplete, res.TracesIncomplete, res.TracesMissing = int(complete.Load()), int(incomplete.Load()), int(missing.Load())

	// Latency of lookups by id, one at a time, over ids spread over the run.
	var lat []time.Duration
	for i := 0; i < *samples && len(ids) > 0; i++ {
		id := ids[(i*7919)%len(ids)]
		t0 := time.Now()
		if _, err := getTrace(client, *query, id); err != nil {
			fail(err)
		}
		lat = append(lat, time.Since(t0))
	}
	res.ByIDSamples = len(lat)
	res.ByIDP50Ms, res.ByIDP99Ms = pct(lat, 50), pct(lat, 99)
	fmt.Fprintf(os.Stderr, "trace by id p50 %.2f ms, p99 %.2f ms\n", res.ByIDP50Ms, res.ByIDP99Ms)

	svcURL := fmt.Sprintf("%s/api/traces?service=%s&limit=20&lookback=1h", *query, url.QueryEscape(*service))
	tagURL := svcURL + "&tags=" + url.QueryEscape(*tag)
	res.ServiceP50Ms, res.SearchResults, res.ServiceDecodeP50Ms = timeSearch(client, svcURL, *searches)
	res.TagP50Ms, res.TagResults, res.TagDecodeP50Ms = timeSearch(client, tagURL, *searches)
	if *serverPID > 0 && *cpuSearches > 0 {
		// /proc counts CPU time in ticks of 10 ms: enough searches for a
		// figure to a tenth of a millisecond.
		res.ServiceCPUMs = serverCPUPerSearch(client, svcURL, *cpuSearches, *serverPID)
		res.TagCPUMs = serverCPUPerSearch(client, tagURL, *cpuSearches, *serverPID)
		fmt.Fprintf(os.Stderr, "server CPU per search (%d searches of each): service %.2f ms, tag %.2f ms\n", *cpuSearches, res.ServiceCPUMs, res.TagCPUMs)
	}
	now := time.Now()
	tempoURL := fmt.Sprintf("%s/tempo/api/search?limit=20&start=%d&end=%d&q=%s", *query, now.Add(-time.Hour).Unix(), now.Unix()+1, url.QueryEscape(*traceql))
	res.TraceQLP50Ms, res.TraceQLResults, _ = timeTempoSearch(client, tempoURL, *searches)
	fmt.Fprintf(os.Stderr, "search p50 (to the response's last byte): service %.2f ms (%d traces), tag %.2f ms (%d), TraceQL %.2f ms (%d); the client's JSON decoding after it: service %.2f ms, tag %.2f ms\n",
		res.ServiceP50Ms, res.SearchResults, res.TagP50Ms, res.TagResults, res.TraceQLP50Ms, res.TraceQLResults, res.ServiceDecodeP50Ms, res.TagDecodeP50Ms)

	out, _ := json.MarshalIndent(res, "", "  ")
	fmt.Println(string(out))
	if res.TracesComplete != res.TraceIDs {
		os.Exit(1)
	}
}

func readIDs(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var ids []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if s := strings.TrimSpace(sc.Text()); s != "" {
			ids = append(ids, s)
		}
	}
	return ids, sc.Err()
}

func getTrace(c *http.Client, base, id string) (int, error) {
	resp, err := c.Get(base + "/api/traces/" + id)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		io.Copy(io.Discard, resp.Body)
		return 0, nil
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("trace %s: status %d", id, resp.StatusCode)
	}
	var tr traceResponse
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil {
		return 0, err
	}
	if len(tr.Data) != 1 {
		return 0, nil
	}
	return len(tr.Data[0].Spans), nil
}

func timeSearch(c *http.Client, u string, n int) (float64, int, float64) {
	return timeGet(c, u, n, func(r io.Reader) (int, error) {
		var tr traceResponse
		err := json.NewDecoder(r).Decode(&tr)
		return len(tr.Data), err
	})
}

// timeTempoSearch times n searches of the Tempo API, which answers with
// trace summaries (what Grafana's Tempo data source lists).
func timeTempoSearch(c *http.Client, u string, n int) (float64, int, float64) {
	return timeGet(c, u, n, func(r io.Reader) (int, error) {
		var sr struct {
			Traces []json.RawMessage `json:"traces"`
		}
		err := json.NewDecoder(r).Decode(&sr)
		return len(sr.Traces), err
	})
}

// timeGet times n GETs of u, each from the request to the last byte of
// the response read, and returns the median in milliseconds, the last
// result count and the median time the client then took to decode a
// response with results (outside the timed region: the server's latency
// is what is compared, not this client's JSON decoder).
func timeGet(c *http.Client, u string, n int, results func(io.Reader) (int, error)) (float64, int, float64) {
	var lat, dec []time.Duration
	var buf bytes.Buffer // reused: growing it is not the server's time
	count := 0
	for i := 0; i < n; i++ {
		buf.Reset()
		t0 := time.Now()
		resp, err := c.Get(u)
		if err != nil {
			fail(err)
		}
		_, err = buf.ReadFrom(io.LimitReader(resp.Body, maxResponseBytes))
		resp.Body.Close()
		lat = append(lat, time.Since(t0))
		if err != nil || resp.StatusCode != http.StatusOK {
			fail(fmt.Errorf("search %s: status %d: %v", u, resp.StatusCode, err))
		}
		t1 := time.Now()
		count, err = results(bytes.NewReader(buf.Bytes()))
		dec = append(dec, time.Since(t1))
		if err != nil {
			fail(fmt.Errorf("search %s: %v", u, err))
		}
	}
	return pct(lat, 50), count, pct(dec, 50)
}

// maxResponseBytes bounds a search response read.
const maxResponseBytes = 256 << 20

// serverCPUPerSearch runs n searches u one at a time and returns the
// CPU time process pid spent per search, in milliseconds (0 when it
// cannot be read).
func serverCPUPerSearch(c *http.Client, u string, n, pid int) float64 {
	c0 := cpuMs(pid)
	for i := 0; i < n; i++ {
		resp, err := c.Get(u)
		if err != nil {
			fail(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	c1 := cpuMs(pid)
	if c0 < 0 || c1 < 0 {
		return 0
	}
	return (c1 - c0) / float64(n)
}

// cpuMs returns the user and system CPU time of process pid in
// milliseconds, or -1 when it cannot be read.
func cpuMs(pid int) float64 {
	if pid <= 0 {
		return -1
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	// The fields after the command name, which is in parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return -1
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return -1
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return -1
	}
	return float64(utime+stime) * 1000 / clockTicks
}

// clockTicks is the kernel's USER_HZ (getconf CLK_TCK), 100 on Linux.
const clockTicks = 100

func pct(d []time.Duration, p int) float64 {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	if i > 0 {
		i--
	}
	return float64(s[i].Microseconds()) / 1000
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "benchstore:", err)
	os.Exit(2)
}
