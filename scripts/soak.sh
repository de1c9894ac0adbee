#!/usr/bin/env bash
# make soak: sustained load on a fresh clew with local storage. Sends
# RATE spans per second (default 50,000) with `clew gen` over OTLP/gRPC for
# DURATION (default 180s) and samples the server's resident memory and CPU
# every 10 s, so that one can see memory stay flat while the head is
# flushed, blocks are compacted and the WAL is trimmed. CLEW_FLAGS adds
# server flags. Prints one line per sample and a JSON summary.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
RATE=${RATE:-50000}
DURATION=${DURATION:-180s}
work=$(mktemp -d); pid=; gen=
trap 'kill $gen $pid 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

. scripts/benchlib.sh
start_clew
./bin/clew gen --endpoint 127.0.0.1:$gport --protocol otlp-grpc --rate "$RATE" --duration "$DURATION" --batch 50 --workers 4 \
  --interval 0 --retries 30 --summary-json "$work/gen.json" >/dev/null &
gen=$!
ticks=$(getconf CLK_TCK)
metric() { curl -sf "http://127.0.0.1:$qport/metrics" | awk -v m="$1" '$1==m{print $2}'; }
t=0; samples=()
while kill -0 $gen 2>/dev/null; do
  sleep 10; t=$((t+10))
  rss=$(awk '/VmRSS/{print $2}' /proc/$pid/status)
  cpu=$(awk -v t="$ticks" '{printf "%.1f", ($14+$15)/t}' /proc/$pid/stat)
  line=$(printf '%4ds rss %6.1f MB  cpu %6ss  head %8s spans  blocks %3s  disk %s' "$t" "$(awk -v r="$rss" 'BEGIN{print r/1024}')" "$cpu" \
    "$(metric clew_local_head_spans)" "$(metric clew_local_blocks)" "$(du -sh "$work/data" | cut -f1)")
  echo "$line"; samples+=("$rss")
done
wait $gen || true
hwm=$(awk '/VmHWM/{print $2}' /proc/$pid/status)
python3 - "$work/gen.json" "$hwm" "${samples[@]}" <<'PY'
import json, sys
gen = json.load(open(sys.argv[1])); hwm = int(sys.argv[2]); rss = [int(x) for x in sys.argv[3:]]
half = rss[len(rss)//2:] or rss
print(json.dumps({
  "spans_accepted": gen.get("spans_accepted"), "spans_failed": gen.get("spans_failed", 0),
  "accepted_spans_per_second": round(gen.get("spans_accepted", 0) / gen["seconds"]),
  "peak_rss_mb": round(hwm / 1024, 1),
  "rss_mb_first_half_max": round(max(rss[:len(rss)//2] or rss) / 1024, 1),
  "rss_mb_second_half_max": round(max(half) / 1024, 1),
}, indent=2))
PY
