package native

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/clew-dev/clew/internal/store"
)

// Bounds of search parameters.
const (
	maxParamBytes = 1024 // service, operation, one tag
	maxTags       = 32
	maxParams     = 64 // query parameters in all
)

// parseSearch turns the query string of /api/clew/search into a store query.
// Durations are Go durations ("250ms", "1.5s"); start and end are Unix
// microseconds or RFC 3339 times; tag is repeated, each "key=value".
func parseSearch(v url.Values, now time.Time, defaultLookback time.Duration, maxLimit int) (store.TraceQuery, error) {
	var q store.TraceQuery
	n := 0
	for k, vals := range v {
		n += len(vals)
		switch k {
		case "service", "operation", "tag", "minDuration", "maxDuration", "start", "end", "lookback", "limit":
		default:
			return q, fmt.Errorf("unknown parameter %q", truncate(k))
		}
		if k != "tag" && len(vals) > 1 {
			return q, fmt.Errorf("parameter %s given %d times", k, len(vals))
		}
	}
	if n > maxParams {
		return q, fmt.Errorf("too many parameters: %d, at most %d", n, maxParams)
	}
	var err error
	if q.Service, err = boundedParam(v, "service"); err != nil {
		return q, err
	}
	if q.Operation, err = boundedParam(v, "operation"); err != nil {
		return q, err
	}
	if q.Operation != "" && q.Service == "" {
		return q, errors.New("operation needs a service")
	}
	tags := v["tag"]
	if len(tags) > maxTags {
		return q, fmt.Errorf("too many tags: %d, at most %d", len(tags), maxTags)
	}
	for _, t := range tags {
		if len(t) > maxParamBytes {
			return q, fmt.Errorf("tag longer than %d bytes", maxParamBytes)
		}
		key, value, ok := strings.Cut(t, "=")
		key = strings.TrimSpace(key)
		if !ok || key == "" {
			return q, fmt.Errorf("tag %q: want key=value", truncate(t))
		}
		if q.Tags == nil {
			q.Tags = map[string]string{}
		}
		if old, dup := q.Tags[key]; dup && old != value {
			return q, fmt.Errorf("tag %q given twice with different values", truncate(key))
		}
		q.Tags[key] = value
	}
	if q.DurationMin, err = durationParam(v, "minDuration"); err != nil {
		return q, err
	}
	if q.DurationMax, err = durationParam(v, "maxDuration"); err != nil {
		return q, err
	}
	if q.DurationMax > 0 && q.DurationMin > q.DurationMax {
		return q, fmt.Errorf("minDuration %s is greater than maxDuration %s", q.DurationMin, q.DurationMax)
	}
	end := now
	if s := v.Get("end"); s != "" {
		if end, err = timeParam("end", s); err != nil {
			return q, err
		}
	}
	lookback := defaultLookback
	if s := v.Get("lookback"); s != "" {
		if lookback, err = durationParam(v, "lookback"); err != nil {
			return q, err
		}
		if lookback <= 0 {
			return q, errors.New("lookback must be positive")
		}
	}
	start := end.Add(-lookback)
	if s := v.Get("start"); s != "" {
		if v.Get("lookback") != "" {
			return q, errors.New("give start or lookback, not both")
		}
		if start, err = timeParam("start", s); err != nil {
			return q, err
		}
	}
	if start.After(end) {
		return q, errors.New("start is after end")
	}
	q.StartMin, q.StartMax = start, end
	q.Limit = store.DefaultLimit
	if s := v.Get("limit"); s != "" {
		l, err := strconv.Atoi(s)
		if err != nil || l <= 0 {
			return q, fmt.Errorf("limit %q: want a positive integer", truncate(s))
		}
		q.Limit = min(l, maxLimit)
	}
	return q, nil
}

func boundedParam(v url.Values, name string) (string, error) {
	s := v.Get(name)
	if len(s) > maxParamBytes {
		return "", fmt.Errorf("%s longer than %d bytes", name, maxParamBytes)
	}
	return s, nil
}

func durationParam(v url.Values, name string) (time.Duration, error) {
	s := v.Get(name)
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%s %q: want a duration such as 250ms or 1.5s", name, truncate(s))
	}
	if d < 0 {
		return 0, fmt.Errorf("%s must not be negative", name)
	}
	return d, nil
}

// maxMicros keeps times within what time.Time and int64 nanoseconds hold.
const maxMicros = int64(1) << 53

func timeParam(name, s string) (time.Time, error) {
	if us, err := strconv.ParseInt(s, 10, 64); err == nil {
		if us < 0 || us > maxMicros {
			return time.Time{}, fmt.Errorf("%s %d: out of range", name, us)
		}
		return time.UnixMicro(us), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q: want Unix microseconds or an RFC 3339 time", name, truncate(s))
	}
	return t, nil
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
