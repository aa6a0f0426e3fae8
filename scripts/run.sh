#!/usr/bin/env bash
# The main job on the embedded default: sets up everything (Python environment with ONNX Runtime, release
# build, the wheel-health model if it is not there yet), starts the service, and shows it scoring a feature CSV
# and an HTTP request, then feeds simulated wheel captures into the camera folders and shows them scored and
# stored. Runs until Ctrl-C. Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup-python.sh
echo "run: building the release binary"
cargo build --release --locked -p prognos --bin prognos
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
echo "run: starting local stand-ins for Twilio and SMTP (alerts go there unless you configure real ones)"
cargo build --release --locked -p prognos-alerts --features standins --bin prognos-standins
rm -f data/prognos.demo.toml
target/release/prognos-standins --config-out data/prognos.demo.toml --python .venv/bin/python \
  --dashboard-url "http://127.0.0.1:$port" &
standins=$!
for _ in $(seq 1 100); do [ -f data/prognos.demo.toml ] && break; sleep 0.1; done
echo "run: starting prognos serve on http://127.0.0.1:$port with pipelines/wheel-cameras.toml (Ctrl-C stops it)"
"$bin" --config data/prognos.demo.toml serve &
server=$!
feed=""
cleanup() {
  [ -n "$feed" ] && kill "$feed" 2>/dev/null
  kill "$standins" 2>/dev/null
  kill -TERM "$server" 2>/dev/null
  wait "$server" 2>/dev/null
}
trap cleanup INT TERM EXIT
for _ in $(seq 1 300); do
  curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  kill -0 $server 2>/dev/null || { echo "run: the service exited" >&2; exit 1; }
  sleep 0.1
done

sample=training-data/wheels/holdout.csv
echo "run: scoring the first rows of $sample from the command line -> data/scored-sample.csv"
head -n 9 "$sample" > data/sample.csv
"$bin" score --model wheel-health data/sample.csv -o data/scored-sample.csv
.venv/bin/python - <<'PY'
import csv
for r in csv.DictReader(open("data/scored-sample.csv")):
    print(f"  {r['capture_id']:<34} {r['label']:<16} severity {float(r['severity']):.2f}  health {float(r['health_score']):6.1f}")
PY

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

plants=${PROGNOS_PLANT_DATA:-../shared/data/real/kaggle-solar-plants}
if [ -f "$plants/Plant_1_Generation_Data.csv" ]; then
  echo "run: replaying Kaggle solar plants 1 and 2 through pipelines/kaggle-plant-{1,2}.toml (prognos ingest;"
  echo "     a re-run stores nothing twice: its readings count as duplicates)"
  for plant in 1 2; do
    "$bin" --config data/prognos.demo.toml ingest --pipeline "kaggle-plant-$plant" \
      "$plants/Plant_${plant}_Generation_Data.csv" || echo "run: plant $plant could not be ingested (see above)"
  done
  echo "run: inverter health, least healthy first (latest daily window per inverter, from /v1/predictions)"
  for plant in 1 2; do
    curl -fsS -H "Authorization: Bearer $token" \
      "http://127.0.0.1:$port/v1/predictions?site=kaggle-plant-$plant&limit=10000" > "data/plant-$plant.json" || true
  done
  .venv/bin/python - <<'PY'
import json
latest = {}
for plant in (1, 2):
    try:
        rows = json.load(open(f"data/plant-{plant}.json")).get("predictions", [])
    except (OSError, ValueError):
        rows = []
    for p in rows:
        key = (plant, p["asset"])
        when = p.get("observed_at") or p["scored_at"]
        if key not in latest or when > latest[key][0]:
            latest[key] = (when, p)
if not latest:
    print("  no inverter scores yet: models/inverter-health is not trained (readings and window features are stored)")
for (plant, asset), (when, p) in sorted(latest.items(), key=lambda kv: kv[1][1]["health_score"])[:12]:
    print(f"  plant {plant}  {asset:<16} health {p['health_score']:6.1f}  {p['label']:<14} day ending {when[:10]}  {p['model']}@{p['model_version']}")
if latest:
    print(f"  ... {len(latest)} inverters scored in all")
PY
else
  echo "run: $plants not found: skipping the solar plant replay (set PROGNOS_PLANT_DATA to the Kaggle CSV folder)"
fi

echo "run: the simulated cameras start writing into data/cameras/Cam_01 and Cam_02 (a coaster run every 5 s;"
echo "     wheel W03 grows a flat spot run by run). Watch the log lines, or:"
echo "     curl -H 'Authorization: Bearer <token>' http://127.0.0.1:$port/v1/predictions?asset=W03"
"$bin" simulate wheels --out data/cameras --live --run-interval-ms 5000 --seed "$(date +%s)" &
feed=$!
sleep 12
curl -fsS -H "Authorization: Bearer $token" "http://127.0.0.1:$port/v1/predictions?limit=8" > data/latest.json
.venv/bin/python - <<'PY'
import json
for p in json.load(open("data/latest.json"))["predictions"]:
    print(f"  stored: {p['asset']:<5} health {p['health_score']:6.1f}  {p['model']}@{p['model_version']}  {p['scored_at']}")
PY
echo "run: the service, the camera feed and the stand-ins keep running (metrics at http://127.0.0.1:$port/metrics)."
echo "     When W03 drops below 70, its SMS and email show up in the stand-ins' lines. Ctrl-C stops everything."
echo "run: dashboard at http://127.0.0.1:$port/ (fleet ranked by health; click a wheel for its trends)."
echo "     Log in with this viewer token (made above, shown only here): $token"
wait $server
