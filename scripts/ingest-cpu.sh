#!/usr/bin/env bash
# scripts/ingest-cpu.sh BINARY [TRACES]: the server CPU per span of ingest
# and flush to blocks, for comparing two builds on a noisy machine (CPU
# time, from /proc/PID/stat, not wall time). Starts BINARY fresh on local
# storage in a temporary data dir (only the OTLP receivers on, every
# listener on a free port, local.flush_interval=2s, no compaction), sends TRACES traces
# (default 30,000: 300,000 spans) of the storage benchmark's load with
# bin/clew gen, waits until the head is in blocks and prints one line:
# CPU µs per span, accepted spans/s and the load average. Alternate two
# builds several times:
#
#	go build -o /tmp/old ./cmd/clew   # at the old commit
#	go build -o /tmp/new ./cmd/clew
#	for i in 1 2 3; do scripts/ingest-cpu.sh /tmp/old; scripts/ingest-cpu.sh /tmp/new; done
set -euo pipefail
bin=$(realpath "$1"); traces=${2:-30000}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
[ -x bin/clew ] || go build -o bin/clew ./cmd/clew
work=$(mktemp -d); pid=
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$work"' EXIT
. scripts/benchlib.sh
CLEW_BIN=$bin start_clew --local.flush-interval=2s --local.compaction-interval=0
q=$qport g=$gport
ticks=$(getconf CLK_TCK)
cpu() { awk '{print $14+$15}' /proc/$pid/stat; }
c0=$(cpu)
./bin/clew gen --endpoint 127.0.0.1:$g --protocol otlp-grpc --traces "$traces" --batch 50 --workers 4 \
  --interval 0 --retries 30 --summary-json "$work/g.json" >/dev/null
for _ in $(seq 400); do
  hs=$(curl -sf "http://127.0.0.1:$q/metrics" | awk '/^clew_local_head_spans /{print $2}')
  [ "${hs:-1}" = 0 ] && break
  sleep 0.5
done
c1=$(cpu)
rate=$(python3 -c "import json,sys; print(int(json.load(open(sys.argv[1]))['spans_per_second']))" "$work/g.json" 2>/dev/null || echo "?")
awk -v a="$c0" -v b="$c1" -v t="$ticks" -v n="$traces" -v bin="$(basename "$bin")" -v rate="$rate" -v load="$(cut -d' ' -f1 /proc/loadavg)" \
  'BEGIN { printf "%s: %.2f CPU µs/span to blocks, %s spans/s accepted, load %s\n", bin, (b-a)/t*1e6/(n*10), rate, load }'
