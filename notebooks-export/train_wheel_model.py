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
# # Wheel health model
#
# This script trains the model that turns one roller-coaster wheel capture's features into a **health score**
# (P(healthy) x 100), then exports it as ONNX with its model card to `models/wheel-health/<version>/`.
#
# ```sh
# python notebooks-export/train_wheel_model.py [--data training-data/wheels] [--out models] [--version X.Y.Z] [--force]
# ```
#
# The input is the feature CSVs that the wheel simulator (or the live pipeline) writes to
# `training-data/wheels/*.csv`, one row per capture:
# `capture_id, captured_at, camera, wheel, <feature columns...>, label, severity`. `label` is `healthy` or a
# failure mode. `severity` is in [0, 1] and is 0 for healthy wheels. The features are all the other columns,
# in the header's order. Nothing here hard-codes their names, so a new feature in the simulator only needs a
# retrain.
#
# Steps:
# 1. Load and hash the CSVs.
# 2. Hold out data.
# 3. Build the training target from severity.
# 4. Train LightGBM.
# 5. Evaluate on the held-out set.
# 6. Export to ONNX and check the export against LightGBM.
# 7. Write `model.onnx` and `card.toml`.
#
# Without `--version`, the script uses the next minor version after the newest one in the output folder.
# An existing version is never overwritten unless `--force` is given.

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
# onnxmltools declares LightGBM's `label` output with the static shape [1] although it returns [N]; ONNX
# Runtime then logs a warning on every run. Known and harmless (only `probabilities` is read): errors only.
ort.set_default_logger_severity(3)

MODEL_NAME = "wheel-health"
SCRIPT = "notebooks-export/train_wheel_model.py"
ID_COLUMNS = ["capture_id", "captured_at", "camera", "wheel"]
TARGET_COLUMNS = ["label", "severity"]
HEALTHY = "healthy"
KNOWN_FAILURE_MODES = ["even_wear", "compression_set", "flat_spot", "chunking", "cracks", "debonding",
                       "blowout", "conical_wear", "abrasion"]
THRESHOLD = 70.0  # alert when health < 70 (the service's default)
SEVERE = 0.5  # "severe" defects: the ones that must be caught
SEVERITY_BANDS = [(0.0, 0.2), (0.2, 0.5), (0.5, 1.0)]
SEED = 20261122

# %% [markdown]
# ## Arguments
#
# The defaults are relative to the repository root, so they work from any working directory. Paths given on
# the command line are relative to the working directory, as usual. When the file is opened as a notebook,
# the defaults apply.

# %%
REPO = Path(__file__).resolve().parents[1] if "__file__" in globals() else Path.cwd().parent


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Train the wheel health model and export it with its card.")
    p.add_argument("--data", type=Path, default=REPO / "training-data" / "wheels",
                   help="folder of feature CSVs (default: training-data/wheels)")
    p.add_argument("--out", type=Path, default=REPO / "models", help="model registry folder (default: models)")
    p.add_argument("--version", help="semver X.Y.Z (default: next minor after the newest existing version)")
    p.add_argument("--force", action="store_true", help="overwrite the version if it exists")
    return p.parse_args(argv)


args = parse_args([] if "ipykernel" in sys.modules else sys.argv[1:])
DATA_DIR, OUT_DIR = args.data, args.out


def fail(message: str) -> NoReturn:
    """Stop with a clear message and exit status 1."""
    sys.exit(f"train_wheel_model: {message}")


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
if target.exists() and not args.force:  # checked now, not after training
    fail(f"{target} exists; pass another --version, or --force to overwrite it")
print(f"will write {target}")


# %% [markdown]
# ## 1. Load the captures
#
# All `*.csv` files directly inside the data folder are read, sorted by file name (by code point, as
# `LC_ALL=C ls` sorts). The card's `training_data_sha256` is the sha256 of those files' bytes joined in that
# order, the same value as `cat $(LC_ALL=C ls *.csv) | sha256sum`. It pins the exact data the model saw.
#
# The checks here fail early, with a clear message, when:
# - the files do not all have the same header;
# - a column the split or the target needs is missing;
# - a feature column is not numeric;
# - severity is missing or outside [0, 1].
#
# Empty feature cells are allowed and read as NaN. LightGBM learns a direction for missing values, and the
# ONNX export keeps it (checked in step 6).

# %%
def load_captures(data_dir: Path) -> tuple[pd.DataFrame, list[str], list[Path], str]:
    if not data_dir.is_dir():
        fail(f"data folder {data_dir} does not exist")
    files = sorted(data_dir.glob("*.csv"), key=lambda f: f.name)
    if not files:
        fail(f"no *.csv files in {data_dir}: write feature CSVs there first (e.g. with the wheel simulator)")

    digest = hashlib.sha256()
    frames, header = [], None
    for f in files:
        digest.update(f.read_bytes())
        df = pd.read_csv(f, dtype={c: str for c in ID_COLUMNS + ["label"]})
        if header is None:
            header = list(df.columns)
        elif list(df.columns) != header:
            fail(f"{f.name} has a different header from {files[0].name}:\n  {list(df.columns)}\n  {header}")
        frames.append(df.assign(_file=f.name))
    data = pd.concat(frames, ignore_index=True)

    missing = [c for c in ["wheel"] + TARGET_COLUMNS if c not in header]
    if missing:
        fail(f"missing column(s) {missing}; expected {ID_COLUMNS + ['<features...>'] + TARGET_COLUMNS}")
    features = [c for c in header if c not in ID_COLUMNS + TARGET_COLUMNS]
    if not features:
        fail("no feature columns: every column is an id or target column")
    non_numeric = [c for c in features if not pd.api.types.is_numeric_dtype(data[c])]
    if non_numeric:
        fail(f"non-numeric feature column(s) {non_numeric}: every column other than {ID_COLUMNS + TARGET_COLUMNS} "
             "is a feature")
    if data.empty:
        fail(f"the CSVs in {data_dir} hold no rows")

    data["label"] = data["label"].str.strip()
    severity = pd.to_numeric(data["severity"], errors="coerce")
    bad = severity.isna() | (severity < 0) | (severity > 1)
    if bad.any():
        row = data[bad].iloc[0]
        fail(f"{bad.sum()} row(s) with severity missing or outside [0, 1], first in {row['_file']}: {float(row['severity'])}")
    data["severity"] = severity
    unknown = sorted(set(data["label"]) - {HEALTHY, *KNOWN_FAILURE_MODES})
    if unknown:
        print(f"note: labels not in the known list, treated as defects: {unknown}")
    odd = (data["label"] == HEALTHY) & (data["severity"] > 0)
    if odd.any():
        print(f"note: {odd.sum()} healthy row(s) with severity > 0; the label wins (they count as healthy)")
    return data, features, files, digest.hexdigest()


captures, FEATURES, FILES, DATA_SHA256 = load_captures(DATA_DIR)
print(f"{len(captures)} captures of {captures['wheel'].nunique()} wheels from {len(FILES)} file(s); "
      f"{len(FEATURES)} features; sha256 {DATA_SHA256[:16]}…")
captures["label"].value_counts()

# %% [markdown]
# ## 2. Hold out data
#
# Captures of the same wheel are strongly correlated. The same wheel seen on another day looks almost the
# same. A random split by row would therefore grade the model on wheels it has already seen, and the scores
# would be too good. The rule, in order:
#
# 1. **Files named `holdout*.csv`** are the held-out set, if any exist. The data's author then decides, for
#    example a later period or another train.
# 2. Otherwise, **whole wheels** are held out: 25 % of the wheels in each stratum. A wheel's stratum is its
#    worst label (the label of its most severe capture, or `healthy`), so every failure mode appears on both
#    sides when it can. The draw is seeded.
# 3. With fewer than 8 wheels there are too few to split by wheel. 25 % of the captures are then held out,
#    stratified by label, and the card says so: those scores are optimistic.

# %%
HOLDOUT_SHARE = 0.25


def split_holdout(data: pd.DataFrame) -> tuple[np.ndarray, str]:
    """A boolean mask of held-out rows, and the rule that made it (for the card)."""
    holdout_files = sorted({f for f in data["_file"] if f.startswith("holdout")})
    if holdout_files:
        mask = data["_file"].isin(holdout_files).to_numpy()
        if mask.all():
            fail("every CSV is a holdout*.csv file: nothing is left to train on")
        return mask, f"files {', '.join(holdout_files)}"

    rng = np.random.default_rng(SEED)
    wheels = data["wheel"].astype(str)
    if wheels.nunique() >= 8:
        worst = data.loc[data.groupby(wheels)["severity"].idxmax(), ["wheel", "label"]]
        held = []
        for _, group in worst.groupby("label"):
            ids = sorted(group["wheel"].astype(str))
            n = max(1, round(HOLDOUT_SHARE * len(ids))) if len(ids) >= 2 else 0
            held += list(rng.permutation(ids)[:n])
        return wheels.isin(held).to_numpy(), f"{HOLDOUT_SHARE:.0%} of wheels per worst-label stratum, seed {SEED}"

    mask = np.zeros(len(data), dtype=bool)
    for _, idx in data.groupby("label").indices.items():
        mask[rng.permutation(idx)[: round(HOLDOUT_SHARE * len(idx))]] = True
    return mask, f"{HOLDOUT_SHARE:.0%} of captures per label, seed {SEED} (fewer than 8 wheels: optimistic)"


is_holdout, SPLIT_RULE = split_holdout(captures)
train, holdout = captures[~is_holdout].reset_index(drop=True), captures[is_holdout].reset_index(drop=True)
if holdout.empty:
    fail("the held-out set is empty: add data or a holdout*.csv file")
print(f"held out: {SPLIT_RULE}\n  train {len(train)} captures / {train['wheel'].nunique()} wheels, "
      f"held out {len(holdout)} / {holdout['wheel'].nunique()}")

# %% [markdown]
# ## 3. The target: a health score that falls with severity
#
# The service alerts when health = P(healthy) x 100 drops below 70. The model should therefore learn a
# *probability of being healthy* that:
#
# - is about 100 for healthy wheels and for barely visible defects, so it does not alert on noise;
# - **falls steadily as severity grows**, so that trend charts show a wheel wearing out and not a cliff;
# - **crosses 70 at a severity worth acting on**. This is 0.2 here: the top of the "minor" band.
#
# A hard binary label such as "defect if severity >= 0.2" gets the crossing roughly right. Its score
# saturates, though: a wheel at severity 0.3 and one at 0.9 would both read about 0, and the score would say
# nothing about progression. Labelling every defect as "defect" has the opposite fault: the model would have
# to alert on severity-0.02 wheels it cannot tell from healthy ones, and it would learn a score that says
# little about how bad a wheel is.
#
# We use a **soft target** instead. The target share of "defect" rises linearly with severity:
#
# | severity | 0 | 0.10 | 0.20 | 0.40 | >= 0.67 |
# | --- | --- | --- | --- | --- | --- |
# | target health | 100 | 85 | **70** (threshold) | 40 | 0 |
#
# The ramp starts at severity 0: every defect, however faint, is a little less healthy than a healthy wheel.
# An earlier version held the target at 100 up to severity 0.05, which taught the model to score faint
# defects exactly like healthy wheels and cost ranking quality (ROC AUC) for nothing: the threshold crossing,
# which is what alerts, stays at 0.20 either way.
#
# LightGBM's classifier takes labels, not fractions, so each capture becomes two weighted rows: one
# "healthy" with weight 1 - share and one "defect" with weight share. Rows with weight 0 are dropped. Summed
# over the two copies, the log-loss is exactly the cross-entropy against the soft target. The model's
# P(healthy) then estimates the expected target health for what the features show.
#
# Healthy captures have share 0 whatever their severity cell says. We do **not** rebalance classes:
# reweighting would move the point where the score crosses 70, which the ramp sets on purpose.

# %%
RAMP_START, RAMP_END = 0.0, 2 / 3
SEVERITY_AT_THRESHOLD = RAMP_START + (1 - THRESHOLD / 100) * (RAMP_END - RAMP_START)  # = 0.20


def defect_share(data: pd.DataFrame) -> np.ndarray:
    share = np.clip((data["severity"].to_numpy() - RAMP_START) / (RAMP_END - RAMP_START), 0.0, 1.0)
    return np.where(data["label"].to_numpy() == HEALTHY, 0.0, share)


def soft_target_rows(data: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features (float32, as the service will send them), class labels and sample weights."""
    x = data[FEATURES].to_numpy(np.float32)
    share = defect_share(data)
    keep_h, keep_d = share < 1.0, share > 0.0
    xs = np.concatenate([x[keep_h], x[keep_d]])
    ys = np.array([HEALTHY] * keep_h.sum() + ["defect"] * keep_d.sum())
    ws = np.concatenate([1.0 - share[keep_h], share[keep_d]])
    return xs, ys, ws


x_fit, y_fit, w_fit = soft_target_rows(train)
if len(set(y_fit)) < 2:
    fail("the training data holds only one class (all healthy, or all severe): nothing to learn")
print(f"health target crosses {THRESHOLD:.0f} at severity {SEVERITY_AT_THRESHOLD:.2f}; "
      f"{len(x_fit)} weighted rows from {len(train)} captures")

# %% [markdown]
# ## 4. Train LightGBM
#
# Why gradient-boosted trees, and LightGBM in particular:
#
# - **The features are tabular**: a few dozen measured, mixed-scale quantities (millimetres, counts,
#   intensities), some of them missing. Trees need no scaling and handle NaN natively. On data like this they
#   usually beat neural networks.
# - **The relationships are monotone-ish with thresholds** (a flat spot longer than X mm, more than N cracks),
#   which is what splits are good at. Interactions between failure modes come for free.
# - **Fast**: it trains in seconds on a CPU, so retraining when the simulator changes costs nothing.
# - **Clean export**: onnxmltools turns it into a single `TreeEnsembleClassifier` node, a small ONNX file that
#   ONNX Runtime scores in microseconds per row. Step 6 checks it against LightGBM itself.
#
# The settings are modest and fixed, with no search: shallow trees (15 leaves), a small learning rate, and
# row and column subsampling against the strong per-wheel correlation. `deterministic` and a single thread
# make a retrain on the same CSVs give the same model. The constraint list below names features, so it
# depends on `wheel-v1` staying what it is.
#
# **Monotone constraints.** `FEATURES.md` says which way each feature moves as a wheel wears ("Which failure
# mode moves which feature"): pits, grooves, runout, protrusions and roughness only grow; tread height,
# mean intensity and the contact band's intensity contrast only fall. The model is told so: P(healthy) may
# only fall as a wear feature grows. Without the constraint, trees also split on noise in the healthy range
# of a feature, which ranks faint defects below some healthy wheels. On the seed-2 holdout, the constraint
# alone moved ROC AUC from 0.979 to 0.980, the ramp from 0 alone to 0.981, both together to 0.983 (model
# 1.1.0; 1.0.0 had neither).

# %%
# +1: P(healthy) may only rise with the feature; -1: only fall; 0: free. Features not named are free.
WEAR_DIRECTION = {
    "tread_height": +1, "intensity_mean": +1, "intensity_band_contrast": +1,
    **{f: -1 for f in [
        "profile_concavity", "trough_depth", "profile_deviation", "conicity", "runout_spread", "runout_once_per_turn",
        "flat_spot_depth", "flat_spot_length", "flat_spot_brightening", "pit_depth", "pit_area",
        "protrusion_height", "protrusion_area", "seam_bulge", "roughness", "missing_fraction",
        "crack_line_density", "groove_density", "dark_area", "intensity_gradient",
    ]},
}
MONOTONE = [WEAR_DIRECTION.get(f, 0) for f in FEATURES]
print("monotone constraints:", {f: d for f, d in zip(FEATURES, MONOTONE) if d})

model = lightgbm.LGBMClassifier(
    n_estimators=300, learning_rate=0.05, num_leaves=15, min_child_samples=10,
    subsample=0.8, subsample_freq=1, colsample_bytree=0.8, reg_lambda=1.0, monotone_constraints=MONOTONE,
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
CLASSES = [str(c) for c in model.classes_]  # sorted: ["defect", "healthy"]
HEALTHY_COL = CLASSES.index(HEALTHY)

# %% [markdown]
# ## 5. Evaluate on the held-out captures
#
# A capture is **flagged** when its health is below 70. What matters, measured on held-out captures only:
#
# - **Recall of severe defects** (severity >= 0.5): the share flagged. These must not be missed.
# - **False-positive rate**: the share of healthy captures flagged. Each one is an SMS at night.
# - **ROC AUC**, threshold-free: healthy against any defect (`roc_auc`; held down by barely visible defects),
#   against defects from severity 0.2 (`roc_auc_from_0_2`), and against severe defects (`roc_auc_severe`).
# - **Recall by failure mode** (all severities, and severe only) and **by severity band** (0-0.2, 0.2-0.5,
#   0.5-1.0). A low number in the first band is expected, since the target does not flag minor defects.
# - **Median health per band** and the **Spearman correlation of health with severity**. These check that the
#   score falls as severity grows.

# %%
def band_name(lo: float, hi: float) -> str:
    return f"{lo:.1f}-{hi:.1f}"


def in_band(sev: pd.Series, lo: float, hi: float) -> pd.Series:
    return (sev >= lo) & ((sev < hi) if hi < 1.0 else (sev <= hi))


def evaluate(data: pd.DataFrame, health: np.ndarray) -> tuple[dict, dict]:
    """(metrics for [provenance.metrics], tables for [evaluation])."""
    data = data.assign(health=health, flagged=health < THRESHOLD)
    healthy, defect = data[data["label"] == HEALTHY], data[data["label"] != HEALTHY]
    severe = defect[defect["severity"] >= SEVERE]
    metrics: dict[str, float] = {}

    def auc(neg: pd.DataFrame, pos: pd.DataFrame) -> float | None:
        if neg.empty or pos.empty:
            return None
        y = np.r_[np.zeros(len(neg)), np.ones(len(pos))]
        return float(roc_auc_score(y, -np.r_[neg["health"], pos["health"]]))  # low health = defect

    for key, value in [
        ("roc_auc", auc(healthy, defect)),
        ("roc_auc_from_0_2", auc(healthy, defect[defect["severity"] >= SEVERITY_AT_THRESHOLD - 1e-9])),
        ("roc_auc_severe", auc(healthy, severe)),
        ("recall_severe_at_threshold", severe["flagged"].mean() if len(severe) else None),
        ("false_positive_rate_healthy", healthy["flagged"].mean() if len(healthy) else None),
        ("spearman_health_vs_severity", data["health"].corr(data["severity"].where(data["label"] != HEALTHY, 0.0),
                                                            method="spearman")),
    ]:
        if value is None or value != value:
            print(f"note: {key} not computable on this held-out set")
        else:
            metrics[key] = round(float(value), 6)

    tables: dict[str, dict] = {"recall_by_severity_band": {}, "captures_by_severity_band": {},
                               "median_health_by_severity_band": {}}
    if len(healthy):
        tables["median_health_by_severity_band"]["healthy"] = round(float(healthy["health"].median()), 3)
    for lo, hi in SEVERITY_BANDS:
        rows = defect[in_band(defect["severity"], lo, hi)]
        name = band_name(lo, hi)
        tables["captures_by_severity_band"][name] = len(rows)
        if len(rows):
            tables["recall_by_severity_band"][name] = round(float(rows["flagged"].mean()), 6)
            tables["median_health_by_severity_band"][name] = round(float(rows["health"].median()), 3)
            metrics[f"recall_severity_{name.replace('.', '').replace('-', '_')}"] = tables["recall_by_severity_band"][name]
    by_mode = defect.groupby("label")
    tables["recall_by_failure_mode"] = {m: round(float(g["flagged"].mean()), 6) for m, g in by_mode}
    tables["recall_by_failure_mode_severe"] = {m: round(float(g["flagged"].mean()), 6)
                                               for m, g in severe.groupby("label")}
    tables["captures_by_failure_mode"] = {m: len(g) for m, g in by_mode}
    if len(healthy):
        tables["captures_by_failure_mode"][HEALTHY] = len(healthy)
    absent = sorted(set(KNOWN_FAILURE_MODES) - set(by_mode.groups))
    if absent:
        print(f"note: no held-out captures of {absent}")
    metrics.update(holdout_captures=float(len(data)), holdout_wheels=float(data["wheel"].nunique()))
    return metrics, tables


holdout_health = model.predict_proba(holdout[FEATURES].to_numpy(np.float32))[:, HEALTHY_COL] * 100
METRICS, TABLES = evaluate(holdout, holdout_health)
METRICS.update(train_captures=float(len(train)), train_wheels=float(train["wheel"].nunique()))
print(json.dumps(METRICS, indent=1))
pd.DataFrame({"recall": TABLES["recall_by_failure_mode"], "recall_severe": TABLES["recall_by_failure_mode_severe"],
              "captures": TABLES["captures_by_failure_mode"]})

# %%
pd.DataFrame({"recall": TABLES["recall_by_severity_band"], "median_health": TABLES["median_health_by_severity_band"],
              "captures": TABLES["captures_by_severity_band"]})

# %% [markdown]
# ## 6. Export to ONNX and check it
#
# `zipmap=False` makes the converter emit the probabilities as a plain float tensor `[N, 2]`, and not a
# sequence of maps. The input is named `features` and is float32, matching what the service sends. Two
# checks guard the export:
#
# - the class labels stored in the graph must be the ones in the card, in the same order. Column order is
#   what `classes` describes, and here it is alphabetical: `defect, healthy`;
# - ONNX Runtime's probabilities must match LightGBM's `predict_proba` to 1e-5 on every capture, training
#   and held-out, NaNs included. Tree thresholds are stored as float32 in ONNX, so a mismatch would show up here.
#
# The converter puts a random uuid in `graph.name` unless one is given, and fills `opset_import` from a set.
# Both are pinned so that the same model always gives the same bytes.

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
x_all = captures[FEATURES].to_numpy(np.float32)
(onnx_proba,) = session.run(["probabilities"], {"features": x_all})
MAX_DIFF = float(np.abs(onnx_proba - model.predict_proba(x_all)).max())
if not MAX_DIFF <= 1e-5:
    fail(f"ONNX Runtime and LightGBM disagree by {MAX_DIFF:.3g} (> 1e-5): the export is not faithful")
METRICS["onnx_max_abs_diff"] = MAX_DIFF
print(f"ONNX export: {len(ONNX_BYTES) / 1024:.0f} KiB, matches LightGBM to {MAX_DIFF:.2g} on {len(x_all)} captures")

# %% [markdown]
# ## 7. Write the model and its card
#
# The card follows `models/README.md`. The evaluation tables go in `[evaluation]` and the flat numbers in
# `[provenance.metrics]`. Both files are written to a hidden staging folder next to the target, and the
# folder is then renamed into place. A registry that watches `models/` therefore never sees a model
# without its card, or half a file.

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
    "description": "Polyurethane ride-wheel condition from one capture: P(healthy) from LightGBM "
                   f"over {len(FEATURES)} capture features",
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
        "holdout_rule": SPLIT_RULE,
        "training_files": [f.name for f in FILES],
        "target": f"soft: defect share = clip((severity - {RAMP_START}) / {RAMP_END - RAMP_START:g}, 0, 1); "
                  f"health target crosses {THRESHOLD:g} at severity {SEVERITY_AT_THRESHOLD:.2f}",
        "flagged_when": f"health < {THRESHOLD:g}",
        "severe_from": SEVERE,
        "verified_with": f"onnxruntime {ort.__version__}",
        **TABLES,
    },
}
# The distribution of every feature over the healthy training rows (quantiles and bin shares): what a fleet in
# normal service looks like, for drift monitoring and explanations in the service (the training rows as a whole
# are mostly worn by design, so a healthy fleet would always look "drifted" against them). Format and binning
# rule in `notebooks-export/training_distribution.py`.
sys.path.insert(0, str(REPO / "notebooks-export"))
from training_distribution import distribution  # noqa: E402

card["training_distribution"] = distribution(
    train[train["label"] == HEALTHY], FEATURES, "healthy training rows (files other than holdout*.csv)"
)
card_text = to_toml(card)
tomllib.loads(card_text)  # the writer's output must parse

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
