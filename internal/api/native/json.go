package native

// The JSON documents of the API; docs/api-native.md describes them.

type searchResponse struct {
	Traces []summaryJSON `json:"traces"`
	Limit  int           `json:"limit"`
}

type summaryJSON struct {
	TraceID            string        `json:"traceID"`
	RootService        string        `json:"rootService"`
	RootOperation      string        `json:"rootOperation"`
	RootMissing        bool          `json:"rootMissing"`
	StartTimeUnixMicro uint64        `json:"startTimeUnixMicro"`
	DurationNano       uint64        `json:"durationNano"`
	SpanCount          int           `json:"spanCount"`
	ErrorCount         int           `json:"errorCount"`
	Depth              int           `json:"depth"`
	OrphanCount        int           `json:"orphanCount"`
	Services           []serviceJSON `json:"services"`
}

type serviceJSON struct {
	Name       string `json:"name"`
	SpanCount  int    `json:"spanCount"`
	ErrorCount int    `json:"errorCount"`
}

type traceJSON struct {
	summaryJSON
	StartTimeUnixNano string         `json:"startTimeUnixNano"`
	Resources         []resourceJSON `json:"resources"`
	Scopes            []scopeJSON    `json:"scopes"`
	Spans             []spanJSON     `json:"spans"`
	Warnings          []string       `json:"warnings"`
}

type resourceJSON struct {
	ServiceName            string     `json:"serviceName"`
	Attributes             []attrJSON `json:"attributes"`
	DroppedAttributesCount uint32     `json:"droppedAttributesCount"`
	SchemaURL              string     `json:"schemaUrl"`
}

type scopeJSON struct {
	Name                   string     `json:"name"`
	Version                string     `json:"version"`
	Attributes             []attrJSON `json:"attributes"`
	DroppedAttributesCount uint32     `json:"droppedAttributesCount"`
}

type attrJSON struct {
	Key   string `json:"key"`
	Type  string `json:"type"`
	Value string `json:"value"`
}

type statusJSON struct {
	Code    string `json:"code"`
	Message string `json:"message,omitempty"`
}

type eventJSON struct {
	Name                   string     `json:"name"`
	OffsetNano             int64      `json:"offsetNano"`
	Attributes             []attrJSON `json:"attributes"`
	DroppedAttributesCount uint32     `json:"droppedAttributesCount"`
}

type linkJSON struct {
	TraceID                string     `json:"traceID"`
	SpanID                 string     `json:"spanID"`
	TraceState             string     `json:"traceState"`
	Attributes             []attrJSON `json:"attributes"`
	DroppedAttributesCount uint32     `json:"droppedAttributesCount"`
	TraceExists            bool       `json:"traceExists"`
}

// spanJSON leaves out zero counts, empty strings and empty lists: a
// 50,000-span trace is a fifth smaller for it.
type spanJSON struct {
	SpanID                 string      `json:"spanID"`
	ParentSpanID           string      `json:"parentSpanID,omitempty"`
	Orphan                 bool        `json:"orphan,omitempty"`
	Name                   string      `json:"name"`
	Kind                   string      `json:"kind"`
	Resource               int         `json:"resource"`
	Scope                  int         `json:"scope"`
	StartNano              uint64      `json:"startNano"`
	DurationNano           uint64      `json:"durationNano"`
	Status                 statusJSON  `json:"status"`
	TraceState             string      `json:"traceState,omitempty"`
	Flags                  uint32      `json:"flags,omitempty"`
	Attributes             []attrJSON  `json:"attributes"`
	DroppedAttributesCount uint32      `json:"droppedAttributesCount,omitempty"`
	Events                 []eventJSON `json:"events,omitempty"`
	DroppedEventsCount     uint32      `json:"droppedEventsCount,omitempty"`
	Links                  []linkJSON  `json:"links,omitempty"`
	DroppedLinksCount      uint32      `json:"droppedLinksCount,omitempty"`
}
