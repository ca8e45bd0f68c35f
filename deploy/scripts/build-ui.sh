#!/usr/bin/env bash
# Builds the dashboard's assets (ui/dist) from npm packages: Tailwind CSS and Chart.js.
# Idempotent: npm runs only when package-lock.json changed, the build only when a
# source is newer than the last build.
set -euo pipefail
cd "$(dirname "$0")/../../ui"

command -v npm >/dev/null || { echo "npm is missing: run make sysdeps (Debian's nodejs and npm)" >&2; exit 1; }

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi

if [ -f dist/.built ] && [ -z "$(find templates src package-lock.json tailwind.config.js build.mjs -newer dist/.built -print -quit)" ]; then
  echo "ui: up to date (ui/dist)"
  exit 0
fi
npm run --silent build
echo "ui: built ui/dist"
