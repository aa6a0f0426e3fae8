#!/usr/bin/env python3
"""Runs inverter bench binaries side by side, alternated, and prints each figure's median and its ratio to the first.

This machine's speed moves 10 to 20 % between runs, so two builds are only compared in one alternated run:

    cargo bench -p prognos-tests --bench inverters --no-run   # at each commit; copy target/release/deps/inverters-*
    python3 scripts/bench_alternate.py --rounds 7 before=/tmp/inverters-before after=/tmp/inverters-after

Each binary runs with `FILE_RUNS=5 HTTP_PASSES=1 MQTT_N=20` (override with the environment) and `--bench`, from the
repository root. A cell is the median over the rounds of that run's figure (the file figure of a run is itself the
median of its FILE_RUNS); the ratio is the median of the pairwise ratios against the first binary, round by round.
Raw outputs are kept in --out (default target/bench-alternate/).
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

FIGURES = [
    ("file", r"^file: all of Plant 1 end to end, median ([\d.]+) s", "s", "all of Plant 1, end to end"),
    ("http_p50", r"^http: JSON batch of 1,000 readings, send to answer: .*?p50 ([\d.]+) ms", "ms", "HTTP batch of 1,000, p50"),
    ("http_p99", r"^http: JSON batch of 1,000 readings, send to answer: .*?p99 ([\d.]+) ms", "ms", "HTTP batch of 1,000, p99"),
    ("day_p99", r"^http: within one local day: .*?p99 ([\d.]+) ms", "ms", "of which within one local day, p99"),
    ("midnight_p99", r"^http: across a local midnight: .*?p99 ([\d.]+) ms", "ms", "of which across a local midnight, p99"),
    ("mqtt_p50", r"^mqtt: one reading published to stored and scored: .*?p50 ([\d.]+) ms", "ms", "MQTT reading to stored and scored, p50"),
    ("mqtt_p99", r"^mqtt: one reading published to stored and scored: .*?p99 ([\d.]+) ms", "ms", "MQTT, p99"),
]


def parse(text):
    out = {}
    for key, pattern, _, _ in FIGURES:
        m = re.search(pattern, text, re.MULTILINE)
        if m:
            out[key] = float(m.group(1))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--out", default="target/bench-alternate")
    ap.add_argument("binaries", nargs="+", help="LABEL=PATH, the first is the baseline")
    args = ap.parse_args()
    builds = [b.split("=", 1) for b in args.binaries]
    if any(len(b) != 2 for b in builds):
        sys.exit("each binary is LABEL=PATH")
    env = dict(os.environ)
    for k, v in (("FILE_RUNS", "5"), ("HTTP_PASSES", "1"), ("MQTT_N", "20")):
        env.setdefault(k, v)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = {label: [] for label, _ in builds}
    for r in range(args.rounds):
        for label, path in builds:
            run = subprocess.run([path, "--bench"], env=env, capture_output=True, text=True)
            (out / f"{label}-{r}.log").write_text(run.stdout + run.stderr)
            if run.returncode != 0:
                sys.exit(f"{label} round {r} failed (exit {run.returncode}); see {out}/{label}-{r}.log")
            figures = parse(run.stdout)
            results[label].append(figures)
            print(f"round {r} {label}: {figures}", flush=True)
    base = builds[0][0]
    labels = [label for label, _ in builds]
    print()
    print("| measure | " + " | ".join(labels) + " | " + " | ".join(f"{l} / {base}" for l in labels[1:]) + " |")
    print("|---" * (1 + 2 * len(labels) - 1) + "|")
    for key, _, unit, title in FIGURES:
        cells, ratios = [], []
        for label in labels:
            vals = [f[key] for f in results[label] if key in f]
            cells.append(f"{statistics.median(vals):.3f} {unit}" if vals else "-")
        for label in labels[1:]:
            pairs = [(a[key], b[key]) for a, b in zip(results[base], results[label]) if key in a and key in b]
            ratios.append(f"x{statistics.median(b / a for a, b in pairs):.2f}" if pairs else "-")
        print(f"| {title} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")


if __name__ == "__main__":
    main()
