#!/usr/bin/env bash
# make bench: the storage benchmark of docs/benchmarks.md. Starts a fresh
# clew (local storage, empty data dir), sends TRACES traces (default 100,000
# of 10 spans: 1,000,000 spans) with `clew gen` over OTLP/gRPC in batches of
# 50 traces (500 spans) from 4 workers, reads the server's CPU time and peak
# RSS from /proc, waits until the head is flushed to blocks, measures the
# data dir, checks that every sent trace id is stored whole and times
# trace-by-id lookups and searches through the Jaeger API. Prints a JSON
# summary (also written to $OUT, default bench-results.json). CLEW_FLAGS adds
# server flags; SKIP_QUERIES=1 skips the id check and the query timings.
# The server runs with the defaults but for local.flush_interval (2 s; see
# below) and its listeners' addresses.
# Throttled requests are retried (backoff up to 1.6 s, 30 times) as an
# OpenTelemetry SDK would, so accepted spans/s is the sustained rate with
# the server's back-pressure.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
TRACES=${TRACES:-100000}
OUT=${OUT:-bench-results.json}
work=$(mktemp -d); pid=
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$work"' EXIT

. scripts/benchlib.sh
start_clew --local.flush-interval=2s
ticks=$(getconf CLK_TCK)
cpu() { awk -v t="$ticks" '{printf "%.2f", ($14+$15)/t}' /proc/$pid/stat; }
cpu0=$(cpu)

./bin/clew gen --endpoint 127.0.0.1:$gport --protocol otlp-grpc --traces "$TRACES" --batch 50 --workers 4 \
  --interval 0 --retries 30 --summary-json "$work/gen.json" --trace-ids "$work/ids.txt" >/dev/null
cpu_ingest=$(cpu)

# Wait until every span is in a block. The last, partial head is flushed
# after local.flush_interval: 2 s here instead of the default minute, so
# that the figure "to blocks" is taken before the first compaction round
# (also a minute) adds its CPU. Full heads are flushed as they fill either
# way, so the flushes' cost per span is the same.
for _ in $(seq 600); do
  head=$(curl -sf "http://127.0.0.1:$qport/metrics" | awk '/^clew_local_head_spans /{print $2}')
  [ "${head:-1}" = "0" ] && break
  sleep 0.5
done
cpu_flushed=$(cpu)
hwm_kb=$(awk '/VmHWM/{print $2}' /proc/$pid/status)
disk=$(du -sb "$work/data" | awk '{print $1}')
echo "ingest: cpu ${cpu_ingest}s, with flush ${cpu_flushed}s (from ${cpu0}s), peak RSS ${hwm_kb} kB, disk ${disk} bytes" >&2

# Let background compaction merge the flushed blocks (at most 3 minutes),
# then measure the disk again.
metric() { curl -sf "http://127.0.0.1:$qport/metrics" | awk -v m="$1" '$1==m{print $2}'; }
for _ in $(seq 180); do
  [ "$(metric clew_local_blocks)" -le 2 ] 2>/dev/null && break
  sleep 1
done
cpu_compacted=$(cpu)
hwm_compacted_kb=$(awk '/VmHWM/{print $2}' /proc/$pid/status)
disk_compacted=$(du -sb "$work/data" | awk '{print $1}')
echo "compacted: blocks $(metric clew_local_blocks), cpu ${cpu_compacted}s, peak RSS ${hwm_compacted_kb} kB, disk ${disk_compacted} bytes" >&2

if [ -z "${SKIP_QUERIES:-}" ]; then
  go run ./test/benchstore -query "http://127.0.0.1:$qport" -ids "$work/ids.txt" -spans-per-trace 10 -server-pid "$pid" ${BENCHSTORE_FLAGS:-} >"$work/query.json" || true
fi
# The high-water mark once the queries ran too: the pages of mapped block
# files they touched count in the resident set (reclaimable page cache),
# as do the pages of the binary itself (RssFile counts both).
hwm_end_kb=$(awk '/VmHWM/{print $2}' /proc/$pid/status)
rss_end_kb=$(awk '/VmRSS/{print $2}' /proc/$pid/status)
rss_file_kb=$(awk '/RssFile/{print $2}' /proc/$pid/status)
echo "after the queries: peak RSS ${hwm_end_kb} kB; now ${rss_end_kb} kB, of which file-backed (the binary and mapped blocks) ${rss_file_kb} kB" >&2

python3 - "$work/gen.json" "$work/query.json" "$cpu0" "$cpu_ingest" "$cpu_flushed" "$hwm_kb" "$disk" "$OUT" "$cpu_compacted" "$hwm_compacted_kb" "$disk_compacted" "$hwm_end_kb" "$rss_file_kb" <<'PY'
import json, sys
gen = json.load(open(sys.argv[1]))
try:
  q = json.load(open(sys.argv[2]))
except (OSError, ValueError):
  q = {"query_phase": "skipped or failed"}
cpu0, cpu_ingest, cpu_flushed = map(float, sys.argv[3:6]); hwm_kb, disk = int(sys.argv[6]), int(sys.argv[7])
cpu_compacted, hwm_compacted_kb, disk_compacted = float(sys.argv[9]), int(sys.argv[10]), int(sys.argv[11])
hwm_end_kb, rss_file_kb = int(sys.argv[12]), int(sys.argv[13])
# clew gen: spans_sent counts the spans of accepted requests, spans_failed
# those of requests refused for good (after its retries).
spans = gen.get("spans_accepted", gen["spans_sent"] - gen.get("spans_rejected", 0))
res = {
  "spans_offered": gen["spans_sent"] + gen.get("spans_failed", 0), "spans_accepted": spans,
  "spans_refused": gen.get("spans_failed", 0) + gen.get("spans_rejected", 0),
  "requests_throttled": gen.get("requests_throttled", 0), "requests_retried": gen.get("requests_retried", 0),
  "wire_bytes_per_span": round(gen["bytes_sent"] / gen["spans_sent"], 1),
  "accepted_spans_per_second": round(spans / gen["seconds"]),
  "server_cpu_seconds_ingest": round(cpu_ingest - cpu0, 2),
  "server_cpu_seconds_with_flush": round(cpu_flushed - cpu0, 2),
  "cpu_seconds_per_million_spans": round((cpu_flushed - cpu0) / spans * 1e6, 2),
  "peak_rss_mb": round(hwm_kb / 1024, 1),
  "disk_bytes": disk, "disk_bytes_per_span": round(disk / spans, 1),
  "server_cpu_seconds_with_compaction": round(cpu_compacted - cpu0, 2),
  "peak_rss_mb_with_compaction": round(hwm_compacted_kb / 1024, 1),
  "disk_bytes_per_span_compacted": round(disk_compacted / spans, 1),
  "peak_rss_mb_after_queries": round(hwm_end_kb / 1024, 1),
  "rss_file_backed_mb_after_queries": round(rss_file_kb / 1024, 1),
}
res.update(q)
json.dump(res, open(sys.argv[8], "w"), indent=2)
print(json.dumps(res, indent=2))
PY
