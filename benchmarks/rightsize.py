"""Right-sizing benchmark: promcast's forecast-based requests/limits vs the VPA recommender's method.

    .venv/bin/python -m benchmarks.rightsize [--quick] [--seed 0] [--history 14d] [--weeks 4] [--json OUT]

Simulated containers (5-minute samples, deterministic per ``--seed``), 12 of each class:

- ``stable``: daily busy hours, quieter weekends, noise (CPU and memory);
- ``growing``: the same plus growth of 20-60 % a month (CPU and memory);
- ``spiky``: stable plus CPU bursts of a few minutes and short memory spikes (GC, caches);
- ``leaking``: stable CPU; memory leaks 2-8 % of its base a day since a deploy 4-10 days before the
  end of the history (an OOM kill restarts the leak from the base).

Each container starts with requests ``R`` and limits ``2R`` for CPU, memory request = limit. Both
methods see the same ``--history`` (14 days) and set requests and limits once, at its end; then the
next ``--weeks`` weeks are replayed against them:

- promcast: :class:`promcast.rightsize.Rightsizer` with ``horizon`` = the weeks replayed;
- VPA: :class:`promcast.rightsize.VpaRecommender` (decaying histograms, p90 + 15 %, minimums);
  requests = its targets, limits keep the container's original limit-to-request ratio (VPA's default
  ``controlledValues: RequestsAndLimits``).

Measured per class: mean reserved CPU (cores) and memory (GiB) requested per container; OOM events
(an hour whose working set passes the memory limit is a kill; a leaking container restarts from its
base, the others keep needing the memory and are killed again the next hour); throttled hours (hours
with a 5-minute CPU sample above the CPU limit); containers with at least one OOM. No setting of
either method was chosen by these numbers: promcast's margins (10 % on limits, the 95 % interval,
t >= 3 for a trend) were set before the benchmark existed, and VPA's are its published defaults.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import pandas as pd

from benchmarks._common import print_table  # noqa: F401  (puts backend/ on sys.path)
from promcast.durations import parse_duration
from promcast.rightsize.recommend import Rightsizer
from promcast.rightsize.vpa import VpaRecommender

MIB = 2.0**20
GIB = 2.0**30
STEP = pd.Timedelta("5min")
PER_DAY = 288
CLASSES = ("stable", "growing", "spiky", "leaking")
END = pd.Timestamp("2024-03-04T00:00:00Z")  # a Monday: history ends where a week starts


def simulate(kind: str, rng: np.random.Generator, history: pd.Timedelta, weeks: int) -> dict:
    """One container: CPU (cores) and memory (bytes) over history + evaluation, and its settings."""
    start = END - history
    index = pd.date_range(start, END + pd.Timedelta(weeks=weeks), freq=STEP, inclusive="left")
    t = np.asarray((index - END) / pd.Timedelta(days=1), dtype=float)  # days, < 0 in the history
    hour = np.asarray(index.hour + index.minute / 60.0, dtype=float)
    weekend = np.asarray(index.day_of_week) >= 5
    peak = rng.uniform(9, 17)
    busy = 0.5 * (1 + np.cos(2 * np.pi * (hour - peak) / 24.0))
    busy = busy * np.where(weekend, rng.uniform(0.3, 0.8), 1.0)
    base_cpu, amp_cpu = rng.uniform(0.05, 0.5), rng.uniform(0.1, 1.0)
    base_mem, amp_mem = rng.uniform(100, 2000) * MIB, rng.uniform(0.03, 0.2)
    smooth = pd.Series(rng.normal(0, 1, len(t))).rolling(12, min_periods=1).mean().to_numpy()
    cpu = (base_cpu + amp_cpu * busy) * (1 + 0.08 * rng.normal(0, 1, len(t)) + 0.1 * smooth)
    memory = base_mem * (1 + amp_mem * busy + 0.01 * rng.normal(0, 1, len(t)))
    leak = None
    if kind == "growing":
        growth = rng.uniform(0.2, 0.6)
        days0 = t - t[0]
        cpu = cpu * (1 + growth) ** (days0 / 30.0)
        memory = memory * (1 + 0.6 * growth) ** (days0 / 30.0)
    elif kind == "spiky":
        bursts = rng.random(len(t)) < 0.004
        cpu = cpu + np.where(bursts, rng.uniform(0.5, 1.5) * (base_cpu + amp_cpu), 0.0)
        spikes = rng.random(len(t)) < 0.002
        memory = memory + np.where(spikes, rng.uniform(0.2, 0.4) * base_mem, 0.0)
    elif kind == "leaking":
        leak = (rng.uniform(0.02, 0.08) * base_mem, -rng.uniform(4, 10))  # bytes per day, start day
    cpu = np.clip(cpu, 0.001, None)
    request_cpu = float(np.quantile(cpu[t < 0], 0.95)) * rng.uniform(0.8, 3.0)
    request_mem = float(np.quantile(memory[t < 0], 0.99)) * rng.uniform(1.1, 3.0)
    return {"index": index, "t": t, "cpu": cpu, "memory": memory, "leak": leak,
            "original": (request_cpu, 2 * request_cpu, request_mem, request_mem)}


def with_leak(c: dict, until: np.ndarray | None = None) -> np.ndarray:
    """Memory with the leak (no restart), for the history the recommenders see."""
    if c["leak"] is None:
        return c["memory"]
    rate, since = c["leak"]
    return c["memory"] + rate * np.clip(c["t"] - since, 0.0, None)


def replay(c: dict, settings: tuple[float, float, float, float]) -> dict:
    """OOM events and throttled hours over the evaluation, with ``settings`` applied at its start."""
    cpu_request, cpu_limit, memory_request, memory_limit = settings
    future = c["t"] >= 0
    t, cpu, memory = c["t"][future], c["cpu"][future], c["memory"][future]
    hours = np.floor(t * 24).astype(int)
    throttled = len(np.unique(hours[cpu > cpu_limit]))
    ooms = 0
    if c["leak"] is None:
        ooms = len(np.unique(hours[memory > memory_limit]))
    else:
        rate, since = c["leak"]
        leak_start = since  # the leak restarts from the base after each kill
        last_hour = -1
        for i in range(len(t)):
            used = memory[i] + rate * max(0.0, t[i] - leak_start)
            if used > memory_limit and hours[i] != last_hour:
                ooms += 1
                last_hour = hours[i]
                leak_start = t[i]
    return {"cpu_request": cpu_request, "memory_request": memory_request, "ooms": ooms, "throttled": throttled}


def recommend_promcast(c: dict, horizon: pd.Timedelta) -> tuple:
    past = c["t"] < 0
    index = c["index"][past]
    sizer = Rightsizer(horizon=horizon).fit(pd.Series(c["cpu"][past], index=index),
                                            pd.Series(with_leak(c)[past], index=index))
    r = sizer.recommended_
    return r.cpu_request, r.cpu_limit, r.memory_request, r.memory_limit


def recommend_vpa(c: dict) -> tuple:
    past = c["t"] < 0
    index = c["index"][past]
    cpu = VpaRecommender("cpu").fit(pd.Series(c["cpu"][past], index=index)).target_
    memory = VpaRecommender("memory").fit(pd.Series(with_leak(c)[past], index=index)).target_
    request_cpu, limit_cpu, request_mem, limit_mem = c["original"]
    return cpu, cpu * limit_cpu / request_cpu, memory, memory * limit_mem / request_mem


def run(seed: int, per_class: int, history: pd.Timedelta, weeks: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    horizon = pd.Timedelta(weeks=weeks)
    results = []
    for kind in CLASSES:
        for n in range(per_class):
            c = simulate(kind, rng, history, weeks)
            for method, settings in (("original", c["original"]), ("vpa", recommend_vpa(c)),
                                     ("promcast", recommend_promcast(c, horizon))):
                results.append({"class": kind, "container": n, "method": method, **replay(c, settings)})
    return results


def summary(results: list[dict]) -> list[list]:
    frame = pd.DataFrame(results)
    rows = []
    for kind in CLASSES:
        part = frame[frame["class"] == kind]
        by = {m: part[part["method"] == m] for m in ("vpa", "promcast")}
        for method in ("vpa", "promcast"):
            g = by[method]
            rows.append([kind, method, len(g), f"{g['cpu_request'].mean():.3f}",
                         f"{g['memory_request'].mean() / GIB:.3f}", int(g["ooms"].sum()), int((g["ooms"] > 0).sum()),
                         int(g["throttled"].sum())])
        ratio_cpu = by["promcast"]["cpu_request"].sum() / by["vpa"]["cpu_request"].sum()
        ratio_mem = by["promcast"]["memory_request"].sum() / by["vpa"]["memory_request"].sum()
        rows.append([kind, "promcast/vpa", "", f"x{ratio_cpu:.2f}", f"x{ratio_mem:.2f}", "", "", ""])
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="3 containers per class instead of 12")
    parser.add_argument("--history", default="14d")
    parser.add_argument("--weeks", type=int, default=4, help="weeks replayed after the history (default: 4)")
    parser.add_argument("--json", metavar="OUT", help="also write every container's numbers")
    args = parser.parse_args(argv)
    history = pd.Timedelta(parse_duration(args.history, what="--history"))
    results = run(args.seed, 3 if args.quick else 12, history, args.weeks)
    print(f"right-sizing: {args.history} of history, then {args.weeks} weeks replayed against the settings "
          f"(seed {args.seed})")
    print_table(["class", "method", "containers", "cpu request (cores)", "memory request (GiB)", "OOM events",
                 "containers OOM-killed", "throttled hours"], summary(results))
    if args.json:
        with open(args.json, "w") as out:
            json.dump(results, out, indent=1, default=float)
    return 0


if __name__ == "__main__":
    sys.exit(main())
