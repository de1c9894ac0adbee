package xray

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Rule is a sampling rule as X-Ray SDKs apply it: a request matching every
// pattern (service name and type, host, HTTP method, URL path; "*" and "?"
// wildcards) is sampled up to ReservoirSize times a second, then at
// FixedRate. Rules are tried by Priority, lowest first, then by name.
type Rule struct {
	Name          string
	Priority      int
	ReservoirSize int
	FixedRate     float64
	ServiceName   string
	ServiceType   string
	Host          string
	HTTPMethod    string
	URLPath       string
}

// DefaultRuleName names the rule that matches every request, tried last.
const DefaultRuleName = "Default"

// DefaultRule is X-Ray's default rule: one request a second, then 5%.
var DefaultRule = Rule{Name: DefaultRuleName, Priority: 10000, ReservoirSize: 1, FixedRate: 0.05}

// targetInterval is how often, in seconds, SDKs report statistics and ask
// for new targets; a client silent for three intervals no longer shares a
// rule's reservoir.
const targetInterval = 10

// Sampler serves the sampling rules and reservoir targets X-Ray SDKs poll
// through the daemon (POST /GetSamplingRules and POST /SamplingTargets). It
// splits each rule's reservoir among the SDK clients reporting for it, as
// the X-Ray service does. It is safe for concurrent use.
type Sampler struct {
	rules    []Rule
	modified time.Time
	now      func() time.Time
	log      *slog.Logger

	mu      sync.Mutex
	clients map[string]map[string]time.Time // rule → client id → last report

	requests, sampled, borrowed *prometheus.CounterVec
}

// NewSampler returns a sampler serving rules plus the default rule (a rule
// named Default replaces the built-in one; its priority and patterns are
// fixed). Empty patterns match everything. reg may be nil.
func NewSampler(rules []Rule, reg prometheus.Registerer, log *slog.Logger) *Sampler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	def := DefaultRule
	var out []Rule
	for _, r := range rules {
		if r.Name == DefaultRuleName {
			def.ReservoirSize, def.FixedRate = r.ReservoirSize, r.FixedRate
			continue
		}
		for _, p := range []*string{&r.ServiceName, &r.ServiceType, &r.Host, &r.HTTPMethod, &r.URLPath} {
			if *p == "" {
				*p = "*"
			}
		}
		out = append(out, r)
	}
	def.ServiceName, def.ServiceType, def.Host, def.HTTPMethod, def.URLPath = "*", "*", "*", "*", "*"
	out = append(out, def)
	slices.SortStableFunc(out, func(a, b Rule) int {
		if a.Priority != b.Priority {
			return a.Priority - b.Priority
		}
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	s := &Sampler{
		rules:    out,
		modified: time.Now().Truncate(time.Second),
		now:      time.Now,
		log:      log,
		clients:  map[string]map[string]time.Time{},
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clew_xray_sampling_requests_total",
			Help: "Requests X-Ray SDKs reported as matching a sampling rule.",
		}, []string{"rule"}),
		sampled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clew_xray_sampling_sampled_total",
			Help: "Requests X-Ray SDKs reported as sampled by a rule.",
		}, []string{"rule"}),
		borrowed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clew_xray_sampling_borrowed_total",
			Help: "Requests X-Ray SDKs sampled by borrowing from a rule's reservoir before getting a quota.",
		}, []string{"rule"}),
	}
	if reg != nil {
		reg.MustRegister(s.requests, s.sampled, s.borrowed)
	}
	return s
}

// Rules returns the rules served, in the order SDKs try them.
func (s *Sampler) Rules() []Rule { return slices.Clone(s.rules) }

// Register adds the two sampling routes to mux.
func (s *Sampler) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /GetSamplingRules", s.getSamplingRules)
	mux.HandleFunc("POST /SamplingTargets", s.samplingTargets)
}

type samplingRule struct {
	RuleName      string            `json:"RuleName"`
	RuleARN       string            `json:"RuleARN"`
	ResourceARN   string            `json:"ResourceARN"`
	Priority      int               `json:"Priority"`
	FixedRate     float64           `json:"FixedRate"`
	ReservoirSize int               `json:"ReservoirSize"`
	ServiceName   string            `json:"ServiceName"`
	ServiceType   string            `json:"ServiceType"`
	Host          string            `json:"Host"`
	HTTPMethod    string            `json:"HTTPMethod"`
	URLPath       string            `json:"URLPath"`
	Version       int               `json:"Version"`
	Attributes    map[string]string `json:"Attributes"`
}

type samplingRuleRecord struct {
	SamplingRule samplingRule `json:"SamplingRule"`
	CreatedAt    float64      `json:"CreatedAt"`
	ModifiedAt   float64      `json:"ModifiedAt"`
}

const maxSamplingBody = 1 << 20

func (s *Sampler) getSamplingRules(w http.ResponseWriter, r *http.Request) {
	// The body is {} or {"NextToken": ...}: all rules fit in one page.
	var req struct {
		NextToken *string `json:"NextToken"`
	}
	if !decodeSampling(w, r, &req) {
		return
	}
	at := float64(s.modified.Unix())
	records := make([]samplingRuleRecord, 0, len(s.rules))
	for _, rule := range s.rules {
		records = append(records, samplingRuleRecord{
			SamplingRule: samplingRule{
				RuleName:      rule.Name,
				RuleARN:       "arn:aws:xray:local:000000000000:sampling-rule/" + rule.Name,
				ResourceARN:   "*",
				Priority:      rule.Priority,
				FixedRate:     rule.FixedRate,
				ReservoirSize: rule.ReservoirSize,
				ServiceName:   rule.ServiceName,
				ServiceType:   rule.ServiceType,
				Host:          rule.Host,
				HTTPMethod:    rule.HTTPMethod,
				URLPath:       rule.URLPath,
				Version:       1,
				Attributes:    map[string]string{},
			},
			CreatedAt:  at,
			ModifiedAt: at,
		})
	}
	writeSampling(w, http.StatusOK, map[string]any{"SamplingRuleRecords": records})
}

type statisticsDocument struct {
	RuleName     string  `json:"RuleName"`
	ClientID     string  `json:"ClientID"`
	Timestamp    float64 `json:"Timestamp"`
	RequestCount int64   `json:"RequestCount"`
	SampledCount int64   `json:"SampledCount"`
	BorrowCount  int64   `json:"BorrowCount"`
}

type targetDocument struct {
	RuleName          string  `json:"RuleName"`
	FixedRate         float64 `json:"FixedRate"`
	ReservoirQuota    int     `json:"ReservoirQuota"`
	ReservoirQuotaTTL float64 `json:"ReservoirQuotaTTL"`
	Interval          int     `json:"Interval"`
}

type unprocessedStatistics struct {
	RuleName  string `json:"RuleName"`
	ErrorCode string `json:"ErrorCode"`
	Message   string `json:"Message"`
}

func (s *Sampler) samplingTargets(w http.ResponseWriter, r *http.Request) {
	var req struct {
		SamplingStatisticsDocuments []statisticsDocument `json:"SamplingStatisticsDocuments"`
	}
	if !decodeSampling(w, r, &req) {
		return
	}
	if len(req.SamplingStatisticsDocuments) > 1000 {
		samplingError(w, http.StatusBadRequest, "InvalidRequestException", "more than 1000 statistics documents")
		return
	}
	now := s.now()
	targets := make([]targetDocument, 0, len(req.SamplingStatisticsDocuments))
	unprocessed := []unprocessedStatistics{}
	for _, d := range req.SamplingStatisticsDocuments {
		rule, ok := s.rule(d.RuleName)
		if !ok || d.ClientID == "" {
			// A 4xx code tells the SDK to fetch the rules again.
			unprocessed = append(unprocessed, unprocessedStatistics{RuleName: d.RuleName, ErrorCode: "400", Message: "unknown sampling rule or no client id"})
			continue
		}
		s.requests.WithLabelValues(rule.Name).Add(float64(max(d.RequestCount, 0)))
		s.sampled.WithLabelValues(rule.Name).Add(float64(max(d.SampledCount, 0)))
		s.borrowed.WithLabelValues(rule.Name).Add(float64(max(d.BorrowCount, 0)))
		targets = append(targets, targetDocument{
			RuleName:          rule.Name,
			FixedRate:         rule.FixedRate,
			ReservoirQuota:    s.quota(rule, d.ClientID, now),
			ReservoirQuotaTTL: float64(now.Add(targetInterval * 3 * time.Second).Unix()),
			Interval:          targetInterval,
		})
	}
	writeSampling(w, http.StatusOK, map[string]any{
		"SamplingTargetDocuments": targets,
		"LastRuleModification":    float64(s.modified.Unix()),
		"UnprocessedStatistics":   unprocessed,
	})
}

func (s *Sampler) rule(name string) (Rule, bool) {
	for _, r := range s.rules {
		if r.Name == name {
			return r, true
		}
	}
	return Rule{}, false
}

// maxClientsPerRule bounds the clients remembered for one rule.
const maxClientsPerRule = 10000

// quota records that client reported for rule at now and returns its share
// of the rule's reservoir: the reservoir split evenly among the clients
// that reported in the last three intervals, the remainder going one each
// to the first clients by id.
func (s *Sampler) quota(rule Rule, client string, now time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := s.clients[rule.Name]
	if seen == nil {
		seen = map[string]time.Time{}
		s.clients[rule.Name] = seen
	}
	cutoff := now.Add(-3 * targetInterval * time.Second)
	for id, t := range seen {
		if t.Before(cutoff) {
			delete(seen, id)
		}
	}
	if _, ok := seen[client]; ok || len(seen) < maxClientsPerRule {
		seen[client] = now
	}
	ids := make([]string, 0, len(seen))
	for id := range seen {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	n := len(ids)
	q := rule.ReservoirSize / n
	if i, _ := slices.BinarySearch(ids, client); i < rule.ReservoirSize%n {
		q++
	}
	return q
}

func decodeSampling(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxSamplingBody))
	if err := dec.Decode(v); err != nil && err.Error() != "EOF" {
		samplingError(w, http.StatusBadRequest, "InvalidRequestException", "malformed request: "+truncate(err.Error()))
		return false
	}
	return true
}

func writeSampling(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// samplingError answers in the AWS JSON error shape the SDKs parse.
func samplingError(w http.ResponseWriter, code int, typ, msg string) {
	w.Header().Set("X-Amzn-ErrorType", typ)
	writeSampling(w, code, map[string]string{"__type": typ, "message": msg})
}

// String describes the rule for logs.
func (r Rule) String() string {
	return fmt.Sprintf("%s(priority %d, %d/s + %s%%)", r.Name, r.Priority, r.ReservoirSize, strconv.FormatFloat(r.FixedRate*100, 'g', -1, 64))
}
