#!/usr/bin/env python3
"""Write a `wheel-health` model whose health score for given captures is exactly what a test asks for.

Usage: python tests/support/make_step_model.py SPEC.json OUT_DIR

SPEC.json: {"features": [23 wheel-v1 names], "rows": [[23 floats], ...], "targets": [health or null, ...]}
(the rows are the captures' real feature values, computed by the test with the project's featurizer).

Writes OUT_DIR/wheel-health/1.0.0/model.onnx and card.toml. The graph picks the one feature that separates
the rows best and maps it through a step function, so row i scores targets[i] (0..100); a null target makes
the graph output NaN for that row only (a model fault the service must quarantine, not retry forever). Any
other input (e.g. the service's warm-up rows) gets a valid probability distribution. The script checks its
own output with ONNX Runtime and exits non-zero if a row does not score as asked.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

WARM_UP = [0.0, 1.0] + [-float(i) for i in range(64)] + [0.5 * i for i in range(64)]


def pick_feature(rows: np.ndarray, nan_rows: list[int]) -> tuple[int, float]:
    """The column whose values are all distinct with the widest smallest gap (relative to its scale)."""
    best, best_score, best_gap = -1, 0.0, 0.0
    for k in range(rows.shape[1]):
        x = np.sort(rows[:, k])
        if len(x) > 1:
            gap = float(np.min(np.diff(x)))
        else:
            gap = 1.0
        if gap <= 0:
            continue
        # A NaN window must not cover any warm-up value.
        if any(min(abs(rows[i, k] - w) for w in WARM_UP) < gap for i in nan_rows):
            continue
        score = gap / (float(np.max(np.abs(x))) + 1e-6)
        if score > best_score:
            best, best_score, best_gap = k, score, gap
    if best < 0:
        sys.exit("no feature separates the rows; use different captures")
    return best, best_gap


def build(rows: np.ndarray, targets: list[float | None]) -> tuple[onnx.ModelProto, int]:
    nan_rows = [i for i, t in enumerate(targets) if t is None]
    k, gap = pick_feature(rows, nan_rows)
    order = np.argsort(rows[:, k])
    xs = rows[order, k].astype(np.float64)
    finite = [t for t in targets if t is not None] or [50.0]
    hs = [targets[i] if targets[i] is not None else finite[0] for i in order]
    thresholds = ((xs[:-1] + xs[1:]) / 2).astype(np.float32).reshape(1, -1)
    deltas = np.array([hs[j + 1] - hs[j] for j in range(len(hs) - 1)], dtype=np.float32).reshape(-1, 1)
    inits = [
        numpy_helper.from_array(np.array([k], dtype=np.int64), "k"),
        numpy_helper.from_array(np.array([[hs[0] / 100.0]], dtype=np.float32), "base"),
        numpy_helper.from_array(np.array(0.0, dtype=np.float32), "zero"),
        numpy_helper.from_array(np.array(1.0, dtype=np.float32), "one"),
        numpy_helper.from_array(np.array(0.01, dtype=np.float32), "pct"),
    ]
    nodes = [helper.make_node("Gather", ["features", "k"], ["xk"], axis=1)]  # [N, 1]
    if len(xs) > 1:
        inits += [numpy_helper.from_array(thresholds, "t"), numpy_helper.from_array(deltas, "d")]
        nodes += [
            helper.make_node("Greater", ["xk", "t"], ["above"]),
            helper.make_node("Cast", ["above"], ["step"], to=TensorProto.FLOAT),
            helper.make_node("MatMul", ["step", "d"], ["rise"]),
            helper.make_node("Mul", ["rise", "pct"], ["rise01"]),
            helper.make_node("Add", ["rise01", "base"], ["raw"]),
        ]
    else:
        # One row: a constant score, still one per input row ([N, 1]), like the step graph's.
        nodes += [
            helper.make_node("Mul", ["xk", "zero"], ["flat"]),
            helper.make_node("Add", ["flat", "base"], ["raw"]),
        ]
    nodes.append(helper.make_node("Clip", ["raw", "zero", "one"], ["p"]))
    if nan_rows:
        centres = np.array([[rows[i, k] for i in nan_rows]], dtype=np.float32)
        half = np.float32(gap / 4)
        inits += [
            numpy_helper.from_array(centres, "c"),
            numpy_helper.from_array(np.full_like(centres, half * half), "d2"),
            numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1"),
        ]
        nodes += [
            helper.make_node("Sub", ["xk", "c"], ["off"]),
            helper.make_node("Mul", ["off", "off"], ["off2"]),
            helper.make_node("Sub", ["off2", "d2"], ["inside"]),  # negative only near a NaN row
            helper.make_node("Sqrt", ["inside"], ["root"]),  # NaN there
            helper.make_node("Mul", ["root", "zero"], ["nan_or_zero"]),
            helper.make_node("ReduceSum", ["nan_or_zero", "axis1"], ["poison"], keepdims=1),
            helper.make_node("Add", ["p", "poison"], ["healthy"]),
        ]
    else:
        nodes.append(helper.make_node("Identity", ["p"], ["healthy"]))
    nodes += [
        helper.make_node("Sub", ["one", "healthy"], ["defect"]),
        helper.make_node("Concat", ["defect", "healthy"], ["probabilities"], axis=1),
    ]
    width = rows.shape[1]
    graph = helper.make_graph(
        nodes,
        "step_health",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", width])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 2])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="make_step_model")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model, k


def check(model: onnx.ModelProto, rows: np.ndarray, targets: list[float | None]) -> None:
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    got = sess.run(["probabilities"], {"features": rows.astype(np.float32)})[0]
    for i, t in enumerate(targets):
        h = float(got[i, 1]) * 100
        if t is None:
            if not math.isnan(h):
                sys.exit(f"row {i}: expected NaN, got {h}")
        elif abs(h - t) > 1e-3:
            sys.exit(f"row {i}: expected {t}, got {h}")
    width = rows.shape[1]
    warm = np.array([[p(i) for i in range(width)] for p in (lambda i: 0.0, lambda i: 1.0, lambda i: -float(i),
                                                             lambda i: i * 0.5)], dtype=np.float32)
    out = sess.run(["probabilities"], {"features": warm})[0]
    if out.shape != (len(warm), 2):
        sys.exit(f"warm-up rows scored as shape {out.shape}, not one row each")
    if not np.all(np.isfinite(out)) or np.max(np.abs(out.sum(axis=1) - 1)) > 1e-4:
        sys.exit(f"warm-up rows are not probability distributions: {out}")


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    out = Path(sys.argv[2]) / "wheel-health" / "1.0.0"
    rows = np.array(spec["rows"], dtype=np.float32)
    targets = spec["targets"]
    model, k = build(rows, targets)
    check(model, rows, targets)
    out.mkdir(parents=True, exist_ok=True)
    (out / "model.onnx").write_bytes(model.SerializeToString())
    features = ", ".join(json.dumps(f) for f in spec["features"])
    (out / "card.toml").write_text(
        f"""name = "wheel-health"
version = "1.0.0"
description = "Test model: a step function of feature {spec['features'][k]!r} that gives each test capture the score the test asks for"

[input]
name = "features"
dtype = "float32"
features = [{features}]

[output]
name = "probabilities"
kind = "tensor"
classes = ["defect", "healthy"]
healthy_class = "healthy"

[alert]
threshold = 70.0

[provenance]
framework = "onnx {onnx.__version__} helper API"
script = "tests/support/make_step_model.py"
training_data = "none: the targets are given by the test"
training_data_sha256 = "{'0' * 64}"
trained_at = "2026-01-01T00:00:00Z"
""",
        encoding="utf-8",
    )
    print(json.dumps({"feature": spec["features"][k], "dir": str(out)}))


if __name__ == "__main__":
    main()
