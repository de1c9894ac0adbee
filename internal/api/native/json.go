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
	Message string `json:"message"`
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

type spanJSON struct {
	SpanID                 string      `json:"spanID"`
	ParentSpanID           string      `json:"parentSpanID"`
	Orphan                 bool        `json:"orphan"`
	Name                   string      `json:"name"`
	Kind                   string      `json:"kind"`
	Resource               int         `json:"resource"`
	Scope                  int         `json:"scope"`
	StartNano              uint64      `json:"startNano"`
	DurationNano           uint64      `json:"durationNano"`
	Status                 statusJSON  `json:"status"`
	TraceState             string      `json:"traceState"`
	Flags                  uint32      `json:"flags"`
	Attributes             []attrJSON  `json:"attributes"`
	DroppedAttributesCount uint32      `json:"droppedAttributesCount"`
	Events                 []eventJSON `json:"events"`
	DroppedEventsCount     uint32      `json:"droppedEventsCount"`
	Links                  []linkJSON  `json:"links"`
	DroppedLinksCount      uint32      `json:"droppedLinksCount"`
}
