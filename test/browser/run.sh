#!/bin/sh
# Runs Clew's browser tests: installs playwright-core and the UI's build
# tools (npm ci), builds the
# clew binary (with the committed, embedded UI), and drives Debian's Chromium
# (apt-get install chromium) against it. Screenshots and the large-trace
# measurements land in test/browser/artifacts/ (or $ARTIFACTS).
# UPDATE_SCREENSHOTS=1 also copies the screenshots to docs/screenshots/.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
	echo "run.sh: ${CHROMIUM:-/usr/bin/chromium} not found; install it with: apt-get update && apt-get install -y chromium" >&2
	exit 1
fi
(cd "$root/ui" && npm ci --no-audit --no-fund --loglevel=error)
cd "$here"
npm ci --no-audit --no-fund --loglevel=error
mkdir -p .bin
(cd "$root" && go build -o "$here/.bin/clew" ./cmd/clew)
# The UI's unit tests (tree, critical path, search, tags) run in the same
# node --test run, so its closing lines count every test.
exec node --test --test-concurrency=1 --test-timeout=300000 ui.test.mjs ../../ui/test/model.test.mjs
