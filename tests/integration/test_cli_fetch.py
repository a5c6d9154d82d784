"""`promcast fetch` against a real Prometheus: 30 days at 1m come back whole, in order, exact."""

import numpy as np
import pandas as pd
import pytest

from conftest import assert_one_line_error, run_cli
from prom_harness import MONTH_POINTS

pytestmark = pytest.mark.integration


def test_fetch_month_of_minutes_exactly(month_prometheus, tmp_path):
    out = tmp_path / "ramp.csv"
    result = run_cli("fetch", "--prometheus-url", month_prometheus.url, "--expr", 'promcast_test_ramp{job="ramp"}',
                     "--history", "30d", "--step", "1m", "--end", month_prometheus.end.isoformat(),
                     "--output", str(out))
    assert result.returncode == 0, result.stderr
    frame = pd.read_csv(out)
    assert len(frame) == MONTH_POINTS == 43_201
    stamps = pd.to_datetime(frame["timestamp"], utc=True)
    assert stamps.is_monotonic_increasing and stamps.is_unique
    expected = month_prometheus.expected("promcast_test_ramp", job="ramp")
    assert (stamps.to_numpy() == expected.index.to_numpy()).all()
    np.testing.assert_array_equal(frame["value"].to_numpy(), expected.to_numpy())


def test_fetch_several_series_reads_back(month_prometheus, tmp_path):
    out = tmp_path / "walk.csv"
    result = run_cli("fetch", "--prometheus-url", month_prometheus.url, "--expr", "promcast_test_walk",
                     "--history", "2d", "--step", "1m", "--end", month_prometheus.end.isoformat(),
                     "--output", str(out))
    assert result.returncode == 0, result.stderr
    from promcast.sources.files import read_csv_histories

    histories = read_csv_histories(out)
    assert [h.labels["instance"] for h in histories] == ["a", "b", "c"]
    for history in histories:
        expected = month_prometheus.expected("promcast_test_walk", job="walk", instance=history.labels["instance"])
        want = expected[expected.index >= month_prometheus.end - pd.Timedelta(days=2)]
        np.testing.assert_array_equal(history.values.to_numpy(), want.to_numpy())


def test_fetch_bad_promql_from_prometheus(month_prometheus, tmp_path):
    result = run_cli("fetch", "--prometheus-url", month_prometheus.url, "--expr", "sum(rate(x[5m]) by",
                     "--output", str(tmp_path / "o.csv"))
    assert_one_line_error(result, "bad PromQL")
    assert not (tmp_path / "o.csv").exists()


def test_fetch_matching_nothing_is_clear(month_prometheus, tmp_path):
    result = run_cli("fetch", "--prometheus-url", month_prometheus.url, "--expr", "no_such_metric",
                     "--output", str(tmp_path / "o.csv"))
    assert_one_line_error(result, "matched no series")
