"""The range cache answers exactly what the source answers, fetching only steps that are not settled."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from promcast.service.range_cache import RangeCache
from promcast.sources.base import History, Source
from promcast.sources.demo import DemoSource

T = pd.Timestamp("2024-06-10T12:05:00Z")
STEP = pd.Timedelta("1min")
CPU = 'node_cpu_utilisation{instance=~"node-.*"}'  # three series


class RecordingDemo(DemoSource):
    """The demo source, recording the ranges it was asked for."""

    def __init__(self, now, calls):
        super().__init__(now=now)
        self.calls = calls

    def query_range(self, expr, start, end, step):
        self.calls.append((start, end))
        return super().query_range(expr, start, end, step)


def assert_same(got: list[History], expected: list[History]) -> None:
    assert [h.legend for h in got] == [h.legend for h in expected]
    for a, b in zip(got, expected):
        pd.testing.assert_series_equal(a.values, b.values, check_names=False, check_freq=False)


def test_a_refresh_fetches_only_the_unsettled_tail():
    calls = []
    cache = RangeCache(settle=pd.Timedelta("10min"))
    first = RecordingDemo(T, calls)
    start = T - pd.Timedelta("6h")
    assert_same(cache.query_range(first, CPU, start, T, STEP, now=T), first.query_range(CPU, start, T, STEP))
    later = RecordingDemo(T + pd.Timedelta("20min"), calls)  # same hour: same demo data, 20 minutes on
    calls.clear()
    start2, end2 = start + pd.Timedelta("20min"), T + pd.Timedelta("20min")
    got = cache.query_range(later, CPU, start2, end2, STEP, now=end2)
    assert calls[0] == (T - pd.Timedelta("10min") + STEP, end2)  # only what was not settled before
    calls.clear()
    assert_same(got, later.query_range(CPU, start2, end2, STEP))


def test_a_panel_in_the_past_is_answered_without_asking_again():
    calls = []
    source = RecordingDemo(T, calls)
    cache = RangeCache()
    start, end = T - pd.Timedelta("3D"), T - pd.Timedelta("2D")
    first = cache.query_range(source, CPU, start, end, STEP, now=T)
    second = cache.query_range(source, CPU, start, end, STEP, now=T)
    assert len(calls) == 1
    assert_same(second, first)


def test_looking_further_back_fetches_only_the_older_steps():
    calls = []
    source = RecordingDemo(T, calls)
    cache = RangeCache()
    start = T - pd.Timedelta("2h")
    cache.query_range(source, CPU, start, T, STEP, now=T)
    context = cache.query_range(source, CPU, start - pd.Timedelta("1D"), start - STEP, STEP, now=T)  # scoring context
    assert calls[1] == (start - pd.Timedelta("1D"), start - STEP)
    assert_same(context, source.query_range(CPU, start - pd.Timedelta("1D"), start - STEP, STEP))
    calls.clear()
    again = cache.query_range(source, CPU, start, T, STEP, now=T)  # the panel's refresh: still cached
    assert calls == [(T - pd.Timedelta("10min") + STEP, T)]
    calls.clear()
    assert_same(again, source.query_range(CPU, start, T, STEP))


def test_unaligned_or_distant_ranges_go_to_the_source():
    calls = []
    source = RecordingDemo(T, calls)
    cache = RangeCache()
    start = T - pd.Timedelta("2h")
    cache.query_range(source, CPU, start, T, STEP, now=T)
    cache.query_range(source, CPU, start + pd.Timedelta("30s"), T, STEP, now=T)  # not on the grid
    far = T - pd.Timedelta("5D")
    cache.query_range(source, CPU, far, far + pd.Timedelta("1h"), STEP, now=T)  # does not touch the cached stretch
    assert [c[0] for c in calls] == [start, start + pd.Timedelta("30s"), far]


class TableSource(Source):
    """Serves fixed series (the real Source contract, over in-memory data)."""

    description = "table"

    def __init__(self, series: dict[str, pd.Series]):
        self.data = series

    def query_range(self, expr, start, end, step):
        if end < start:  # as the demo and Prometheus sources do
            raise ValueError(f"end {end} before start {start}")
        out = []
        for name, values in self.data.items():
            kept = values.loc[start:end]
            kept = kept[((kept.index - start) % step) == pd.Timedelta(0)]
            if len(kept):
                out.append(History({"__name__": "m", "name": name}, kept))
        return sorted(out, key=lambda h: h.legend)

    def label_names(self, match=None):
        return ["name"]

    def label_values(self, label, match=None):
        return sorted(self.data)

    def series(self, match):
        return [{"__name__": "m", "name": n} for n in sorted(self.data)]


def test_series_that_come_and_go_are_answered_like_the_source_does():
    index = pd.date_range(T - pd.Timedelta("2h"), T + pd.Timedelta("1h"), freq="1min", tz="UTC")
    values = pd.Series(np.arange(len(index), dtype=float), index=index)
    source = TableSource({"always": values, "old": values[:60], "new": values[-30:]})
    cache = RangeCache(settle=pd.Timedelta("10min"))
    for end in (T, T + pd.Timedelta("20min"), T + pd.Timedelta("1h")):
        start = end - pd.Timedelta("90min")
        assert_same(cache.query_range(source, "m", start, end, STEP, now=end), source.query_range("m", start, end, STEP))


def test_memory_is_bounded():
    source = DemoSource(now=T)
    cache = RangeCache(max_points=5_000, max_entry_points=1_000)
    start = T - pd.Timedelta("2D")
    cache.query_range(source, CPU, start, T, STEP, now=T)  # 3 series
    assert cache.points == 3 * 1_000
    cache.query_range(source, "http_requests", start, T, STEP, now=T)  # 1 series
    assert cache.points == 4_000
    cache.query_range(source, 'node_memory_MemAvailable_bytes{instance=~"node-.*"}', start, T, STEP, now=T)  # 3 more: CPU goes
    assert cache.points == 4_000


@pytest.mark.parametrize("minutes", [0, 3, 59])
def test_answers_equal_the_source_for_any_refresh_offset(minutes):
    cache = RangeCache(settle=pd.Timedelta("5min"))
    base = DemoSource(now=T)
    start = T - pd.Timedelta("1h")
    cache.query_range(base, CPU, start, T, STEP, now=T)
    end = T + pd.Timedelta(minutes=minutes)
    later = DemoSource(now=end)
    first = start + pd.Timedelta(minutes=minutes)
    assert_same(cache.query_range(later, CPU, first, end, STEP, now=end), later.query_range(CPU, first, end, STEP))


def test_random_panels_and_refreshes_always_match_the_source():
    rng = np.random.default_rng(11)
    index = pd.date_range(T - pd.Timedelta("2D"), T + pd.Timedelta("1D"), freq="1min", tz="UTC")
    values = pd.Series(rng.normal(size=len(index)), index=index)
    source = TableSource({"always": values, "old": values[:1500], "new": values[-1500:], "gap": values[::7]})
    cache = RangeCache(settle=pd.Timedelta("10min"), max_entry_points=600)
    now = T - pd.Timedelta("1D")
    for _ in range(60):
        now += pd.Timedelta(minutes=int(rng.integers(0, 90)))
        step = STEP * int(rng.choice([1, 1, 2, 5]))
        span = pd.Timedelta(minutes=int(rng.integers(0, 900)))
        end = now - pd.Timedelta(seconds=int(rng.choice([0, 0, 300, 24000, int(rng.integers(0, 600))])))
        start = pd.Timestamp((end - span).value // step.value * step.value, tz="UTC")
        assert_same(cache.query_range(source, "m", start, end, step, now=now), source.query_range("m", start, end, step))


def test_range_ends_between_grid_points_are_fine():
    """Grafana's range.to is rarely on the grid: a refresh a few seconds later has no new step to fetch."""
    calls = []
    source = RecordingDemo(T, calls)
    cache = RangeCache()
    start, end = T - pd.Timedelta("2h"), T - pd.Timedelta("1h") + pd.Timedelta("30s")
    for later in ("0s", "10s", "29s", "31s"):
        got = cache.query_range(source, CPU, start, end + pd.Timedelta(later), STEP, now=T)
        assert_same(got, DemoSource(now=T).query_range(CPU, start, end + pd.Timedelta(later), STEP))
    assert calls[1:] == [(end + pd.Timedelta("30s"), end + pd.Timedelta("31s"))]
