// Test traces in OTLP/JSON: a small shop (frontend → checkout → payment, db)
// with an error and an exception, a trace with an orphan span, a trace with
// links, a trace whose every string is an HTML/script payload, and a
// 50,000-span trace.

const nowNs = () => BigInt(Date.now()) * 1_000_000n;

let idSeq = 0;
export function traceID(tag) {
  idSeq++;
  return (tag + idSeq.toString(16)).padStart(32, "0").slice(-32);
}
const spanID = (n) => n.toString(16).padStart(16, "0");

const str = (key, v) => ({ key, value: { stringValue: v } });
const int = (key, v) => ({ key, value: { intValue: String(v) } });
const bool = (key, v) => ({ key, value: { boolValue: v } });
const dbl = (key, v) => ({ key, value: { doubleValue: v } });

function resource(service, extra = []) {
  return { attributes: [str("service.name", service), str("host.name", "node-1"), ...extra] };
}

/** group turns {service: [span,...]} into OTLP resourceSpans. */
function group(byService, resources = {}) {
  return Object.entries(byService).map(([svc, spans]) => ({
    resource: resources[svc] ?? resource(svc),
    scopeSpans: [{ scope: { name: "clew-browser-test", version: "1.0.0" }, spans }],
  }));
}

function span({ trace, id, parent, name, kind = 1, start, dur, attrs = [], status, events = [], links = [] }) {
  return {
    traceId: trace,
    spanId: spanID(id),
    parentSpanId: parent ? spanID(parent) : "",
    name,
    kind,
    startTimeUnixNano: String(start),
    endTimeUnixNano: String(start + BigInt(dur)),
    attributes: attrs,
    events,
    links,
    status: status ?? { code: 0 },
  };
}

const ms = 1_000_000;

/** shopTrace builds one checkout request; tier and fail vary it. */
export function shopTrace({ tier, fail, ageMs, slowMs = 0 }) {
  const t = traceID("a");
  const t0 = nowNs() - BigInt(ageMs) * 1_000_000n;
  const base = Number(String(BigInt.asUintN(32, BigInt("0x" + t.slice(-8)))));
  const id = (n) => base * 16 + n;
  const at = (offMs) => t0 + BigInt(Math.round(offMs * ms));
  const total = 120 + slowMs;
  const spans = {
    frontend: [
      span({ trace: t, id: id(1), name: "GET /checkout", kind: 2, start: at(0), dur: total * ms,
        attrs: [str("http.method", "GET"), str("http.route", "/checkout"), int("http.status_code", fail ? 500 : 200), str("customer.tier", tier)],
        status: fail ? { code: 2, message: "checkout failed" } : { code: 1 } }),
      span({ trace: t, id: id(2), parent: id(1), name: "render", start: at(total - 15), dur: 12 * ms }),
    ],
    checkout: [
      span({ trace: t, id: id(3), parent: id(1), name: "POST /api/checkout", kind: 2, start: at(5), dur: (90 + slowMs) * ms,
        attrs: [str("customer.tier", tier), dbl("cart.total", 42.5), bool("cart.gift", false)] }),
      span({ trace: t, id: id(4), parent: id(3), name: "SELECT cart", kind: 3, start: at(8), dur: 20 * ms,
        attrs: [str("db.system", "postgresql"), str("db.statement", "SELECT * FROM cart WHERE id = $1")] }),
      // Runs alongside the charge and ends first: never on the critical path.
      span({ trace: t, id: id(6), parent: id(3), name: "cache lookup", kind: 3, start: at(32), dur: 10 * ms,
        attrs: [str("db.system", "redis")] }),
    ],
    payment: [
      span({ trace: t, id: id(5), parent: id(3), name: "charge", kind: 3, start: at(30), dur: (60 + slowMs) * ms,
        attrs: [str("payment.provider", "acme"), int("retry.count", fail ? 2 : 0)],
        status: fail ? { code: 2, message: "card declined" } : { code: 0 },
        events: fail
          ? [{ timeUnixNano: String(at(80)), name: "exception", attributes: [
              str("exception.type", "CardDeclined"), str("exception.message", "card declined"),
              str("exception.stacktrace", "CardDeclined: card declined\n    at charge (payment.js:42:7)\n    at processTicksAndRejections (node:internal/process:95:5)")] }]
          : [{ timeUnixNano: String(at(40)), name: "authorized", attributes: [str("auth.code", "A1")] }] }),
    ],
  };
  return { traceID: t, rootSpanID: spanID(id(1)), chargeSpanID: spanID(id(5)), resourceSpans: group(spans) };
}

/** orphanTrace has a span whose parent never arrived. */
export function orphanTrace() {
  const t = traceID("b");
  const t0 = nowNs() - 30_000n * 1_000_000n;
  return {
    traceID: t,
    resourceSpans: group({
      inventory: [
        span({ trace: t, id: 0x101, name: "reserve", kind: 2, start: t0, dur: 50 * ms }),
        span({ trace: t, id: 0x102, parent: 0x999, name: "late-arrival", start: t0 + 10n * 1_000_000n, dur: 5 * ms }),
      ],
    }),
  };
}

/** linkTrace links to another trace (stored) and to one that is not. */
export function linkTrace(linked) {
  const t = traceID("c");
  const t0 = nowNs() - 20_000n * 1_000_000n;
  return {
    traceID: t,
    resourceSpans: group({
      worker: [
        span({ trace: t, id: 0x201, name: "process-batch", kind: 5, start: t0, dur: 30 * ms,
          links: [
            { traceId: linked.traceID, spanId: linked.rootSpanID, attributes: [str("link.reason", "batched")] },
            { traceId: "00000000000000000000000000dead01", spanId: "00000000000000ff", attributes: [] },
          ] }),
      ],
    }),
  };
}

/** The payloads: each runs script if rendered as HTML or followed as a URL. */
export const XSS = {
  service: `<img src=x onerror="window.__xss='service'">`,
  name: `<script>window.__xss='name'</script>`,
  key: `<svg onload="window.__xss='key'">`,
  value: `"><img src=x onerror="window.__xss='value'">`,
  url: `javascript:window.__xss='url'`,
  event: `<iframe src="javascript:window.__xss='event'"></iframe>`,
  resource: `<b onmouseover="window.__xss='resource'">bold</b>`,
};

export function xssTrace() {
  const t = traceID("d");
  const t0 = nowNs() - 10_000n * 1_000_000n;
  const res = resource(XSS.service, [str(XSS.key, XSS.resource)]);
  return {
    traceID: t,
    resourceSpans: group(
      {
        [XSS.service]: [
          span({ trace: t, id: 0x301, name: XSS.name, kind: 2, start: t0, dur: 20 * ms,
            attrs: [str(XSS.key, XSS.value), str("http.url", XSS.url), str("link", XSS.url)],
            status: { code: 2, message: XSS.value },
            events: [{ timeUnixNano: String(t0 + 1_000_000n), name: XSS.event, attributes: [str("exception.stacktrace", XSS.name)] }] }),
          span({ trace: t, id: 0x302, parent: 0x301, name: XSS.url, start: t0 + 2_000_000n, dur: 5 * ms,
            links: [{ traceId: t, spanId: spanID(0x301), attributes: [str(XSS.key, XSS.url)] }] }),
        ],
      },
      { [XSS.service]: res },
    ),
  };
}

/**
 * bigTrace yields the 50,000 spans of one trace in batches: a 4-ary tree
 * (depth 8) over four services, every 997th span an error.
 */
export function* bigTrace(n = 50_000, batch = 5_000) {
  const t = traceID("e");
  const t0 = nowNs() - 5_000n * 1_000_000n;
  const services = ["gateway", "orders", "stock", "ledger"];
  const depthOf = (i) => (i === 0 ? 0 : depthOf(Math.floor((i - 1) / 4)) + 1);
  const startOf = new Array(n);
  const durOf = new Array(n);
  for (let i = 0; i < n; i++) {
    const d = depthOf(i);
    if (i === 0) {
      startOf[0] = 0;
      durOf[0] = 2_000 * ms;
    } else {
      const p = Math.floor((i - 1) / 4);
      const k = (i - 1) % 4;
      const slot = durOf[p] / 4;
      startOf[i] = startOf[p] + k * slot + slot * 0.05;
      durOf[i] = slot * (0.5 + ((i * 7919) % 40) / 100);
    }
    void d;
  }
  for (let from = 0; from < n; from += batch) {
    const by = {};
    for (let i = from; i < Math.min(n, from + batch); i++) {
      const svc = services[depthOf(i) % services.length];
      (by[svc] ??= []).push(
        span({ trace: t, id: i + 1, parent: i ? Math.floor((i - 1) / 4) + 1 : 0, name: `op-${depthOf(i)}-${i % 13}`,
          kind: i ? 1 : 2, start: t0 + BigInt(Math.round(startOf[i])), dur: Math.max(1000, Math.round(durOf[i])),
          attrs: [int("item.index", i), str("shard", `s${i % 16}`)],
          status: i % 997 === 0 && i ? { code: 2, message: "stock mismatch" } : { code: 0 } }),
      );
    }
    yield { traceID: t, resourceSpans: group(by) };
  }
}
