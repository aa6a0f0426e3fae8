#!/usr/bin/env bash
# The main job on the embedded default: sets up everything (Python environment with ONNX Runtime, release
# build, the wheel-health model if it is not there yet), starts the service, and shows it scoring a feature CSV
# and an HTTP request. Runs until Ctrl-C. Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup-python.sh
echo "run: building the release binary"
cargo build --release --locked --bin prognos
bin=target/release/prognos
mkdir -p data

model_dir=$(ls -d models/wheel-health/*/ 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$model_dir" ]; then
  if ! ls training-data/wheels/*.csv >/dev/null 2>&1; then
    echo "run: generating wheel training data with the simulator"
    "$bin" simulate wheels --seed 1 --count 3000 --training-csv training-data/wheels/train.csv
    "$bin" simulate wheels --seed 2 --count 800 --training-csv training-data/wheels/holdout.csv
  fi
  echo "run: training the wheel-health model"
  .venv/bin/python notebooks-export/train_wheel_model.py
  model_dir=$(ls -d models/wheel-health/*/ | sort -V | tail -n 1)
fi
"$bin" models validate "$model_dir"

port=${PROGNOS__SERVER__PORT:-8080}
export PROGNOS__SERVER__PORT=$port
echo "run: starting prognos serve on http://127.0.0.1:$port (Ctrl-C stops it)"
"$bin" serve &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server 2>/dev/null' INT TERM EXIT
for _ in $(seq 1 300); do
  curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  kill -0 $server 2>/dev/null || { echo "run: the service exited" >&2; exit 1; }
  sleep 0.1
done

sample=$(ls training-data/wheels/*.csv | head -n 1)
echo "run: scoring $sample from the command line -> data/scored-sample.csv"
head -n 21 "$sample" > data/sample.csv
"$bin" score --model wheel-health data/sample.csv -o data/scored-sample.csv || true
column -s, -t < <(cut -d, -f1,4 data/scored-sample.csv | paste -d, - <(rev data/scored-sample.csv | cut -d, -f1-4 | rev)) | head -n 8

echo "run: scoring one row over HTTP with a fresh viewer token"
token=$("$bin" token create --name "run-sh-$(date +%s%N)" --role viewer 2>/dev/null)
body=$(.venv/bin/python - "$sample" <<'PY'
import csv, json, sys
meta = {"capture_id", "captured_at", "camera", "wheel", "label", "severity"}
with open(sys.argv[1]) as f:
    row = next(csv.DictReader(f))
print(json.dumps({"rows": [{k: float(v) for k, v in row.items() if k not in meta}]}))
PY
)
curl -fsS -H "Authorization: Bearer $token" -H 'content-type: application/json' \
  -d "$body" "http://127.0.0.1:$port/v1/score/wheel-health"
echo
echo "run: the service keeps running on http://127.0.0.1:$port (metrics at /metrics); Ctrl-C stops it"
wait $server
