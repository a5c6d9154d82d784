"""`promcast rightsize` against a real Prometheus holding cAdvisor and kube-state-metrics series.

The history is the demo's Kubernetes containers, written at the query step into a real TSDB, so the
answer from Prometheus must be the answer from the demo source, container for container.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from conftest import run_cli
from prom_harness import MetricSeries
from promcast.sources.demo import DemoSource

pytestmark = pytest.mark.integration

METRICS = ("container_cpu_usage_seconds_total", "container_memory_working_set_bytes",
           "kube_pod_container_resource_requests", "kube_pod_container_resource_limits", "kube_pod_owner")
STEP = pd.Timedelta("5min")
HISTORY = pd.Timedelta("8D")


@pytest.fixture(scope="module")
def cluster(prometheus_factory):
    end = (pd.Timestamp.now(tz="UTC") - pd.Timedelta("2h")).floor("h")
    demo = DemoSource(now=end)
    series = []
    for metric in METRICS:
        for h in demo.query_range(metric, end - HISTORY, end, STEP):
            labels = {k: v for k, v in h.labels.items() if k != "__name__"}
            series.append(MetricSeries.from_pandas(metric, labels, h.values))
    return prometheus_factory(series, key="rightsize-k8s"), end


def rightsize(*args: str, end: pd.Timestamp) -> dict:
    result = run_cli("rightsize", *args, "--history", "8d", "--step", "5m", "--end", end.isoformat(),
                     "--format", "json", "--cpu-cost", "20", "--memory-cost", "4",
                     env={"PROMCAST_DEMO_NOW": end.isoformat()})
    assert result.returncode == 0, result.stderr
    return {(r["namespace"], r["workload"], r["container"]): r for r in map(json.loads, result.stdout.splitlines())}


def test_rightsize_from_prometheus_matches_the_same_history_from_the_demo(cluster):
    served, end = cluster
    from_prometheus = rightsize("--prometheus-url", served.url, end=end)
    from_demo = rightsize("--source", "demo", end=end)
    assert set(from_prometheus) == set(from_demo)
    assert len(from_prometheus) == 6
    for key, row in from_prometheus.items():
        other = from_demo[key]
        assert row["kind"] == other["kind"] and row["replicas"] == other["replicas"], key
        assert row["current"] == other["current"], key
        for field, value in row["recommended"].items():
            assert value == pytest.approx(other["recommended"][field], rel=1e-6), (key, field)
        assert row["monthly_delta"] == pytest.approx(other["monthly_delta"], abs=0.02), key


def test_namespace_and_owners_from_kube_state_metrics(cluster):
    served, end = cluster
    rows = rightsize("--prometheus-url", served.url, "--namespace", "shop", end=end)
    assert {k[0] for k in rows} == {"shop"}
    kinds = {k[1]: r["kind"] for k, r in rows.items()}
    assert kinds == {"checkout": "Deployment", "frontend": "Deployment", "search": "Deployment",
                     "cart-redis": "StatefulSet"}
    assert rows[("shop", "frontend", "nginx")]["replicas"] == 3
    assert rows[("shop", "frontend", "nginx")]["current"] == {"cpu_request": 1.0, "cpu_limit": 2.0,
                                                                "memory_request": 2.0**30, "memory_limit": 2.0**31}
