# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Inverter health model
#
# This script trains the model that turns one solar inverter's `inverter-v1` window features (one day, or the
# part of a day seen so far) into a **health score** (P(healthy) x 100), then exports it as ONNX with its model
# card to `models/inverter-health/<version>/`.
#
# ```sh
# python notebooks-export/train_inverter_model.py [--data training-data/inverters] [--out models] [--version X.Y.Z] [--force]
# ```
#
# The input is the feature CSVs that `prognos simulate inverters` writes to `training-data/inverters/`
# (`training-data/inverters/README.md` says how): real Kaggle plant series with seeded, physically realistic
# faults injected, one row per inverter and window:
# `window_id, window_start, window_end, site, asset, readings, <feature columns...>, label, severity`.
# `label` is `healthy` or a fault; `severity` is in [0, 1] and is 0 for healthy windows. Files named
# `real-*.csv` hold the **un-injected** windows of a plant, without labels: they are never trained on, and are
# scored at the end to list which real inverters the model flags (step 7). Empty feature cells are NaN
# (undefined: no daylight, no inverter temperature in the source, too few peers).
#
# Steps:
# 1. Load and hash the CSVs.
# 2. Hold out inverters and days.
# 3. Build the training target from severity.
# 4. Train LightGBM.
# 5. Evaluate on the held-out windows.
# 6. Export to ONNX and check the export against LightGBM.
# 7. Score the real, unlabelled Plant 2 windows beside a plain peer-median yield ratio.
# 8. Write `model.onnx` and `card.toml`.

# %%
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import tomllib
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import NoReturn

import lightgbm
import numpy as np
import onnx
import onnxmltools
import onnxruntime as ort
import pandas as pd
from onnxmltools.convert.common.data_types import FloatTensorType
from sklearn.metrics import roc_auc_score

warnings.filterwarnings("ignore", category=UserWarning)  # sklearn feature-name chatter from LightGBM
ort.set_default_logger_severity(3)  # onnxmltools' static label shape: a harmless warning on every run

MODEL_NAME = "inverter-health"
SCRIPT = "notebooks-export/train_inverter_model.py"
ID_COLUMNS = ["window_id", "window_start", "window_end", "site", "asset", "readings"]
TARGET_COLUMNS = ["label", "severity"]
HEALTHY = "healthy"
KNOWN_FAULTS = ["trip", "string_outage", "derating", "efficiency_loss", "stale_logger", "soiling", "fan_failure"]
THRESHOLD = 70.0  # alert when health < 70 (the service's default)
SEVERE = 0.5
SEVERITY_BANDS = [(0.0, 0.2), (0.2, 0.5), (0.5, 1.0)]
REAL_PREFIX = "real-"
SEED = 20261122

# %% [markdown]
# ## Arguments
#
# The defaults are relative to the repository root, so they work from any working directory.

# %%
REPO = Path(__file__).resolve().parents[1] if "__file__" in globals() else Path.cwd().parent


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Train the inverter health model and export it with its card.")
    p.add_argument("--data", type=Path, default=REPO / "training-data" / "inverters",
                   help="folder of feature CSVs (default: training-data/inverters)")
    p.add_argument("--out", type=Path, default=REPO / "models", help="model registry folder (default: models)")
    p.add_argument("--version", help="semver X.Y.Z (default: next minor after the newest existing version)")
    p.add_argument("--force", action="store_true", help="overwrite the version if it exists")
    return p.parse_args(argv)


args = parse_args([] if "ipykernel" in sys.modules else sys.argv[1:])
DATA_DIR, OUT_DIR = args.data, args.out


def fail(message: str) -> NoReturn:
    """Stop with a clear message and exit status 1."""
    sys.exit(f"train_inverter_model: {message}")


def choose_version(model_dir: Path, requested: str | None) -> str:
    semver = re.compile(r"(\d+)\.(\d+)\.(\d+)")
    if requested is not None:
        if not semver.fullmatch(requested):
            fail(f"--version {requested!r} is not X.Y.Z")
        return requested
    existing = [tuple(map(int, m.groups())) for d in model_dir.glob("*") if (m := semver.fullmatch(d.name))]
    if not existing:
        return "1.0.0"
    major, minor, _ = max(existing)
    return f"{major}.{minor + 1}.0"


model_dir = OUT_DIR / MODEL_NAME
VERSION = choose_version(model_dir, args.version)
target = model_dir / VERSION
if target.exists() and not args.force:
    fail(f"{target} exists; pass another --version, or --force to overwrite it")
print(f"will write {target}")

# %% [markdown]
# ## 1. Load the windows
#
# All `*.csv` files directly inside the data folder are read, sorted by file name (code point order). The
# card's `training_data_sha256` is the sha256 of those files' bytes joined in that order
# (`cat $(LC_ALL=C ls *.csv) | sha256sum`), the real-data files included: it pins everything the card reports.
# Every file must have the same header; feature columns must be numeric; labelled files need a severity in
# [0, 1] on every row.

# %%
def load_windows(data_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame, list[str], list[Path], str]:
    if not data_dir.is_dir():
        fail(f"data folder {data_dir} does not exist")
    files = sorted(data_dir.glob("*.csv"), key=lambda f: f.name)
    if not files:
        fail(f"no *.csv files in {data_dir}: write them with `prognos simulate inverters` first")
    digest = hashlib.sha256()
    frames, header = [], None
    for f in files:
        digest.update(f.read_bytes())
        df = pd.read_csv(f, dtype={c: str for c in ID_COLUMNS[:-1] + ["label"]}, keep_default_na=False,
                         na_values={c: [""] for c in ["severity"]})
        if header is None:
            header = list(df.columns)
        elif list(df.columns) != header:
            fail(f"{f.name} has a different header from {files[0].name}:\n  {list(df.columns)}\n  {header}")
        frames.append(df.assign(_file=f.name))
    data = pd.concat(frames, ignore_index=True)
    missing = [c for c in ID_COLUMNS + TARGET_COLUMNS if c not in header]
    if missing:
        fail(f"missing column(s) {missing}; expected {ID_COLUMNS + ['<features...>'] + TARGET_COLUMNS}")
    features = [c for c in header if c not in ID_COLUMNS + TARGET_COLUMNS]
    for c in features:
        if not pd.api.types.is_numeric_dtype(data[c]):
            data[c] = pd.to_numeric(data[c].astype(object).replace("", np.nan), errors="coerce")
    non_numeric = [c for c in features if not pd.api.types.is_numeric_dtype(data[c])]
    if not features or non_numeric:
        fail(f"feature columns must be numeric: {non_numeric or 'none found'}")
    real = data[data["_file"].str.startswith(REAL_PREFIX)].reset_index(drop=True)
    labelled = data[~data["_file"].str.startswith(REAL_PREFIX)].reset_index(drop=True)
    if labelled.empty:
        fail(f"no labelled windows in {data_dir} (only {REAL_PREFIX}*.csv files)")
    labelled["label"] = labelled["label"].str.strip()
    severity = pd.to_numeric(labelled["severity"], errors="coerce")
    bad = severity.isna() | (severity < 0) | (severity > 1)
    if bad.any():
        row = labelled[bad].iloc[0]
        fail(f"{bad.sum()} labelled row(s) with severity missing or outside [0, 1], first in {row['_file']}")
    labelled["severity"] = severity
    unknown = sorted(set(labelled["label"]) - {HEALTHY, *KNOWN_FAULTS})
    if unknown:
        print(f"note: labels not in the known list, treated as faults: {unknown}")
    labelled["day"] = labelled["window_start"].str[:10]
    return labelled, real, features, files, digest.hexdigest()


windows, real_windows, FEATURES, FILES, DATA_SHA256 = load_windows(DATA_DIR)
print(f"{len(windows)} labelled windows of {windows.groupby('site')['asset'].nunique().sum()} inverters at "
      f"{windows['site'].nunique()} site(s), {len(real_windows)} real unlabelled windows; {len(FEATURES)} features; "
      f"sha256 {DATA_SHA256[:16]}…")
windows["label"].value_counts()

# %% [markdown]
# ## 2. Hold out inverters **and** days
#
# Windows of one inverter are correlated (its strings, its orientation, its logger), and windows of one day
# are correlated across inverters (the weather, and the peer median every inverter is compared with). So the
# held-out set is a block: at each site, 25 % of the inverters (seeded draw) **on** 25 % of the days (seeded
# draw). Training uses the other inverters on the other days. Windows that share an inverter or a day with
# the held-out block are used for neither, so the held-out scores are for inverters and days the model has
# never seen.

# %%
HOLDOUT_SHARE = 0.25


def split_holdout(data: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, str]:
    rng = np.random.default_rng(SEED)
    held_assets, held_days = set(), set()
    for site in sorted(data["site"].unique()):
        at = data[data["site"] == site]
        assets, days = sorted(at["asset"].unique()), sorted(at["day"].unique())
        held_assets |= {(site, a) for a in rng.permutation(assets)[: max(1, round(HOLDOUT_SHARE * len(assets)))]}
        held_days |= {(site, d) for d in rng.permutation(days)[: max(1, round(HOLDOUT_SHARE * len(days)))]}
    a = np.array([(s, x) in held_assets for s, x in zip(data["site"], data["asset"])])
    d = np.array([(s, x) in held_days for s, x in zip(data["site"], data["day"])])
    return a & d, ~a & ~d, (f"{HOLDOUT_SHARE:.0%} of inverters x {HOLDOUT_SHARE:.0%} of days per site, seed {SEED}; "
                            "training on the other inverters on the other days")


is_holdout, is_train, SPLIT_RULE = split_holdout(windows)
train, holdout = windows[is_train].reset_index(drop=True), windows[is_holdout].reset_index(drop=True)
if holdout.empty or train.empty:
    fail("the split left no training or no held-out windows: add data")
print(f"held out: {SPLIT_RULE}\n  train {len(train)} windows, held out {len(holdout)}, "
      f"unused (shared inverter or day) {len(windows) - len(train) - len(holdout)}")

# %% [markdown]
# ## 3. The target: a health score that falls with severity
#
# As for the wheel model: a **soft target**. The share of "fault" rises linearly with severity, from 0 at
# 0.05 to 1 at 0.55, so the health target crosses 70 at severity 0.20 (a trip over a fifth of the day, a tenth
# of the strings lost, 14 % of the AC limit shaved off by a derating, 3 points of efficiency). Each window
# becomes two weighted rows ("healthy" with weight 1 - share, "fault" with weight share), so the log-loss is
# the cross-entropy against the soft target and P(healthy) estimates the expected target health.

# %%
RAMP_START, RAMP_END = 0.05, 0.55
SEVERITY_AT_THRESHOLD = RAMP_START + (1 - THRESHOLD / 100) * (RAMP_END - RAMP_START)


def fault_share(data: pd.DataFrame) -> np.ndarray:
    share = np.clip((data["severity"].to_numpy() - RAMP_START) / (RAMP_END - RAMP_START), 0.0, 1.0)
    return np.where(data["label"].to_numpy() == HEALTHY, 0.0, share)


def soft_target_rows(data: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = data[FEATURES].to_numpy(np.float32)
    share = fault_share(data)
    keep_h, keep_d = share < 1.0, share > 0.0
    xs = np.concatenate([x[keep_h], x[keep_d]])
    ys = np.array([HEALTHY] * keep_h.sum() + ["fault"] * keep_d.sum())
    ws = np.concatenate([1.0 - share[keep_h], share[keep_d]])
    return xs, ys, ws


x_fit, y_fit, w_fit = soft_target_rows(train)
if len(set(y_fit)) < 2:
    fail("the training data holds only one class: nothing to learn")
print(f"health target crosses {THRESHOLD:.0f} at severity {SEVERITY_AT_THRESHOLD:.2f}; {len(x_fit)} weighted rows")

# %% [markdown]
# ## 4. Train LightGBM
#
# Gradient-boosted trees, as for the wheels: a dozen tabular, mixed-scale features, some undefined (NaN, which
# LightGBM routes natively and the ONNX export keeps), threshold-like relationships (a trip is a share of zero
# output, a frozen logger a run length) and a clean single-node ONNX export. Fixed, modest settings, one
# thread and `deterministic` so that the same CSVs always give the same bytes.

# %%
model = lightgbm.LGBMClassifier(
    n_estimators=300, learning_rate=0.05, num_leaves=15, min_child_samples=10,
    subsample=0.8, subsample_freq=1, colsample_bytree=0.8, reg_lambda=1.0,
    random_state=SEED, deterministic=True, force_col_wise=True, n_jobs=1, verbose=-1,
)
model.fit(x_fit, y_fit, sample_weight=w_fit)


def snap_thresholds_to_float32(fitted: lightgbm.LGBMClassifier) -> None:
    """Rewrite every split threshold t as the largest float32 <= t.

    LightGBM keeps thresholds as float64, ONNX's TreeEnsemble as float32. For a float32 feature x,
    `x <= t` and `x <= floor32(t)` always agree (no float32 lies between them), so after this the model
    makes exactly the same decisions in LightGBM and in ONNX Runtime on every input the service can send.
    Rounding to the nearest float32 instead (what the converter does) flips the rare x that lands between.
    """
    def snap(match: re.Match) -> str:
        snapped = []
        for text in match.group(1).split():
            t = float(text)
            f = np.float32(t)
            if float(f) > t:
                f = np.nextafter(f, np.float32(-np.inf))
            snapped.append(repr(float(f)))
        return "threshold=" + " ".join(snapped)

    model_text = re.sub(r"^threshold=(.*)$", snap, fitted.booster_.model_to_string(), flags=re.M)
    # The header's byte sizes of each tree no longer hold; without them LightGBM parses trees in sequence.
    model_text = re.sub(r"^tree_sizes=.*\n", "", model_text, flags=re.M)
    fitted._Booster = lightgbm.Booster(model_str=model_text)


snap_thresholds_to_float32(model)
CLASSES = [str(c) for c in model.classes_]  # sorted: ["fault", "healthy"]
HEALTHY_COL = CLASSES.index(HEALTHY)

# %% [markdown]
# ## 5. Evaluate on the held-out windows
#
# A window is **flagged** when its health is below 70. On held-out windows only: recall of severe faults
# (severity >= 0.5), the false-positive rate on healthy windows, ROC AUC (healthy against any fault, against
# faults from severity 0.2, against severe faults), recall by fault and by severity band, the median health per
# band and the Spearman correlation of health with severity. Whole-day and partial windows (the live path
# scores a day as it fills) are reported together, and the false-positive rate of each separately.

# %%
def band_name(lo: float, hi: float) -> str:
    return f"{lo:.1f}-{hi:.1f}"


def in_band(sev: pd.Series, lo: float, hi: float) -> pd.Series:
    return (sev >= lo) & ((sev < hi) if hi < 1.0 else (sev <= hi))


def evaluate(data: pd.DataFrame, health: np.ndarray) -> tuple[dict, dict]:
    data = data.assign(health=health, flagged=health < THRESHOLD)
    healthy, fault = data[data["label"] == HEALTHY], data[data["label"] != HEALTHY]
    severe = fault[fault["severity"] >= SEVERE]
    metrics: dict[str, float] = {}

    def auc(neg: pd.DataFrame, pos: pd.DataFrame) -> float | None:
        if neg.empty or pos.empty:
            return None
        y = np.r_[np.zeros(len(neg)), np.ones(len(pos))]
        return float(roc_auc_score(y, -np.r_[neg["health"], pos["health"]]))

    partial = data["window_id"].str.contains("+", regex=False)
    for key, value in [
        ("roc_auc", auc(healthy, fault)),
        ("roc_auc_from_0_2", auc(healthy, fault[fault["severity"] >= SEVERITY_AT_THRESHOLD - 1e-9])),
        ("roc_auc_severe", auc(healthy, severe)),
        ("recall_severe_at_threshold", severe["flagged"].mean() if len(severe) else None),
        ("false_positive_rate_healthy", healthy["flagged"].mean() if len(healthy) else None),
        ("false_positive_rate_healthy_whole_days", healthy[~partial[healthy.index]]["flagged"].mean()),
        ("false_positive_rate_healthy_partial_days", healthy[partial[healthy.index]]["flagged"].mean()),
        ("spearman_health_vs_severity", data["health"].corr(data["severity"].where(data["label"] != HEALTHY, 0.0),
                                                            method="spearman")),
    ]:
        if value is None or value != value:
            print(f"note: {key} not computable on this held-out set")
        else:
            metrics[key] = round(float(value), 6)

    tables: dict[str, dict] = {"recall_by_severity_band": {}, "windows_by_severity_band": {},
                               "median_health_by_severity_band": {}}
    if len(healthy):
        tables["median_health_by_severity_band"]["healthy"] = round(float(healthy["health"].median()), 3)
    for lo, hi in SEVERITY_BANDS:
        rows = fault[in_band(fault["severity"], lo, hi)]
        name = band_name(lo, hi)
        tables["windows_by_severity_band"][name] = len(rows)
        if len(rows):
            tables["recall_by_severity_band"][name] = round(float(rows["flagged"].mean()), 6)
            tables["median_health_by_severity_band"][name] = round(float(rows["health"].median()), 3)
            metrics[f"recall_severity_{name.replace('.', '').replace('-', '_')}"] = tables["recall_by_severity_band"][name]
    tables["recall_by_fault"] = {m: round(float(g["flagged"].mean()), 6) for m, g in fault.groupby("label")}
    tables["recall_by_fault_from_0_2"] = {
        m: round(float(g["flagged"].mean()), 6)
        for m, g in fault[fault["severity"] >= SEVERITY_AT_THRESHOLD - 1e-9].groupby("label")}
    tables["recall_by_fault_severe"] = {m: round(float(g["flagged"].mean()), 6) for m, g in severe.groupby("label")}
    tables["windows_by_label"] = {m: len(g) for m, g in data.groupby("label")}
    absent = sorted(set(KNOWN_FAULTS) - set(tables["recall_by_fault"]))
    if absent:
        tables["faults_absent_from_holdout"] = absent
        print(f"note: no held-out windows of {absent}")
    metrics.update(holdout_windows=float(len(data)), holdout_inverters=float(data.groupby("site")["asset"].nunique().sum()))
    return metrics, tables


holdout_health = model.predict_proba(holdout[FEATURES].to_numpy(np.float32))[:, HEALTHY_COL] * 100
METRICS, TABLES = evaluate(holdout, holdout_health)
METRICS.update(train_windows=float(len(train)))
print(json.dumps(METRICS, indent=1))
pd.DataFrame({"recall": TABLES["recall_by_fault"], "recall_from_0_2": TABLES["recall_by_fault_from_0_2"],
              "recall_severe": TABLES["recall_by_fault_severe"]})

# %% [markdown]
# ## 6. Export to ONNX and check it
#
# `zipmap=False` gives the probabilities as a float tensor `[N, 2]` named `probabilities`, the input is the
# float32 `features`. The graph's class labels must be the card's, in order, and ONNX Runtime must match
# LightGBM to 1e-5 on every window, NaNs included. `opset_import` is sorted so the bytes are reproducible.

# %%
onnx_model = onnxmltools.convert_lightgbm(model, MODEL_NAME, [("features", FloatTensorType([None, len(FEATURES)]))],
                                          zipmap=False)
_ops = sorted(onnx_model.opset_import, key=lambda o: (o.domain, o.version))
del onnx_model.opset_import[:]
onnx_model.opset_import.extend(_ops)
onnx.checker.check_model(onnx_model)
ONNX_BYTES = onnx_model.SerializeToString()

(tree_node,) = [n for n in onnx_model.graph.node if n.op_type == "TreeEnsembleClassifier"]
graph_classes = [s.decode() for a in tree_node.attribute if a.name == "classlabels_strings" for s in a.strings]
if graph_classes != CLASSES:
    fail(f"the graph's classes {graph_classes} differ from the model's {CLASSES}")

session = ort.InferenceSession(ONNX_BYTES, providers=["CPUExecutionProvider"])
x_all = windows[FEATURES].to_numpy(np.float32)
(onnx_proba,) = session.run(["probabilities"], {"features": x_all})
MAX_DIFF = float(np.abs(onnx_proba - model.predict_proba(x_all)).max())
if not MAX_DIFF <= 1e-5:
    fail(f"ONNX Runtime and LightGBM disagree by {MAX_DIFF:.3g} (> 1e-5): the export is not faithful")
METRICS["onnx_max_abs_diff"] = MAX_DIFF
print(f"ONNX export: {len(ONNX_BYTES) / 1024:.0f} KiB, matches LightGBM to {MAX_DIFF:.2g} on {len(x_all)} windows")

# %% [markdown]
# ## 7. The real plants: which inverters does it flag?
#
# The `real-*.csv` files hold every whole-day window of a plant **as recorded**, nothing injected. No labels
# exist, so the model's verdict is shown beside the plainest check a plant engineer would run: the inverter's
# daily yield over the plant's median inverter (`1 + peer_deviation`), median over its days. An inverter is
# listed when the model flags at least one of its days (health < 70); the table gives, per inverter, the days
# flagged, the days scored, its median health and its median peer yield ratio, and the inverters whose median
# ratio is below 0.9 are listed too, so the two can be compared.

# %%
REAL_TABLES: dict[str, dict] = {}
for f in sorted(real_windows["_file"].unique()) if len(real_windows) else []:
    rw = real_windows[real_windows["_file"] == f]
    rw = rw[~rw["window_id"].str.contains("+", regex=False)]
    health = session.run(["probabilities"], {"features": rw[FEATURES].to_numpy(np.float32)})[0][:, HEALTHY_COL] * 100
    rw = rw.assign(health=health, flagged=health < THRESHOLD, peer_ratio=1.0 + rw["peer_deviation"])
    per = rw.groupby("asset").agg(days=("health", "size"), flagged_days=("flagged", "sum"),
                                  median_health=("health", "median"), peer_yield_ratio=("peer_ratio", "median"))
    name = Path(f).stem.removeprefix(REAL_PREFIX).replace("-", "_")
    table: dict[str, object] = {
        "inverters": int(len(per)),
        "flagged_by_model": sorted(per.index[per["flagged_days"] > 0]),
        "low_peer_yield_ratio_below_0_9": sorted(per.index[per["peer_yield_ratio"] < 0.9]),
    }
    for asset, row in per.sort_index().iterrows():
        table[asset] = {"days": int(row["days"]), "flagged_days": int(row["flagged_days"]),
                        "median_health": round(float(row["median_health"]), 3),
                        "peer_yield_ratio": round(float(row["peer_yield_ratio"]), 4)}
    REAL_TABLES[name] = table
    print(f"{f}: model flags {table['flagged_by_model']}; peer ratio < 0.9: {table['low_peer_yield_ratio_below_0_9']}")

# %% [markdown]
# ## 8. Write the model and its card
#
# The card follows `models/README.md`; the evaluation tables go in `[evaluation]`, the real-plant tables in
# `[evaluation.real.<plant>]`. Both files are staged in a hidden folder and renamed into place.

# %%
def to_toml(doc: dict, prefix: str = "") -> str:
    """A small TOML writer for the card: scalars, lists, and nested dicts as [tables]."""

    def key(k: str) -> str:
        return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else json.dumps(k)

    def value(v) -> str:
        if isinstance(v, str):
            return json.dumps(v, ensure_ascii=False)  # JSON escapes are valid TOML basic-string escapes
        if isinstance(v, bool):
            return str(v).lower()
        if isinstance(v, (int, np.integer)):
            return str(int(v))
        if isinstance(v, list):
            return "[" + ", ".join(value(e) for e in v) + "]"
        return repr(float(v))

    out = "".join(f"{key(k)} = {value(v)}\n" for k, v in doc.items() if not isinstance(v, dict))
    for k, v in doc.items():
        if isinstance(v, dict):
            name = f"{prefix}.{key(k)}" if prefix else key(k)
            out += f"\n[{name}]\n" + to_toml(v, name)
    return out


def display_path(p: Path) -> str:
    try:
        return p.resolve().relative_to(REPO).as_posix()
    except ValueError:
        return p.resolve().as_posix()


card = {
    "name": MODEL_NAME,
    "version": VERSION,
    "description": "Solar inverter condition from one window (a day, or the part seen so far) of inverter-v1 "
                   f"features: P(healthy) from LightGBM over {len(FEATURES)} features",
    "input": {"name": "features", "dtype": "float32", "features": FEATURES},
    "output": {"name": "probabilities", "kind": "tensor", "classes": CLASSES, "healthy_class": HEALTHY,
               "label_output": "label"},
    "alert": {"threshold": THRESHOLD},
    "provenance": {
        "framework": f"lightgbm {lightgbm.__version__} / onnxmltools {onnxmltools.__version__}",
        "script": SCRIPT,
        "training_data": display_path(DATA_DIR).rstrip("/") + "/",
        "training_data_sha256": DATA_SHA256,
        "trained_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "metrics": METRICS,
    },
    "evaluation": {
        "feature_set": "inverter-v1",
        "holdout_rule": SPLIT_RULE,
        "training_files": [f.name for f in FILES],
        "target": f"soft: fault share = clip((severity - {RAMP_START}) / {RAMP_END - RAMP_START:g}, 0, 1); "
                  f"health target crosses {THRESHOLD:g} at severity {SEVERITY_AT_THRESHOLD:.2f}",
        "flagged_when": f"health < {THRESHOLD:g}",
        "severe_from": SEVERE,
        "verified_with": f"onnxruntime {ort.__version__}",
        **TABLES,
        "real": REAL_TABLES,
    },
}
# The distribution of every feature over the healthy training rows (quantiles and bin shares): what a fleet in
# normal service looks like, for drift monitoring and explanations in the service (the training rows as a whole
# are mostly worn by design, so a healthy fleet would always look "drifted" against them). Format and binning
# rule in `notebooks-export/training_distribution.py`.
sys.path.insert(0, str(REPO / "notebooks-export"))
from training_distribution import distribution  # noqa: E402

card["training_distribution"] = distribution(
    train[train["label"] == HEALTHY], FEATURES, "healthy training rows (inverters and days outside the held-out block)"
)
card_text = to_toml(card)
tomllib.loads(card_text)

model_dir.mkdir(parents=True, exist_ok=True)
staging = Path(tempfile.mkdtemp(prefix=f".staging-{VERSION}-", dir=model_dir))
_umask = os.umask(0)
os.umask(_umask)
os.chmod(staging, 0o777 & ~_umask)  # mkdtemp makes it 0700; the service may run as another user
try:
    for name, payload in [("model.onnx", ONNX_BYTES), ("card.toml", card_text.encode())]:
        with open(staging / name, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
    if target.exists():  # --force: move the old version aside, then swap
        old = Path(tempfile.mkdtemp(prefix=f".replaced-{VERSION}-", dir=model_dir))
        os.rename(target, old / VERSION)
        os.rename(staging, target)
        shutil.rmtree(old)
    else:
        os.rename(staging, target)
finally:
    shutil.rmtree(staging, ignore_errors=True)

print(f"wrote {display_path(target)}/model.onnx and card.toml ({MODEL_NAME} {VERSION})")
print(f"severe recall {METRICS.get('recall_severe_at_threshold', float('nan')):.3f}, "
      f"healthy false positives {METRICS.get('false_positive_rate_healthy', float('nan')):.3f}, "
      f"ROC AUC {METRICS.get('roc_auc', float('nan')):.3f}")
