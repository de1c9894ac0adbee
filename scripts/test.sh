#!/usr/bin/env bash
# The test command (make test): installs what the tests need, then runs
# vet, unit and end-to-end Go tests, a short run of every fuzz target, the
# Jaeger conformance suite, the browser tests and the Parquet reader tests
# (DuckDB), and ends with one
# "N passed, M failed" line over all of them.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export GOFLAGS=${GOFLAGS:--buildvcs=false}
logdir=$(mktemp -d)
passed=0 failed=0 status=0
step() { echo; echo "=== $*"; }
count() { # count PASSED FAILED from a runner
  passed=$((passed + $1)); failed=$((failed + $2))
  [ "$2" -eq 0 ] || status=1
}

step setup
"$root/scripts/setup.sh" || { echo "setup failed" >&2; exit 1; }

step "go vet and gofmt"
if ! go vet ./...; then count 0 1; fi
unformatted=$(gofmt -l cmd internal test 2>/dev/null)
if [ -n "$unformatted" ]; then echo "gofmt needed: $unformatted"; count 0 1; fi

step build
mkdir -p bin
go build -o bin/clew ./cmd/clew || { echo "build failed" >&2; exit 1; }
export CLEW_BINARY="$root/bin/clew"

step "go test (unit and end-to-end)"
go test -count=1 -timeout 30m -v ./... >"$logdir/go.log" 2>&1
rc=$?
grep -aE '^(ok|FAIL|---|panic)|^\s+--- FAIL|_test.go:[0-9]+:' "$logdir/go.log" | grep -v -- '--- PASS' | tail -200
p=$(grep -acE '^\s*--- PASS' "$logdir/go.log"); f=$(grep -acE '^\s*--- FAIL' "$logdir/go.log")
if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; echo "go test failed without a failing test (build error or panic):"; grep -aE 'FAIL|panic|cannot|undefined' "$logdir/go.log" | head -30; fi
echo "go test: $p passed, $f failed"
count "$p" "$f"

step "fuzz targets (short runs)"
if "$root/scripts/fuzz-smoke.sh" >"$logdir/fuzz.log" 2>&1; then :; fi
cat "$logdir/fuzz.log" | tail -60
p=$(grep -c '^fuzz ok' "$logdir/fuzz.log"); f=$(grep -c '^fuzz FAIL' "$logdir/fuzz.log")
count "$p" "$f"

step "Jaeger conformance suite"
"$root/scripts/conformance.sh" >"$logdir/conf.log" 2>&1
grep -v '^PASS' "$logdir/conf.log"
while read -r p f; do count "$p" "$f"; done < <(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed.*/\1 \2/p' "$logdir/conf.log")
grep -q 'passed, ' "$logdir/conf.log" || count 0 1

# node_tests TITLE RUNNER LOG: a node --test runner's step, counted from
# its closing "# pass N" / "# fail N" lines (a failed run without a
# failing test counts as one failure).
node_tests() {
  step "$1"
  "$2" >"$logdir/$3" 2>&1
  local rc=$?
  tail -80 "$logdir/$3"
  local p f
  p=$(sed -n 's/^# pass \([0-9]*\)/\1/p' "$logdir/$3" | tail -1); f=$(sed -n 's/^# fail \([0-9]*\)/\1/p' "$logdir/$3" | tail -1)
  p=${p:-0}; f=${f:-0}
  if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  count "$p" "$f"
}
if [ -x "$root/test/browser/run.sh" ]; then
  node_tests "browser tests (Chromium)" "$root/test/browser/run.sh" browser.log
fi
if [ -x "$root/test/parquet/run.sh" ]; then
  CLEW_BIN="$root/bin/clew" node_tests "Parquet readers (DuckDB reads the blocks)" "$root/test/parquet/run.sh" parquet.log
fi

if [ -x "$root/scripts/ui-check.sh" ]; then
  step "UI bundle reproducible from sources"
  if "$root/scripts/ui-check.sh"; then count 1 0; else count 0 1; fi
fi

echo
echo "logs: $logdir"
echo "total: $passed passed, $failed failed"
exit $status
