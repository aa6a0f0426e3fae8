#!/usr/bin/env python3
"""Generate the benchmark model: a 100-tree LightGBM binary classifier over 20 features.

Usage: python scripts/make_bench_model.py OUT_DIR

Writes
    OUT_DIR/bench-gbm/1.0.0/model.onnx   onnxmltools export, ZipMap off: probabilities float [N, 2]
    OUT_DIR/bench-gbm/1.0.0/card.toml    model card (models/README.md)
    OUT_DIR/bench-gbm/rows.csv           1,024 rows of features f0..f19 with a header

for the benchmark "in-process batch scoring of 1,024 rows stays within 10 % of calling ONNX Runtime
directly". The output is deterministic (fixed seed, fixed trained_at, pinned graph name).
"""

from __future__ import annotations

import csv
import hashlib
import json
import sys
import warnings
from pathlib import Path

import numpy as np

warnings.filterwarnings("ignore")

import lightgbm
import onnxmltools
import onnxruntime as ort
from onnxmltools.convert.common.data_types import FloatTensorType
from sklearn.metrics import roc_auc_score

# onnxmltools declares LightGBM's `label` output as shape [1] (it is [N]); ORT warns on every run.
ort.set_default_logger_severity(3)

NAME, VERSION = "bench-gbm", "1.0.0"
SEED = 1024
N_FEATURES, N_TREES, N_ROWS = 20, 100, 1024
FEATURES = [f"f{i}" for i in range(N_FEATURES)]


# Per-feature scale and offset, fixed once so that every draw comes from the same distribution.
_SCALE_RNG = np.random.default_rng(SEED + 1)
SCALE = _SCALE_RNG.uniform(0.5, 5.0, N_FEATURES)
OFFSET = _SCALE_RNG.uniform(-10.0, 10.0, N_FEATURES)


def make_data(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Mixed-scale features; the label depends on a handful of them, non-linearly, plus noise."""
    z = rng.normal(size=(n, N_FEATURES))
    x = (z * SCALE + OFFSET).astype(np.float32)
    score = z[:, 0] - 0.7 * z[:, 3] + 0.5 * z[:, 7] * z[:, 11] + 0.3 * np.abs(z[:, 15]) + rng.normal(scale=0.7, size=n)
    # Fixed cut (about 25 % positives), not a per-draw quantile, for the same reason.
    return x, (score > 0.95).astype(np.int64)


def toml_value(v) -> str:
    if isinstance(v, str):
        return json.dumps(v)  # JSON string escapes are valid TOML basic-string escapes
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(e) for e in v) + "]"
    return repr(float(v))  # numbers: the card reads them as f64


def to_toml(doc: dict, prefix: str = "") -> str:
    """Scalars first, then each sub-dict as a [table]; enough for a model card."""
    out = "".join(f"{k} = {toml_value(v)}\n" for k, v in doc.items() if not isinstance(v, dict))
    for k, v in doc.items():
        if isinstance(v, dict):
            name = f"{prefix}.{k}" if prefix else k
            out += f"\n[{name}]\n" + to_toml(v, name)
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[1].startswith("-"):
        print("usage: python scripts/make_bench_model.py OUT_DIR", file=sys.stderr)
        return 2
    out = Path(argv[1]) / NAME
    (out / VERSION).mkdir(parents=True, exist_ok=True)

    rng = np.random.default_rng(SEED)
    x_train, y_train = make_data(8000, rng)
    x_test, y_test = make_data(2000, rng)
    clf = lightgbm.LGBMClassifier(n_estimators=N_TREES, num_leaves=31, learning_rate=0.05, random_state=SEED,
                                  deterministic=True, n_jobs=1, verbose=-1).fit(x_train, y_train)

    # `name` pins graph.name (otherwise a random uuid); zipmap=False gives a plain [N, 2] float tensor.
    model = onnxmltools.convert_lightgbm(clf, NAME, [("features", FloatTensorType([None, N_FEATURES]))], zipmap=False)
    ops = sorted(model.opset_import, key=lambda o: (o.domain, o.version))  # set order -> stable bytes
    del model.opset_import[:]
    model.opset_import.extend(ops)
    raw = model.SerializeToString()
    (out / VERSION / "model.onnx").write_bytes(raw)

    # The benchmark rows: fresh draws from the same distribution, written as float32 values.
    rows, _ = make_data(N_ROWS, rng)
    with open(out / "rows.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(FEATURES)
        w.writerows([[repr(float(v)) for v in row] for row in rows])

    # Check the export against LightGBM, then score the held-out set with ONNX Runtime for the card.
    sess = ort.InferenceSession(raw, providers=["CPUExecutionProvider"])
    (p_rows,) = sess.run(["probabilities"], {"features": rows})
    diff = float(np.abs(p_rows - clf.predict_proba(rows)).max())
    if diff > 1e-5:
        print(f"ONNX and LightGBM disagree by {diff:.2e}", file=sys.stderr)
        return 1
    (p_test,) = sess.run(["probabilities"], {"features": x_test})

    card = {
        "name": NAME,
        "version": VERSION,
        "description": f"Benchmark model: LightGBM, {N_TREES} trees, {N_FEATURES} synthetic features, binary",
        "input": {"name": "features", "dtype": "float32", "features": FEATURES},
        "output": {"name": "probabilities", "kind": "tensor", "classes": ["0", "1"], "healthy_class": "0",
                   "label_output": "label"},
        "alert": {"threshold": 70.0},
        "provenance": {
            "framework": f"lightgbm {lightgbm.__version__} / onnxmltools {onnxmltools.__version__}",
            "script": "scripts/make_bench_model.py",
            "training_data": f"synthetic, numpy default_rng({SEED}), 8000 training rows",
            "training_data_sha256": hashlib.sha256(x_train.tobytes() + y_train.tobytes()).hexdigest(),
            "trained_at": "2026-01-01T00:00:00Z",
            "metrics": {"roc_auc": round(float(roc_auc_score(y_test, p_test[:, 1])), 6),
                        "test_rows": float(len(y_test)), "onnx_vs_lightgbm_max_abs_diff": diff},
        },
    }
    (out / VERSION / "card.toml").write_text(to_toml(card), encoding="utf-8")
    print(f"wrote {out}: {N_TREES} trees, {len(raw)} bytes of ONNX, {N_ROWS} rows; "
          f"held-out ROC AUC {card['provenance']['metrics']['roc_auc']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
