import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import { fmtDuration, serviceColor } from "../format";
import type { Segment, TraceModel } from "./model";
import { ticks } from "./model";
import { highlight } from "../highlight";

export const ROW_H = 24;
const OVERSCAN = 10;
const CHUNK = 8;

interface Props {
  model: TraceModel;
  rows: Int32Array;
  collapsed: Set<number>;
  selected: number;
  matches: Set<number>;
  current: number;
  cp: Map<number, Segment[]> | null;
  view: [number, number];
  scrollTo: { row: number; nonce: number };
  /** query is the in-trace search text, marked where it occurs in names. */
  query: string;
  onToggle: (i: number) => void;
  onSelect: (i: number) => void;
  onKeyDown: (e: KeyboardEvent) => void;
}

/**
 * Waterfall draws one row per visible span, indented by depth, with its bar
 * on the time axis of the view window. Only the rows in (and near) the
 * viewport exist in the DOM.
 */
export function Waterfall(p: Props) {
  const scroller = useRef<HTMLDivElement>(null);
  const [top, setTop] = useState(0);
  const [height, setHeight] = useState(600);
  const frame = useRef(0);

  useLayoutEffect(() => {
    const el = scroller.current!;
    setHeight(el.clientHeight);
    const ro = new ResizeObserver(() => setHeight(el.clientHeight));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  useEffect(() => {
    const el = scroller.current;
    if (!el || p.scrollTo.row < 0) return;
    const y = p.scrollTo.row * ROW_H;
    if (y < el.scrollTop) el.scrollTop = y;
    else if (y + ROW_H > el.scrollTop + el.clientHeight) el.scrollTop = y + ROW_H - el.clientHeight + ROW_H * 2;
  }, [p.scrollTo]);

  // The rendered window moves in steps of CHUNK rows, so scrolling
  // re-renders once every few frames instead of on every one.
  const onScroll = () => {
    if (frame.current) return;
    frame.current = requestAnimationFrame(() => {
      frame.current = 0;
      const t = Math.floor(scroller.current!.scrollTop / (ROW_H * CHUNK)) * ROW_H * CHUNK;
      if (t !== top) setTop(t);
    });
  };

  const [t0, t1] = p.view;
  const span = Math.max(t1 - t0, 1);
  const pct = (t: number) => ((t - t0) / span) * 100;
  const first = Math.max(0, Math.floor(top / ROW_H) - OVERSCAN);
  const last = Math.min(p.rows.length, Math.ceil((top + height) / ROW_H) + CHUNK + OVERSCAN);
  const tickList = ticks(t0, t1);
  const { spans, service, depth, size } = p.model;

  const rows = [];
  for (let k = first; k < last; k++) {
    const i = p.rows[k];
    const s = spans[i];
    const svc = service[i];
    const color = serviceColor(svc);
    const hasKids = size[i] > 1;
    const folded = p.collapsed.has(i);
    const left = pct(s.startNano);
    const width = Math.max((s.durationNano / span) * 100, 0.15);
    const isErr = s.status.code === "error";
    const segs = p.cp?.get(i);
    const cls = ["wf-row"];
    if (i === p.selected) cls.push("selected");
    if (p.matches.has(i)) cls.push("match");
    if (i === p.current) cls.push("current-match");
    if (isErr) cls.push("error");
    if (p.cp && !segs) cls.push("off-path");
    rows.push(
      <div
        key={i}
        class={cls.join(" ")}
        style={{ transform: `translateY(${k * ROW_H}px)` }}
        role="row"
        aria-selected={i === p.selected}
        aria-level={depth[i] + 1}
        aria-expanded={hasKids ? !folded : undefined}
        data-span-id={s.spanID}
        onClick={() => p.onSelect(i)}
      >
        <div
          class="wf-name"
          style={{ paddingLeft: `${6 + Math.min(depth[i], 40) * 14}px` }}
          role="gridcell"
          title={`${svc}: ${s.name}`}
        >
          {hasKids ? (
            <button
              type="button"
              class="wf-toggle"
              tabIndex={-1}
              aria-label={folded ? "Expand" : "Collapse"}
              onClick={(e) => {
                e.stopPropagation();
                p.onToggle(i);
              }}
            >
              {folded ? "▸" : "▾"}
            </button>
          ) : (
            <span class="wf-toggle-space" />
          )}
          <span class="svc-dot" style={{ background: color }} />
          <span class="wf-svc">{highlight(svc, p.query)}</span> <span class="wf-op">{highlight(s.name, p.query)}</span>
          {folded && <span class="badge">{size[i] - 1} hidden</span>}
          {isErr && <span class="badge err" title="status error">error</span>}
          {s.orphan && <span class="badge warn" title="parent span not in the trace">orphan</span>}
        </div>
        <div class="wf-timeline" role="gridcell">
          <div
            class="wf-bar"
            style={{ left: `${left}%`, width: `${width}%`, background: color }}
            title={`${svc}: ${s.name} — ${fmtDuration(s.durationNano)}`}
          />
          {s.events.slice(0, 50).map((e) => (
            <div
              class={`wf-event${e.name === "exception" ? " exception" : ""}`}
              style={{ left: `${pct(s.startNano + e.offsetNano)}%` }}
              title={`${e.name} at +${fmtDuration(e.offsetNano)}`}
            />
          ))}
          {segs?.map(([a, b]) => (
            <div class="wf-cp" style={{ left: `${pct(a)}%`, width: `${Math.max(((b - a) / span) * 100, 0.1)}%` }} />
          ))}
          <span
            class={`wf-dur${left + width > 85 && left <= 12 ? " inside" : ""}`}
            style={
              left + width <= 85
                ? { left: `${left + width + 0.5}%` }
                : left > 12
                  ? { right: `${100 - left + 0.5}%` }
                  : { left: `${Math.max(left, 0) + 0.5}%` }
            }
          >
            {fmtDuration(s.durationNano)}
          </span>
        </div>
      </div>,
    );
  }

  return (
    <div class="wf" role="treegrid" aria-label="Spans" aria-rowcount={p.rows.length}>
      <div class="wf-head">
        <div class="wf-name">Service &amp; operation</div>
        <div class="wf-timeline wf-axis">
          {tickList.map((t) => (
            <span class="tick" style={{ left: `${pct(t)}%` }}>
              {fmtDuration(t)}
            </span>
          ))}
        </div>
      </div>
      <div class="wf-scroll" ref={scroller} tabIndex={0} onScroll={onScroll} onKeyDown={p.onKeyDown}>
        <div class="wf-inner" style={{ height: `${p.rows.length * ROW_H}px` }}>
          <div class="wf-grid">
            {tickList.map((t) => (
              <span style={{ left: `${pct(t)}%` }} />
            ))}
          </div>
          {rows}
        </div>
      </div>
    </div>
  );
}

