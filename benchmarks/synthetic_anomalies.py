"""A second opinion on the detectors, on data that chose nothing: synthetic metrics with injected anomalies.

    PYTHONPATH=backend .venv/bin/python benchmarks/synthetic_anomalies.py [--write DIR] [--cache DIR]

Every detector default was chosen on the 28 NAB files, so their scores there are partly in-sample. This
corpus was written down (families, anomaly kinds, sizes, seed) before any detector was scored on it and is
not used to choose anything. 48 series of 14 days at 5 minutes (4,032 rows, like most NAB files), 12 per
family, shaped like what promcast's users scrape:

- ``cpu``: a daily cycle (busy days, quiet nights) with noise, as a utilisation ratio;
- ``requests``: a daily and weekly cycle on a slow trend, Poisson counts per 5 minutes;
- ``disk_writes``: mostly idle with bursts (a batch job at a random hour, heavy-tailed sizes);
- ``memory``: a garbage-collected heap, a sawtooth that climbs and drops every few hours, with noise.

Anomalies are injected after NAB's probation (the first 15%), dealt in turn from seven kinds (spike, dip,
level shift, variance burst, frequency change, stuck value, ramp); a quarter of the series have none, the
rest one or two. Labels follow NAB: a window of 10% of the file, divided by the number of anomalies, centred
on each onset. Scoring is NAB's (promcast's scorer): in-sample threshold sweep and threshold-only 4-fold CV.
``--write DIR`` also writes the corpus in NAB's layout, so ``promcast evaluate --nab DIR --cv 4`` runs on it.
"""

from __future__ import annotations

import argparse
import json
import pickle
from pathlib import Path

import numpy as np
import pandas as pd

from _common import print_table

from promcast.models.ensemble import PAIR_SCORE_SETTINGS, PREVIOUS_SCORE_SETTINGS

SEED = 20261202
ROWS = 4032
STEP = pd.Timedelta(minutes=5)
PER_DAY = 288
FAMILIES = ("cpu", "requests", "disk_writes", "memory")
PER_FAMILY = 12
KINDS = ("spike", "dip", "level_shift", "variance", "frequency", "stuck", "ramp")
DETECTORS = {
    "ensemble (default)": ("ensemble", {}),
    "cad_ose": ("cad_ose", {}),
    "artime": ("artime", {}),
    "previous default ensemble": ("ensemble", PAIR_SCORE_SETTINGS),
    "iforest + knn (the default before that)": ("ensemble", PREVIOUS_SCORE_SETTINGS),
    "mad": ("mad", {}),
    "cad_ose, first day's range kept": ("cad_ose", {"rebuild_margin": None}),
    "artime, first day's range kept": ("artime", {"rebuild_margin": None}),
}


def base(family: str, rng: np.random.Generator) -> tuple[np.ndarray, float, float]:
    """(values, noise scale, period in rows of the main cycle) of one clean series."""
    t = np.arange(ROWS)
    day = 2 * np.pi * t / PER_DAY
    if family == "cpu":
        level, amp, noise = rng.uniform(0.15, 0.4), rng.uniform(0.05, 0.2), rng.uniform(0.01, 0.03)
        x = level + amp * np.clip(np.sin(day - np.pi / 2) + 0.3, -1, 1) + rng.normal(0, noise, ROWS)
        return np.clip(x, 0, 1), noise, PER_DAY
    if family == "requests":
        rate = rng.uniform(200, 2000)
        weekly = 1 - 0.35 * (((t // PER_DAY) % 7) >= 5)
        mean = rate * (1 + 0.6 * np.sin(day - np.pi / 2)) * weekly * (1 + rng.uniform(-0.1, 0.3) * t / ROWS)
        return rng.poisson(np.maximum(mean, 1)).astype(float), float(np.sqrt(rate)), PER_DAY
    if family == "disk_writes":
        x = rng.gamma(2.0, rng.uniform(1e5, 1e6), ROWS)
        hour = rng.integers(0, 24)
        job = ((t % PER_DAY) >= hour * 12) & ((t % PER_DAY) < hour * 12 + rng.integers(3, 12))
        x[job] += rng.pareto(2.5, job.sum()) * rng.uniform(2e7, 1e8)
        return x, float(np.std(x[~job])), PER_DAY
    # memory: climbs by a random amount per row, dropped back by a GC every few hours
    period = int(rng.integers(24, 96))
    climb = rng.uniform(1e5, 1e6)
    low = rng.uniform(2e8, 8e8)
    noise = climb * 3
    x = low + climb * (t % period) + rng.normal(0, noise, ROWS)
    return x, noise, period


def inject(x: np.ndarray, kind: str, at: int, noise: float, period: float, rng: np.random.Generator) -> None:
    """Change ``x`` in place from row ``at`` on (the labelled onset)."""
    history = x[:at]
    robust = 1.4826 * float(np.median(np.abs(history - np.median(history))))  # bursts do not inflate it
    spread = max(noise, 0.5 * robust, 1e-9)
    if kind == "spike":
        x[at:at + int(rng.integers(1, 4))] += rng.uniform(5, 10) * spread
    elif kind == "dip":
        x[at:at + int(rng.integers(2, 6))] -= rng.uniform(3, 6) * spread
    elif kind == "level_shift":
        x[at:] += rng.choice([-1, 1]) * rng.uniform(2, 4) * spread
    elif kind == "variance":
        n = 72
        x[at:at + n] += rng.normal(0, 4 * noise, len(x[at:at + n]))
    elif kind == "frequency":  # the cycle runs four times faster for a day
        n = min(PER_DAY, len(x) - at)
        source = at - n + (np.arange(n) * 4) % n
        x[at:at + n] = x[np.clip(source, 0, at - 1)]
    elif kind == "stuck":  # the exporter repeats its last value for 6 hours
        x[at:at + 72] = x[at - 1]
    elif kind == "ramp":  # a leak or a runaway: climbs by 3 spreads a day
        ramp = np.arange(len(x) - at) * 3 * spread / PER_DAY
        x[at:] += ramp


def corpus(kinds: dict | None = None) -> list:
    """The fixed corpus (NabFile objects, NAB-style windows); ``kinds`` gets each file's anomaly kinds."""
    from promcast.evaluation.corpus import NabFile

    rng = np.random.default_rng(SEED)
    index = pd.date_range("2024-03-04", periods=ROWS, freq=STEP, tz="UTC")
    probation = int(0.15 * ROWS)
    files, kind_number = [], 0
    for family in FAMILIES:
        for number in range(PER_FAMILY):
            x, noise, period = base(family, rng)
            count = 0 if number % 4 == 0 else 1 + number % 2
            onsets = sorted(rng.choice(np.arange(probation + 150, ROWS - 150, 250), count, replace=False)) if count else []
            names = []
            for at in onsets:
                names.append(KINDS[kind_number % len(KINDS)])
                inject(x, names[-1], int(at), noise, period, rng)
                kind_number += 1
            if kinds is not None:
                kinds[f"{family}/{family}_{number:02d}.csv"] = names
            x = np.clip(x, 0, 1) if family == "cpu" else np.maximum(x, 0)  # ratios and counts stay possible
            width = int(0.1 * ROWS / max(count, 1))
            windows = tuple((index[max(0, at - width // 2)], index[min(ROWS - 1, at + width // 2)]) for at in onsets)
            files.append(NabFile(f"{family}/{family}_{number:02d}.csv", pd.Series(x, index=index), windows))
    return files


def write(files, folder: Path) -> None:
    """The corpus in NAB's layout: one CSV per series and windows.json."""
    windows = {}
    for f in files:
        path = folder / f.path
        path.parent.mkdir(parents=True, exist_ok=True)
        frame = pd.DataFrame({"timestamp": f.values.index.strftime("%Y-%m-%d %H:%M:%S"), "value": f.values.to_numpy()})
        frame.to_csv(path, index=False)
        windows[f.path] = [[a.strftime("%Y-%m-%d %H:%M:%S.000000"), b.strftime("%Y-%m-%d %H:%M:%S.000000")]
                           for a, b in f.windows]
    (folder / "windows.json").write_text(json.dumps(windows, indent=1))


def main() -> None:
    from promcast.evaluation.cv import DEFAULT_FOLDS, cross_validate
    from promcast.evaluation.nab import PROFILES, score_corpus
    from promcast.evaluation.runner import detect_corpus

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", metavar="DIR", help="also write the corpus in NAB's layout here")
    parser.add_argument("--cache", default=".benchmarks/synthetic", help="walk-forward scores are kept here")
    args = parser.parse_args()
    kinds: dict[str, list[str]] = {}
    files = corpus(kinds)
    if args.write:
        write(files, Path(args.write))
    windows = {f.path: list(f.windows) for f in files}
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    rows, by_kind = [], []
    for number, (label, (model, params)) in enumerate(DETECTORS.items()):
        path = cache / f"{number}.pkl"
        if not path.exists():
            scores, seconds = detect_corpus(model, files, **params)
            path.write_bytes(pickle.dumps((scores, seconds)))
        scores, seconds = pickle.loads(path.read_bytes())
        cells = [label]
        for profile in PROFILES:
            ins = score_corpus(scores, windows, profile)
            cv = cross_validate({label: scores}, windows, DEFAULT_FOLDS, profile).normalized
            cells.append(f"{cv:.1f} / {ins.normalized:.1f}")
        best = score_corpus(scores, windows)
        cells += [f"{best.total('detected')} of {best.total('windows')}", f"{best.total('fp')}", f"{seconds:.0f}"]
        rows.append(cells)
        by_kind.append([label, *(f"{hits}/{total}" for hits, total in detected_by_kind(scores, files, kinds, best))])
    print(f"{len(files)} synthetic series, {sum(len(w) for w in windows.values())} windows (seed {SEED}); "
          "CV (threshold from the other folds) / in-sample")
    print_table(["detector", *PROFILES, "windows detected", "false alarms", "walk-forward s"], rows)
    print("\nwindows detected by kind, at each detector's in-sample standard threshold")
    print_table(["detector", *KINDS], by_kind)


def detected_by_kind(scores, files, kinds, result) -> list[tuple[int, int]]:
    """(detected, windows) per anomaly kind: a window counts when a score in it reaches the threshold."""
    hits = dict.fromkeys(KINDS, 0)
    totals = dict.fromkeys(KINDS, 0)
    for f in files:
        for (start, end), kind in zip(f.windows, kinds[f.path]):
            inside = scores[f.path][(scores[f.path].index >= start) & (scores[f.path].index <= end)]
            totals[kind] += 1
            hits[kind] += int((inside >= result.threshold).any())
    return [(hits[k], totals[k]) for k in KINDS]


if __name__ == "__main__":
    main()
