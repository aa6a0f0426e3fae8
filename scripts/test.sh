#!/usr/bin/env bash
# Runs every test: sets up the Python environment the tests train models with and the dashboard's browser test
# (Debian chromium and tests/browser's npm package), then the whole workspace. Safe to re-run; works on a
# fresh clone.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-python.sh
scripts/setup-browser.sh
cargo test --workspace --locked --no-fail-fast "$@"
