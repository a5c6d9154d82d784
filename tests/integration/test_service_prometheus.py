"""The Grafana API against a real Prometheus serving backfilled history (see ``tests/prom_harness.py``).

Real PromQL (``sum(rate(...)) by (job)``) is evaluated by Prometheus, ad hoc filters must land on the
selector inside ``rate``, actual values must be exactly what Prometheus answers, and a stopped
Prometheus is a 502.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for the request builders

from contract.grafana_requests import query_request, target, variable_request  # noqa: E402
from prom_harness import MetricSeries  # noqa: E402
from promcast.config import load_settings  # noqa: E402
from promcast.service.app import create_app  # noqa: E402
from promcast.sources.prometheus import PrometheusSource  # noqa: E402

pytestmark = pytest.mark.integration

DAYS = 7
SPIKE_HOURS_BEFORE_END = 6


def _history(end: int) -> list[MetricSeries]:
    seconds = end - 60 * np.arange(DAYS * 1440, -1, -1, dtype=np.int64)
    daily = np.sin(2 * np.pi * (seconds - end) / 86400.0)  # phase relative to end: the same data at any hour
    rng = np.random.default_rng(7)
    out = []
    for job, instance, base in (("api", "a", 10.0), ("api", "b", 12.0), ("web", "a", 30.0)):
        rate = base * (1.0 + 0.3 * daily) + rng.normal(0, 0.3, len(seconds))
        counter = np.cumsum(np.clip(rate, 0, None) * 60.0)
        out.append(MetricSeries("http_requests_total", {"job": job, "instance": instance}, seconds, counter, "counter"))
    queue = 100.0 + 20.0 * daily + rng.normal(0, 2.0, len(seconds))
    spike = (seconds >= end - SPIKE_HOURS_BEFORE_END * 3600) & (seconds < end - SPIKE_HOURS_BEFORE_END * 3600 + 600)
    queue[spike] += 200.0
    out.append(MetricSeries("queue_depth", {"job": "worker"}, seconds, queue))
    return out


@pytest.fixture(scope="module")
def served(prometheus_factory):
    end = (int(time.time()) // 3600 - 1) * 3600
    return prometheus_factory(_history(end), key="service-prometheus"), pd.Timestamp(end, unit="s", tz="UTC")


@pytest.fixture(scope="module")
def client(served):
    history, _ = served
    settings = load_settings(environ={"PROMCAST_MODELS_DEFAULT": "holt_winters"})
    return create_app(settings, source=PrometheusSource(history.url)).test_client()


def query(client, end, targets, **kwargs):
    body = query_request(targets, start=end - pd.Timedelta("1D"), end=end, **kwargs)
    response = client.post("/grafana/query", json=body)
    return response, response.get_json()


RATE = "sum(rate(http_requests_total[5m])) by (job)"


def test_real_promql_forecast_per_job(client, served):
    _, end = served
    response, frames = query(client, end, [target("A", "forecast", {"expr": RATE, "history": "3d", "legend": "{{job}}"})])
    assert response.status_code == 200
    assert [f["target"] for f in frames] == [f"{job} {name}" for job in ("api", "web")
                                             for name in ("actual", "yhat", "yhat_lower", "yhat_upper")]
    api_yhat = np.asarray(frames[1]["datapoints"])[:, 0]
    assert 15 < np.median(api_yhat) < 30  # two api instances at ~10 and ~12 requests/s


def test_ad_hoc_filter_goes_inside_rate(client, served):
    _, end = served
    filters = [{"key": "instance", "operator": "=", "value": "a"}, {"key": "job", "operator": "=", "value": "api"}]
    response, frames = query(client, end, [target("A", "forecast", {"expr": RATE, "history": "3d"})], filters=filters)
    assert response.status_code == 200
    assert [f["target"] for f in frames] == ["actual", "yhat", "yhat_lower", "yhat_upper"]
    actual = np.asarray(frames[0]["datapoints"])
    assert 5 < np.median(actual[:, 0]) < 15  # instance a alone (filtered before the sum), not ~22


def test_actual_values_are_exactly_prometheus_answers(client, served):
    history, end = served
    response, frames = query(client, end, [target("A", "anomalies", {"expr": 'queue_depth{job="worker"}', "history": "3d"})],
                             max_points=300, interval_ms=60_000)
    assert response.status_code == 200
    actual = np.asarray(frames[0]["datapoints"])
    assert 0 < len(actual) <= 300
    step = (actual[1, 1] - actual[0, 1]) / 1000.0
    direct = requests.get(f"{history.url}/api/v1/query_range", timeout=30, params={
        "query": 'queue_depth{job="worker"}', "start": actual[0, 1] / 1000.0, "end": actual[-1, 1] / 1000.0,
        "step": step}).json()["data"]["result"][0]["values"]
    np.testing.assert_array_equal(actual[:, 0], np.array([float(v) for _, v in direct]))
    np.testing.assert_array_equal(actual[:, 1], np.array([t * 1000.0 for t, _ in direct]))


def test_anomaly_events_find_the_spike(client, served):
    _, end = served
    response, frames = query(client, end, [target("A", "anomaly_events", {"expr": 'queue_depth{job="worker"}',
                                                                          "history": "3d", "sensitivity": 5})])
    assert response.status_code == 200
    spike_ms = int((end - pd.Timedelta(hours=SPIKE_HOURS_BEFORE_END)).value // 1_000_000)
    rows = frames[0]["rows"]
    assert any(r[0] <= spike_ms + 600_000 and r[1] >= spike_ms for r in rows), rows


def test_bad_promql_is_reported_by_prometheus_as_400(client, served):
    _, end = served
    response, body = query(client, end, [target("A", "forecast", {"expr": "rate(http_requests_total)"})])
    assert response.status_code == 400 and body["error"]["code"] == "bad_query"


def test_labels_for_variables_and_ad_hoc_filters(client):
    keys = {k["text"] for k in client.post("/grafana/tag-keys", json={}).get_json()}
    assert {"job", "instance"} <= keys
    values = client.post("/grafana/tag-values", json={"key": "job"}).get_json()
    assert {"text": "worker"} in values
    options = client.post("/grafana/variable", json=variable_request({"target": "label_values(http_requests_total, job)"}))
    assert [o["value"] for o in options.get_json()] == ["api", "web"]


def test_stopped_prometheus_is_a_502(closed_port_url):
    app = create_app(load_settings(environ={"PROMCAST_MODELS_DEFAULT": "mad"}),
                     source=PrometheusSource(closed_port_url, retries=0))
    end = pd.Timestamp.now(tz="UTC")
    response = app.test_client().post("/grafana/query", json=query_request(
        [target("A", "forecast", {"expr": "up"})], start=end - pd.Timedelta("1h"), end=end))
    assert response.status_code == 502 and response.get_json()["error"]["code"] == "upstream_error"


def test_a_sliding_refresh_matches_prometheus_exactly(served):
    history, end = served
    app = create_app(load_settings(environ={"PROMCAST_MODELS_DEFAULT": "mad"}), source=PrometheusSource(history.url))
    client = app.test_client()
    expr = 'queue_depth{job="worker"}'
    for shift in ("2h", "0h"):  # the second request reuses the first one's points and fetches 2 new hours
        panel_end = end - pd.Timedelta(shift)
        body = query_request([target("A", "anomalies", {"expr": expr, "history": "3d"})],
                             start=panel_end - pd.Timedelta("1D"), end=panel_end, max_points=500, interval_ms=60_000)
        actual = np.asarray(client.post("/grafana/query", json=body).get_json()[0]["datapoints"])
    step = (actual[1, 1] - actual[0, 1]) / 1000.0
    direct = requests.get(f"{history.url}/api/v1/query_range", timeout=30, params={
        "query": expr, "start": actual[0, 1] / 1000.0, "end": actual[-1, 1] / 1000.0, "step": step}).json()
    values = direct["data"]["result"][0]["values"]
    np.testing.assert_array_equal(actual[:, 0], np.array([float(v) for _, v in values]))
    np.testing.assert_array_equal(actual[:, 1], np.array([t * 1000.0 for t, _ in values]))
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'promcast_range_cache_queries_total{result="hit"} 1.0' in metrics
