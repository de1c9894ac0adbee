// Unit tests of the UI's pure logic (trace tree, critical path, in-trace
// search, tag parsing, formatting), bundled from the TypeScript sources by
// esbuild and run by node --test.
import assert from "node:assert/strict";
import { test } from "node:test";
import { build } from "esbuild";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const bundle = await build({
  stdin: {
    contents: `export * from "./src/trace/model.ts"; export * from "./src/search/tags.ts"; export * from "./src/format.ts";`,
    resolveDir: root,
    loader: "ts",
  },
  bundle: true,
  write: false,
  format: "esm",
  logLevel: "error",
});
const m = await import("data:text/javascript;base64," + Buffer.from(bundle.outputFiles[0].text).toString("base64"));

// trace builds a native-API trace from [id, parent, start, duration, name?].
function trace(rows) {
  return {
    traceID: "1",
    durationNano: Math.max(...rows.map(([, , s, d]) => s + d)),
    resources: [{ serviceName: "svc", attributes: [{ key: "host.name", type: "string", value: "h1" }] }],
    scopes: [],
    services: [{ name: "svc", spanCount: rows.length, errorCount: 0 }],
    warnings: [],
    spans: rows.map(([id, parent, start, dur, name]) => ({
      spanID: id,
      parentSpanID: parent,
      name: name ?? `op-${id}`,
      kind: "internal",
      resource: 0,
      scope: -1,
      startNano: start,
      durationNano: dur,
      status: { code: "unset", message: "" },
      attributes: [],
      events: [],
      links: [],
    })),
  };
}

const order = (model, rows) => [...rows].map((i) => model.spans[i].spanID);

test("buildModel orders spans depth-first and sizes subtrees", () => {
  const model = m.buildModel(trace([
    ["a", "", 0, 100],
    ["b", "a", 10, 50],
    ["d", "a", 20, 10],
    ["c", "b", 15, 5],
    ["x", "missing", 30, 5],
  ]));
  assert.deepEqual(order(model, model.pre), ["a", "b", "c", "d", "x"]);
  assert.deepEqual([...model.depth], [0, 1, 1, 2, 0]);
  assert.deepEqual([...model.size], [4, 2, 1, 1, 1]);
  assert.deepEqual(order(model, m.visibleRows(model, new Set([1]))), ["a", "b", "d", "x"]);
  assert.deepEqual(order(model, m.visibleRows(model, m.collapseAll(model))), ["a", "x"]);
  const expanded = m.expandTo(model, new Set([0, 1]), 3);
  assert.deepEqual([...expanded], [], "expanding to c opens a and b");
});

test("spans in a parent cycle are shown, not lost", () => {
  const model = m.buildModel(trace([
    ["r", "", 0, 10],
    ["p", "q", 1, 2],
    ["q", "p", 2, 2],
  ]));
  assert.equal(model.cycles, 1);
  assert.deepEqual(order(model, model.pre), ["r", "p", "q"]);
  assert.equal(m.visibleRows(model, new Set()).length, 3);
});

test("the critical path follows the last-finishing child backwards", () => {
  // root 0..100: child a 10..40, child b 50..90 (with grandchild c 60..70),
  // child p 55..65 runs alongside b and finishes first: not on the path.
  const model = m.buildModel(trace([
    ["root", "", 0, 100],
    ["a", "root", 10, 30],
    ["b", "root", 50, 40],
    ["p", "root", 55, 10],
    ["c", "b", 60, 10],
  ]));
  const cp = m.criticalPath(model);
  const segs = Object.fromEntries([...cp].map(([i, s]) => [model.spans[i].spanID, s.sort((x, y) => x[0] - y[0])]));
  assert.deepEqual(segs, {
    root: [[0, 10], [40, 50], [90, 100]],
    a: [[10, 40]],
    b: [[50, 60], [70, 90]],
    c: [[60, 70]],
  });
});

test("in-trace search looks at names, services and attributes, in tree order", () => {
  const t = trace([
    ["a", "", 0, 100, "GET /cart"],
    ["c", "a", 5, 10, "cache"],
    ["b", "a", 10, 10, "db"],
  ]);
  t.spans[2].attributes = [{ key: "db.statement", type: "string", value: "SELECT * FROM Cart" }];
  const model = m.buildModel(t);
  const text = m.searchText(model);
  const ids = (q) => m.findMatches(model, text, q).map((i) => model.spans[i].spanID);
  assert.deepEqual(ids("cart"), ["a", "b"]);
  assert.deepEqual(ids("SVC"), ["a", "c", "b"]);
  assert.deepEqual(ids("db.statement"), ["b"]);
  assert.deepEqual(ids("h1"), ["a", "c", "b"], "resource attributes");
  assert.deepEqual(ids("  "), []);
});

test("tags parse as logfmt and format back", () => {
  const f = (text, want) => {
    const got = m.parseTags(text);
    assert.deepEqual(got, { tags: want });
    assert.deepEqual(m.parseTags(m.formatTags(want)), { tags: want });
  };
  f("", []);
  f("a=1 b=two", [{ key: "a", value: "1" }, { key: "b", value: "two" }]);
  f('http.route="/a b" q="x\\"y" e=', [{ key: "http.route", value: "/a b" }, { key: "q", value: 'x"y' }, { key: "e", value: "" }]);
  f("k=a=b", [{ key: "k", value: "a=b" }]);
  assert.match(m.parseTags("novalue").error, /not key=value/);
  assert.match(m.parseTags("=v").error, /empty key/);
  assert.match(m.parseTags('k="open').error, /unterminated/);
});

test("durations format with three significant digits", () => {
  const cases = [[0, "0ns"], [999, "999ns"], [1500, "1.5µs"], [520e6, "520ms"], [12.5e6, "12.5ms"], [1e9, "1s"], [90e9, "1m30s"], [7200e9, "2h0m"]];
  for (const [ns, want] of cases) assert.equal(m.fmtDuration(ns), want, `${ns}`);
});

test("ticks are round and cover the window", () => {
  assert.deepEqual(m.ticks(0, 100, 5), [0, 20, 40, 60, 80, 100]);
  assert.deepEqual(m.ticks(0, 0), [0]);
});

test("self time is the span's duration outside its children", () => {
  // p 0..100; children 10..40 and 30..50 overlap (busy 10..50), 90..120 is
  // clipped to 90..100: self time 100 - 40 - 10 = 50.
  const model = m.buildModel(trace([
    ["p", "", 0, 100],
    ["a", "p", 10, 30],
    ["b", "p", 30, 20],
    ["c", "p", 90, 30],
  ]));
  assert.equal(m.selfTime(model, 0), 50);
  assert.equal(m.selfTime(model, 1), 30, "a leaf is all self time");
});
