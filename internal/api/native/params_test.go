package native

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/clew-dev/clew/internal/store"
)

var testNow = time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)

func TestParseSearch(t *testing.T) {
	f := func(query string, want store.TraceQuery) {
		t.Helper()
		v, err := url.ParseQuery(query)
		if err != nil {
			t.Fatal(err)
		}
		got, err := parseSearch(v, testNow, time.Hour, 1500)
		if err != nil {
			t.Fatalf("parseSearch(%q): %v", query, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("parseSearch(%q) (-want +got):\n%s", query, diff)
		}
	}
	hourAgo := testNow.Add(-time.Hour)
	f("", store.TraceQuery{StartMin: hourAgo, StartMax: testNow, Limit: 20})
	f("service=api&operation=GET+%2F&limit=5", store.TraceQuery{
		Service: "api", Operation: "GET /", StartMin: hourAgo, StartMax: testNow, Limit: 5,
	})
	f("tag=http.status_code%3D500&tag=error%3Dtrue&tag=q%3Da%3Db", store.TraceQuery{
		Tags:     map[string]string{"http.status_code": "500", "error": "true", "q": "a=b"},
		StartMin: hourAgo, StartMax: testNow, Limit: 20,
	})
	f("minDuration=250ms&maxDuration=1.5s&lookback=15m", store.TraceQuery{
		DurationMin: 250 * time.Millisecond, DurationMax: 1500 * time.Millisecond,
		StartMin: testNow.Add(-15 * time.Minute), StartMax: testNow, Limit: 20,
	})
	f("start=1000000&end=2000000", store.TraceQuery{
		StartMin: time.UnixMicro(1000000), StartMax: time.UnixMicro(2000000), Limit: 20,
	})
	f("start=2026-11-21T05:00:00Z&end=2026-11-21T05:30:00Z", store.TraceQuery{
		StartMin: hourAgo, StartMax: testNow.Add(-30 * time.Minute), Limit: 20,
	})
	f("limit=100000", store.TraceQuery{StartMin: hourAgo, StartMax: testNow, Limit: 1500})
}

func TestParseSearchErrors(t *testing.T) {
	f := func(query, wantErr string) {
		t.Helper()
		v, err := url.ParseQuery(query)
		if err != nil {
			t.Fatal(err)
		}
		_, err = parseSearch(v, testNow, time.Hour, 1500)
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("parseSearch(%q) = %v, want an error containing %q", query, err, wantErr)
		}
	}
	f("bogus=1", `unknown parameter "bogus"`)
	f("service=a&service=b", "service given 2 times")
	f("operation=x", "operation needs a service")
	f("tag=novalue", "want key=value")
	f("tag=%3Dv", "want key=value")
	f("tag=a%3D1&tag=a%3D2", "twice")
	f("minDuration=fast", "want a duration")
	f("minDuration=-1s", "must not be negative")
	f("minDuration=2s&maxDuration=1s", "greater than maxDuration")
	f("lookback=0s", "lookback must be positive")
	f("start=1&lookback=1h", "not both")
	f("start=yesterday", "want Unix microseconds")
	f("end=-5", "out of range")
	f("start=2000000&end=1000000", "start is after end")
	f("limit=0", "positive integer")
	f("limit=ten", "positive integer")
	f("service="+strings.Repeat("x", 2000), "longer than")
	f(strings.Repeat("tag=k%3Dv&", 40), "too many tags")
}

func FuzzParseSearch(f *testing.F) {
	for _, s := range []string{
		"", "service=a&operation=b&tag=k%3Dv&minDuration=1ms&maxDuration=2s&lookback=1h&limit=10",
		"start=1&end=2", "start=2026-11-21T05:00:00Z", "tag=%3D", "limit=-1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, query string) {
		v, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		q, err := parseSearch(v, testNow, time.Hour, 1500)
		if err != nil {
			return
		}
		if q.Limit < 1 || q.Limit > 1500 {
			t.Errorf("limit %d out of bounds", q.Limit)
		}
		if q.StartMin.After(q.StartMax) {
			t.Errorf("start %v after end %v", q.StartMin, q.StartMax)
		}
		if len(q.Tags) > maxTags {
			t.Errorf("%d tags", len(q.Tags))
		}
	})
}
