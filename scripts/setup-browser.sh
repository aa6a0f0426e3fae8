#!/usr/bin/env bash
# Installs Debian's chromium for the dashboard's browser test (tests/tests/dashboard_browser.rs) when
# /usr/bin/chromium is missing. Idempotent: does nothing when chromium is already there. Needs root (or sudo)
# and the Debian package mirror; without them it says what to run and exits 1 under CI=true, 0 otherwise (the
# browser test then fails under CI=true and skips with a message elsewhere).
set -euo pipefail

CHROMIUM=${PROGNOS_CHROMIUM:-/usr/bin/chromium}
if [ -x "$CHROMIUM" ]; then
  echo "setup-browser: ready ($("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM"))"
  exit 0
fi

as_root=()
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
  else
    echo "setup-browser: $CHROMIUM is missing and this user cannot install packages; run: sudo apt-get install -y chromium" >&2
    [ "${CI:-}" = "true" ] && exit 1
    exit 0
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
echo "setup-browser: ready ($("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM"))"
