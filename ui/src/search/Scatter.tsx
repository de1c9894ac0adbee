import { useEffect, useRef, useState } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { TraceSummary } from "../api";
import { fmtDuration, fmtTime } from "../format";
import { themeEvent } from "../theme";

interface Props {
  traces: TraceSummary[];
  onOpen: (t: TraceSummary) => void;
}

/**
 * Scatter plots each trace's duration over its start time; red dots have
 * errors. Clicking a dot opens the trace.
 */
export function Scatter({ traces, onOpen }: Props) {
  const host = useRef<HTMLDivElement>(null);
  const tip = useRef<HTMLDivElement>(null);
  const open = useRef(onOpen);
  open.current = onOpen;
  // The axes take their colours from the theme: redraw when it changes.
  const [theme, setTheme] = useState(0);
  useEffect(() => {
    const f = () => setTheme((n) => n + 1);
    window.addEventListener(themeEvent, f);
    return () => window.removeEventListener(themeEvent, f);
  }, []);

  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const sorted = traces.slice().sort((a, b) => a.startTimeUnixMicro - b.startTimeUnixMicro);
    const xs = sorted.map((t) => t.startTimeUnixMicro / 1e6);
    const ok = sorted.map((t) => (t.errorCount ? null : t.durationNano / 1e6));
    const bad = sorted.map((t) => (t.errorCount ? t.durationNano / 1e6 : null));
    const css = getComputedStyle(document.documentElement);
    const fg = css.getPropertyValue("--muted").trim() || "#888";
    const grid = css.getPropertyValue("--grid").trim() || "#ddd";
    const axis = { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    const opts: uPlot.Options = {
      width: Math.max(el.clientWidth, 300),
      height: 200,
      legend: { show: false },
      cursor: { drag: { x: false, y: false }, points: { size: 12 } },
      scales: {
        // A little room around the points; a lone trace gets a minute each side.
        x: {
          time: true,
          range: (): [number, number] => {
            const min = xs[0];
            const max = xs[xs.length - 1];
            const pad = Math.max((max - min) * 0.04, max === min ? 60 : 1);
            return [min - pad, max + pad];
          },
        },
        y: { distr: 3 },
      },
      axes: [
        axis,
        {
          ...axis,
          size: 64,
          splits: (_u, _i, min, max) => decades(min, max),
          values: (_u, vals) => vals.map((v) => (v == null ? "" : fmtDuration(v * 1e6))),
        },
      ],
      series: [
        {},
        { label: "ok", stroke: "#4e79a7", paths: () => null, points: { show: true, size: 8, fill: "#4e79a7" } },
        { label: "errors", stroke: "#d64545", paths: () => null, points: { show: true, size: 8, fill: "#d64545" } },
      ],
    };
    // The nearest dot in both directions, within a few pixels: uPlot's
    // cursor index only looks at x, and traces can start at the same time.
    const nearest = (u: uPlot): number => {
      const cx = u.cursor.left ?? -1;
      const cy = u.cursor.top ?? -1;
      if (cx < 0 || cy < 0) return -1;
      let best = -1;
      let bestD = 12 * 12;
      for (let i = 0; i < sorted.length; i++) {
        const dx = u.valToPos(xs[i], "x") - cx;
        const dy = u.valToPos(sorted[i].durationNano / 1e6, "y") - cy;
        const d = dx * dx + dy * dy;
        if (d < bestD) {
          bestD = d;
          best = i;
        }
      }
      return best;
    };
    // The hovered dot's trace, as text, beside the cursor.
    opts.hooks = {
      setCursor: [
        (u) => {
          const t = tip.current;
          if (!t) return;
          const i = nearest(u);
          const tr = i >= 0 ? sorted[i] : undefined;
          if (!tr || u.cursor.left == null || u.cursor.left < 0) {
            t.hidden = true;
            return;
          }
          t.hidden = false;
          t.textContent = `${tr.rootService}: ${tr.rootOperation} — ${fmtDuration(tr.durationNano)}, ${tr.spanCount} spans${tr.errorCount ? `, ${tr.errorCount} errors` : ""} · ${fmtTime(tr.startTimeUnixMicro)}`;
          const x = u.valToPos(xs[i], "x");
          const y = u.valToPos(tr.durationNano / 1e6, "y");
          const over = u.over.getBoundingClientRect();
          const base = el.getBoundingClientRect();
          const left = over.left - base.left + x + 12;
          t.style.left = `${Math.min(left, Math.max(base.width - t.offsetWidth - 4, 0))}px`;
          t.style.top = `${over.top - base.top + y + 12}px`;
        },
      ],
    };
    const u = new uPlot(opts, [xs, ok, bad], el);
    const click = () => {
      const i = nearest(u);
      if (i >= 0) open.current(sorted[i]);
    };
    u.over.addEventListener("click", click);
    u.over.title = "Click a dot to open its trace";
    const ro = new ResizeObserver(() => u.setSize({ width: Math.max(el.clientWidth, 300), height: 200 }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
    };
  }, [traces, theme]);

  return (
    <div class="scatter-wrap">
      <div class="scatter" ref={host} aria-label="Trace durations over time" />
      <div class="scatter-tip" ref={tip} hidden role="tooltip" />
    </div>
  );
}

/** decades returns round durations (ms) between min and max for the log axis. */
function decades(min: number, max: number): number[] {
  const lo = Math.floor(Math.log10(min));
  const hi = Math.ceil(Math.log10(max));
  const steps = hi - lo <= 2 ? [1, 2, 5] : [1];
  const out: number[] = [];
  for (let e = lo; e <= hi; e++) {
    for (const m of steps) {
      const v = m * Math.pow(10, e);
      if (v >= min * 0.999 && v <= max * 1.001) out.push(v);
    }
  }
  return out;
}
