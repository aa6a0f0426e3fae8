#!/usr/bin/env bash
# Creates or updates the project's Python environment (.venv) from requirements.lock: ONNX Runtime 1.31.1
# (whose libonnxruntime.so the service loads), scikit-learn, skl2onnx, onnxmltools, onnx, lightgbm, jupytext.
# Idempotent: does nothing when .venv already matches requirements.lock.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
stamp=.venv/.requirements.sha256
want=$(sha256sum requirements.lock | cut -d' ' -f1)

if [ ! -x .venv/bin/python ]; then
  echo "setup-python: creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup-python: installing requirements.lock into .venv"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
  echo "$want" > "$stamp"
fi
lib=$(ls .venv/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so.1.31.1 2>/dev/null | head -n 1)
if [ -z "$lib" ]; then
  echo "setup-python: onnxruntime 1.31.1 is not in .venv (libonnxruntime.so.1.31.1 missing)" >&2
  exit 1
fi
echo "setup-python: ready (ONNX Runtime at $lib)"
