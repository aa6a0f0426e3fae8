#!/usr/bin/env bash
# Sets up the dashboard's browser test (tests/tests/dashboard_browser.rs, which runs tests/browser/dashboard.mjs):
# 1. Debian's chromium, installed with apt-get when /usr/bin/chromium (or $PROGNOS_CHROMIUM) is missing;
# 2. the test's one npm package, playwright-core (it drives that chromium and downloads no browser of its own),
#    installed by `npm ci` from tests/browser/package-lock.json when tests/browser/node_modules is missing or
#    was installed from another lock file.
# Idempotent: does nothing when both are in place. Needs root (or sudo) and the Debian mirror for chromium, and
# Node.js 20 or later with npm and the npm registry for playwright-core. When something is missing it says what
# to do and exits 1 under CI=true, 0 otherwise (the browser test then fails under CI=true and skips with a
# message elsewhere).
set -euo pipefail
cd "$(dirname "$0")/.."

missing() {
  echo "setup-browser: $1" >&2
  [ "${CI:-}" = "true" ] && exit 1
  echo "setup-browser: the dashboard's browser test will be skipped" >&2
  exit 0
}

# 1. Chromium.
CHROMIUM=${PROGNOS_CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ]; then
  as_root=()
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      as_root=(sudo -n)
    else
      missing "$CHROMIUM is missing and this user cannot install packages; run: sudo apt-get install -y chromium"
    fi
  fi
  echo "setup-browser: installing chromium (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  if ! "${as_root[@]}" apt-get install -y --no-install-recommends chromium >/dev/null 2>&1; then
    "${as_root[@]}" apt-get update -qq
    "${as_root[@]}" apt-get install -y --no-install-recommends chromium
  fi
  if [ ! -x "$CHROMIUM" ]; then
    echo "setup-browser: apt-get finished but $CHROMIUM is still missing" >&2
    exit 1
  fi
fi
echo "setup-browser: chromium ready ($("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM"))"

# 2. Node.js and playwright-core.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  missing "node and npm are needed (Node.js 20 or later); install them, then run scripts/setup-browser.sh again"
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  missing "playwright-core needs Node.js 20 or later; this is $(node --version)"
fi
dir=tests/browser
stamp=$dir/node_modules/.prognos-lock.sha256
want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
if [ -f "$dir/node_modules/playwright-core/package.json" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  echo "setup-browser: $dir/node_modules up to date"
else
  echo "setup-browser: npm ci in $dir"
  # playwright-core has no install script; --ignore-scripts keeps it that way for whatever the lock file holds.
  if ! (cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --ignore-scripts --no-audit --no-fund --loglevel=error); then
    missing "npm ci in $dir failed (is the npm registry reachable?)"
  fi
  echo "$want" >"$stamp"
fi
echo "setup-browser: ready (node $(node --version), playwright-core $(node -p "require('./$dir/node_modules/playwright-core/package.json').version"))"
