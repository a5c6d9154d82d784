"""A service started on a model store written by ``promcast fit`` answers its first forecast warm."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from contract.grafana_requests import NOW, query_request, target
from promcast.batchfit import plan, run_fits
from promcast.executors import LocalExecutor
from promcast.sources.spec import SourceSpec
from promcast.store import ModelStore

EXPR = "node_cpu_utilisation"
HISTORY = "7d"
MODEL = "seasonal_naive"


def fits_counted(client) -> float:
    text = client.get("/metrics").get_data(as_text=True)
    return sum(float(v) for v in re.findall(r"^promcast_model_fits_total\{[^}]*\} (\S+)$", text, re.M))


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory):
    """Every demo CPU series fitted the way ``promcast fit --history 7d`` does (in this process)."""
    directory = tmp_path_factory.mktemp("store")
    spec = SourceSpec("demo", now=NOW)
    tasks = plan(spec, spec.open(), EXPR, MODEL, {}, NOW - pd.Timedelta(days=7), NOW, pd.Timedelta("5m"))
    summary = run_fits(tasks, LocalExecutor(workers=1), ModelStore(directory))
    assert len(summary.stored) == len(tasks) >= 2 and not summary.failures
    return directory


def forecast(client, history: str = HISTORY):
    body = query_request([target("A", "forecast", {"expr": EXPR, "model": MODEL, "history": history,
                                                   "horizon": "6h"})], max_points=300)
    response = client.post("/grafana/query", json=body)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_first_forecast_from_a_prefitted_store_fits_nothing(make_client, store_dir):
    client = make_client(store_dir=str(store_dir))
    frames = forecast(client)
    assert any(f["target"].endswith(" yhat") and f["datapoints"] for f in frames)
    assert fits_counted(client) == 0


def test_without_the_store_the_same_query_fits(make_client):
    client = make_client()
    forecast(client)
    assert fits_counted(client) >= 2  # the control: the counter does see fits


def test_a_different_history_is_not_served_from_the_store(make_client, store_dir):
    client = make_client(store_dir=str(store_dir))
    forecast(client, history="3d")
    assert fits_counted(client) >= 2


def test_stale_or_foreign_entries_are_skipped(store_dir):
    import time

    from promcast.service.cache import ModelCache
    from promcast.service.warm import preload_store

    def cache():
        return ModelCache(max_entries=100, max_bytes=2**30, refit_interval=900)

    assert preload_store(cache(), str(store_dir), "demo source") >= 2
    assert preload_store(cache(), str(store_dir), "Prometheus at http://127.0.0.1:9090") == 0
    assert preload_store(cache(), str(store_dir), "demo source", now=time.time() + 3600) == 0
    assert preload_store(cache(), str(store_dir / "missing"), "demo source") == 0
