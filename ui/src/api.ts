// Typed access to Clew's HTTP APIs: the Jaeger query API for the service and
// operation pickers, the native API (/api/clew/...) for search summaries and
// whole traces. docs/api-native.md describes the native documents.

export interface ServiceCount {
  name: string;
  spanCount: number;
  errorCount: number;
}

export interface TraceSummary {
  traceID: string;
  rootService: string;
  rootOperation: string;
  rootMissing: boolean;
  startTimeUnixMicro: number;
  durationNano: number;
  spanCount: number;
  errorCount: number;
  depth: number;
  orphanCount: number;
  services: ServiceCount[];
}

export interface SearchResponse {
  traces: TraceSummary[];
  limit: number;
}

export interface Attr {
  key: string;
  type: string;
  value: string;
}

export interface Resource {
  serviceName: string;
  attributes: Attr[];
  droppedAttributesCount: number;
  schemaUrl: string;
}

export interface Scope {
  name: string;
  version: string;
  attributes: Attr[];
  droppedAttributesCount: number;
}

export interface SpanEvent {
  name: string;
  offsetNano: number;
  attributes: Attr[];
  droppedAttributesCount: number;
}

export interface SpanLink {
  traceID: string;
  spanID: string;
  traceState: string;
  attributes: Attr[];
  droppedAttributesCount: number;
  traceExists: boolean;
}

export interface Span {
  spanID: string;
  parentSpanID: string;
  orphan: boolean;
  name: string;
  kind: string;
  resource: number;
  scope: number;
  startNano: number;
  durationNano: number;
  status: { code: "unset" | "ok" | "error"; message: string };
  traceState: string;
  flags: number;
  attributes: Attr[];
  droppedAttributesCount: number;
  events: SpanEvent[];
  droppedEventsCount: number;
  links: SpanLink[];
  droppedLinksCount: number;
}

export interface Trace extends TraceSummary {
  startTimeUnixNano: string;
  resources: Resource[];
  scopes: Scope[];
  spans: Span[];
  warnings: string[];
}

/** ApiError carries the HTTP status and the server's message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function getJSON<T>(url: string, signal?: AbortSignal): Promise<T> {
  let resp: Response;
  try {
    resp = await fetch(url, { signal, headers: { Accept: "application/json" } });
  } catch (e) {
    if ((e as Error).name === "AbortError") throw e;
    throw new ApiError(0, `cannot reach Clew: ${(e as Error).message}`);
  }
  if (!resp.ok) {
    const text = (await resp.text()).trim().slice(0, 2000);
    throw new ApiError(resp.status, text || resp.statusText);
  }
  return (await resp.json()) as T;
}

interface JaegerList<T> {
  data: T[] | null;
}

export async function services(signal?: AbortSignal): Promise<string[]> {
  const r = await getJSON<JaegerList<string>>("/api/services", signal);
  return (r.data ?? []).slice().sort();
}

export async function operations(service: string, signal?: AbortSignal): Promise<string[]> {
  const r = await getJSON<JaegerList<string>>(`/api/services/${encodeURIComponent(service)}/operations`, signal);
  return (r.data ?? []).slice().sort();
}

/** search runs a native search; params are the page URL's search params. */
export function search(params: URLSearchParams, signal?: AbortSignal): Promise<SearchResponse> {
  return getJSON<SearchResponse>(`/api/clew/search?${params.toString()}`, signal);
}

/** trace loads a whole trace and fills in the fields the API leaves out when empty. */
export async function trace(id: string, signal?: AbortSignal): Promise<Trace> {
  const t = await getJSON<Trace>(`/api/clew/traces/${encodeURIComponent(id)}`, signal);
  for (const s of t.spans) {
    s.parentSpanID ??= "";
    s.orphan ??= false;
    s.traceState ??= "";
    s.flags ??= 0;
    s.droppedAttributesCount ??= 0;
    s.events ??= [];
    s.droppedEventsCount ??= 0;
    s.links ??= [];
    s.droppedLinksCount ??= 0;
    s.status.message ??= "";
  }
  return t;
}

const hexID = /^[0-9a-f]{1,32}$/i;

/** isTraceID reports whether s is a trace id (hex); only such ids go into URLs. */
export function isTraceID(s: string): boolean {
  return hexID.test(s);
}

const hexSpanID = /^[0-9a-f]{1,16}$/i;

/** isSpanID reports whether s is a span id (hex). */
export function isSpanID(s: string): boolean {
  return hexSpanID.test(s);
}
