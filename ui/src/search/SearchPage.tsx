import { useEffect, useMemo, useState } from "preact/hooks";
import * as api from "../api";
import type { TraceSummary } from "../api";
import { fmtAgo, fmtDuration, fmtTime, serviceColor, setServiceOrder, toLocalInput } from "../format";
import { navigate } from "../router";
import { Scatter } from "./Scatter";
import { formatTags, parseTags } from "./tags";

const presets: [string, string][] = [
  ["5m", "Last 5 minutes"],
  ["15m", "Last 15 minutes"],
  ["1h", "Last hour"],
  ["6h", "Last 6 hours"],
  ["12h", "Last 12 hours"],
  ["24h", "Last 24 hours"],
  ["48h", "Last 2 days"],
  ["168h", "Last 7 days"],
];

// Parameters of the page URL that go to the API; "sort" only orders the list.
const apiKeys = ["service", "operation", "tag", "minDuration", "maxDuration", "start", "end", "lookback", "limit"];

function apiParams(params: URLSearchParams): URLSearchParams {
  const p = new URLSearchParams();
  for (const [k, v] of params) if (apiKeys.includes(k) && v !== "") p.append(k, v);
  return p;
}

interface Form {
  service: string;
  operation: string;
  tags: string;
  minDuration: string;
  maxDuration: string;
  range: string; // a preset or "custom"
  start: string; // datetime-local
  end: string;
  limit: string;
}

function formFrom(params: URLSearchParams): Form {
  const custom = params.has("start") || params.has("end");
  const iso = (s: string | null, fallback: number) => {
    if (!s) return toLocalInput(fallback);
    const ms = /^\d+$/.test(s) ? Number(s) / 1000 : Date.parse(s);
    return toLocalInput(isNaN(ms) ? fallback : ms);
  };
  return {
    service: params.get("service") ?? "",
    operation: params.get("operation") ?? "",
    tags: formatTags(
      params.getAll("tag").map((t) => {
        const i = t.indexOf("=");
        return { key: t.slice(0, i), value: t.slice(i + 1) };
      }),
    ),
    minDuration: params.get("minDuration") ?? "",
    maxDuration: params.get("maxDuration") ?? "",
    range: custom ? "custom" : (params.get("lookback") ?? "1h"),
    start: iso(params.get("start"), Date.now() - 3600e3),
    end: iso(params.get("end"), Date.now()),
    limit: params.get("limit") ?? "20",
  };
}

type Result =
  | { state: "idle" }
  | { state: "loading"; since: number; cancel: () => void }
  | { state: "cancelled" }
  | { state: "done"; traces: TraceSummary[]; limit: number; tookMs: number }
  | { state: "error"; status: number; message: string };

export function SearchPage({ params }: { params: URLSearchParams }) {
  const query = apiParams(params).toString();
  const [form, setForm] = useState<Form>(() => formFrom(params));
  const [formError, setFormError] = useState("");
  const [services, setServices] = useState<{ list: string[]; error?: string }>({ list: [] });
  const [ops, setOps] = useState<string[]>([]);
  const [result, setResult] = useState<Result>({ state: "idle" });
  const [attempt, setAttempt] = useState(0);
  const [, tick] = useState(0);

  useEffect(() => setForm(formFrom(params)), [params.toString()]);

  useEffect(() => {
    const ac = new AbortController();
    api
      .services(ac.signal)
      .then((list) => {
        setServiceOrder(list);
        setServices({ list });
      })
      .catch((e) => {
        if (e.name !== "AbortError") setServices({ list: [], error: `cannot load services: ${e.message}` });
      });
    return () => ac.abort();
  }, []);

  useEffect(() => {
    setOps([]);
    if (!form.service) return;
    const ac = new AbortController();
    api
      .operations(form.service, ac.signal)
      .then(setOps)
      .catch(() => setOps([]));
    return () => ac.abort();
  }, [form.service]);

  useEffect(() => {
    if (!query) {
      setResult({ state: "idle" });
      return;
    }
    const ac = new AbortController();
    const since = performance.now();
    const timer = setInterval(() => tick((n) => n + 1), 500);
    let cancelled = false;
    setResult({
      state: "loading",
      since,
      cancel: () => {
        cancelled = true;
        clearInterval(timer);
        ac.abort();
        setResult({ state: "cancelled" });
      },
    });
    api
      .search(new URLSearchParams(query), ac.signal)
      .then((r) =>
        setResult({ state: "done", traces: r.traces, limit: r.limit, tookMs: performance.now() - since }),
      )
      .finally(() => clearInterval(timer))
      .catch((e) => {
        if (e.name === "AbortError" || cancelled) return;
        setResult({ state: "error", status: e.status ?? 0, message: e.message });
      });
    return () => {
      ac.abort();
      clearInterval(timer);
    };
  }, [query, attempt]);

  const set = (k: keyof Form) => (e: Event) =>
    setForm({ ...form, [k]: (e.target as HTMLInputElement).value, ...(k === "service" ? { operation: "" } : {}) });

  const submit = (e: Event) => {
    e.preventDefault();
    const { tags, error } = parseTags(form.tags);
    if (error) {
      setFormError(`Tags: ${error}. Write key=value pairs separated by spaces; quote values with spaces.`);
      return;
    }
    const p = new URLSearchParams();
    if (form.service) p.set("service", form.service);
    if (form.service && form.operation) p.set("operation", form.operation);
    for (const t of tags) p.append("tag", `${t.key}=${t.value}`);
    if (form.minDuration.trim()) p.set("minDuration", form.minDuration.trim());
    if (form.maxDuration.trim()) p.set("maxDuration", form.maxDuration.trim());
    if (form.range === "custom") {
      const s = Date.parse(form.start);
      const en = Date.parse(form.end);
      if (isNaN(s) || isNaN(en) || s > en) {
        setFormError("Time range: the start must be a date before the end.");
        return;
      }
      p.set("start", new Date(s).toISOString());
      p.set("end", new Date(en).toISOString());
    } else {
      p.set("lookback", form.range);
    }
    p.set("limit", form.limit || "20");
    const sort = params.get("sort");
    if (sort) p.set("sort", sort);
    setFormError("");
    if (p.toString() === params.toString()) setAttempt((n) => n + 1);
    else navigate(`/search?${p}`);
  };

  return (
    <div class="search-page">
      <form class="search-form" onSubmit={submit} aria-label="Search traces">
        <label>
          Service
          <select name="service" value={form.service} onChange={set("service")}>
            <option value="">All services</option>
            {services.list.map((s) => (
              <option value={s}>{s}</option>
            ))}
            {form.service && !services.list.includes(form.service) && <option value={form.service}>{form.service}</option>}
          </select>
        </label>
        {services.error && <p class="field-error">{services.error}</p>}
        <label>
          Operation
          <select name="operation" value={form.operation} onChange={set("operation")} disabled={!form.service}>
            <option value="">All operations</option>
            {ops.map((o) => (
              <option value={o}>{o}</option>
            ))}
            {form.operation && !ops.includes(form.operation) && <option value={form.operation}>{form.operation}</option>}
          </select>
        </label>
        <label>
          Tags
          <input
            name="tags"
            value={form.tags}
            onInput={set("tags")}
            placeholder='http.status_code=500 error=true'
            spellcheck={false}
          />
        </label>
        <div class="row2">
          <label>
            Min duration
            <input name="minDuration" value={form.minDuration} onInput={set("minDuration")} placeholder="e.g. 100ms" />
          </label>
          <label>
            Max duration
            <input name="maxDuration" value={form.maxDuration} onInput={set("maxDuration")} placeholder="e.g. 2s" />
          </label>
        </div>
        <label>
          Time range
          <select name="range" value={form.range} onChange={set("range")}>
            {presets.map(([v, l]) => (
              <option value={v}>{l}</option>
            ))}
            {!presets.some(([v]) => v === form.range) && form.range !== "custom" && (
              <option value={form.range}>Last {form.range}</option>
            )}
            <option value="custom">Absolute…</option>
          </select>
        </label>
        {form.range === "custom" && (
          <div class="row2">
            <label>
              From
              <input type="datetime-local" name="start" value={form.start} onInput={set("start")} />
            </label>
            <label>
              To
              <input type="datetime-local" name="end" value={form.end} onInput={set("end")} />
            </label>
          </div>
        )}
        <label>
          Limit
          <input type="number" name="limit" min={1} max={1500} value={form.limit} onInput={set("limit")} />
        </label>
        {formError && <p class="field-error" role="alert">{formError}</p>}
        <button type="submit" class="primary">
          Search
        </button>
      </form>
      <section class="results" aria-live="polite">
        <Results result={result} params={params} onRetry={() => setAttempt((n) => n + 1)} />
      </section>
    </div>
  );
}

type SortKey = "start" | "duration" | "spans" | "errors";

function Results({ result, params, onRetry }: { result: Result; params: URLSearchParams; onRetry: () => void }) {
  const sortParam = params.get("sort") ?? "-start";
  const desc = sortParam.startsWith("-");
  const key = (desc ? sortParam.slice(1) : sortParam) as SortKey;
  const traces = result.state === "done" ? result.traces : null;
  const sorted = useMemo(() => {
    if (!traces) return [];
    const val = (t: TraceSummary) =>
      key === "duration" ? t.durationNano : key === "spans" ? t.spanCount : key === "errors" ? t.errorCount : t.startTimeUnixMicro;
    return traces.slice().sort((a, b) => (desc ? val(b) - val(a) : val(a) - val(b)));
  }, [traces, key, desc]);

  if (result.state === "idle") {
    return (
      <div class="notice">
        <h2>Find traces</h2>
        <p>Pick a service, add filters if you like, and press Search. The page's URL keeps the whole search, so you can share it.</p>
      </div>
    );
  }
  if (result.state === "loading") {
    const s = (performance.now() - result.since) / 1000;
    return (
      <div class="notice loading" role="status">
        <h2>Searching…</h2>
        {s >= 2 && <p>This search has taken {Math.floor(s)} s so far. A narrower time range or a service filter makes it faster.</p>}
        <button type="button" onClick={result.cancel}>
          Cancel
        </button>
      </div>
    );
  }
  if (result.state === "cancelled") {
    return (
      <div class="notice">
        <h2>Search cancelled</h2>
        <p>Change the filters and search again, or retry as it was.</p>
        <button type="button" onClick={onRetry}>
          Retry
        </button>
      </div>
    );
  }
  if (result.state === "error") {
    const what =
      result.status === 400
        ? "The search is not valid"
        : result.status === 504
          ? "The search took too long"
          : result.status === 0
            ? "Clew cannot be reached"
            : `The search failed (HTTP ${result.status})`;
    return (
      <div class="notice error" role="alert">
        <h2>{what}</h2>
        <pre class="reason">{result.message}</pre>
        <button type="button" onClick={onRetry}>
          Try again
        </button>
      </div>
    );
  }
  if (result.traces.length === 0) {
    return (
      <div class="notice empty">
        <h2>No traces found</h2>
        <p>No trace in this time range matches every filter. Widen the time range, or remove a tag or duration filter.</p>
      </div>
    );
  }
  const setSort = (k: SortKey) => {
    const p = new URLSearchParams(params);
    p.set("sort", k === key && desc ? k : `-${k}`);
    navigate(`/search?${p}`, true);
  };
  const th = (k: SortKey, label: string) => (
    <th aria-sort={k === key ? (desc ? "descending" : "ascending") : "none"}>
      <button type="button" class="sort" onClick={() => setSort(k)}>
        {label} {k === key ? (desc ? "▼" : "▲") : ""}
      </button>
    </th>
  );
  const open = (t: TraceSummary) => navigate(`/trace/${t.traceID}`);
  return (
    <div>
      <p class="result-count">
        {result.traces.length} trace{result.traces.length === 1 ? "" : "s"}
        {result.traces.length >= result.limit ? ` (the limit; raise it to see more)` : ""} · {Math.round(result.tookMs)} ms
      </p>
      <Scatter traces={result.traces} onOpen={open} />
      <table class="results-table">
        <thead>
          <tr>
            {th("start", "Start")}
            <th>Root</th>
            {th("duration", "Duration")}
            {th("spans", "Spans")}
            <th>Services</th>
            {th("errors", "Errors")}
          </tr>
        </thead>
        <tbody>
          {sorted.map((t) => (
            <tr key={t.traceID} class={t.errorCount ? "has-errors" : ""}>
              <td>
                <a href={`/trace/${t.traceID}`} class="trace-link">
                  {fmtTime(t.startTimeUnixMicro)}
                </a>
                <div class="sub">{fmtAgo(t.startTimeUnixMicro)}</div>
              </td>
              <td>
                <span class="svc-dot" style={{ background: serviceColor(t.rootService) }} />
                <b>{t.rootService}</b> {t.rootOperation}
                {t.rootMissing && <span class="badge warn">root missing</span>}
              </td>
              <td class="num">{fmtDuration(t.durationNano)}</td>
              <td class="num">{t.spanCount}</td>
              <td>
                {t.services.map((s) => (
                  <span class="chip" title={`${s.spanCount} spans, ${s.errorCount} errors`}>
                    <span class="svc-dot" style={{ background: serviceColor(s.name) }} />
                    {s.name} {s.spanCount}
                  </span>
                ))}
              </td>
              <td class={`num ${t.errorCount ? "err" : ""}`}>{t.errorCount}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
