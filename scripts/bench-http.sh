#!/usr/bin/env bash
# HTTP load benchmark on loopback with wrk: single-row scoring requests against the release binary.
#   1 connection (latency p50/p99), then 32 connections (throughput). Prints wrk's summaries.
# Usage: scripts/bench-http.sh [MODEL] [SECONDS]     (MODEL defaults to wheel-health)
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-wheel-health}
secs=${2:-10}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
scripts/setup-python.sh >/dev/null
cargo build --release --locked -p prognos --bin prognos
bin=$PWD/target/release/prognos
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
export PROGNOS__DATA_DIR=$work/data PROGNOS__MODELS__DIR=$PWD/models PROGNOS__SERVER__PORT=18181
export PROGNOS__MODELS__SERVE="[\"$model\"]" PROGNOS__LOG__FILTER=warn
TOKEN=$("$bin" token create --name bench --role viewer 2>/dev/null)
export TOKEN
"$bin" serve >/dev/null &
server=$!
for _ in $(seq 1 300); do curl -fs http://127.0.0.1:18181/readyz >/dev/null && break; sleep 0.1; done
# One row of the model's features (the first row of its training data when there is one, else zeros).
BODY=$(.venv/bin/python - "$model" <<'PY'
import csv, glob, json, sys, tomllib
model = sys.argv[1]
cards = sorted(glob.glob(f"models/{model}/*/card.toml"))
features = tomllib.load(open(cards[-1], "rb"))["input"]["features"]
row = {f: 0.0 for f in features}
for path in sorted(glob.glob(f"training-data/*/*.csv")):
    with open(path) as f:
        first = next(csv.DictReader(f))
    if all(k in first for k in features):
        row = {k: float(first[k]) for k in features}
        break
print(json.dumps({"rows": [row]}))
PY
)
export BODY
echo "== resident memory of the server after warm-up (one model): $(awk '/VmRSS/ {print $2, $3}' /proc/$server/status)"
url=http://127.0.0.1:18181/v1/score/$model
curl -fsS -H "Authorization: Bearer $TOKEN" -d "$BODY" "$url" >/dev/null
echo "== warm-up"; wrk -t1 -c8 -d2s -s benches/http.lua "$url" >/dev/null
echo "== 1 connection, ${secs}s"; wrk -t1 -c1 -d"${secs}s" --latency -s benches/http.lua "$url"
echo "== 32 connections, ${secs}s"; wrk -t2 -c32 -d"${secs}s" --latency -s benches/http.lua "$url"
echo "== resident memory of the server after the runs (one model): $(awk '/VmRSS/ {print $2, $3}' /proc/$server/status)"
