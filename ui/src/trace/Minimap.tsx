import { useEffect, useRef, useState } from "preact/hooks";
import { fmtDuration, serviceColor } from "../format";
import type { TraceModel } from "./model";

interface Props {
  model: TraceModel;
  view: [number, number];
  onView: (v: [number, number]) => void;
}

const H = 56;

/**
 * Minimap draws every span of the trace, one line per span in tree order,
 * over the whole trace duration; dragging across it selects the time window
 * the waterfall shows.
 */
export function Minimap({ model, view, onView }: Props) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const box = useRef<HTMLDivElement>(null);
  const [drag, setDrag] = useState<[number, number] | null>(null);
  const total = Math.max(model.trace.durationNano, 1);

  useEffect(() => {
    const c = canvas.current!;
    // Spans are painted straight into pixels: one fillRect per span costs
    // most of a second for 50,000 spans, this a few milliseconds.
    const draw = () => {
      const dpr = window.devicePixelRatio || 1;
      const w = Math.max(Math.round(c.clientWidth * dpr), 1);
      const h = Math.round(H * dpr);
      c.width = w;
      c.height = h;
      const ctx = c.getContext("2d");
      if (!ctx) return;
      const img = ctx.createImageData(w, h);
      const px = new Uint32Array(img.data.buffer);
      const colors = new Map<string, number>();
      const rgba = (hex: string) => {
        let v = colors.get(hex);
        if (v === undefined) {
          const n = parseInt(hex.slice(1), 16);
          v = ((0xff << 24) | ((n & 0xff) << 16) | (n & 0xff00) | ((n >> 16) & 0xff)) >>> 0;
          colors.set(hex, v);
        }
        return v;
      };
      const n = model.n;
      for (let k = 0; k < n; k++) {
        const i = model.pre[k];
        const s = model.spans[i];
        const color = rgba(s.status.code === "error" ? "#d64545" : serviceColor(model.service[i]));
        const y0 = Math.floor((k / n) * h);
        const y1 = Math.max(y0 + 1, Math.floor(((k + 1) / n) * h));
        const x0 = Math.min(Math.floor((s.startNano / total) * w), w - 1);
        const x1 = Math.min(Math.max(x0 + 1, Math.ceil(((s.startNano + s.durationNano) / total) * w)), w);
        for (let y = y0; y < y1 && y < h; y++) px.fill(color, y * w + x0, y * w + x1);
      }
      ctx.putImageData(img, 0, 0);
    };
    // The observer calls draw once at the start, and again on resizes.
    const ro = new ResizeObserver(draw);
    ro.observe(c);
    return () => ro.disconnect();
  }, [model]);

  const frac = (e: PointerEvent) => {
    const r = box.current!.getBoundingClientRect();
    return Math.min(Math.max((e.clientX - r.left) / r.width, 0), 1);
  };
  const down = (e: PointerEvent) => {
    (e.currentTarget as HTMLElement).setPointerCapture(e.pointerId);
    const f = frac(e);
    setDrag([f, f]);
  };
  const move = (e: PointerEvent) => {
    if (drag) setDrag([drag[0], frac(e)]);
  };
  const up = () => {
    if (!drag) return;
    const a = Math.min(...drag);
    const b = Math.max(...drag);
    setDrag(null);
    if (b - a > 0.005) onView([a * total, b * total]);
  };

  const sel = drag ? [Math.min(...drag), Math.max(...drag)] : [view[0] / total, view[1] / total];
  const zoomed = view[0] > 0 || view[1] < total;
  return (
    <div class="minimap">
      <div
        class="minimap-box"
        ref={box}
        onPointerDown={down}
        onPointerMove={move}
        onPointerUp={up}
        title="Drag to choose the time window of the waterfall"
      >
        <canvas ref={canvas} style={{ height: `${H}px` }} aria-hidden="true" />
        <div class="minimap-shade" style={{ left: 0, width: `${sel[0] * 100}%` }} />
        <div class="minimap-sel" style={{ left: `${sel[0] * 100}%`, width: `${(sel[1] - sel[0]) * 100}%` }} />
        <div class="minimap-shade" style={{ left: `${sel[1] * 100}%`, right: 0 }} />
      </div>
      <div class="minimap-info">
        {zoomed ? (
          <>
            Window {fmtDuration(view[0])} – {fmtDuration(view[1])}{" "}
            <button type="button" onClick={() => onView([0, total])}>
              Reset zoom
            </button>
          </>
        ) : (
          <span class="muted">Drag across the minimap to zoom into a time window.</span>
        )}
      </div>
    </div>
  );
}
