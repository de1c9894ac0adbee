// Formatting of times and durations for display.

/** fmtDuration formats nanoseconds with a unit that keeps 3 significant digits. */
export function fmtDuration(ns: number): string {
  if (!isFinite(ns)) return "–";
  const a = Math.abs(ns);
  if (a < 1e3) return `${Math.round(ns)}ns`;
  if (a < 1e6) return `${trim(ns / 1e3)}µs`;
  if (a < 1e9) return `${trim(ns / 1e6)}ms`;
  if (a < 60e9) return `${trim(ns / 1e9)}s`;
  if (a < 3600e9) return `${Math.floor(ns / 60e9)}m${Math.round((ns % 60e9) / 1e9)}s`;
  return `${Math.floor(ns / 3600e9)}h${Math.round((ns % 3600e9) / 60e9)}m`;
}

function trim(v: number): string {
  const a = Math.abs(v);
  const digits = a >= 100 ? 0 : a >= 10 ? 1 : 2;
  const t = v.toFixed(digits);
  return digits ? t.replace(/\.?0+$/, "") : t;
}

const pad = (n: number, w = 2) => String(n).padStart(w, "0");

/** fmtTime formats Unix microseconds as local date and time with milliseconds. */
export function fmtTime(us: number): string {
  const d = new Date(us / 1000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** fmtRelative says how long ago Unix microseconds were. */
export function fmtAgo(us: number, nowMs = Date.now()): string {
  const s = Math.round(nowMs / 1000 - us / 1e6);
  if (s < 0) return "in the future";
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.round(s / 60)}m ago`;
  if (s < 86400) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86400)}d ago`;
}

/** toLocalInput formats Unix ms for an <input type="datetime-local">. */
export function toLocalInput(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

// A palette readable on light and dark backgrounds.
const palette = [
  "#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948",
  "#ff9da7", "#9c755f", "#2f9e9e", "#8c6bb1", "#d37295", "#6b8e23",
];

let order = new Map<string, number>();

/**
 * setServiceOrder gives the services of the page distinct colours (while
 * there are no more of them than colours), in the order given.
 */
export function setServiceOrder(names: string[]): void {
  order = new Map(names.map((n, i) => [n, i]));
}

/** serviceColor gives each service name a stable colour on a page. */
export function serviceColor(name: string): string {
  const i = order.get(name);
  if (i !== undefined) return palette[i % palette.length];
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return palette[(h >>> 0) % palette.length];
}
