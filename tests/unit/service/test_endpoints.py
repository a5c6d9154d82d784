"""The other endpoints of the JSON datasource API: metrics, payload options, variables, ad hoc filters."""

from __future__ import annotations

import pytest

from contract.grafana_requests import variable_request
from promcast.models import model_names


def test_metrics_list_the_targets_with_builder_payloads(client):
    response = client.post("/grafana/metrics", json={"metric": "forecast", "payload": {"expr": "up"}})
    assert response.status_code == 200
    answer = response.get_json()
    assert [m["value"] for m in answer] == ["forecast", "anomalies", "anomaly_events", "disk_exhaustion", "memory_leak",
                                          "capacity", "rightsize"]
    forecast = {p["name"]: p for p in answer[0]["payloads"]}
    assert list(forecast) == ["expr", "model", "history", "horizon", "interval", "legend"]
    assert forecast["model"]["type"] == "select" and "options" not in forecast["model"]  # asks /metric-payload-options
    assert {p["name"] for p in answer[1]["payloads"]} >= {"expr", "model", "sensitivity"}
    assert client.post("/grafana/metrics").status_code == 200  # an empty body is fine too


def test_payload_options_offer_models_and_metric_names(client, demo):
    models = client.post("/grafana/metric-payload-options", json={"metric": "forecast", "payload": {}, "name": "model"})
    assert [o["value"] for o in models.get_json()] == model_names()
    exprs = client.post("/grafana/metric-payload-options", json={"metric": "forecast", "payload": {}, "name": "expr"})
    assert [o["value"] for o in exprs.get_json()] == demo.metric_names()
    unknown = client.post("/grafana/metric-payload-options", json={"metric": "forecast", "payload": {}, "name": "x"})
    assert unknown.status_code == 400 and unknown.get_json()["error"]["code"] == "unknown_name"


@pytest.mark.parametrize("payload, expected", [
    ({"target": "label_values", "label": "instance", "expr": "node_cpu_utilisation"},
     ["10.0.0.1:9100", "db-2.example.com:9100", "node-1:9100", "node-2:9100", "node-3:9100"]),
    ({"target": 'label_values(process_resident_memory_bytes{job=~"api|worker"}, job)'}, ["api", "worker"]),
    ({"target": "label_values(mountpoint)"}, ["/", "/data", "/var/log"]),
    ({"target": 'series(up{job="api"})'}, ['up{instance="api-1:8080",job="api"}']),
    ({"target": "label_names(http_requests)"}, ["job"]),
    ("models", None),
])
def test_variables(client, payload, expected):
    response = client.post("/grafana/variable", json=variable_request(payload))
    assert response.status_code == 200
    values = [item["value"] for item in response.get_json()]
    assert values == (expected if expected is not None else model_names())
    assert all(item["text"] == item["__text"] == item["value"] for item in response.get_json())


@pytest.mark.parametrize("payload, needle", [
    ({"target": "label_values"}, "label_values needs a label name"),
    ({"target": "series"}, "series needs an expression"),
    ({"target": "everything"}, "unknown variable query"),
    (["models"], "bad payload"),
    ({"target": "series(sum(up))"}, "real Prometheus"),
    ({"target": "series", "expr": {"up": 1}}, "bad payload.expr"),
])
def test_bad_variable_queries(client, payload, needle):
    response = client.post("/grafana/variable", json=variable_request(payload))
    assert response.status_code == 400 and needle in response.get_json()["error"]["message"]


def test_tag_keys_and_values_come_from_the_source(client):
    keys = client.post("/grafana/tag-keys", json={}).get_json()
    assert {"type": "string", "text": "instance"} in keys and all(k["text"] != "__name__" for k in keys)
    values = client.post("/grafana/tag-values", json={"key": "job"}).get_json()
    assert {"text": "node"} in values and {"text": "frontend"} in values
    bad = client.post("/grafana/tag-values", json={"key": "not a label"})
    assert bad.status_code == 400 and "bad key" in bad.get_json()["error"]["message"]
