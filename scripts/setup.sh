#!/usr/bin/env bash
# Installs what building and testing Clew needs on a fresh Debian machine
# with Go: Go modules, Chromium for the browser tests, the UI's npm
# packages and DuckDB's (test/parquet).
# Idempotent: it installs only what is missing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
go mod download
if [ -d "$root/test/browser" ] && [ ! -x /usr/bin/chromium ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi
for dir in ui test/browser; do
  if [ -f "$root/$dir/package-lock.json" ]; then
    (cd "$root/$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
done
# DuckDB's bindings are per-platform optional packages; npm ci refuses a
# lock that lists only this platform's, npm install keeps the lock's
# versions and fetches the platform's bindings.
if [ -f "$root/test/parquet/package-lock.json" ]; then
  (cd "$root/test/parquet" && npm install --no-audit --no-fund --loglevel=error)
fi
