package datadog

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"

	pb "github.com/DataDog/datadog-agent/pkg/proto/pbgo/trace"

	"github.com/clew-dev/clew/internal/model"
)

// Attribute keys the translation writes, as the Collector's datadog
// receiver names them.
const (
	AttrResource      = "dd.span.Resource"
	AttrDDTraceID     = "datadog.trace.id"
	AttrDDSpanID      = "datadog.span.id"
	ScopeName         = "Datadog"
	EventException    = "exception"
	metaTraceIDHigh   = "_dd.p.tid"
	metaSpanKind      = "span.kind"
	metaSpanLinks     = "_dd.span_links"
	metaSpanEvents    = "events"
	metaEnv           = "env"
	metaVersion       = "version"
	metaErrorMessage  = "error.message"
	metaErrorMsg      = "error.msg"
	metaErrorType     = "error.type"
	metaErrorStack    = "error.stack"
	metaErrorStackAlt = "error.stacktrace"
)

// renamed maps Datadog tag keys to their OpenTelemetry names, as the
// Collector's datadog receiver does for span and resource attributes.
var renamed = map[string]string{
	"container_id":        "container.id",
	"container_name":      "container.name",
	"image_name":          "container.image.name",
	"image_tag":           "container.image.tag",
	"runtime":             "container.runtime",
	"cloud_provider":      "cloud.provider",
	"region":              "cloud.region",
	"zone":                "cloud.availability_zone",
	"task_family":         "aws.ecs.task.family",
	"task_arn":            "aws.ecs.task.arn",
	"ecs_cluster_name":    "aws.ecs.cluster.arn",
	"task_version":        "aws.ecs.task.revision",
	"ecs_container_name":  "aws.ecs.container.arn",
	"kube_container_name": "k8s.container.name",
	"kube_cluster_name":   "k8s.cluster.name",
	"kube_deployment":     "k8s.deployment.name",
	"kube_replica_set":    "k8s.replicaset.name",
	"kube_stateful_set":   "k8s.statefulset.name",
	"kube_daemon_set":     "k8s.daemonset.name",
	"kube_job":            "k8s.job.name",
	"kube_cronjob":        "k8s.cronjob.name",
	"kube_namespace":      "k8s.namespace.name",
	"pod_name":            "k8s.pod.name",
	"process_id":          "process.pid",
}

func otelKey(k string) string {
	if r, ok := renamed[strings.ToLower(k)]; ok {
		return r
	}
	return k
}

// Tracer describes the client that sent a payload, from the Datadog-Meta-*
// request headers. Empty fields are left out of the resource.
type Tracer struct {
	Language        string // Datadog-Meta-Lang
	LanguageVersion string // Datadog-Meta-Lang-Version
	TracerVersion   string // Datadog-Meta-Tracer-Version
	ContainerID     string // Datadog-Container-ID
}

// Translator converts Datadog traces to the model. It remembers the high
// 64 bits of recent 128-bit trace ids, which tracers send only on the first
// span of a chunk, so that later chunks of the same trace (partial flushes)
// get the same id. It is safe for concurrent use.
type Translator struct {
	tids *tidCache
}

// NewTranslator returns a translator remembering up to cacheSize trace ids
// (65536 when cacheSize <= 0).
func NewTranslator(cacheSize int) *Translator {
	if cacheSize <= 0 {
		cacheSize = 1 << 16
	}
	return &Translator{tids: newTidCache(cacheSize)}
}

type resourceKey struct{ service, env, version string }

// ToModel converts traces to spans. Spans of one service, env and version
// share one resource; every span has the scope "Datadog" with the tracer
// version. Nil spans are skipped.
func (t *Translator) ToModel(traces pb.Traces, tr Tracer) []*model.Span {
	n := 0
	for _, trace := range traces {
		n += len(trace)
	}
	if n == 0 {
		return nil
	}
	scope := &model.Scope{Name: ScopeName, Version: tr.TracerVersion}
	resources := make(map[resourceKey]*model.Resource, 2)
	out := make([]*model.Span, 0, n)
	for _, trace := range traces {
		high := t.traceIDHigh(trace)
		for _, s := range trace {
			if s == nil {
				continue
			}
			key := resourceKey{s.Service, s.Meta[metaEnv], s.Meta[metaVersion]}
			res := resources[key]
			if res == nil {
				res = newResource(key, tr)
				resources[key] = res
			}
			h := high
			if h == 0 {
				h = t.tids.get(s.TraceID)
			}
			out = append(out, convertSpan(s, h, res, scope))
		}
	}
	return out
}

// traceIDHigh returns the high half of the chunk's 128-bit trace id from
// the _dd.p.tid tag of one of its spans, remembering it, or 0.
func (t *Translator) traceIDHigh(trace pb.Trace) uint64 {
	for _, s := range trace {
		if s == nil {
			continue
		}
		if v, ok := s.Meta[metaTraceIDHigh]; ok {
			if high, err := strconv.ParseUint(v, 16, 64); err == nil && high != 0 {
				t.tids.put(s.TraceID, high)
				return high
			}
		}
	}
	return 0
}

func newResource(k resourceKey, tr Tracer) *model.Resource {
	attrs := make(model.Attributes, 0, 8)
	add := func(key, v string) {
		if v != "" {
			attrs = append(attrs, model.KeyValue{Key: key, Value: model.StringValue(v)})
		}
	}
	service := k.service
	if service == "" {
		service = model.UnknownService
	}
	add(model.AttrServiceName, service)
	add("deployment.environment", k.env)
	add("service.version", k.version)
	add("telemetry.sdk.name", "Datadog")
	lang := tr.Language
	if lang == ".NET" {
		lang = "dotnet"
	}
	add("telemetry.sdk.language", lang)
	add("telemetry.sdk.version", tr.TracerVersion)
	add("process.runtime.version", tr.LanguageVersion)
	add("container.id", tr.ContainerID)
	return &model.Resource{Attributes: attrs}
}

func convertSpan(s *pb.Span, high uint64, res *model.Resource, scope *model.Scope) *model.Span {
	sp := &model.Span{
		Resource:          res,
		Scope:             scope,
		TraceID:           model.TraceIDFromUint64s(high, s.TraceID),
		SpanID:            model.SpanIDFromUint64(s.SpanID),
		ParentSpanID:      model.SpanIDFromUint64(s.ParentID),
		Name:              s.Name,
		StartTimeUnixNano: clampNanos(s.Start),
		EndTimeUnixNano:   clampNanos(s.Start + max(s.Duration, 0)),
		Kind:              spanKind(s.Meta[metaSpanKind], s.Type),
	}
	if sp.Name == "" {
		sp.Name = s.Resource
	}
	attrs := make(model.Attributes, 0, 3+len(s.Meta)+len(s.Metrics))
	attrs = append(attrs,
		model.KeyValue{Key: AttrResource, Value: model.StringValue(s.Resource)},
		model.KeyValue{Key: AttrDDSpanID, Value: model.StringValue(strconv.FormatUint(s.SpanID, 10))},
		model.KeyValue{Key: AttrDDTraceID, Value: model.StringValue(strconv.FormatUint(s.TraceID, 10))},
	)
	if s.Type != "" {
		attrs = append(attrs, model.KeyValue{Key: "span.type", Value: model.StringValue(s.Type)})
	}
	for _, k := range sortedKeys(s.Meta) {
		v := s.Meta[k]
		switch k {
		case metaTraceIDHigh, metaSpanKind, metaEnv, metaVersion,
			metaErrorMessage, metaErrorMsg, metaErrorType, metaErrorStack, metaErrorStackAlt:
			continue // carried by the id, kind, resource, status or exception event
		case metaSpanLinks:
			if links, ok := parseMetaLinks(v); ok {
				sp.Links = append(sp.Links, links...)
				continue
			}
		case metaSpanEvents:
			if events, ok := parseMetaEvents(v); ok {
				sp.Events = append(sp.Events, events...)
				continue
			}
		}
		attrs = append(attrs, model.KeyValue{Key: otelKey(k), Value: model.StringValue(v)})
	}
	for _, k := range sortedKeys(s.Metrics) {
		attrs = append(attrs, model.KeyValue{Key: otelKey(k), Value: model.DoubleValue(s.Metrics[k])})
	}
	sp.Attributes = attrs
	for _, l := range s.SpanLinks {
		if l != nil {
			sp.Links = append(sp.Links, convertLink(l))
		}
	}
	for _, e := range s.SpanEvents {
		if e != nil {
			sp.Events = append(sp.Events, convertEvent(e))
		}
	}
	if ev, ok := exceptionEvent(s.Meta, sp.EndTimeUnixNano); ok {
		sp.Events = append(sp.Events, ev)
	}
	if s.Error != 0 {
		sp.Status = model.Status{Code: model.StatusError, Message: firstNonEmpty(s.Meta[metaErrorMessage], s.Meta[metaErrorMsg])}
	}
	return sp
}

func clampNanos(ns int64) uint64 {
	if ns < 0 {
		return 0
	}
	return uint64(ns)
}

// spanKind maps the span.kind tag, or failing that the span type, to a kind.
func spanKind(kind, typ string) model.SpanKind {
	switch kind {
	case "server":
		return model.SpanKindServer
	case "client":
		return model.SpanKindClient
	case "producer":
		return model.SpanKindProducer
	case "consumer":
		return model.SpanKindConsumer
	case "internal":
		return model.SpanKindInternal
	}
	switch typ {
	case "web":
		return model.SpanKindServer
	case "http":
		return model.SpanKindClient
	}
	return model.SpanKindUnspecified
}

// exceptionEvent builds the exception event from the error tags, stamped
// with the span's end, when any of them is set.
func exceptionEvent(meta map[string]string, at uint64) (model.Event, bool) {
	msg := firstNonEmpty(meta[metaErrorMessage], meta[metaErrorMsg])
	typ := meta[metaErrorType]
	stack := firstNonEmpty(meta[metaErrorStack], meta[metaErrorStackAlt])
	if msg == "" && typ == "" && stack == "" {
		return model.Event{}, false
	}
	attrs := make(model.Attributes, 0, 3)
	if typ != "" {
		attrs = append(attrs, model.KeyValue{Key: "exception.type", Value: model.StringValue(typ)})
	}
	if msg != "" {
		attrs = append(attrs, model.KeyValue{Key: "exception.message", Value: model.StringValue(msg)})
	}
	if stack != "" {
		attrs = append(attrs, model.KeyValue{Key: "exception.stacktrace", Value: model.StringValue(stack)})
	}
	return model.Event{TimeUnixNano: at, Name: EventException, Attributes: attrs}, true
}

func convertLink(l *pb.SpanLink) model.Link {
	ml := model.Link{
		TraceID:    model.TraceIDFromUint64s(l.TraceIDHigh, l.TraceID),
		SpanID:     model.SpanIDFromUint64(l.SpanID),
		TraceState: l.Tracestate,
		Flags:      l.Flags,
	}
	for _, k := range sortedKeys(l.Attributes) {
		ml.Attributes = append(ml.Attributes, model.KeyValue{Key: k, Value: model.StringValue(l.Attributes[k])})
	}
	return ml
}

func convertEvent(e *pb.SpanEvent) model.Event {
	ev := model.Event{TimeUnixNano: e.TimeUnixNano, Name: e.Name}
	for _, k := range sortedKeys(e.Attributes) {
		if v := e.Attributes[k]; v != nil {
			ev.Attributes = append(ev.Attributes, model.KeyValue{Key: k, Value: anyValue(v)})
		}
	}
	return ev
}

func anyValue(v *pb.AttributeAnyValue) model.Value {
	switch v.Type {
	case pb.AttributeAnyValue_BOOL_VALUE:
		return model.BoolValue(v.BoolValue)
	case pb.AttributeAnyValue_INT_VALUE:
		return model.IntValue(v.IntValue)
	case pb.AttributeAnyValue_DOUBLE_VALUE:
		return model.DoubleValue(v.DoubleValue)
	case pb.AttributeAnyValue_ARRAY_VALUE:
		var vs []model.Value
		if v.ArrayValue != nil {
			for _, e := range v.ArrayValue.Values {
				if e == nil {
					continue
				}
				switch e.Type {
				case pb.AttributeArrayValue_BOOL_VALUE:
					vs = append(vs, model.BoolValue(e.BoolValue))
				case pb.AttributeArrayValue_INT_VALUE:
					vs = append(vs, model.IntValue(e.IntValue))
				case pb.AttributeArrayValue_DOUBLE_VALUE:
					vs = append(vs, model.DoubleValue(e.DoubleValue))
				default:
					vs = append(vs, model.StringValue(e.StringValue))
				}
			}
		}
		return model.SliceValue(vs)
	}
	return model.StringValue(v.StringValue)
}

// metaLink is one element of the _dd.span_links tag (JSON).
type metaLink struct {
	TraceID    string         `json:"trace_id"`
	SpanID     string         `json:"span_id"`
	Tracestate string         `json:"tracestate"`
	Attributes map[string]any `json:"attributes"`
	Flags      uint32         `json:"flags"`
}

// parseMetaLinks decodes the _dd.span_links tag; it reports false when the
// tag is not valid, and the tag is then kept as an attribute.
func parseMetaLinks(v string) ([]model.Link, bool) {
	var in []metaLink
	if err := json.Unmarshal([]byte(v), &in); err != nil {
		return nil, false
	}
	out := make([]model.Link, 0, len(in))
	for _, l := range in {
		tid, err1 := model.ParseTraceID(l.TraceID)
		sid, err2 := model.ParseSpanID(l.SpanID)
		if err1 != nil || err2 != nil {
			return nil, false
		}
		out = append(out, model.Link{TraceID: tid, SpanID: sid, TraceState: l.Tracestate, Flags: l.Flags, Attributes: jsonAttributes(l.Attributes)})
	}
	return out, true
}

// metaEvent is one element of the events tag (JSON), which tracers send
// when the agent does not take native span events.
type metaEvent struct {
	Name         string         `json:"name"`
	TimeUnixNano uint64         `json:"time_unix_nano"`
	Attributes   map[string]any `json:"attributes"`
}

func parseMetaEvents(v string) ([]model.Event, bool) {
	var in []metaEvent
	if err := json.Unmarshal([]byte(v), &in); err != nil {
		return nil, false
	}
	out := make([]model.Event, 0, len(in))
	for _, e := range in {
		out = append(out, model.Event{Name: e.Name, TimeUnixNano: e.TimeUnixNano, Attributes: jsonAttributes(e.Attributes)})
	}
	return out, true
}

func jsonAttributes(m map[string]any) model.Attributes {
	if len(m) == 0 {
		return nil
	}
	out := make(model.Attributes, 0, len(m))
	for _, k := range sortedKeys(m) {
		out = append(out, model.KeyValue{Key: k, Value: jsonValue(m[k])})
	}
	return out
}

func jsonValue(v any) model.Value {
	switch x := v.(type) {
	case string:
		return model.StringValue(x)
	case bool:
		return model.BoolValue(x)
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return model.IntValue(int64(x))
		}
		return model.DoubleValue(x)
	case []any:
		vs := make([]model.Value, len(x))
		for i, e := range x {
			vs[i] = jsonValue(e)
		}
		return model.SliceValue(vs)
	case nil:
		return model.Value{}
	}
	b, _ := json.Marshal(v)
	return model.StringValue(string(b))
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// tidCache remembers the high halves of recent 128-bit trace ids by their
// low half, evicting the oldest entry when full.
type tidCache struct {
	mu   sync.Mutex
	max  int
	m    map[uint64]uint64
	ring []uint64
	next int
}

// newTidCache returns a cache of up to size entries; it grows as used.
func newTidCache(size int) *tidCache {
	return &tidCache{max: size, m: make(map[uint64]uint64)}
}

func (c *tidCache) put(low, high uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[low]; ok {
		c.m[low] = high
		return
	}
	if len(c.ring) < c.max {
		c.ring = append(c.ring, low)
	} else {
		delete(c.m, c.ring[c.next])
		c.ring[c.next] = low
		c.next = (c.next + 1) % len(c.ring)
	}
	c.m[low] = high
}

func (c *tidCache) get(low uint64) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[low]
}
