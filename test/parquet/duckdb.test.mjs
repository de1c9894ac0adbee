// Blocks are plain Parquet: DuckDB, an engine that shares no code with
// Clew, reads the blocks the real binary writes, and the example queries
// of internal/store/block/FORMAT.md (taken from the file, so the document
// cannot drift) give the answers Clew's own Jaeger API gives for the same
// traces.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { DuckDBInstance } from "@duckdb/node-api";
import { BIN, startClew } from "../lib/server.mjs";

const TRACES = 2000;
const FORMAT = new URL("../../internal/store/block/FORMAT.md", import.meta.url).pathname;

let clew, db, conn, ids;

/** rows runs sql and returns its rows as objects. */
async function rows(sql) {
  const r = await conn.runAndReadAll(sql);
  return r.getRowObjects();
}

/** formatQueries returns FORMAT.md's SQL examples with the data dir replaced. */
function formatQueries(dataDir) {
  const md = readFileSync(FORMAT, "utf8");
  const blocks = [...md.matchAll(/```sql\n([\s\S]*?)```/g)].map((m) => m[1]);
  const inline = [...md.replace(/\n/g, " ").matchAll(/`(SELECT decode\(value\)[^`]*)`/g)].map((m) => m[1]);
  const fix = (q) => q.replaceAll("'clew-data/", `'${dataDir}/`).replace(/;\s*$/, "");
  return { blocks: blocks.map(fix), kv: inline };
}

/** blockFiles returns the data files of the visible blocks (those with a meta) and their spans. */
function blockFiles() {
  const dir = join(clew.dataDir, "blocks");
  let spans = 0;
  const files = [];
  for (const id of existsSync(dir) ? readdirSync(dir) : []) {
    let meta;
    try {
      meta = JSON.parse(readFileSync(join(dir, id, "meta.json"), "utf8"));
    } catch {
      continue; // not complete yet: a block is visible once its meta is written
    }
    spans += meta.spans;
    files.push(join(dir, id, "data.parquet"));
  }
  return { files, spans };
}

before(async () => {
  clew = await startClew({ storage: "local", args: ["--local.flush-interval=1s", "--local.compaction-interval=0"] });
  const idsFile = join(clew.dataDir, "ids.txt");
  const summary = join(clew.dataDir, "gen.json");
  execFileSync(BIN, [
    "gen", "--endpoint", clew.addrs["receivers.otlp.grpc.addr"], "--protocol", "otlp-grpc",
    "--traces", String(TRACES), "--interval", "0", "--trace-ids", idsFile, "--summary-json", summary,
  ]);
  const s = JSON.parse(readFileSync(summary, "utf8"));
  assert.equal(s.spans_failed + s.spans_rejected, 0, "every span accepted");
  ids = readFileSync(idsFile, "utf8").trim().split("\n");
  assert.equal(ids.length, TRACES);
  // Wait until every accepted span is in a block.
  const deadline = Date.now() + 60_000;
  while (blockFiles().spans < s.spans_accepted) {
    if (Date.now() > deadline) throw new Error(`spans not in blocks after 60s:\n${clew.log()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  db = await DuckDBInstance.create(":memory:");
  conn = await db.connect();
});

after(async () => {
  conn?.closeSync();
  await clew?.stop();
});

test("DuckDB reads every span and trace of the blocks", async () => {
  const { spans } = blockFiles();
  const [r] = await rows(
    `SELECT count(*) AS n, count(DISTINCT trace_id) AS t FROM read_parquet('${clew.dataDir}/blocks/*/data.parquet')`,
  );
  assert.equal(Number(r.n), spans, "rows = spans of the metas");
  assert.equal(Number(r.t), TRACES, "distinct trace ids = traces sent");
  const got = new Set(
    (await rows(`SELECT DISTINCT hex(trace_id) AS id FROM '${clew.dataDir}/blocks/*/data.parquet'`)).map((x) => x.id.toLowerCase()),
  );
  for (const id of ids) assert.ok(got.has(id), `trace ${id} in the blocks`);
});

test("FORMAT.md's queries run and agree with the Jaeger API", async () => {
  const { blocks, kv } = formatQueries(clew.dataDir);
  assert.equal(blocks.length, 2, "FORMAT.md has its two SQL examples");
  assert.equal(kv.length, 1, "FORMAT.md has its key-value metadata example");

  // The slowest failing spans: sorted, all with a 5xx status.
  const slow = await rows(blocks[0]);
  assert.ok(slow.length > 0 && slow.length <= 10, `${slow.length} slow failing spans`);
  for (let i = 1; i < slow.length; i++) assert.ok(slow[i - 1].ms >= slow[i].ms, "ordered by duration");
  const [fails] = await rows(
    `SELECT count(*) AS n FROM '${clew.dataDir}/blocks/*/data.parquet' WHERE http_status_code >= 500`,
  );
  assert.ok(Number(fails.n) >= slow.length);

  // The attribute columns' keys, from the Parquet key-value metadata.
  const { files } = blockFiles();
  const kvq = kv[0].replace("'data.parquet'", `'${files[0]}'`);
  const [meta] = await rows(kvq.replace("SELECT decode(value)", "SELECT decode(value) AS v"));
  const slotKeys = JSON.parse(meta.v);
  assert.ok(Array.isArray(slotKeys) && slotKeys.length >= 1 && slotKeys.length <= 8, `attr_columns ${meta.v}`);

  // Parents resolved by FORMAT.md's query, names, services, durations,
  // dedicated and attribute columns, against the Jaeger API's view of the
  // same traces.
  const sample = ids.filter((_, i) => i % 100 === 0);
  const inList = sample.map((id) => `'${id}'`).join(",");
  const parents = new Map();
  for (const r of await rows(
    `SELECT lower(hex(trace_id)) AS t, lower(hex(span_id)) AS s, lower(hex(parent)) AS p FROM (${blocks[1]}) WHERE lower(hex(trace_id)) IN (${inList})`,
  )) {
    // A root's parent_span_id is zeros (FORMAT.md).
    parents.set(`${r.t}/${r.s}`, r.p === "0000000000000000" ? "" : r.p);
  }
  const cols = slotKeys.map((_, i) => `attr_${i}`).join(", ");
  const spans = new Map();
  for (const r of await rows(
    `SELECT lower(hex(trace_id)) AS t, lower(hex(span_id)) AS s, name, service_name, duration_nano, http_status_code, ${cols}
     FROM '${clew.dataDir}/blocks/*/data.parquet' WHERE lower(hex(trace_id)) IN (${inList})`,
  )) {
    spans.set(`${r.t}/${r.s}`, r);
  }
  let checked = 0;
  let slotValues = 0;
  for (const id of sample) {
    const res = await fetch(`${clew.query}/api/traces/${id}`);
    assert.equal(res.status, 200, `trace ${id}`);
    const [trace] = (await res.json()).data;
    for (const sp of trace.spans) {
      const key = `${id}/${sp.spanID}`;
      const row = spans.get(key);
      assert.ok(row, `span ${key} in DuckDB`);
      assert.equal(row.name, sp.operationName, `name of ${key}`);
      assert.equal(row.service_name, trace.processes[sp.processID].serviceName, `service of ${key}`);
      assert.equal(Math.floor(Number(row.duration_nano) / 1000), sp.duration, `duration of ${key}`);
      const parent = sp.references.find((r) => r.refType === "CHILD_OF" && r.traceID === id);
      assert.equal(parents.get(key), parent ? parent.spanID : "", `parent of ${key}`);
      const tags = new Map(sp.tags.map((t) => [t.key, t.value]));
      const status = tags.get("http.response.status_code");
      assert.equal(row.http_status_code === null ? undefined : Number(row.http_status_code), status, `status of ${key}`);
      slotKeys.forEach((k, i) => {
        const v = row[`attr_${i}`];
        if (v !== null) {
          assert.equal(v, tags.get(k), `${k} (attr_${i}) of ${key}`);
          slotValues++;
        }
      });
      checked++;
    }
  }
  assert.ok(checked >= sample.length * 2, `${checked} spans checked`);
  assert.ok(slotValues > 0, "some attribute column values checked");
});
