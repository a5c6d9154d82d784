"""Evaluation steps and grids for panels: round steps, aligned to multiples of the step.

Aligned grids make consecutive refreshes of a panel hit the same timestamps, so Prometheus's results,
promcast's prediction memo and Grafana's own caching all line up. A grid never holds more points than
the panel asked for.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

#: steps a panel step is rounded up to (beyond the last one: whole days)
NICE_STEPS = tuple(pd.Timedelta(s) for s in (
    "1s", "2s", "5s", "10s", "15s", "30s", "1min", "2min", "5min", "10min", "15min", "30min",
    "1h", "2h", "3h", "6h", "12h", "1D",
))
_DAY = pd.Timedelta("1D")


def nice_step(at_least: pd.Timedelta) -> pd.Timedelta:
    """The smallest round step ``>= at_least`` (1s, 2s, 5s, ..., 1h, 2h, ..., 1d, then whole days)."""
    for step in NICE_STEPS:
        if step >= at_least:
            return step
    return _DAY * math.ceil(at_least / _DAY)


def panel_step(start: pd.Timestamp, end: pd.Timestamp, max_points: int,
               min_step: pd.Timedelta | None = None) -> pd.Timedelta:
    """A round step so that ``[start, end]`` holds at most ``max_points`` aligned points.

    ``min_step`` is Grafana's ``intervalMs`` (the panel's resolution or min interval): never finer.
    """
    span = max(end - start, pd.Timedelta(0))
    needed = span / (max_points - 1) if max_points > 1 else span
    step = nice_step(max(needed, min_step or pd.Timedelta(0), pd.Timedelta("1s")))
    while grid_count(start, end, step) > max_points:  # only when rounding left no slack
        step = nice_step(step + pd.Timedelta("1s"))
    return step


def grid_start(start: pd.Timestamp, step: pd.Timedelta) -> pd.Timestamp:
    """The first multiple of ``step`` (since the epoch) at or after ``start``."""
    step_ns = step.value
    ns = start.value
    return pd.Timestamp(ns + (-ns) % step_ns, tz="UTC")


def grid_count(start: pd.Timestamp, end: pd.Timestamp, step: pd.Timedelta) -> int:
    first = grid_start(start, step)
    if first > end:
        return 0
    return int((end - first) // step) + 1


def grid(start: pd.Timestamp, end: pd.Timestamp, step: pd.Timedelta) -> pd.DatetimeIndex:
    """Multiples of ``step`` in ``[start, end]``, as a UTC index."""
    first = grid_start(start, step)
    count = grid_count(start, end, step)
    ns = first.value + step.value * np.arange(count, dtype=np.int64)
    return pd.DatetimeIndex(pd.to_datetime(ns, unit="ns", utc=True), name="timestamp")


def floor_time(ts: pd.Timestamp, step: pd.Timedelta) -> pd.Timestamp:
    """``ts`` rounded down to a multiple of ``step``."""
    return pd.Timestamp(ts.value - ts.value % step.value, tz="UTC")
