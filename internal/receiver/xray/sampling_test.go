package xray

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func samplingServer(t *testing.T, rules []Rule) (*Sampler, *httptest.Server) {
	t.Helper()
	s := NewSampler(rules, nil, nil)
	mux := http.NewServeMux()
	s.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return s, srv
}

func post(t *testing.T, url, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("reply %q: %v", b, err)
	}
	return resp.StatusCode, m
}

func TestGetSamplingRules(t *testing.T) {
	_, srv := samplingServer(t, []Rule{
		{Name: "zeta", Priority: 5, ReservoirSize: 2, FixedRate: 0.5, ServiceName: "checkout", HTTPMethod: "POST"},
		{Name: "alpha", Priority: 5, FixedRate: 1, URLPath: "/health*"},
		{Name: "Default", Priority: 1, ReservoirSize: 3, FixedRate: 0.2, ServiceName: "ignored"},
	})
	code, m := post(t, srv.URL+"/GetSamplingRules", `{"NextToken":null}`)
	if code != 200 {
		t.Fatalf("code %d: %v", code, m)
	}
	var got []string
	for _, rec := range m["SamplingRuleRecords"].([]any) {
		r := rec.(map[string]any)["SamplingRule"].(map[string]any)
		got = append(got, strings.Join([]string{r["RuleName"].(string), r["ServiceName"].(string), r["HTTPMethod"].(string), r["URLPath"].(string), r["ResourceARN"].(string)}, " "))
		if r["Version"].(float64) != 1 || len(r["Attributes"].(map[string]any)) != 0 {
			t.Errorf("rule %v: SDKs skip rules without version 1 or with attributes", r)
		}
		if r["RuleName"] == "Default" && (r["Priority"].(float64) != 10000 || r["ReservoirSize"].(float64) != 3 || r["FixedRate"].(float64) != 0.2) {
			t.Errorf("Default rule %v: want priority 10000 with the configured reservoir and rate", r)
		}
	}
	want := []string{"alpha * * /health* *", "zeta checkout POST * *", "Default * * * *"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rules in SDK order (-want +got):\n%s", diff)
	}
	// An empty body is a request too.
	if code, _ := post(t, srv.URL+"/GetSamplingRules", ``); code != 200 {
		t.Errorf("empty body: %d", code)
	}
	if code, m := post(t, srv.URL+"/GetSamplingRules", `{"NextToken":`); code != 400 || m["__type"] != "InvalidRequestException" {
		t.Errorf("malformed body: %d %v", code, m)
	}
}

func TestSamplingTargetsSplitsReservoir(t *testing.T) {
	s, srv := samplingServer(t, []Rule{{Name: "r", Priority: 1, ReservoirSize: 5, FixedRate: 0.1}})
	now := time.Unix(1_800_000_000, 0)
	s.now = func() time.Time { return now }
	quota := func(client string) float64 {
		t.Helper()
		code, m := post(t, srv.URL+"/SamplingTargets", `{"SamplingStatisticsDocuments":[{"RuleName":"r","ClientID":"`+client+`","Timestamp":1800000000,"RequestCount":10,"SampledCount":4,"BorrowCount":1}]}`)
		if code != 200 {
			t.Fatalf("code %d %v", code, m)
		}
		docs := m["SamplingTargetDocuments"].([]any)
		if len(docs) != 1 {
			t.Fatalf("targets %v", m)
		}
		d := docs[0].(map[string]any)
		if d["FixedRate"].(float64) != 0.1 || d["Interval"].(float64) != 10 || d["ReservoirQuotaTTL"].(float64) <= float64(now.Unix()) {
			t.Errorf("target %v", d)
		}
		return d["ReservoirQuota"].(float64)
	}
	if q := quota("aaaaaaaaaaaaaaaaaaaaaaaa"); q != 5 {
		t.Errorf("single client quota %v, want the whole reservoir 5", q)
	}
	if q := quota("bbbbbbbbbbbbbbbbbbbbbbbb"); q != 2 {
		t.Errorf("second client quota %v, want 2 (5 split 3+2)", q)
	}
	if q := quota("aaaaaaaaaaaaaaaaaaaaaaaa"); q != 3 {
		t.Errorf("first client quota %v, want 3", q)
	}
	now = now.Add(31 * time.Second) // b went silent for three intervals
	if q := quota("aaaaaaaaaaaaaaaaaaaaaaaa"); q != 5 {
		t.Errorf("after b expired: %v, want 5", q)
	}

	code, m := post(t, srv.URL+"/SamplingTargets", `{"SamplingStatisticsDocuments":[{"RuleName":"gone","ClientID":"c"}]}`)
	un := m["UnprocessedStatistics"].([]any)
	if code != 200 || len(un) != 1 || un[0].(map[string]any)["ErrorCode"] != "400" {
		t.Errorf("unknown rule: %d %v", code, m)
	}
	if _, ok := m["LastRuleModification"].(float64); !ok {
		t.Errorf("no LastRuleModification: %v", m)
	}
	big := bytes.Repeat([]byte(" "), maxSamplingBody+1)
	resp, err := http.Post(srv.URL+"/SamplingTargets", "application/json", bytes.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("oversized body: %d", resp.StatusCode)
	}
}
