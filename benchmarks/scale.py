"""Batch fitting at fleet scale: a sequential loop of bare library calls vs promcast's executors.

    .venv/bin/python benchmarks/scale.py [--series 2000] [--models mad,auto,prophet] [--days 7]

For each model, in one run: (1) a plain sequential loop over the bare library call (``prophet.Prophet``
fit for prophet; promcast's own model class for the baselines and ``auto``, which are promcast's library); (2) the
local executor (process pool, one per core) and (3) Dask LocalCluster with 2 workers, both running
promcast's task path (fallback chain, serialisation to bytes, Result wrapping); (4) that task path
in-process against (1), for promcast's per-series overhead; (5) the ideal split: the bare loop of (1)
cut into one slice per core, each slice one task, which is what any parallel run can reach on this
machine for this workload. Each task builds its own synthetic series from a seed
(as a real task fetches its own series), so no data passes through the client. Prints series per
second, speed-ups over (1), promcast's overhead over (1), peak RSS per worker process, and the
cluster size that the measured per-series CPU cost implies for 1,000,000 series refitted hourly.

Two controls make the figures readable on a shared or virtual machine: the ideal split (5) shows
what the cores give this workload with no scheduling at all, and every variant runs in alternating
rounds whose per-round ratios are reported as medians, so drift in the machine's speed cancels (the
overhead, too, is the median of alternating bare/promcast rounds on the same series).
"""

from __future__ import annotations

import argparse
import os
import time

import _common  # noqa: F401  (puts backend/ on sys.path)
import numpy as np
import pandas as pd

from _common import print_table

STEP = pd.Timedelta("5min")


def make_series(seed: int, days: int) -> pd.Series:
    """A deterministic synthetic host metric: daily cycle, weekly drift and noise."""
    rng = np.random.default_rng(seed)
    n = int(pd.Timedelta(days=days) / STEP)
    index = pd.date_range("2026-01-01", periods=n, freq=STEP, tz="UTC")
    t = np.arange(n) * STEP.total_seconds() / 86400.0
    values = 50 + 10 * rng.random() + 8 * np.sin(2 * np.pi * (t + rng.random())) + 0.5 * t + rng.normal(0, 1, n)
    return pd.Series(values, index=index)


def bare_fit(task: tuple[str, int, int]) -> int:
    """The library call alone, no promcast pipeline around it."""
    model, seed, days = task
    series = make_series(seed, days)
    if model == "prophet":
        import logging

        from prophet import Prophet

        logging.getLogger("cmdstanpy").setLevel(logging.WARNING)
        frame = pd.DataFrame({"ds": series.index.tz_localize(None), "y": series.to_numpy()})
        Prophet(daily_seasonality=True, weekly_seasonality=False, yearly_seasonality=False,
                uncertainty_samples=0).fit(frame)
    else:
        from promcast.models import get_model

        get_model(model).fit(series)
    return len(series)


def bare_slice(task: tuple[str, list[int], int]) -> tuple[int, int, int]:
    """The bare loop over one slice of the series (the ideal split: no per-series scheduling at all)."""
    import resource

    model, seeds, days = task
    for seed in seeds:
        bare_fit((model, seed, days))
    return len(seeds), os.getpid(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def promcast_fit(task: tuple[str, int, int]) -> tuple[int, int, int]:
    """promcast's per-series task: fit with fallback, native bytes; also reports this worker's peak RSS."""
    import resource

    from promcast.models import fit_with_fallback

    model, seed, days = task
    data = fit_with_fallback(model, make_series(seed, days), warn=False).to_bytes()
    return len(data), os.getpid(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def paired_overhead(tasks, rounds: int = 5) -> float:
    """Median over alternating rounds of (promcast in-process seconds / bare seconds) - 1."""
    import statistics

    ratios = []
    for _ in range(rounds):
        started = time.perf_counter()
        for t in tasks:
            bare_fit(t)
        bare = time.perf_counter() - started
        started = time.perf_counter()
        for t in tasks:
            promcast_fit(t)
        ratios.append((time.perf_counter() - started) / bare)
    return statistics.median(ratios) - 1.0


def run(label: str, fn, tasks, executor=None) -> tuple[float, dict]:
    """Wall seconds for all tasks; peak RSS by worker pid (promcast path only)."""
    started = time.perf_counter()
    if executor is None:
        results = [fn(t) for t in tasks]
        peaks = {}
    else:
        out = executor.map(fn, tasks)
        bad = [r for r in out if not r.ok]
        if bad:
            raise SystemExit(f"{label}: {len(bad)} tasks failed, first: {bad[0].error}")
        results = [r.value for r in out]
        peaks = {}
        for _, pid, rss in results:
            peaks[pid] = max(peaks.get(pid, 0), rss)
    return time.perf_counter() - started, peaks


def main() -> None:
    import statistics

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=2000)
    parser.add_argument("--models", default="mad,auto")
    parser.add_argument("--days", type=int, default=7, help="history per series at 5m steps (default: 7)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternating rounds of sequential, local, dask; medians are reported (default: 3)")
    args = parser.parse_args()

    from promcast.executors import DaskExecutor, LocalExecutor, pin_threads

    pin_threads()  # the sequential baseline gets the same single-threaded libraries as the workers
    cores = os.cpu_count() or 1
    rows = []
    notes = []
    with LocalExecutor() as local, DaskExecutor(n_workers=2) as dask:
        for model in [m.strip() for m in args.models.split(",") if m.strip()]:
            tasks = [(model, seed, args.days) for seed in range(args.series)]
            n = len(tasks)
            # imports, process start-up and compilation outside the timings
            bare_fit(tasks[0]), promcast_fit(tasks[0])
            warm = tasks[:max(local.workers, 2) * 2]
            local.map(promcast_fit, warm), dask.map(promcast_fit, warm)
            times: dict[str, list[float]] = {"sequential": [], "ideal": [], "local": [], "dask": []}
            workers = local.workers
            slices = [(model, list(range(i, n, workers)), args.days) for i in range(workers)]
            peaks: dict[str, dict] = {"local": {}, "dask": {}}
            for _ in range(max(1, args.rounds)):  # alternate, so drift in the machine's speed hits all three
                times["sequential"].append(run("sequential", bare_fit, tasks)[0])
                times["ideal"].append(run("ideal", bare_slice, slices, local)[0])
                for label, executor in (("local", local), ("dask", dask)):
                    seconds, found = run(label, promcast_fit, tasks, executor)
                    times[label].append(seconds)
                    for pid, rss in found.items():
                        peaks[label][pid] = max(peaks[label].get(pid, 0), rss)
            base = statistics.median(times["sequential"])
            for label, name in (("sequential", "sequential bare library"),
                                ("ideal", f"bare loop in {workers} slices, 1 per process (ideal)"),
                                ("local", f"promcast local ({local.workers} procs)"),
                                ("dask", "promcast dask LocalCluster (2)")):
                seconds = statistics.median(times[label])
                speedup = statistics.median(b / t for b, t in zip(times["sequential"], times[label]))
                rows.append([model, name, f"{n / seconds:.1f}", f"{speedup:.2f}x",
                             f"{max(peaks[label].values()) / 2**20:.0f}" if peaks.get(label) else "-"])
            overhead = paired_overhead(tasks[:20] if model == "prophet" else tasks[:max(20, n // 10)])
            loc, dsk = statistics.median(times["local"]), statistics.median(times["dask"])
            cpu_per_series = min(loc * local.workers, dsk * 2) / n  # core-seconds per series, parallel runs
            cores_needed = 1_000_000 * cpu_per_series / 3600.0
            notes.append(f"{model}: promcast overhead over the bare call {overhead:+.1%} (median of 5 alternating "
                         f"rounds in one process); {cpu_per_series * 1000:.1f} core-ms per series -> 1,000,000 "
                         f"series refitted hourly need ~{cores_needed:,.0f} cores (e.g. "
                         f"{int(np.ceil(cores_needed / 16))} workers x 16 cores), before fetch time")
    print(f"{args.series} series, {args.days} days at 5m each, {cores} cores on this machine; medians of "
          f"{args.rounds} alternating rounds (speed-up: median of the per-round ratios)")
    print_table(["model", "how", "series/s", "speed-up vs sequential", "peak RSS/worker MiB"], rows)
    print()
    print("\n".join(notes))


if __name__ == "__main__":
    main()
