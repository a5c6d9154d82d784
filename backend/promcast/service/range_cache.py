"""Settled query results, so a refreshing panel asks the source only for what is new.

A dashboard refresh re-asks for nearly the same range: everything but the last few steps was answered
a moment ago and cannot change any more. Per (source, expression, step) this cache keeps the points
older than ``settle`` (later scrapes and Prometheus's 5-minute lookback can still change younger
points) and fetches only the steps after them, like the results cache of Thanos' and Cortex's query
frontends. Grids are aligned to multiples of the step, so old and new points line up exactly.

Bounded: each entry keeps at most ``max_entry_points`` steps per series, and all entries together at
most ``max_points`` points (least recently used entries go first).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

import pandas as pd

from ..sources.base import History, Source
from .metrics import ServiceMetrics
from .timegrid import floor_time, grid_start

#: how long after a step its value can still change (scrape delay plus Prometheus' lookback)
DEFAULT_SETTLE = pd.Timedelta("10min")


@dataclass
class _Entry:
    start: pd.Timestamp  # every series' points in [start, end] are held
    end: pd.Timestamp
    series: dict[frozenset, History]

    @property
    def points(self) -> int:
        return sum(len(h.values) for h in self.series.values())


def _key(labels) -> frozenset:
    return frozenset(labels.items())


def _slice(series, start: pd.Timestamp, end: pd.Timestamp) -> list[History]:
    """The points of each series in ``[start, end]`` (binary search on the sorted index)."""
    out = []
    for h in series:
        index = h.values.index
        first, last = index.searchsorted(start), index.searchsorted(end, side="right")
        out.append(h if first == 0 and last == len(index) else History(h.labels, h.values.iloc[first:last]))
    return out


def _join(parts: list[list[History]]) -> list[History]:
    """One History per label set from consecutive pieces of a range (overlaps keep the later piece)."""
    pieces: dict[frozenset, list[History]] = {}
    for part in parts:
        for history in part:
            if len(history.values):
                pieces.setdefault(_key(history.labels), []).append(history)
    out = []
    for found in pieces.values():
        values = found[0].values if len(found) == 1 else pd.concat([h.values for h in found])
        if len(found) > 1 and (not values.index.is_monotonic_increasing or values.index.has_duplicates):
            values = values[~values.index.duplicated(keep="last")].sort_index()
        out.append(History(found[0].labels, values))
    out.sort(key=lambda h: h.legend)
    return out


class RangeCache:
    """``query_range`` through a cache of settled points (see the module docstring)."""

    def __init__(self, *, max_points: int = 2_000_000, max_entry_points: int = 11_000,
                 settle: pd.Timedelta = DEFAULT_SETTLE, metrics: ServiceMetrics | None = None,
                 clock: Callable[[], pd.Timestamp] = lambda: pd.Timestamp.now(tz="UTC")) -> None:
        self.max_points = max_points
        self.max_entry_points = max_entry_points
        self.settle = settle
        self.clock = clock
        self._entries: OrderedDict[tuple, _Entry] = OrderedDict()
        self._points = 0
        self._lock = threading.Lock()
        self.metrics = metrics

    @property
    def points(self) -> int:
        return self._points

    def query_range(self, source: Source, expr: str, start: pd.Timestamp, end: pd.Timestamp,
                    step: pd.Timedelta, now: pd.Timestamp | None = None) -> list[History]:
        """What ``source.query_range(expr, start, end, step)`` answers, from cache where settled.

        Only the steps before and after the cached stretch are fetched (a refresh: the new steps; a
        look further back, as anomaly scoring does for context: the older ones). ``start`` should be
        a multiple of ``step`` (a panel grid); other starts are passed through.
        """
        if start.value % step.value or end < start:
            return source.query_range(expr, start, end, step)
        key = (source.identity, expr, step.value)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
        touching = entry is not None and start <= entry.end + step and end >= entry.start - step
        if touching:
            head = source.query_range(expr, start, min(end, entry.start - step), step) if start < entry.start else []
            first_new = max(start, entry.end + step)
            tail = source.query_range(expr, first_new, end, step) if first_new <= end else []
            answer = _join([head, _slice(entry.series.values(), start, end), tail])
        else:
            entry = None
            answer = source.query_range(expr, start, end, step)
        if self.metrics is not None:
            self.metrics.range_cache_total.labels("hit" if touching else "miss").inc()
        now = self.clock() if now is None else now
        self._remember(key, entry, answer, start, floor_time(min(end, now - self.settle), step), step)
        return answer

    def _remember(self, key: tuple, entry: _Entry | None, answer: list[History], start: pd.Timestamp,
                  settled_end: pd.Timestamp, step: pd.Timedelta) -> None:
        """Keep the settled part of ``answer`` (joined to ``entry`` when they touch), bounded in steps."""
        if entry is None and settled_end < start:
            return
        if entry is not None and entry.start <= start and settled_end <= entry.end:
            return  # a repeated refresh: every settled point of the answer came from the entry itself
        lo = start if entry is None else min(start, entry.start)
        hi = settled_end if entry is None else max(entry.end, settled_end)
        # the last max_entry_points steps, in integer nanoseconds: a step of days times 11,000 steps
        # would overflow a Timedelta
        floor_ns = hi.value - step.value * (self.max_entry_points - 1)
        if floor_ns > lo.value:
            lo = max(lo, grid_start(pd.Timestamp(floor_ns, tz="UTC"), step))
        settled = _slice(answer, start, settled_end) if settled_end >= start else []
        kept = _join([_slice(entry.series.values(), lo, hi) if entry is not None else [], settled])
        fresh = _Entry(lo, hi, {_key(h.labels): h for h in _slice(kept, lo, hi)})
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._points -= old.points
            self._entries[key] = fresh
            self._points += fresh.points
            while len(self._entries) > 1 and self._points > self.max_points:
                _, gone = self._entries.popitem(last=False)
                self._points -= gone.points
            points = self._points
        if self.metrics is not None:
            self.metrics.range_cache_points.set(points)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._points = 0
