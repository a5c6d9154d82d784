"""`promcast rightsize` as a new user runs it on the demo: a readable table, JSON, YAML a cluster accepts."""

from __future__ import annotations

import json

import pytest
import yaml

from conftest import assert_one_line_error, run_cli


@pytest.fixture(scope="module")
def rows():
    result = run_cli("rightsize", "--source", "demo", "--format", "json", "--cpu-cost", "23", "--memory-cost", "3.2")
    assert result.returncode == 0, result.stderr
    return {(r["namespace"], r["workload"], r["container"]): r for r in map(json.loads, result.stdout.splitlines())}


def test_table_has_units_money_and_the_workloads():
    result = run_cli("rightsize", "--source", "demo", "--cpu-cost", "€23", "--memory-cost", "3.2")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "CPU REQUEST (cores)" in out and "MEMORY REQUEST" in out
    assert "deployment/frontend" in out and "statefulset/cart-redis" in out and "daemonset/node-exporter" in out
    assert " GiB" in out and " MiB" in out
    assert "-€" in out and "requests per month: €" in out
    assert "OOM 2024-" in out and "memory +2.1 GiB/month" in out  # the leaking redis, at its current limit
    assert "throttled" in out  # search at its busy-hour peaks


def test_demo_shows_savings_growth_and_the_leak(rows):
    frontend = rows[("shop", "frontend", "nginx")]
    assert frontend["replicas"] == 3 and frontend["kind"] == "Deployment"
    assert frontend["recommended"]["cpu_request"] < 0.5 * frontend["current"]["cpu_request"]
    assert frontend["monthly_delta"] < 0
    assert rows[("data", "reporting", "worker")]["monthly_delta"] < 0
    redis = rows[("shop", "cart-redis", "redis")]
    assert redis["memory_growth_per_day"] > 50 * 2**20
    assert redis["risk_current"]["oom_at"] is not None and redis["risk_recommended"]["oom_at"] is None
    search = rows[("shop", "search", "search")]
    assert search["risk_current"]["throttled_hours"] > 0 and search["risk_recommended"]["throttled_hours"] == 0
    total = sum(r["monthly_delta"] for r in rows.values())
    assert total < 0  # the demo saves money out of the box


def test_namespace_filters():
    result = run_cli("rightsize", "--source", "demo", "--namespace", "data", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert {json.loads(line)["namespace"] for line in result.stdout.splitlines()} == {"data"}


def test_yaml_deserialises_into_the_kubernetes_client_models():
    kubernetes = pytest.importorskip("kubernetes")
    result = run_cli("rightsize", "--source", "demo", "--format", "yaml")
    assert result.returncode == 0, result.stderr
    docs = [d for d in yaml.safe_load_all(result.stdout) if d]
    assert {d["kind"] for d in docs} == {"Deployment", "StatefulSet", "DaemonSet"}
    client = kubernetes.client
    strict, loose = client.Configuration(), client.Configuration()
    strict.client_side_validation = True
    # the workload is a partial object for server-side apply: it leaves out spec.selector (and all else
    # the cluster already has), so the client's required-field check is off for the workload itself
    loose.client_side_validation = False
    for doc in docs:
        # the pod template is complete: every required field checked (container names, quantities)
        template = client.ApiClient(strict)._ApiClient__deserialize(doc["spec"]["template"], "V1PodTemplateSpec")
        for container in template.spec.containers:
            requests, limits = container.resources.requests, container.resources.limits
            assert set(requests) == set(limits) == {"cpu", "memory"}
            assert kubernetes.utils.parse_quantity(requests["memory"]) <= kubernetes.utils.parse_quantity(limits["memory"])
            assert kubernetes.utils.parse_quantity(requests["cpu"]) <= kubernetes.utils.parse_quantity(limits["cpu"])
        api = client.ApiClient(loose)
        obj = api._ApiClient__deserialize(doc, f"V1{doc['kind']}")
        assert isinstance(obj, getattr(client, f"V1{doc['kind']}"))
        assert api.sanitize_for_serialization(obj) == doc  # every field is one the model knows
        assert obj.metadata.namespace and obj.metadata.name and obj.api_version == "apps/v1"


def test_vpa_objects_in_recommendation_only_mode():
    kubernetes = pytest.importorskip("kubernetes")
    result = run_cli("rightsize", "--source", "demo", "--format", "yaml", "--vpa")
    assert result.returncode == 0, result.stderr
    docs = [d for d in yaml.safe_load_all(result.stdout) if d]
    assert len(docs) == 6 and {d["kind"] for d in docs} == {"VerticalPodAutoscaler"}
    strict = kubernetes.client.Configuration()
    strict.client_side_validation = True
    api = kubernetes.client.ApiClient(strict)
    for doc in docs:
        assert doc["apiVersion"] == "autoscaling.k8s.io/v1" and doc["spec"]["updatePolicy"] == {"updateMode": "Off"}
        api._ApiClient__deserialize(doc["metadata"], "V1ObjectMeta")
        ref = api._ApiClient__deserialize(doc["spec"]["targetRef"], "V1CrossVersionObjectReference")
        assert ref.kind in {"Deployment", "StatefulSet", "DaemonSet"} and ref.api_version == "apps/v1"
        for policy in doc["spec"]["resourcePolicy"]["containerPolicies"]:
            assert policy["containerName"]
            assert kubernetes.utils.parse_quantity(policy["minAllowed"]["memory"]) > 0
            assert kubernetes.utils.parse_quantity(policy["minAllowed"]["cpu"]) > 0


@pytest.mark.parametrize("args,needle", [
    (["--vpa"], "--vpa"),
    (["--cpu-cost", "23"], "--memory-cost"),
    (["--cpu-cost", "cheap", "--memory-cost", "3"], "--cpu-cost"),
    (["--horizon", "soon"], "--horizon"),
    (["--namespace", "nowhere"], "no containers"),
])
def test_bad_options_are_one_clear_line(args, needle):
    assert_one_line_error(run_cli("rightsize", "--source", "demo", *args), needle)
