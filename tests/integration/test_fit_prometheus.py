"""`promcast fit` against a real Prometheus: each task fetches its own series, fits equal a direct fit."""

import pandas as pd
import pytest

from conftest import run_cli
from promcast.models import fit_with_fallback
from promcast.sources.prometheus import PrometheusSource
from promcast.store import ModelStore

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("expr", ["promcast_test_walk", "avg_over_time(promcast_test_walk[10m])"])
def test_fit_stores_the_same_models_as_a_direct_fit(month_prometheus, tmp_path, expr):
    end = month_prometheus.end
    result = run_cli("fit", "--prometheus-url", month_prometheus.url, "--expr", expr, "--model", "mad",
                     "--history", "2d", "--step", "5m", "--end", end.isoformat(), "--store", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "fitted 3 series, stored 3" in result.stdout
    store = ModelStore(tmp_path)
    direct = PrometheusSource(month_prometheus.url).query_range(expr, end - pd.Timedelta(days=2), end,
                                                               pd.Timedelta(minutes=5))
    assert len(direct) == 3
    for history in direct:
        stored = store.get(expr, history.labels, "mad", {}, source=PrometheusSource(month_prometheus.url).identity)
        assert stored is not None, history.legend
        expected = fit_with_fallback("mad", history.values.dropna(), warn=False)
        pd.testing.assert_frame_equal(stored.predict("1h"), expected.predict("1h"))
