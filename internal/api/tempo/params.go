package tempo

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// MaxRange bounds the time range of one request.
const MaxRange = 366 * 24 * time.Hour

// parseTime reads RFC 3339 or a Unix timestamp. Numbers are read by
// magnitude: seconds (Tempo's unit, fractions allowed), else milliseconds,
// microseconds or nanoseconds.
func parseTime(s, name string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || math.IsNaN(f) || math.IsInf(f, 0) {
		return time.Time{}, badRequest("invalid %s %q: want Unix seconds or RFC 3339", name, s)
	}
	switch {
	case f < 1e11:
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(frac*1e9)), nil
	case f < 1e14:
		return time.UnixMilli(int64(f)), nil
	case f < 1e17:
		return time.UnixMicro(int64(f)), nil
	case f < math.MaxInt64:
		return time.Unix(0, int64(f)), nil
	}
	return time.Time{}, badRequest("invalid %s %q: out of range", name, s)
}

// timeRange parses start and end. Missing both: the last lookback before
// now, or no bounds when lookback is 0. A missing end is now.
func timeRange(start, end string, lookback time.Duration) (time.Time, time.Time, error) {
	var s, e time.Time
	var err error
	if end != "" {
		if e, err = parseTime(end, "end"); err != nil {
			return s, e, err
		}
	}
	if start != "" {
		if s, err = parseTime(start, "start"); err != nil {
			return s, e, err
		}
		if e.IsZero() {
			e = time.Now()
		}
	}
	if s.IsZero() && lookback > 0 {
		if e.IsZero() {
			e = time.Now()
		}
		s = e.Add(-lookback)
	}
	if !s.IsZero() && !e.IsZero() {
		if e.Before(s) {
			return s, e, badRequest("invalid range: end is before start")
		}
		if e.Sub(s) > MaxRange {
			return s, e, badRequest("invalid range: longer than %v", MaxRange)
		}
	}
	return s, e, nil
}

func durationParam(s, name string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, badRequest("invalid %s %q: want a duration such as 100ms", name, s)
	}
	return d, nil
}

func intParam(s, name string) (int, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 {
		return 0, badRequest("invalid %s %q: want a non-negative integer", name, s)
	}
	return n, nil
}

// stepParam reads a Go duration ("30s") or a number of seconds.
func stepParam(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return d, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f <= 0 || f > MaxRange.Seconds() {
		return 0, badRequest("invalid step %q: want a duration such as 30s", s)
	}
	return time.Duration(f * float64(time.Second)), nil
}
