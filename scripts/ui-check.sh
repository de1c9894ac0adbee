#!/usr/bin/env bash
# Rebuilds the web UI from ui/ (npm ci with the committed package-lock.json,
# type check, esbuild) and fails if the result differs by one byte from the
# bundle committed in internal/ui/dist, which the binary embeds.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root/ui"
npm ci --no-audit --no-fund --loglevel=error
npm run --silent build
cd "$root"
changes=$(git status --porcelain --untracked-files=all -- internal/ui/dist)
if [ -n "$changes" ]; then
  echo "ui-check: the committed UI bundle differs from a build of ui/:" >&2
  echo "$changes" >&2
  git --no-pager diff --stat -- internal/ui/dist >&2
  echo "ui-check: run 'make ui' and commit internal/ui/dist" >&2
  exit 1
fi
echo "ui-check: internal/ui/dist is exactly what ui/ builds ($(wc -c < internal/ui/dist/assets/app.js) bytes of JS, $(wc -c < internal/ui/dist/assets/app.css) of CSS)"
