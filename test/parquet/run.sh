#!/bin/sh
# Runs the Parquet reader tests: DuckDB (npm @duckdb/node-api) reads the
# blocks the real clew binary writes and runs FORMAT.md's example queries.
# CLEW_BIN names the binary to test; without it, one is built.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$here"
npm install --no-audit --no-fund --loglevel=error # see scripts/setup.sh
if [ -z "${CLEW_BIN:-}" ]; then
	mkdir -p .bin
	(cd "$root" && go build -o "$here/.bin/clew" ./cmd/clew)
	CLEW_BIN="$here/.bin/clew"
fi
CLEW_BIN=$CLEW_BIN exec node --test --test-timeout=300000 duckdb.test.mjs
