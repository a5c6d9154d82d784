"""A warm refresh answers exactly what a cold one does, and never serves frames a change made stale.

The warm path reuses the model cache (the fit and its memoised, already encoded forecast), the range
cache (settled points) and writes points with orjson. The slow path is a fresh app for every request
(nothing cached) writing points with the standard library's ``json``, as promcast did before: both
must give the same bytes. A refresh whose range moved, or whose model was refitted on new data, must
get the frames a fresh app computes for it, not the ones it had before.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import promcast.service.frames as frames
from contract.grafana_requests import NOW, query_request, target
from promcast.sources.demo import DemoSource

CPU1 = 'node_cpu_utilisation{instance="node-1:9100"}'
FORECAST_FIELDS = ["yhat", "yhat_lower", "yhat_upper"]

REQUESTS = {
    # the benchmark's panel: 2 days at 1m with a 1d horizon (maxDataPoints 5000, intervalMs 60000)
    "forecast at 1m": query_request([target("A", "forecast", {"expr": CPU1, "history": "7d", "horizon": "1d"})],
                                    max_points=5000, interval_ms=60_000),
    "several series, thinned actuals": query_request(
        [target("A", "forecast", {"expr": "node_cpu_utilisation", "history": "3d", "legend": "{{instance}}"})],
        max_points=300, interval_ms=1000),
    "every series target": query_request([
        target("A", "forecast", {"expr": CPU1, "history": "3d", "interval": "0.8"}),
        target("B", "anomalies", {"expr": CPU1, "history": "3d"}),
        target("C", "anomaly_events", {"expr": CPU1, "history": "3d"})]),
    "one bad target": query_request([target("A", "forecast", {"expr": CPU1, "history": "3d"}),
                                     target("B", "forecast", {"expr": "up{", "history": "3d"})]),
    "all targets fail": query_request([target("A", "forecast", {"expr": CPU1, "model": "nope"})]),
}


def stdlib_points(values: np.ndarray, ms: np.ndarray) -> str:
    return json.dumps(list(zip(values.tolist(), ms.tolist())), separators=(",", ":"))


@pytest.fixture
def slow(make_client, monkeypatch):
    """``slow(body, source=None)``: the answer of a fresh app (no cache of any kind), stdlib-encoded."""

    def answer(body, source=None):
        with monkeypatch.context() as patch:
            patch.setattr(frames, "dump_points", stdlib_points)
            response = make_client(source=source).post("/grafana/query", json=body)
        return response.status_code, response.get_data()

    return answer


@pytest.mark.parametrize("name", list(REQUESTS))
def test_warm_refreshes_answer_the_bytes_of_the_slow_path(make_client, slow, name):
    body = REQUESTS[name]
    expected = slow(body)
    client = make_client()
    for _ in range(3):  # cold, then warm: fit, memoised forecast and settled points reused
        response = client.post("/grafana/query", json=body)
        assert (response.status_code, response.get_data()) == expected
    if name == "forecast at 1m":
        decoded = json.loads(expected[1])
        assert [len(f["datapoints"]) for f in decoded] == [2881, 4321, 4321, 4321]


@pytest.mark.parametrize("shift", ["1min", "90s", "10min", "-3h"])
def test_a_refresh_whose_range_moved_gets_new_frames(make_client, slow, shift):
    client = make_client()
    end = NOW - pd.Timedelta("10min")
    before = query_request([target("A", "forecast", {"expr": CPU1, "history": "3d"})], max_points=5000,
                           interval_ms=60_000, end=end)
    first = client.post("/grafana/query", json=before).get_data()
    moved = query_request([target("A", "forecast", {"expr": CPU1, "history": "3d"})], max_points=5000,
                          interval_ms=60_000, end=end + pd.Timedelta(shift))
    response = client.post("/grafana/query", json=moved)
    assert (response.status_code, response.get_data()) == slow(moved)
    assert response.get_data() != first


class ScaledDemo(DemoSource):
    """The demo source with every value multiplied by ``scale`` (data that changed between two fits)."""

    def __init__(self, now):
        super().__init__(now=now)
        self.scale = 1.0

    def query_range(self, expr, start, end, step):
        found = super().query_range(expr, start, end, step)
        for history in found:
            history.values.loc[:] = history.values.to_numpy() * self.scale
        return found


def forecast_frames(data: bytes) -> dict[str, list]:
    return {f["target"]: f["datapoints"] for f in json.loads(data) if f["target"] in FORECAST_FIELDS}


def test_a_refit_gets_new_frames_never_the_memoised_ones(make_client, slow):
    source = ScaledDemo(NOW)
    client = make_client(source=source)
    cache = client.application.extensions["promcast.cache"]
    clock = [1000.0]
    cache.clock = lambda: clock[0]
    body = query_request([target("A", "forecast", {"expr": CPU1, "history": "3d"})], max_points=5000,
                         interval_ms=60_000)
    old = client.post("/grafana/query", json=body).get_data()
    assert client.post("/grafana/query", json=body).get_data() == old  # warm: the memo answers

    source.scale = 2.0
    clock[0] += cache.refit_interval - 1  # not due yet: the fit and its frames are still fresh
    assert forecast_frames(client.post("/grafana/query", json=body).get_data()) == forecast_frames(old)
    clock[0] += 1  # due: refitted on the new data, with new frames
    refitted = client.post("/grafana/query", json=body).get_data()
    fresh = ScaledDemo(NOW)
    fresh.scale = 2.0
    assert forecast_frames(refitted) == forecast_frames(slow(body, source=fresh)[1])
    assert forecast_frames(refitted) != forecast_frames(old)
    text = client.get("/metrics").get_data(as_text=True)
    assert 'promcast_model_fits_total{model="mad",outcome="ok"} 2.0' in text
