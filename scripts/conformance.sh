#!/usr/bin/env bash
# Runs the Jaeger query-API conformance suite (../shared/conformance/jaeger)
# against freshly started clew binaries: -set v1 and -set v2, each against an
# empty server. Clew names spans sent with an empty name "empty-span-name",
# as Jaeger >= 2.16 does, hence -empty-name.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
suite=${CONFORMANCE_DIR:-$root/../shared/conformance/jaeger}
bin=${CLEW_BINARY:-$root/bin/clew}
[ -x "$bin" ] || { mkdir -p "$root/bin"; go build -o "$bin" "$root/cmd/clew"; }
[ -d "$suite" ] || { echo "conformance suite not found at $suite" >&2; exit 1; }

free_port() { python3 - <<'PY' 2>/dev/null || echo $((20000 + RANDOM % 20000))
import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()
PY
}

status=0
for set in v1 v2; do
  # Every listener on a free port, so nothing collides with a running clew.
  args=(--storage=memory --log.level=warn)
  while read -r flag; do
    port=$(free_port)
    case "$flag" in
      query.addr) q=$port ;;
      receivers.otlp.http.addr) h=$port ;;
    esac
    args+=("--$flag=127.0.0.1:$port")
  done < <("$bin" --help | sed -n 's/^  --\([a-z0-9._-]*addr\) .*/\1/p')
  log=$(mktemp)
  "$bin" "${args[@]}" >"$log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$q/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
  echo "== Jaeger conformance -set $set"
  if ! (cd "$suite" && go run ./runner -set "$set" -empty-name empty-span-name \
        -otlp "http://127.0.0.1:$h/v1/traces" -query "http://127.0.0.1:$q"); then
    status=1; echo "--- clew log:"; tail -50 "$log"
  fi
  kill -TERM "$pid"; wait "$pid" || { echo "clew exited uncleanly" >&2; status=1; }
  rm -f "$log"
done
exit $status
