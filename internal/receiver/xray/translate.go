package xray

import (
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/clew-dev/clew/internal/model"
)

// Attribute keys the translation writes, as the Collector's awsxray
// receiver names them.
const (
	AttrInProgress         = "aws.xray.inprogress"
	AttrXForwardedFor      = "aws.xray.x_forwarded_for"
	AttrResourceARN        = "aws.xray.resource_arn"
	AttrTraced             = "aws.xray.traced"
	AttrAnnotations        = "aws.xray.annotations"
	AttrMetadataPrefix     = "aws.xray.metadata."
	AttrRetries            = "aws.xray.retries"
	AttrExceptionID        = "aws.xray.exception.id"
	AttrExceptionRemote    = "aws.xray.exception.remote"
	AttrExceptionTrunc     = "aws.xray.exception.truncated"
	AttrExceptionSkipped   = "aws.xray.exception.skipped"
	AttrExceptionCause     = "aws.xray.exception.cause"
	AttrAWSService         = "aws.service"
	AttrFault              = "aws.xray.fault"
	AttrError              = "aws.xray.error"
	AttrThrottle           = "aws.xray.throttle"
	EventException         = "exception"
	ScopeName              = "aws-xray"
	namespaceAWS           = "aws"
	typeSubsegment         = "subsegment"
	defaultResourceCacheSz = 1 << 17
)

// document is one translated segment document.
type document struct {
	spans []*model.Span
	// inProgress is set for a top-level (sub)segment sent before it ended;
	// its completed version will come later with the same ids.
	inProgress bool
	key        docKey
}

// docKey identifies a top-level document, to match an in-progress segment
// with its completed version.
type docKey struct {
	trace model.TraceID
	span  model.SpanID
}

// translator converts segment documents to spans. It remembers the
// resource (service, host, cloud) of recent segments and subsegments by id,
// so that an independent subsegment sent on its own gets the resource of
// its parent. It is safe for concurrent use.
type translator struct {
	resources *resourceCache
	scope     *model.Scope
}

// newTranslator returns a translator remembering the resources of up to
// cacheSize span ids (131072 when cacheSize <= 0).
func newTranslator(cacheSize int) *translator {
	if cacheSize <= 0 {
		cacheSize = defaultResourceCacheSz
	}
	return &translator{resources: newResourceCache(cacheSize), scope: &model.Scope{Name: ScopeName}}
}

// translate converts one validated segment document. An independent
// subsegment gets the resource (and so the service) of its parent when the
// parent was seen; otherwise translate returns the parent's id and the
// spans name the unknown service until the holder resolves them.
func (t *translator) translate(s *segment) (document, *model.SpanID) {
	traceID, _ := parseTraceID(*s.TraceID)
	var res *model.Resource
	var orphanOf *model.SpanID
	if s.Type != nil && *s.Type == typeSubsegment {
		if s.ParentID != nil {
			pid, _ := model.ParseSpanID(*s.ParentID)
			if r, ok := t.resources.get(pid); ok {
				res = r
			} else {
				orphanOf = &pid
			}
		}
		if res == nil {
			res = newResource(s, model.UnknownService)
		}
	} else {
		res = newResource(s, *s.Name)
	}
	doc := document{spans: make([]*model.Span, 0, 1+len(s.Subsegments))}
	t.appendSpans(&doc, s, traceID, nil, res, orphanOf == nil)
	first := doc.spans[0]
	doc.key = docKey{trace: first.TraceID, span: first.SpanID}
	doc.inProgress = s.EndTime == "" && s.InProgress != nil && *s.InProgress
	return doc, orphanOf
}

func (t *translator) appendSpans(doc *document, s *segment, traceID model.TraceID, parent *model.SpanID, res *model.Resource, known bool) {
	sp := t.span(s, traceID, parent, res)
	if known {
		t.resources.put(sp.SpanID, res)
	}
	doc.spans = append(doc.spans, sp)
	for i := range s.Subsegments {
		t.appendSpans(doc, &s.Subsegments[i], sp.TraceID, &sp.SpanID, res, known)
	}
}

func (t *translator) span(s *segment, traceID model.TraceID, parent *model.SpanID, res *model.Resource) *model.Span {
	sp := &model.Span{Resource: res, Scope: t.scope, Name: *s.Name, TraceID: traceID}
	if s.TraceID != nil {
		sp.TraceID, _ = parseTraceID(*s.TraceID)
	}
	sp.SpanID, _ = model.ParseSpanID(*s.ID)
	switch {
	case parent != nil:
		sp.ParentSpanID = *parent
	case s.ParentID != nil:
		sp.ParentSpanID, _ = model.ParseSpanID(*s.ParentID)
	}
	sp.StartTimeUnixNano, _ = parseSeconds(s.StartTime)
	sp.EndTimeUnixNano = sp.StartTimeUnixNano
	if s.EndTime != "" {
		sp.EndTimeUnixNano, _ = parseSeconds(s.EndTime)
	}

	// Kind: a server when the request came from a client, a client for
	// calls to AWS or remote services, internal otherwise.
	switch {
	case s.HTTP != nil && s.HTTP.Request != nil && s.HTTP.Request.ClientIP != nil:
		sp.Kind = model.SpanKindServer
	case s.Namespace != nil:
		sp.Kind = model.SpanKindClient
	default:
		sp.Kind = model.SpanKindInternal
	}

	a := attrs(make(model.Attributes, 0, 16))
	if s.Namespace != nil && *s.Namespace == namespaceAWS {
		a.str(AttrAWSService, s.Name)
	}
	a.boolean(AttrInProgress, s.InProgress)
	a.str("enduser.id", s.User)
	t.addHTTP(sp, &a, s.HTTP)
	if aws := s.AWS; aws != nil {
		a.str("aws.account_id", aws.AccountID)
		a.str("aws.operation", aws.Operation)
		a.str("aws.region", aws.RemoteRegion)
		a.str("aws.request_id", aws.RequestID)
		a.str("aws.queue_url", aws.QueueURL)
		a.str("aws.table_name", aws.TableName)
		a.number(AttrRetries, aws.Retries)
	}
	if sql := s.SQL; sql != nil {
		if sql.URL != nil {
			if m := sqlURL.FindStringSubmatch(*sql.URL); m != nil {
				a.put("db.connection_string", model.StringValue(m[1]))
				a.put("db.name", model.StringValue(m[2]))
			} else {
				a.put("db.connection_string", model.StringValue(*sql.URL))
			}
		}
		a.str("db.system", sql.DatabaseType)
		a.str("db.statement", sql.SanitizedQuery)
		a.str("db.user", sql.User)
	}
	a.boolean(AttrTraced, s.Traced)
	addAnnotations(&a, s.Annotations)
	for _, ns := range sortedKeys(s.Metadata) {
		var buf bytes.Buffer
		if err := json.Compact(&buf, s.Metadata[ns]); err == nil {
			a.put(AttrMetadataPrefix+ns, model.StringValue(buf.String()))
		}
	}

	// Status: fault (5xx), error (4xx) and throttle (429) flags, an HTTP
	// status of 400 or more, or a cause all mean an error.
	for _, f := range []struct {
		key string
		v   *bool
	}{{AttrFault, s.Fault}, {AttrError, s.Error}, {AttrThrottle, s.Throttle}} {
		if f.v != nil && *f.v {
			a.put(f.key, model.BoolValue(true))
			sp.Status.Code = model.StatusError
		}
	}
	if c := s.Cause; c != nil {
		sp.Status.Code = model.StatusError
		if c.ExceptionID != "" {
			sp.Status.Message = c.ExceptionID
		}
		for i := range c.Exceptions {
			ev := exceptionEvent(&c.Exceptions[i], sp.EndTimeUnixNano)
			if i == 0 && c.Exceptions[i].Message != nil {
				sp.Status.Message = *c.Exceptions[i].Message
			}
			sp.Events = append(sp.Events, ev)
		}
	}
	sp.Attributes = model.Attributes(a)
	return sp
}

func (t *translator) addHTTP(sp *model.Span, a *attrs, h *httpData) {
	if h == nil {
		return
	}
	if req := h.Request; req != nil {
		a.str("http.method", req.Method)
		a.str("http.client_ip", req.ClientIP)
		a.str("http.user_agent", req.UserAgent)
		a.str("http.url", req.URL)
		a.boolean(AttrXForwardedFor, req.XForwardedFor)
	}
	if resp := h.Response; resp != nil {
		if code, err := strconv.ParseFloat(string(resp.Status), 64); err == nil && resp.Status != "" {
			a.put("http.status_code", model.IntValue(int64(code)))
			if code >= 400 || code < 100 {
				sp.Status.Code = model.StatusError
			}
		}
		if cl := bytes.TrimSpace(resp.ContentLength); len(cl) > 0 {
			var v any
			d := json.NewDecoder(bytes.NewReader(cl))
			d.UseNumber()
			if d.Decode(&v) == nil {
				switch x := v.(type) {
				case json.Number:
					if n, err := strconv.ParseFloat(string(x), 64); err == nil {
						a.put("http.response_content_length", model.IntValue(int64(n)))
					}
				case string:
					a.put("http.response_content_length", model.StringValue(x))
				}
			}
		}
	}
}

// sqlURL splits protocol+transport://host:port/dbName?params.
var sqlURL = regexp.MustCompile(`^(.+//.+)/([^\?]+)\??.*$`)

func addAnnotations(a *attrs, annos map[string]json.RawMessage) {
	if len(annos) == 0 {
		return
	}
	keys := sortedKeys(annos)
	names := make([]model.Value, 0, len(keys))
	for _, k := range keys {
		raw := bytes.TrimSpace(annos[k])
		if len(raw) == 0 {
			continue
		}
		var v model.Value
		switch raw[0] {
		case '"':
			var s string
			if json.Unmarshal(raw, &s) != nil {
				continue
			}
			v = model.StringValue(s)
		case 't', 'f':
			var b bool
			if json.Unmarshal(raw, &b) != nil {
				continue
			}
			v = model.BoolValue(b)
		default:
			n := string(raw)
			if i, err := strconv.ParseInt(n, 10, 64); err == nil {
				v = model.IntValue(i)
			} else if f, err := strconv.ParseFloat(n, 64); err == nil {
				v = model.DoubleValue(f)
			} else {
				continue // null, objects and arrays are not annotation values
			}
		}
		names = append(names, model.StringValue(k))
		a.put(k, v)
	}
	a.put(AttrAnnotations, model.SliceValue(names))
}

func exceptionEvent(e *exception, at uint64) model.Event {
	a := attrs(make(model.Attributes, 0, 8))
	a.str(AttrExceptionID, e.ID)
	a.str("exception.message", e.Message)
	a.str("exception.type", e.Type)
	a.boolean(AttrExceptionRemote, e.Remote)
	a.number(AttrExceptionTrunc, e.Truncated)
	a.number(AttrExceptionSkipped, e.Skipped)
	a.str(AttrExceptionCause, e.Cause)
	if len(e.Stack) > 0 {
		a.put("exception.stacktrace", model.StringValue(stackTrace(e)))
	}
	return model.Event{TimeUnixNano: at, Name: EventException, Attributes: model.Attributes(a)}
}

// stackTrace renders the frames as the Collector does:
// "Type: message\n\tat label(path: line)\n...".
func stackTrace(e *exception) string {
	var b strings.Builder
	b.WriteString(deref(e.Type))
	b.WriteString(": ")
	b.WriteString(deref(e.Message))
	b.WriteByte('\n')
	for _, f := range e.Stack {
		line := string(f.Line)
		if line == "" {
			line = "<unknown>"
		}
		b.WriteString("\tat ")
		b.WriteString(deref(f.Label))
		b.WriteByte('(')
		b.WriteString(deref(f.Path))
		b.WriteString(": ")
		b.WriteString(line)
		b.WriteString(")\n")
	}
	return b.String()
}

// newResource builds the resource of a document from its top-level
// (sub)segment, with the attributes the Collector derives and the service.
func newResource(s *segment, service string) *model.Resource {
	a := attrs(make(model.Attributes, 0, 12))
	a.put(model.AttrServiceName, model.StringValue(service))
	if aws := s.AWS; aws != nil {
		a.put("cloud.provider", model.StringValue("aws"))
		a.str("cloud.account.id", aws.AccountID)
		if len(aws.CWLogs) > 0 {
			var arns, groups []model.Value
			for _, lg := range aws.CWLogs {
				if lg.Arn != nil {
					arns = append(arns, model.StringValue(*lg.Arn))
				}
				if lg.LogGroup != nil {
					groups = append(groups, model.StringValue(*lg.LogGroup))
				}
			}
			if arns != nil {
				a.put("aws.log.group.arns", model.SliceValue(arns))
			}
			if groups != nil {
				a.put("aws.log.group.names", model.SliceValue(groups))
			}
		}
		if e := aws.EC2; e != nil {
			a.str("cloud.availability_zone", e.AvailabilityZone)
			a.str("host.id", e.InstanceID)
			a.str("host.type", e.InstanceSize)
			a.str("host.image.id", e.AmiID)
		}
		if e := aws.ECS; e != nil {
			a.str("container.name", e.ContainerName)
			a.str("cloud.availability_zone", e.AvailabilityZone)
			a.str("container.id", e.ContainerID)
		}
		if b := aws.Beanstalk; b != nil {
			a.str("service.namespace", b.Environment)
			if b.DeploymentID != "" {
				a.put("service.instance.id", model.StringValue(string(b.DeploymentID)))
			}
			a.str("service.version", b.VersionLabel)
		}
		if e := aws.EKS; e != nil {
			a.str("container.id", e.ContainerID)
			a.str("k8s.cluster.name", e.ClusterName)
			a.str("k8s.pod.name", e.Pod)
		}
		if x := aws.XRay; x != nil {
			a.str("telemetry.sdk.version", x.SDKVersion)
			if x.SDK != nil {
				a.put("telemetry.sdk.name", model.StringValue(*x.SDK))
				// "X-Ray for Go" → "go"
				if _, lang, ok := strings.Cut(*x.SDK, "for "); ok {
					a.put("telemetry.sdk.language", model.StringValue(strings.ToLower(strings.TrimSpace(lang))))
				}
			}
		}
	}
	if s.Service != nil {
		a.str("service.version", s.Service.Version)
	}
	a.str(AttrResourceARN, s.ResourceARN)
	return &model.Resource{Attributes: model.Attributes(a)}
}

// attrs appends attributes, replacing an earlier value of the same key.
type attrs model.Attributes

func (a *attrs) put(k string, v model.Value) {
	for i := range *a {
		if (*a)[i].Key == k {
			(*a)[i].Value = v
			return
		}
	}
	*a = append(*a, model.KeyValue{Key: k, Value: v})
}

func (a *attrs) str(k string, v *string) {
	if v != nil {
		a.put(k, model.StringValue(*v))
	}
}

func (a *attrs) boolean(k string, v *bool) {
	if v != nil {
		a.put(k, model.BoolValue(*v))
	}
}

func (a *attrs) number(k string, n json.Number) {
	if n == "" {
		return
	}
	if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
		a.put(k, model.IntValue(i))
	} else if f, err := strconv.ParseFloat(string(n), 64); err == nil {
		a.put(k, model.IntValue(int64(f)))
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// resourceCache remembers the resource of recent span ids, evicting the
// oldest entry when full. Resources are immutable once built, so sharing
// them between documents is safe.
type resourceCache struct {
	mu   sync.Mutex
	max  int
	m    map[model.SpanID]*model.Resource
	ring []model.SpanID
	next int
}

// newResourceCache returns a cache of up to size entries; it grows as used.
func newResourceCache(size int) *resourceCache {
	return &resourceCache{max: size, m: make(map[model.SpanID]*model.Resource)}
}

func (c *resourceCache) put(id model.SpanID, r *model.Resource) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[id]; ok {
		c.m[id] = r
		return
	}
	if len(c.ring) < c.max {
		c.ring = append(c.ring, id)
	} else {
		delete(c.m, c.ring[c.next])
		c.ring[c.next] = id
		c.next = (c.next + 1) % len(c.ring)
	}
	c.m[id] = r
}

func (c *resourceCache) get(id model.SpanID) (*model.Resource, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.m[id]
	return r, ok
}
