"""PrometheusSource against a real Prometheus serving backfilled history."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from prom_harness import MONTH_POINTS
from promcast.errors import BadQueryError, UpstreamError
from promcast.sources.prometheus import PrometheusSource

pytestmark = pytest.mark.integration

MINUTE = pd.Timedelta("1min")


@pytest.fixture(scope="module")
def source(month_prometheus):
    with PrometheusSource(month_prometheus.url) as src:
        yield src


def assert_exact(history, expected: pd.Series) -> None:
    values = history.values
    assert values.index.tz is not None and str(values.index.tz) == "UTC"
    assert values.index.is_monotonic_increasing and values.index.is_unique
    assert values.dtype == np.float64
    assert len(values) == len(expected)
    np.testing.assert_array_equal(values.index.asi8 // 10**6, expected.index.as_unit("ms").asi8)
    np.testing.assert_array_equal(values.to_numpy(), expected.to_numpy())  # NaN equals NaN here


def test_thirty_days_of_minutes_come_back_exactly_once(source, month_prometheus):
    got = source.query_range("promcast_test_ramp", month_prometheus.start, month_prometheus.end, MINUTE)
    assert len(got) == 1
    assert dict(got[0].labels) == {"__name__": "promcast_test_ramp", "job": "ramp"}
    assert len(got[0].values) == MONTH_POINTS == 43_201
    assert_exact(got[0], month_prometheus.expected("promcast_test_ramp"))


@pytest.mark.parametrize("max_points", [997, 11_000])
def test_window_size_does_not_change_the_result(month_prometheus, max_points):
    with PrometheusSource(month_prometheus.url, max_points_per_request=max_points) as src:
        got = src.query_range('promcast_test_walk{instance="b"}', month_prometheus.start, month_prometheus.end, MINUTE)
    assert_exact(got[0], month_prometheus.expected("promcast_test_walk", instance="b"))


def test_several_label_sets_sorted_and_exact(source, month_prometheus):
    got = source.query_range("promcast_test_walk", month_prometheus.start, month_prometheus.end, MINUTE)
    assert [h.labels["instance"] for h in got] == ["a", "b", "c"]
    for history in got:
        assert_exact(history, month_prometheus.expected("promcast_test_walk", instance=history.labels["instance"]))


def test_nan_and_infinities_survive(source, month_prometheus):
    got = source.query_range("promcast_test_special", month_prometheus.start, month_prometheus.end, MINUTE)
    values = got[0].values.to_numpy()
    assert np.isnan(values).any() and np.isposinf(values).any() and np.isneginf(values).any()
    assert_exact(got[0], month_prometheus.expected("promcast_test_special"))


def test_unaligned_range_is_floored_to_the_step(source, month_prometheus):
    start = month_prometheus.start + pd.Timedelta("1h17s")
    end = month_prometheus.start + pd.Timedelta("2h59s")
    got = source.query_range("promcast_test_ramp", start, end, MINUTE)
    values = got[0].values
    assert values.index[0] == month_prometheus.start + pd.Timedelta("1h")
    assert values.index[-1] == month_prometheus.start + pd.Timedelta("2h")
    assert values.iloc[0] == 60 * 0.25 and len(values) == 61


def test_functions_drop_the_metric_name(source, month_prometheus):
    got = source.query_range("sum by (job) (promcast_test_walk)", month_prometheus.start, month_prometheus.end, pd.Timedelta("1h"))
    assert [dict(h.labels) for h in got] == [{"job": "walk"}]
    assert len(got[0].values) == 721


def test_a_selector_matching_nothing_is_empty(source, month_prometheus):
    assert source.query_range('promcast_test_ramp{job="nope"}', month_prometheus.start, month_prometheus.end, MINUTE) == []


def test_bad_promql_carries_prometheus_message(source, month_prometheus):
    with pytest.raises(BadQueryError, match=r"^bad PromQL: .*unclosed left parenthesis"):
        source.query_range("sum(promcast_test_ramp", month_prometheus.start, month_prometheus.end, MINUTE)


def test_string_result_is_refused_clearly(source, month_prometheus):
    with pytest.raises(BadQueryError, match="bad PromQL: .*string"):
        source.query_range('"text"', month_prometheus.start, month_prometheus.end, MINUTE)


def test_label_names_values_and_series(source):
    assert {"__name__", "instance", "job"} <= set(source.label_names())
    assert source.label_names('promcast_test_ramp') == ["__name__", "job"]
    assert source.label_values("instance") == ["a", "b", "c"]
    assert source.label_values("job", 'promcast_test_walk') == ["walk"]
    assert source.metric_names() == ["promcast_test_ramp", "promcast_test_special", "promcast_test_walk"]
    assert source.series('promcast_test_walk{instance=~"a|c"}') == [
        {"__name__": "promcast_test_walk", "instance": "a", "job": "walk"},
        {"__name__": "promcast_test_walk", "instance": "c", "job": "walk"},
    ]
    assert source.series('nothing_here') == []


def test_bad_selector_in_series_listing(source):
    with pytest.raises(BadQueryError, match="bad PromQL"):
        source.series("{")


def test_closed_port_is_unreachable(closed_port_url):
    src = PrometheusSource(closed_port_url, retries=1, backoff=0.01)
    with pytest.raises(UpstreamError, match=rf"^Prometheus at {closed_port_url} is unreachable: connection refused"):
        src.query_range("up", pd.Timestamp("2024-01-01", tz="UTC"), pd.Timestamp("2024-01-02", tz="UTC"), MINUTE)
