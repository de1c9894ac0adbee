#!/usr/bin/env bash
# scripts/compact-cpu.sh BINARY [TRACES] [INTERVAL]: the server CPU per
# span of compaction, for comparing two builds on a noisy machine (CPU
# time from /proc/PID/stat). As scripts/ingest-cpu.sh, but the head is
# flushed every 100,000 spans and compaction runs every INTERVAL (default
# 5s): sends TRACES traces (default 40,000: 400,000 spans, 4 blocks) of the
# storage benchmark's load with bin/clew gen, reads the CPU once the head
# is in blocks, then polls clew_local_blocks every 0.5 s until it has not
# changed for 3 intervals, and reads the CPU as it was at the poll that
# saw the last change (so that the idle wait is not counted; up to 0.5 s
# of idle is). Prints one line: CPU µs per span to blocks (compactions
# that start during ingest are in it), CPU µs per span after that until
# the last compaction ended, the blocks left, compactions done, and the
# load average. Alternate two builds several times:
#
#	for i in 1 2 3; do scripts/compact-cpu.sh /tmp/old; scripts/compact-cpu.sh /tmp/new; done
set -euo pipefail
bin=$(realpath "$1"); traces=${2:-40000}; interval=${3:-5s}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
[ -x bin/clew ] || go build -o bin/clew ./cmd/clew
work=$(mktemp -d); pid=
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$work"' EXIT
. scripts/benchlib.sh
CLEW_BIN=$bin start_clew --local.flush-interval=2s --local.flush-spans=100000 --local.compaction-interval="$interval"
q=$qport g=$gport
ticks=$(getconf CLK_TCK)
cpu() { awk '{print $14+$15}' /proc/$pid/stat; }
metric() { curl -sf "http://127.0.0.1:$q/metrics" | awk -v m="$1" '$1==m {print $2}'; }
c0=$(cpu)
./bin/clew gen --endpoint 127.0.0.1:$g --protocol otlp-grpc --traces "$traces" --batch 50 --workers 4 \
  --interval 0 --retries 30 --summary-json "$work/g.json" >/dev/null
for _ in $(seq 400); do
  hs=$(metric clew_local_head_spans)
  [ "${hs:-1}" = 0 ] && break
  sleep 0.5
done
c1=$(cpu)
secs=$(python3 -c "import re,sys; s=sys.argv[1]; print(float(s[:-2])/1000 if s.endswith('ms') else float(s[:-1]) if s.endswith('s') else 60*float(s[:-1]))" "$interval")
stable=$(python3 -c "import sys; print(int(3*float(sys.argv[1])/0.5)+1)" "$secs")
last=$(metric clew_local_blocks); c2=$c1; same=0
for _ in $(seq 2000); do
  sleep 0.5
  b=$(metric clew_local_blocks); c=$(cpu)
  if [ "$b" != "$last" ]; then last=$b; c2=$c; same=0; else same=$((same+1)); fi
  [ "$same" -ge "$stable" ] && break
done
n=$(metric clew_local_compactions_total)
awk -v a="$c0" -v b="$c1" -v c="$c2" -v t="$ticks" -v n="$traces" -v bin="$(basename "$bin")" -v blocks="$last" -v comp="$n" -v load="$(cut -d' ' -f1 /proc/loadavg)" \
  'BEGIN { printf "%s: %.2f CPU µs/span to blocks, %.2f CPU µs/span of compaction after, %s blocks left after %s compactions, load %s\n", bin, (b-a)/t*1e6/(n*10), (c-b)/t*1e6/(n*10), blocks, comp, load }'
