// The trace as the waterfall needs it: a tree in pre-order with subtree
// sizes (so collapsing is a skip), depths, and helpers for the visible rows,
// the critical path and in-trace search. Everything is computed once per
// trace in O(spans) and kept in typed arrays so 50,000-span traces stay fast.
import type { Span, Trace } from "../api";

export interface TraceModel {
  trace: Trace;
  spans: Span[];
  n: number;
  /** parent[i] is the index of span i's parent in the tree, or -1. */
  parent: Int32Array;
  /** pre lists span indices in pre-order; pos[i] is span i's place in it. */
  pre: Int32Array;
  pos: Int32Array;
  /** size[i] counts span i and its descendants. */
  size: Int32Array;
  depth: Int32Array;
  /** service[i] is the service name of span i. */
  service: string[];
  /** children[i] lists span i's children in start order. */
  children: number[][];
  roots: number[];
  /** spans in a parent cycle, shown as roots. */
  cycles: number;
}

export function buildModel(trace: Trace): TraceModel {
  const spans = trace.spans;
  const n = spans.length;
  const index = new Map<string, number>();
  spans.forEach((s, i) => {
    if (!index.has(s.spanID)) index.set(s.spanID, i);
  });
  const parent = new Int32Array(n).fill(-1);
  const children: number[][] = Array.from({ length: n }, () => []);
  const roots: number[] = [];
  for (let i = 0; i < n; i++) {
    const p = spans[i].parentSpanID ? index.get(spans[i].parentSpanID) : undefined;
    if (p === undefined || p === i) roots.push(i);
    else {
      parent[i] = p;
      children[p].push(i);
    }
  }
  const pre = new Int32Array(n);
  const pos = new Int32Array(n).fill(-1);
  const depth = new Int32Array(n);
  let k = 0;
  const stack: number[] = [];
  const walk = (r: number) => {
    stack.push(r);
    depth[r] = 0;
    while (stack.length) {
      const i = stack.pop()!;
      if (pos[i] >= 0) continue;
      pos[i] = k;
      pre[k++] = i;
      const c = children[i];
      for (let j = c.length - 1; j >= 0; j--) {
        if (pos[c[j]] < 0) {
          depth[c[j]] = depth[i] + 1;
          stack.push(c[j]);
        }
      }
    }
  };
  for (const r of roots) walk(r);
  // Spans in a parent cycle are reached from no root: each cycle becomes a
  // tree of its own, entered at its earliest span.
  let cycles = 0;
  for (let i = 0; i < n; i++) {
    if (pos[i] < 0) {
      const p = parent[i];
      if (p >= 0) children[p] = children[p].filter((c) => c !== i);
      parent[i] = -1;
      roots.push(i);
      cycles++;
      walk(i);
    }
  }
  // Subtree sizes from depths along the pre-order.
  const size = new Int32Array(n);
  const open: number[] = [];
  for (let q = 0; q < n; q++) {
    const d = depth[pre[q]];
    while (open.length && depth[pre[open[open.length - 1]]] >= d) {
      const p = open.pop()!;
      size[pre[p]] = q - p;
    }
    open.push(q);
  }
  while (open.length) {
    const p = open.pop()!;
    size[pre[p]] = n - p;
  }
  const service = spans.map((s) => trace.resources[s.resource]?.serviceName ?? "unknown_service");
  return { trace, spans, n, parent, pre, pos, size, depth, service, children, roots, cycles };
}

/** visibleRows lists the spans shown when the spans in collapsed are folded. */
export function visibleRows(m: TraceModel, collapsed: Set<number>): Int32Array {
  if (collapsed.size === 0) return m.pre;
  const out = new Int32Array(m.n);
  let k = 0;
  for (let q = 0; q < m.n; ) {
    const i = m.pre[q];
    out[k++] = i;
    q += collapsed.has(i) ? m.size[i] : 1;
  }
  return out.subarray(0, k);
}

/** collapsibleAll returns every span with children (for "collapse all"). */
export function collapseAll(m: TraceModel): Set<number> {
  const s = new Set<number>();
  for (let i = 0; i < m.n; i++) if (m.size[i] > 1) s.add(i);
  return s;
}

/** expandTo removes i's ancestors from collapsed so that i is visible. */
export function expandTo(m: TraceModel, collapsed: Set<number>, i: number): Set<number> {
  let changed = false;
  const out = new Set(collapsed);
  for (let p = m.parent[i]; p >= 0; p = m.parent[p]) {
    if (out.delete(p)) changed = true;
  }
  return changed ? out : collapsed;
}

export const spanEnd = (s: Span) => s.startNano + s.durationNano;

/** Segment is a stretch [start, end) of a span on the critical path, in ns. */
export type Segment = [number, number];

/**
 * criticalPath finds, from the longest root backwards in time, the chain of
 * work each span was waiting on: at each point, the child that finished last
 * before it; the span itself where no child was running. It returns each
 * span's segments on the path.
 */
export function criticalPath(m: TraceModel): Map<number, Segment[]> {
  const out = new Map<number, Segment[]>();
  if (!m.roots.length) return out;
  let root = m.roots[0];
  for (const r of m.roots) if (spanEnd(m.spans[r]) - m.spans[r].startNano > spanEnd(m.spans[root]) - m.spans[root].startNano) root = r;
  const add = (i: number, a: number, b: number) => {
    if (b <= a) return;
    const l = out.get(i);
    if (l) l.push([a, b]);
    else out.set(i, [[a, b]]);
  };
  interface Frame {
    i: number;
    cursor: number;
    kids: number[];
    k: number;
  }
  const frame = (i: number, limit: number): Frame => ({
    i,
    cursor: Math.min(spanEnd(m.spans[i]), limit),
    kids: m.children[i].slice().sort((a, b) => spanEnd(m.spans[b]) - spanEnd(m.spans[a])),
    k: 0,
  });
  const stack: Frame[] = [frame(root, Infinity)];
  while (stack.length) {
    const f = stack[stack.length - 1];
    const s = m.spans[f.i];
    let pushed = false;
    while (f.k < f.kids.length) {
      const c = f.kids[f.k++];
      const cs = m.spans[c];
      if (cs.startNano >= f.cursor || f.cursor <= s.startNano) continue;
      add(f.i, Math.min(spanEnd(cs), f.cursor), f.cursor);
      const limit = f.cursor;
      f.cursor = Math.max(cs.startNano, s.startNano);
      stack.push(frame(c, limit));
      pushed = true;
      break;
    }
    if (pushed) continue;
    add(f.i, s.startNano, f.cursor);
    stack.pop();
  }
  return out;
}

/** searchText returns, for each span, the lower-case text in-trace search looks at. */
export function searchText(m: TraceModel): string[] {
  return m.spans.map((s, i) => {
    const parts = [s.name, m.service[i], s.spanID, s.status.message];
    for (const a of s.attributes) parts.push(a.key, a.value);
    const r = m.trace.resources[s.resource];
    if (r) for (const a of r.attributes) parts.push(a.key, a.value);
    for (const e of s.events) {
      parts.push(e.name);
      for (const a of e.attributes) parts.push(a.key, a.value);
    }
    return parts.join("\u0000").toLowerCase();
  });
}

/** findMatches lists, in pre-order, the spans whose text contains q. */
export function findMatches(m: TraceModel, text: string[], q: string): number[] {
  const needle = q.trim().toLowerCase();
  if (!needle) return [];
  const out: number[] = [];
  for (let k = 0; k < m.n; k++) if (text[m.pre[k]].includes(needle)) out.push(m.pre[k]);
  return out;
}

/** ticks returns round time positions (ns) across [t0, t1]. */
export function ticks(t0: number, t1: number, target = 5): number[] {
  const span = t1 - t0;
  if (!(span > 0)) return [t0];
  const raw = span / target;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((x) => x * mag).find((x) => x >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let t = Math.ceil(t0 / step) * step; t <= t1 + 1e-9; t += step) out.push(t);
  return out;
}

/**
 * selfTime returns the part of span i's duration during which none of its
 * children was running (their intervals clipped to the span and merged).
 */
export function selfTime(m: TraceModel, i: number): number {
  const s = m.spans[i];
  const start = s.startNano;
  const end = spanEnd(s);
  const kids = m.children[i]
    .map((c): [number, number] => [Math.max(m.spans[c].startNano, start), Math.min(spanEnd(m.spans[c]), end)])
    .filter(([a, b]) => b > a)
    .sort((x, y) => x[0] - y[0]);
  let busy = 0;
  let curA = -1;
  let curB = -1;
  for (const [a, b] of kids) {
    if (a > curB) {
      busy += curB - curA;
      curA = a;
      curB = b;
    } else if (b > curB) curB = b;
  }
  busy += curB - curA;
  return s.durationNano - busy;
}
