"""PrometheusSource against a real VictoriaMetrics: the same history as Prometheus for the same data.

The same 22 days of 1-minute samples (31,681 per series: more than one request of promcast's 10,000
points, and more than VictoriaMetrics' default 30,000 points per query), with gaps of 1 minute to
1 day, go into Prometheus (``promtool`` backfill) and into VictoriaMetrics (its import API).

The two stores fill gaps differently: Prometheus carries the last sample up to its 5-minute lookback,
VictoriaMetrics about one sample interval. So the exact comparison runs both with a lookback shorter
than the sample interval (``--query.lookback-delta=30s`` / ``-search.maxLookback=30s``), where every
point is a written sample and every gap stays a gap; a second test shows what differs at defaults.
Values are multiples of 0.25 of moderate size: VictoriaMetrics stores decimals and drops NaN samples,
so NaN, infinities and extreme floats are left out on purpose (see docs/stores.md).
"""

from __future__ import annotations

import logging
import time

import numpy as np
import pandas as pd
import pytest

import vm_harness
from conftest import run_cli
from prom_harness import MetricSeries
from promcast.errors import UpstreamError
from promcast.sources.prometheus import PrometheusSource

pytestmark = pytest.mark.integration

STEP = pd.Timedelta("1min")
POINTS = 22 * 1440 + 1
SHORT_LOOKBACK_PROM = ["--query.lookback-delta=30s"]
SHORT_LOOKBACK_VM = ["-search.maxLookback=30s"]


def dataset(end: int) -> list[MetricSeries]:
    """A ramp and three walks with gaps (epoch seconds ending at ``end``)."""
    seconds = end - 60 * (POINTS - 1) + 60 * np.arange(POINTS, dtype=np.int64)
    rng = np.random.default_rng(8)
    series = [MetricSeries("promcast_vm_ramp", {"job": "ramp"}, seconds, np.arange(POINTS) * 0.25)]
    gaps = {  # instance -> (first missing point, how many)
        "a": [(100, 1), (12_000, 3), (25_000, 1)],
        "b": [(5_000, 10), (20_000, 120)],
        "c": [(10_001, 1440)],  # a whole day, across a request boundary
    }
    for instance, holes in gaps.items():
        keep = np.ones(POINTS, dtype=bool)
        for first, count in holes:
            keep[first:first + count] = False
        walk = 1000.0 + np.cumsum(rng.integers(-4, 5, POINTS)) * 0.25
        series.append(MetricSeries("promcast_vm_walk", {"job": "walk", "instance": instance}, seconds[keep], walk[keep]))
    return series


@pytest.fixture(scope="module")
def history() -> list[MetricSeries]:
    return dataset((int(time.time()) // 3600 - 1) * 3600)


@pytest.fixture(scope="module")
def vm_factory():
    """``factory(series_list, key, *flags) -> VictoriaMetricsServer``; same key, same server."""
    if vm_harness.binary_missing():
        pytest.skip(f"{vm_harness.BINARY} not found: {vm_harness.INSTALL_HINT}")
    servers = {}

    def factory(series_list, key, *flags):
        if key not in servers:
            servers[key] = vm_harness.serve_history(series_list, extra_args=flags)
        return servers[key]

    yield factory
    for server in servers.values():
        server.stop()


def bounds(series_list):
    start = pd.Timestamp(int(min(s.timestamps[0] for s in series_list)), unit="s", tz="UTC")
    end = pd.Timestamp(int(max(s.timestamps[-1] for s in series_list)), unit="s", tz="UTC")
    return start, end


def fetch(url, expr, series_list, **kwargs):
    with PrometheusSource(url, **kwargs) as src:
        return src.query_range(expr, *bounds(series_list), STEP)


def written(series: MetricSeries) -> pd.Series:
    index = pd.to_datetime(np.asarray(series.timestamps, dtype="int64"), unit="s", utc=True)
    return pd.Series(np.asarray(series.values, dtype=float), index=index)


def as_dict(histories) -> dict:
    return {h.legend: h.values for h in histories}


def assert_same(got: pd.Series, expected: pd.Series) -> None:
    np.testing.assert_array_equal(got.index.as_unit("ms").asi8, expected.index.as_unit("ms").asi8)
    np.testing.assert_array_equal(got.to_numpy(), expected.to_numpy())


def test_same_history_as_prometheus_in_several_requests(history, prometheus_factory, vm_factory):
    prom = prometheus_factory(history, key="vm-compare-short-lookback", extra_args=SHORT_LOOKBACK_PROM)
    vm = vm_factory(history, "short-lookback", *SHORT_LOOKBACK_VM)
    for expr, members in (("promcast_vm_ramp", history[:1]), ("promcast_vm_walk", history[1:])):
        from_prom, from_vm = as_dict(fetch(prom.url, expr, history)), as_dict(fetch(vm.url, expr, history))
        assert list(from_vm) == list(from_prom) and len(from_vm) == len(members)
        for series in members:
            legend = next(k for k in from_vm if all(f'{k_}="{v}"' in k for k_, v in series.labels.items()))
            assert_same(from_vm[legend], written(series))  # every sample, every gap
            assert_same(from_prom[legend], written(series))
    assert len(from_vm['promcast_vm_walk{instance="c",job="walk"}']) == POINTS - 1440


def test_at_default_settings_the_stores_agree_on_every_written_sample(history, prometheus_factory, vm_factory):
    """...and differ only inside gaps, where each repeats the last sample for its own lookback."""
    prom = prometheus_factory(history, key="vm-compare-defaults")
    vm = vm_factory(history, "defaults")
    from_prom = as_dict(fetch(prom.url, "promcast_vm_walk", history))
    from_vm = as_dict(fetch(vm.url, "promcast_vm_walk", history))
    assert list(from_vm) == list(from_prom)
    filled = {}
    for (legend, got_vm), series in zip(from_vm.items(), history[1:]):
        expected = written(series)
        full = expected.reindex(pd.date_range(expected.index[0], expected.index[-1], freq=STEP))
        carried = full.ffill()
        for store, got in (("prometheus", from_prom[legend]), ("victoriametrics", got_vm)):
            assert_same(got.reindex(expected.index), expected)  # every written sample, unchanged
            extra = got.index.difference(expected.index)
            assert full.reindex(extra).isna().all()  # extra points lie in gaps...
            assert_same(got.reindex(extra), carried.reindex(extra))  # ...and repeat the last sample
            filled[store] = filled.get(store, 0) + len(extra)
        assert got_vm.index.difference(expected.index).isin(from_prom[legend].index).all()
    # Prometheus' 5-minute lookback fills more of each gap than VictoriaMetrics' one interval
    assert filled["prometheus"] > filled["victoriametrics"] > 0


def test_fetch_cli_writes_the_same_csv_from_both_stores(history, prometheus_factory, vm_factory, tmp_path):
    prom = prometheus_factory(history, key="vm-compare-short-lookback", extra_args=SHORT_LOOKBACK_PROM)
    vm = vm_factory(history, "short-lookback", *SHORT_LOOKBACK_VM)
    end = str(int(history[0].timestamps[-1]))
    args = ["fetch", "--expr", "promcast_vm_walk", "--history", "22d", "--step", "1m", "--end", end]
    from_prom = run_cli(*args, "--prometheus-url", prom.url, "--output", str(tmp_path / "prom.csv"))
    # VictoriaMetrics also serves the API under /prometheus, as vmselect does: exercise the prefix setting
    from_vm = run_cli(*args, "--output", str(tmp_path / "vm.csv"),
                      env={"PROMCAST_PROMETHEUS_URL": vm.url, "PROMCAST_PROMETHEUS_PATH_PREFIX": "/prometheus"})
    assert from_prom.returncode == 0, from_prom.stderr
    assert from_vm.returncode == 0, from_vm.stderr
    text = (tmp_path / "vm.csv").read_text()
    assert text == (tmp_path / "prom.csv").read_text()
    assert text.count("\n") == 1 + sum(len(s.timestamps) for s in history[1:])


def test_windows_shrink_to_victoriametrics_point_limit(history, vm_factory, caplog):
    vm = vm_factory(history, "max-points-3000", *SHORT_LOOKBACK_VM, "-search.maxPointsPerTimeseries=3000")
    with PrometheusSource(vm.url) as src, caplog.at_level(logging.INFO, logger="promcast.sources.prometheus"):
        got = src.query_range("promcast_vm_walk", *bounds(history), STEP)
        assert src.window_points == 2_500  # 10,000 and 5,000 refused; remembered for the next fetch
        again = src.query_range("promcast_vm_ramp", *bounds(history), STEP)
    for history_, series in zip(got, history[1:]):
        assert_same(history_.values, written(series))
    assert_same(again[0].values, written(history[0]))
    records = [r for r in caplog.records if r.name == "promcast.sources.prometheus"]
    assert len(records) == 1 and records[0].levelno == logging.WARNING
    assert "-search.maxPointsPerTimeseries=3000" in records[0].getMessage()


def test_gives_up_clearly_when_even_small_windows_are_refused(vm_factory):
    vm = vm_factory([MetricSeries("promcast_vm_one", {}, [time.time() // 60 * 60], [1.0])], "max-points-60",
                    "-search.maxPointsPerTimeseries=60")
    end = pd.Timestamp.now(tz="UTC").floor("1min")
    with PrometheusSource(vm.url) as src, pytest.raises(UpstreamError, match=(
            r"refuses the query as too large even in windows of 100 points \(HTTP 422: .*too many points.*"
            r"cannot exceed -search.maxPointsPerTimeseries=60\): use a larger step")):
        src.query_range("promcast_vm_one", end - pd.Timedelta(days=1), end, STEP)


def test_label_listings_match_prometheus(history, prometheus_factory, vm_factory):
    prom = prometheus_factory(history, key="vm-compare-short-lookback", extra_args=SHORT_LOOKBACK_PROM)
    vm = vm_factory(history, "short-lookback", *SHORT_LOOKBACK_VM)
    with PrometheusSource(prom.url) as p, PrometheusSource(vm.url, path_prefix="/prometheus") as v:
        assert v.label_names() == p.label_names() == ["__name__", "instance", "job"]
        assert v.label_values("instance") == p.label_values("instance") == ["a", "b", "c"]
        assert v.metric_names() == p.metric_names() == ["promcast_vm_ramp", "promcast_vm_walk"]
