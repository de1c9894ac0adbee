import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import * as api from "../api";
import type { Trace } from "../api";
import { fmtDuration, fmtTime, serviceColor, setServiceOrder } from "../format";
import { navigate } from "../router";
import { Minimap } from "./Minimap";
import {
  buildModel,
  collapseAll,
  criticalPath,
  expandTo,
  findMatches,
  searchText,
  visibleRows,
  type TraceModel,
} from "./model";
import { SpanDetails } from "./SpanDetails";
import { Waterfall } from "./Waterfall";

type Load = { state: "loading" } | { state: "error"; status: number; message: string } | { state: "done"; trace: Trace };

export function TracePage({ id, params }: { id: string; params: URLSearchParams }) {
  const [load, setLoad] = useState<Load>({ state: "loading" });
  const valid = api.isTraceID(id);

  useEffect(() => {
    if (!valid) return;
    const ac = new AbortController();
    api
      .trace(id, ac.signal)
      .then((trace) => setLoad({ state: "done", trace }))
      .catch((e) => {
        if (e.name !== "AbortError") setLoad({ state: "error", status: e.status ?? 0, message: e.message });
      });
    return () => ac.abort();
  }, [id]);

  if (!valid) {
    return (
      <div class="notice error" role="alert">
        <h2>Not a trace ID</h2>
        <p>
          <code>{id}</code> is not a trace ID: trace IDs are 1 to 32 hexadecimal digits.
        </p>
      </div>
    );
  }
  if (load.state === "loading") {
    return (
      <div class="notice loading" role="status">
        <h2>Loading trace {id}…</h2>
      </div>
    );
  }
  if (load.state === "error") {
    return (
      <div class="notice error" role="alert">
        <h2>{load.status === 404 ? "Trace not found" : `Cannot load the trace (HTTP ${load.status})`}</h2>
        {load.status === 404 ? (
          <p>
            No span of trace <code>{id}</code> is stored. It may not have arrived yet, or it is older than the retention.
          </p>
        ) : (
          <pre class="reason">{load.message}</pre>
        )}
        <p>
          <a href="/search">Back to search</a>
        </p>
      </div>
    );
  }
  return <TraceView trace={load.trace} params={params} />;
}

function TraceView({ trace, params }: { trace: Trace; params: URLSearchParams }) {
  const model = useMemo(() => {
    setServiceOrder(trace.services.map((s) => s.name).sort());
    return buildModel(trace);
  }, [trace]);
  const total = Math.max(trace.durationNano, 1);
  const [collapsed, setCollapsed] = useState<Set<number>>(() => new Set());
  const [selected, setSelected] = useState<number>(() => {
    const want = params.get("span");
    return want ? trace.spans.findIndex((s) => s.spanID === want) : -1;
  });
  const [view, setView] = useState<[number, number]>([0, total]);
  const [query, setQuery] = useState(params.get("q") ?? "");
  const [current, setCurrent] = useState(0);
  const [showCP, setShowCP] = useState(params.get("cp") === "1");
  const [scrollTo, setScrollTo] = useState({ row: -1, nonce: 0 });
  const searchBox = useRef<HTMLInputElement>(null);

  const rows = useMemo(() => visibleRows(model, collapsed), [model, collapsed]);
  const rowOf = useMemo(() => {
    const m = new Int32Array(model.n).fill(-1);
    rows.forEach((i, k) => (m[i] = k));
    return m;
  }, [rows]);
  const text = useMemo(() => (query ? searchText(model) : null), [model, query !== ""]);
  const matches = useMemo(() => (text ? findMatches(model, text, query) : []), [text, query]);
  const matchSet = useMemo(() => new Set(matches), [matches]);
  const cp = useMemo(() => (showCP ? criticalPath(model) : null), [model, showCP]);

  // Mark the first render with rows, for the benchmark in docs/benchmarks.md.
  useEffect(() => {
    performance.mark("clew:first-rows");
  }, []);

  // Keep the URL in step with the state worth sharing.
  useEffect(() => {
    const p = new URLSearchParams();
    if (selected >= 0) p.set("span", trace.spans[selected].spanID);
    if (query) p.set("q", query);
    if (showCP) p.set("cp", "1");
    const qs = p.toString();
    navigate(`/trace/${trace.traceID}${qs ? `?${qs}` : ""}`, true);
  }, [selected, query, showCP]);

  // Reveal and scroll to a deep-linked span once.
  useEffect(() => {
    if (selected >= 0) reveal(selected);
  }, []);

  const reveal = (i: number) => {
    const c = expandTo(model, collapsed, i);
    if (c !== collapsed) setCollapsed(c);
    const r = visibleRows(model, c);
    const k = c === collapsed ? rowOf[i] : r.indexOf(i);
    setScrollTo({ row: k, nonce: Math.random() });
  };
  const select = (i: number) => {
    setSelected(i);
    if (i >= 0) reveal(i);
  };
  // zoomTo shows span i's time range, with a little room on each side.
  const zoomTo = (i: number) => {
    const s = trace.spans[i];
    const pad = Math.max(s.durationNano * 0.05, total * 0.001);
    setView([Math.max(0, s.startNano - pad), Math.min(total, s.startNano + s.durationNano + pad)]);
  };
  const toggle = (i: number) => {
    const c = new Set(collapsed);
    if (!c.delete(i)) c.add(i);
    setCollapsed(c);
  };
  const jump = (d: number) => {
    if (!matches.length) return;
    const n = (current + d + matches.length) % matches.length;
    setCurrent(n);
    select(matches[n]);
  };
  useEffect(() => setCurrent(0), [query]);

  const onKeyDown = (e: KeyboardEvent) => {
    const k = selected >= 0 ? rowOf[selected] : -1;
    const go = (r: number) => {
      if (r >= 0 && r < rows.length) {
        setSelected(rows[r]);
        setScrollTo({ row: r, nonce: Math.random() });
      }
    };
    switch (e.key) {
      case "ArrowDown":
      case "j":
        go(k + 1);
        break;
      case "ArrowUp":
      case "k":
        go(k < 0 ? 0 : k - 1);
        break;
      case "Home":
        go(0);
        break;
      case "End":
        go(rows.length - 1);
        break;
      case "PageDown":
        go(Math.min(k + 20, rows.length - 1));
        break;
      case "PageUp":
        go(Math.max(k - 20, 0));
        break;
      case "ArrowRight":
      case "l":
        if (selected < 0) return;
        if (collapsed.has(selected)) toggle(selected);
        else if (model.size[selected] > 1) go(k + 1);
        break;
      case "ArrowLeft":
      case "h":
        if (selected < 0) return;
        if (model.size[selected] > 1 && !collapsed.has(selected)) toggle(selected);
        else if (model.parent[selected] >= 0) go(rowOf[model.parent[selected]]);
        break;
      case "Enter":
      case " ":
        if (selected >= 0 && model.size[selected] > 1) toggle(selected);
        break;
      case "Escape":
        setSelected(-1);
        break;
      case "z":
        if (selected >= 0) zoomTo(selected);
        break;
      case "0":
        setView([0, total]);
        break;
      default:
        return;
    }
    e.preventDefault();
  };

  // Page-wide keys: "/" focuses the in-trace search, n / N jump between matches.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement;
      if (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || e.ctrlKey || e.metaKey || e.altKey) return;
      if (e.key === "/") {
        e.preventDefault();
        searchBox.current?.focus();
      } else if (e.key === "n") jump(1);
      else if (e.key === "N") jump(-1);
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  });

  return (
    <div class="trace-page">
      <TraceHeader
        model={model}
        onFind={(q) => {
          setQuery(q);
          searchBox.current?.focus();
        }}
      />
      {trace.warnings.length > 0 && (
        <div class="banner warn" role="note">
          {trace.warnings.map((w) => (
            <p>{w}. Such spans are shown at the top level and marked "orphan".</p>
          ))}
        </div>
      )}
      <div class="toolbar">
        <div class="trace-search">
          <input
            ref={searchBox}
            type="search"
            placeholder="Find in trace (/)…"
            aria-label="Find in trace"
            value={query}
            onInput={(e) => setQuery((e.target as HTMLInputElement).value)}
            onKeyDown={(e) => {
              if (e.key === "Enter") {
                e.preventDefault();
                jump(e.shiftKey ? -1 : matches.length && selected !== matches[current] ? 0 : 1);
              }
            }}
          />
          <span class="match-count" aria-live="polite">
            {query ? (matches.length ? `${current + 1} of ${matches.length}` : "no match") : ""}
          </span>
          <button type="button" onClick={() => jump(-1)} disabled={!matches.length} aria-label="Previous match">
            ↑
          </button>
          <button type="button" onClick={() => jump(1)} disabled={!matches.length} aria-label="Next match">
            ↓
          </button>
        </div>
        <button type="button" onClick={() => setCollapsed(collapseAll(model))}>
          Collapse all
        </button>
        <button type="button" onClick={() => setCollapsed(new Set())}>
          Expand all
        </button>
        <label class="check">
          <input type="checkbox" checked={showCP} onChange={(e) => setShowCP((e.target as HTMLInputElement).checked)} />
          Critical path
        </label>
        <span class="spacer" />
        <a class="button" href={`/api/v3/traces/${trace.traceID}`} download={`trace-${trace.traceID}.otlp.json`}>
          Download OTLP JSON
        </a>
        <a class="button" href={`/api/traces/${trace.traceID}`} download={`trace-${trace.traceID}.jaeger.json`}>
          Download Jaeger JSON
        </a>
      </div>
      <Minimap model={model} view={view} onView={setView} />
      <div class={`trace-body ${selected >= 0 ? "with-details" : ""}`}>
        <Waterfall
          model={model}
          rows={rows}
          collapsed={collapsed}
          selected={selected}
          matches={matchSet}
          current={matches[current] ?? -1}
          cp={cp}
          view={view}
          scrollTo={scrollTo}
          query={query}
          onToggle={toggle}
          onSelect={(i) => setSelected(i === selected ? -1 : i)}
          onKeyDown={onKeyDown}
        />
        {selected >= 0 && (
          <SpanDetails model={model} i={selected} onClose={() => setSelected(-1)} onSelect={select} onZoom={() => zoomTo(selected)} query={query} />
        )}
      </div>
      <p class="hint muted">
        Keys: ↑/↓ or j/k move, ←/→ fold and unfold, Enter toggles, z zooms to the span, 0 resets the zoom, Esc closes details, / finds,
        n/N next and previous match.
      </p>
    </div>
  );
}

function TraceHeader({ model, onFind }: { model: TraceModel; onFind: (q: string) => void }) {
  const t = model.trace;
  return (
    <header class="trace-head">
      <h1>
        <span class="svc-dot" style={{ background: serviceColor(t.rootService) }} />
        <span class="root-svc">{t.rootService}</span> <span class="root-op">{t.rootOperation}</span>
      </h1>
      <dl class="trace-facts">
        <div>
          <dt>Trace ID</dt>
          <dd>
            <code>{t.traceID}</code>
          </dd>
        </div>
        <div>
          <dt>Start</dt>
          <dd>{fmtTime(t.startTimeUnixMicro)}</dd>
        </div>
        <div>
          <dt>Duration</dt>
          <dd>{fmtDuration(t.durationNano)}</dd>
        </div>
        <div>
          <dt>Spans</dt>
          <dd>{t.spanCount}</dd>
        </div>
        <div>
          <dt>Depth</dt>
          <dd>{t.depth}</dd>
        </div>
        <div>
          <dt>Errors</dt>
          <dd class={t.errorCount ? "err" : ""}>{t.errorCount}</dd>
        </div>
      </dl>
      <div class="trace-services">
        {t.services.map((s) => (
          <button
            type="button"
            class="chip"
            title={`${s.spanCount} spans, ${s.errorCount} errors — find them in the trace`}
            onClick={() => onFind(s.name)}
          >
            <span class="svc-dot" style={{ background: serviceColor(s.name) }} />
            {s.name} {s.spanCount}
            {s.errorCount > 0 && <span class="err"> ({s.errorCount} err)</span>}
          </button>
        ))}
      </div>
    </header>
  );
}
