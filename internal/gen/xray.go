package gen

import (
	"encoding/hex"
	"encoding/json"
	"strconv"

	"github.com/clew-dev/clew/internal/model"
)

// xrayHeader starts every datagram the X-Ray daemon reads.
const xrayHeader = `{"format": "json", "version": 1}` + "\n"

func init() {
	registerProtocol(&Protocol{
		Name:            "xray",
		Summary:         "AWS X-Ray daemon, one segment document per UDP datagram",
		DefaultEndpoint: "127.0.0.1:2000",
		MaxBodyBytes:    64 << 10,
		IDs:             IDXRay,
		Encode:          encodeXRay,
		UDP:             true,
		Dial:            dialUDP,
	})
}

// xraySegment is the part of the X-Ray segment document gen writes (the
// X-Ray API's "segment documents"); X-Ray has no Go library of its own for
// the wire form besides its SDK.
type xraySegment struct {
	Name        string          `json:"name"`
	ID          string          `json:"id"`
	TraceID     string          `json:"trace_id"`
	ParentID    string          `json:"parent_id,omitempty"`
	Type        string          `json:"type,omitempty"`
	StartTime   float64         `json:"start_time"`
	EndTime     float64         `json:"end_time"`
	Namespace   string          `json:"namespace,omitempty"`
	HTTP        *xrayHTTP       `json:"http,omitempty"`
	SQL         *xraySQL        `json:"sql,omitempty"`
	Fault       bool            `json:"fault,omitempty"`
	Error       bool            `json:"error,omitempty"`
	Cause       *xrayCause      `json:"cause,omitempty"`
	Annotations map[string]any  `json:"annotations,omitempty"`
	Metadata    map[string]any  `json:"metadata,omitempty"`
	Service     *xrayService    `json:"service,omitempty"`
	AWS         json.RawMessage `json:"aws,omitempty"`
}

type xrayService struct {
	Version string `json:"version,omitempty"`
}

type xrayHTTP struct {
	Request  *xrayHTTPRequest  `json:"request,omitempty"`
	Response *xrayHTTPResponse `json:"response,omitempty"`
}

type xrayHTTPRequest struct {
	Method string `json:"method,omitempty"`
	URL    string `json:"url,omitempty"`
}

type xrayHTTPResponse struct {
	Status int64 `json:"status,omitempty"`
}

type xraySQL struct {
	SanitizedQuery string `json:"sanitized_query,omitempty"`
	DatabaseType   string `json:"database_type,omitempty"`
}

type xrayCause struct {
	Exceptions []xrayException `json:"exceptions"`
}

type xrayException struct {
	ID      string `json:"id"`
	Type    string `json:"type,omitempty"`
	Message string `json:"message,omitempty"`
}

// XRayTraceID formats a trace id as X-Ray writes it: 1-{8 hex digits of
// epoch seconds}-{24 hex digits}.
func XRayTraceID(id model.TraceID) string {
	h := hex.EncodeToString(id[:])
	return "1-" + h[:8] + "-" + h[8:]
}

// encodeXRay writes one datagram per span: server spans become segments
// (named after their service), the others independent subsegments, as the
// X-Ray SDKs stream them.
func encodeXRay(spans []*model.Span) ([][]byte, error) {
	out := make([][]byte, 0, len(spans))
	for _, sp := range spans {
		doc, err := json.Marshal(xraySegmentOf(sp))
		if err != nil {
			return nil, err
		}
		out = append(out, append([]byte(xrayHeader), doc...))
	}
	return out, nil
}

func xraySegmentOf(sp *model.Span) *xraySegment {
	seg := &xraySegment{
		Name:      sp.Name,
		ID:        sp.SpanID.String(),
		TraceID:   XRayTraceID(sp.TraceID),
		StartTime: float64(sp.StartTimeUnixNano) / 1e9,
		EndTime:   float64(sp.EndTimeUnixNano) / 1e9,
	}
	if !sp.ParentSpanID.IsZero() {
		seg.ParentID = sp.ParentSpanID.String()
	}
	if sp.Kind == model.SpanKindServer {
		seg.Name = sp.ServiceName()
		if v, ok := sp.Resource.Attributes.Get("service.version"); ok {
			seg.Service = &xrayService{Version: v.AsString()}
		}
	} else {
		seg.Type = "subsegment"
		if sp.Kind == model.SpanKindClient {
			seg.Namespace = "remote"
		}
	}
	meta := map[string]any{}
	annotations := map[string]any{}
	for _, kv := range sp.Attributes {
		v := kv.Value
		switch kv.Key {
		case "http.request.method":
			seg.http().Request = orNew(seg.http().Request)
			seg.HTTP.Request.Method = v.AsString()
			continue
		case "url.path":
			seg.http().Request = orNew(seg.http().Request)
			seg.HTTP.Request.URL = "http://" + sp.ServiceName() + v.AsString()
			continue
		case "http.response.status_code":
			seg.http().Response = &xrayHTTPResponse{Status: v.Int()}
			if v.Int() >= 400 && v.Int() < 500 {
				seg.Error = true
			}
			continue
		case "db.query.text":
			seg.sql().SanitizedQuery = v.AsString()
			continue
		case "db.system.name":
			seg.sql().DatabaseType = v.AsString()
			continue
		}
		switch v.Type() {
		case model.ValueInt:
			annotations[annotationKey(kv.Key)] = v.Int()
		case model.ValueBool:
			annotations[annotationKey(kv.Key)] = v.Bool()
		case model.ValueDouble:
			annotations[annotationKey(kv.Key)] = v.Double()
		default:
			meta[kv.Key] = v.AsString()
		}
	}
	if len(meta) > 0 {
		seg.Metadata = map[string]any{"default": meta}
	}
	if len(annotations) > 0 {
		seg.Annotations = annotations
	}
	if sp.Status.Code == model.StatusError {
		seg.Fault = true
		for i, e := range sp.Events {
			if e.Name != "exception" {
				continue
			}
			ex := xrayException{ID: exceptionID(sp.SpanID, i)}
			if v, ok := e.Attributes.Get("exception.type"); ok {
				ex.Type = v.AsString()
			}
			if v, ok := e.Attributes.Get("exception.message"); ok {
				ex.Message = v.AsString()
			}
			seg.Cause = &xrayCause{Exceptions: append(causeExceptions(seg.Cause), ex)}
		}
	}
	return seg
}

func (s *xraySegment) http() *xrayHTTP {
	if s.HTTP == nil {
		s.HTTP = &xrayHTTP{}
	}
	return s.HTTP
}

func (s *xraySegment) sql() *xraySQL {
	if s.SQL == nil {
		s.SQL = &xraySQL{}
	}
	return s.SQL
}

func orNew[T any](p *T) *T {
	if p == nil {
		return new(T)
	}
	return p
}

func causeExceptions(c *xrayCause) []xrayException {
	if c == nil {
		return nil
	}
	return c.Exceptions
}

// annotationKey makes an attribute key a valid X-Ray annotation key
// (letters, digits and underscores), as the Collector's X-Ray exporter does.
func annotationKey(k string) string {
	b := []byte(k)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			b[i] = '_'
		}
	}
	return string(b)
}

// exceptionID derives a 16-hex-digit exception id from the span id.
func exceptionID(id model.SpanID, i int) string {
	v := id.Uint64() ^ uint64(i+1)*0x9e3779b97f4a7c15
	s := strconv.FormatUint(v, 16)
	for len(s) < 16 {
		s = "0" + s
	}
	return s
}
