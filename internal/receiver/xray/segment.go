package xray

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/clew-dev/clew/internal/model"
)

// ErrMalformed is wrapped by the errors of ParseDatagram and
// ParseSegment for input that is not a valid segment document.
var ErrMalformed = errors.New("malformed segment")

// segment is an X-Ray segment or subsegment document, as the X-Ray API
// describes it. Pointers tell absent fields from zero ones; unknown fields
// are ignored.
type segment struct {
	Name      *string     `json:"name"`
	ID        *string     `json:"id"`
	TraceID   *string     `json:"trace_id"`
	StartTime json.Number `json:"start_time"`
	EndTime   json.Number `json:"end_time"`

	InProgress *bool   `json:"in_progress"`
	ParentID   *string `json:"parent_id"`
	Type       *string `json:"type"`
	Namespace  *string `json:"namespace"`

	User        *string      `json:"user"`
	Origin      *string      `json:"origin"`
	ResourceARN *string      `json:"resource_arn"`
	Service     *serviceData `json:"service"`

	HTTP     *httpData `json:"http"`
	Fault    *bool     `json:"fault"`
	Error    *bool     `json:"error"`
	Throttle *bool     `json:"throttle"`
	Cause    *cause    `json:"cause"`
	AWS      *awsData  `json:"aws"`
	SQL      *sqlData  `json:"sql"`
	Traced   *bool     `json:"traced"`

	Annotations map[string]json.RawMessage `json:"annotations"`
	Metadata    map[string]json.RawMessage `json:"metadata"`
	Subsegments []segment                  `json:"subsegments"`
}

type serviceData struct {
	Version *string `json:"version"`
}

type httpData struct {
	Request  *httpRequest  `json:"request"`
	Response *httpResponse `json:"response"`
}

type httpRequest struct {
	Method        *string `json:"method"`
	URL           *string `json:"url"`
	UserAgent     *string `json:"user_agent"`
	ClientIP      *string `json:"client_ip"`
	XForwardedFor *bool   `json:"x_forwarded_for"`
}

type httpResponse struct {
	Status        json.Number     `json:"status"`
	ContentLength json.RawMessage `json:"content_length"`
}

type sqlData struct {
	URL            *string `json:"url"`
	SanitizedQuery *string `json:"sanitized_query"`
	DatabaseType   *string `json:"database_type"`
	User           *string `json:"user"`
}

type awsData struct {
	AccountID    *string     `json:"account_id"`
	Operation    *string     `json:"operation"`
	RemoteRegion *string     `json:"region"`
	RequestID    *string     `json:"request_id"`
	QueueURL     *string     `json:"queue_url"`
	TableName    *string     `json:"table_name"`
	Retries      json.Number `json:"retries"`

	XRay      *xrayMeta      `json:"xray"`
	EC2       *ec2Meta       `json:"ec2"`
	ECS       *ecsMeta       `json:"ecs"`
	Beanstalk *beanstalkMeta `json:"elastic_beanstalk"`
	EKS       *eksMeta       `json:"eks"`
	CWLogs    []logGroupMeta `json:"cloudwatch_logs"`
}

type xrayMeta struct {
	SDK        *string `json:"sdk"`
	SDKVersion *string `json:"sdk_version"`
}

type ec2Meta struct {
	InstanceID       *string `json:"instance_id"`
	AvailabilityZone *string `json:"availability_zone"`
	InstanceSize     *string `json:"instance_size"`
	AmiID            *string `json:"ami_id"`
}

type ecsMeta struct {
	ContainerName    *string `json:"container"`
	ContainerID      *string `json:"container_id"`
	AvailabilityZone *string `json:"availability_zone"`
}

type beanstalkMeta struct {
	Environment  *string     `json:"environment_name"`
	VersionLabel *string     `json:"version_label"`
	DeploymentID json.Number `json:"deployment_id"`
}

type eksMeta struct {
	ClusterName *string `json:"cluster_name"`
	Pod         *string `json:"pod"`
	ContainerID *string `json:"container_id"`
}

type logGroupMeta struct {
	LogGroup *string `json:"log_group"`
	Arn      *string `json:"arn"`
}

// cause is either a 16-digit exception id (a string) or an object with
// the exceptions.
type cause struct {
	ExceptionID string
	Exceptions  []exception
}

type exception struct {
	ID        *string     `json:"id"`
	Message   *string     `json:"message"`
	Type      *string     `json:"type"`
	Remote    *bool       `json:"remote"`
	Truncated json.Number `json:"truncated"`
	Skipped   json.Number `json:"skipped"`
	Cause     *string     `json:"cause"`
	Stack     []frame     `json:"stack"`
}

type frame struct {
	Path  *string     `json:"path"`
	Line  json.Number `json:"line"`
	Label *string     `json:"label"`
}

// UnmarshalJSON accepts both shapes of cause.
func (c *cause) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &c.ExceptionID)
	}
	var obj struct {
		Exceptions []exception `json:"exceptions"`
	}
	if err := json.Unmarshal(b, &obj); err != nil {
		return err
	}
	c.Exceptions = obj.Exceptions
	return nil
}

// splitDatagram separates the header line from the segment document. The
// header must be a JSON object with format "json" and version 1; spaces
// inside it are allowed, as SDKs differ.
func splitDatagram(d []byte) ([]byte, error) {
	nl := bytes.IndexByte(d, '\n')
	if nl < 0 {
		return nil, fmt.Errorf("%w: no header line", ErrMalformed)
	}
	var h struct {
		Format  string      `json:"format"`
		Version json.Number `json:"version"`
	}
	if err := json.Unmarshal(d[:nl], &h); err != nil {
		return nil, fmt.Errorf("%w: header: %w", ErrMalformed, err)
	}
	if h.Format != "json" || h.Version != "1" {
		return nil, fmt.Errorf("%w: header %q: want format json, version 1", ErrMalformed, truncate(string(d[:nl])))
	}
	return d[nl+1:], nil
}

// parseSegment decodes and validates one segment document.
func parseSegment(doc []byte) (*segment, error) {
	var s segment
	if err := json.Unmarshal(doc, &s); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if s.TraceID == nil {
		return nil, fmt.Errorf("%w: no trace_id", ErrMalformed)
	}
	if err := s.validate(0); err != nil {
		return nil, err
	}
	return &s, nil
}

// maxDepth bounds subsegment nesting.
const maxDepth = 64

func (s *segment) validate(depth int) error {
	switch {
	case depth > maxDepth:
		return fmt.Errorf("%w: subsegments nested deeper than %d", ErrMalformed, maxDepth)
	case s.Name == nil:
		return fmt.Errorf("%w: no name", ErrMalformed)
	case s.ID == nil:
		return fmt.Errorf("%w: no id", ErrMalformed)
	case s.StartTime == "":
		return fmt.Errorf("%w: no start_time", ErrMalformed)
	}
	if _, err := model.ParseSpanID(*s.ID); err != nil || len(*s.ID) != 16 {
		return fmt.Errorf("%w: id %q: want 16 hex digits", ErrMalformed, truncate(*s.ID))
	}
	if s.TraceID != nil {
		if _, err := parseTraceID(*s.TraceID); err != nil {
			return err
		}
	}
	if s.ParentID != nil {
		if _, err := model.ParseSpanID(*s.ParentID); err != nil || len(*s.ParentID) != 16 {
			return fmt.Errorf("%w: parent_id %q: want 16 hex digits", ErrMalformed, truncate(*s.ParentID))
		}
	}
	if _, err := parseSeconds(s.StartTime); err != nil {
		return fmt.Errorf("%w: start_time: %w", ErrMalformed, err)
	}
	if s.EndTime != "" {
		if _, err := parseSeconds(s.EndTime); err != nil {
			return fmt.Errorf("%w: end_time: %w", ErrMalformed, err)
		}
	}
	for i := range s.Subsegments {
		if err := s.Subsegments[i].validate(depth + 1); err != nil {
			return err
		}
	}
	return nil
}

// parseTraceID converts "1-5759e988-bd862e3fe1be46a994272793" (version 1,
// 8 hex digits of epoch seconds, 24 hex digits of random) to the 128-bit id
// 5759e988bd862e3fe1be46a994272793, as the Collector and the X-Ray
// propagators do.
func parseTraceID(s string) (model.TraceID, error) {
	if len(s) != 35 || s[0] != '1' || s[1] != '-' || s[10] != '-' {
		return model.TraceID{}, fmt.Errorf("%w: trace_id %q: want 1-XXXXXXXX-YYYYYYYYYYYYYYYYYYYYYYYY", ErrMalformed, truncate(s))
	}
	id, err := model.ParseTraceID(s[2:10] + s[11:])
	if err != nil {
		return model.TraceID{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return id, nil
}

// parseSeconds converts epoch seconds written as a JSON number
// ("1480615200.010", "1.4806152e9") to nanoseconds, exactly: the decimal
// digits are read as written, not through a float64, so that microseconds
// survive whatever the magnitude.
func parseSeconds(n json.Number) (uint64, error) {
	s := string(n)
	if strings.ContainsAny(s, "eE-+") {
		// Exponent or sign forms are rare; a float64 is exact enough there.
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f < 0 || f > 1e10 {
			return 0, fmt.Errorf("bad time %q", truncate(s))
		}
		return uint64(f*1e9 + 0.5), nil
	}
	intPart, frac, _ := strings.Cut(s, ".")
	if intPart == "" || len(intPart) > 10 {
		return 0, fmt.Errorf("bad time %q", truncate(s))
	}
	sec, err := strconv.ParseUint(intPart, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("bad time %q", truncate(s))
	}
	var ns uint64
	for i := 0; i < 9; i++ {
		ns *= 10
		if i < len(frac) {
			c := frac[i]
			if c < '0' || c > '9' {
				return 0, fmt.Errorf("bad time %q", truncate(s))
			}
			ns += uint64(c - '0')
		}
	}
	for i := 9; i < len(frac); i++ {
		if frac[i] < '0' || frac[i] > '9' {
			return 0, fmt.Errorf("bad time %q", truncate(s))
		}
	}
	// Digits past nanoseconds round half up.
	if len(frac) > 9 && frac[9] >= '5' {
		ns++
	}
	return sec*1e9 + ns, nil
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
