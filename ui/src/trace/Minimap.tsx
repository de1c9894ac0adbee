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
    const draw = () => {
      const w = c.clientWidth;
      const dpr = window.devicePixelRatio || 1;
      c.width = Math.round(w * dpr);
      c.height = Math.round(H * dpr);
      const ctx = c.getContext("2d");
      if (!ctx) return;
      ctx.scale(dpr, dpr);
      ctx.clearRect(0, 0, w, H);
      const rowH = Math.max(H / model.n, 0.5);
      for (let k = 0; k < model.n; k++) {
        const i = model.pre[k];
        const s = model.spans[i];
        ctx.fillStyle = s.status.code === "error" ? "#d64545" : serviceColor(model.service[i]);
        ctx.fillRect((s.startNano / total) * w, (k / model.n) * H, Math.max((s.durationNano / total) * w, 1), Math.max(rowH, 1));
      }
    };
    draw();
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
