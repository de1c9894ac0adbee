# Shared by scripts/bench.sh, soak.sh, ingest-cpu.sh and compact-cpu.sh
# (sourced, not run): builds bin/clew and starts it (or the binary
# $CLEW_BIN, without building) on local storage in $work/data with only the
# OTLP receivers on and every listener on a free port. Sets pid, qport
# (query) and gport (OTLP/gRPC); extra server flags are the function's
# arguments, then $CLEW_FLAGS. Returns once /readyz answers.
start_clew() {
  local bin=${CLEW_BIN:-}
  if [ -z "$bin" ]; then
    go build -o bin/clew ./cmd/clew
    bin=./bin/clew
  fi
  freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
  qport=$(freeport); gport=$(freeport)
  local hport sport tport
  hport=$(freeport); sport=$(freeport); tport=$(freeport)
  "$bin" --storage=local --data-dir="$work/data" --log.level=warn \
    --query.addr=127.0.0.1:$qport \
    --receivers.otlp.grpc.addr=127.0.0.1:$gport --receivers.otlp.http.addr=127.0.0.1:$hport \
    --receivers.jaeger.agent-sampling.addr=127.0.0.1:$sport --tempo.addr=127.0.0.1:$tport \
    --receivers.jaeger.agent-compact.enabled=false --receivers.jaeger.agent-binary.enabled=false \
    --receivers.jaeger.collector-http.enabled=false --receivers.jaeger.collector-grpc.enabled=false \
    --receivers.zipkin.enabled=false --receivers.datadog.enabled=false --receivers.xray.enabled=false \
    "$@" ${CLEW_FLAGS:-} >"$work/server.log" 2>&1 &
  pid=$!
  for _ in $(seq 200); do curl -sf "http://127.0.0.1:$qport/readyz" >/dev/null && break; sleep 0.05; done
}
