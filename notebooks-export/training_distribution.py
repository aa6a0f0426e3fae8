"""The training distribution of each input feature, for the model card's `[training_distribution]` section.

The service compares the features it scores against this section (population stability index per feature, see
`models/README.md`) and explains a score by putting one feature at a time at its training median. Both training
scripts import `distribution()`; run as a script, this file copies the section from one card into another
(how the cards shipped before the section existed got it, without touching their `model.onnx`):

    .venv/bin/python notebooks-export/train_wheel_model.py --out /tmp/fresh --version 1.1.0
    .venv/bin/python notebooks-export/training_distribution.py /tmp/fresh/wheel-health/1.1.0/card.toml \
        models/wheel-health/1.1.0/card.toml

Binning rule (the service applies the same one): the cut points are the distinct interior quantiles
(probabilities strictly between 0 and 1); a value goes to the first bin whose cut point is >= the value
(`numpy.searchsorted(cuts, x, side="left")`), so `len(cuts) + 1` bins; a missing value (NaN) counts in
`missing`. `shares` and `missing` are fractions of all training rows and add up to 1. Values are read as
float32, as the model reads them.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd

PROBABILITIES = [round(i / 10, 1) for i in range(11)]  # min, deciles, max
SECTION = "training_distribution"


def distribution(rows: pd.DataFrame, features: list[str], source: str) -> dict:
    """The `[training_distribution]` section for `rows` (the healthy rows the model was fitted on)."""
    out: dict = {"rows": int(len(rows)), "source": source, "probabilities": PROBABILITIES, "features": {}}
    for name in features:
        values = rows[name].to_numpy(np.float32).astype(np.float64)
        present = values[~np.isnan(values)]
        if len(present) == 0:
            quantiles = [float("nan")] * len(PROBABILITIES)
            shares = [0.0]
        else:
            quantiles = [float(q) for q in np.quantile(present, PROBABILITIES)]
            cuts = np.unique(np.array(quantiles[1:-1]))
            bins = np.searchsorted(cuts, present, side="left")
            shares = [float(c) / len(values) for c in np.bincount(bins, minlength=len(cuts) + 1)]
        out["features"][name] = {
            "quantiles": quantiles,
            "shares": shares,
            "missing": float(np.isnan(values).sum()) / len(values),
        }
    return out


def section_text(card_text: str) -> str:
    """The `[training_distribution...]` tables of a card, as written (everything from the first of them)."""
    lines = card_text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.startswith(f"[{SECTION}")), None)
    if start is None:
        raise SystemExit(f"no [{SECTION}] section in the source card")
    tail = lines[start:]
    other = next((i for i, line in enumerate(tail) if line.startswith("[") and not line.startswith(f"[{SECTION}")),
                 len(tail))
    return "".join(tail[:other]).rstrip("\n") + "\n"


def copy_section(source: Path, target: Path) -> None:
    """Replaces (or adds) the target card's section by the source card's; every other line stays as it is."""
    text = target.read_text()
    card = tomllib.loads(text)
    src = tomllib.loads(source.read_text())
    if src["input"]["features"] != card["input"]["features"]:
        raise SystemExit(f"{source} and {target} take different features")
    if SECTION in card:
        text = text.replace(section_text(text), "")
    text = text.rstrip("\n") + "\n\n" + section_text(source.read_text())
    tomllib.loads(text)
    tmp = target.with_suffix(".toml.tmp")
    tmp.write_text(text)
    tmp.replace(target)
    print(f"{target}: [{SECTION}] from {source}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: training_distribution.py FROM_CARD TO_CARD")
    copy_section(Path(sys.argv[1]), Path(sys.argv[2]))
