"""Every endpoint's answers validate against the simpod-json-datasource OpenAPI schema.

Requests are replayed as Grafana sends them (see ``grafana_requests``); the requests themselves are
validated against the schema's request bodies too, so the fixtures cannot drift from the contract.
"""

from __future__ import annotations

import pytest

import tools

from contract.grafana_requests import query_request, target, variable_request
from contract.openapi import SHARED_SPEC, SPEC, errors, request_validator, response_validator

CPU1 = 'node_cpu_utilisation{instance="node-1:9100"}'

QUERIES = {
    "forecast one series": [target("A", "forecast", {"expr": CPU1, "history": "3d"}, as_string=False)],
    "forecast several series": [target("A", "forecast", {"expr": "node_cpu_utilisation", "history": "3d",
                                                         "legend": "{{instance}}"}, as_string=False)],
    "anomalies": [target("A", "anomalies", {"expr": "node_cpu_utilisation", "history": "3d",
                                            "sensitivity": "3"}, as_string=False)],
    "anomaly events": [target("A", "anomaly_events", {"expr": "node_cpu_utilisation", "history": "3d"}, as_string=False)],
    "one target failing": [target("A", "forecast", {"expr": CPU1, "history": "3d"}, as_string=False),
                           target("B", "forecast", {"expr": "abs(up)"}, as_string=False)],
    "notices": [target("A", "forecast", {"expr": CPU1, "history": "3d", "horizon": "10y"}, as_string=False),
                target("B", "anomalies", {"expr": "nothing_here"}, as_string=False)],
}


def test_the_vendored_schema_is_the_shared_contract():
    if not SHARED_SPEC.exists():
        tools.missing(f"{SHARED_SPEC} is not present (a checkout without ../shared)")
    assert SPEC.read_bytes() == SHARED_SPEC.read_bytes()


@pytest.mark.parametrize("case", list(QUERIES))
def test_query_answers_validate(client, case):
    body = query_request(QUERIES[case], filters=[{"key": "job", "operator": "=", "value": "node"}])
    assert errors(request_validator("/query"), body) == []
    response = client.post("/grafana/query", json=body)
    assert response.status_code == 200
    answer = response.get_json()
    assert answer and errors(response_validator("/query"), answer) == []


def test_payload_as_a_json_string_gives_the_same_answer(client):
    as_object = query_request([target("A", "forecast", {"expr": CPU1, "history": "3d"}, as_string=False)])
    as_string = query_request([target("A", "forecast", {"expr": CPU1, "history": "3d"}, as_string=True)])
    assert client.post("/grafana/query", json=as_object).get_data() == client.post("/grafana/query", json=as_string).get_data()


def test_metrics_answer_validates(client):
    body = {"metric": "forecast", "payload": {"expr": "up"}}
    assert errors(request_validator("/metrics"), body) == []
    answer = client.post("/grafana/metrics", json=body).get_json()
    assert errors(response_validator("/metrics"), answer) == []


@pytest.mark.parametrize("name", ["model", "expr", "interval"])
def test_metric_payload_options_validate(client, name):
    body = {"metric": "forecast", "payload": {"expr": "up"}, "name": name}
    assert errors(request_validator("/metric-payload-options"), body) == []
    answer = client.post("/grafana/metric-payload-options", json=body).get_json()
    assert answer and errors(response_validator("/metric-payload-options"), answer) == []


@pytest.mark.parametrize("payload", [{"target": "models"}, {"target": "label_values(instance)"},
                                     {"target": "series", "expr": "up"}, {"target": "metrics"}])
def test_variable_answers_validate(client, payload):
    body = variable_request(payload)
    assert errors(request_validator("/variable"), body) == []
    answer = client.post("/grafana/variable", json=body).get_json()
    assert answer and errors(response_validator("/variable"), answer) == []


def test_tag_answers_validate(client):
    keys = client.post("/grafana/tag-keys", json={}).get_json()
    assert keys and errors(response_validator("/tag-keys"), keys) == []
    body = {"key": "instance"}
    assert errors(request_validator("/tag-values"), body) == []
    values = client.post("/grafana/tag-values", json=body).get_json()  # the schema gives no answer shape
    assert values and all(set(v) == {"text"} and isinstance(v["text"], str) for v in values)


def test_health_is_200(client):
    assert client.get("/grafana/").status_code == 200


def test_the_validators_do_reject_wrong_shapes():
    """Guard against a validator that accepts anything (a bad $ref resolves to an empty schema)."""
    assert errors(response_validator("/query"), [{"target": "x", "datapoints": [[1]]}])
    assert errors(response_validator("/query"), [{"type": "table", "columns": [{"text": "t"}], "rows": [1]}])
    assert errors(response_validator("/metrics"), [{"value": "forecast"}])
    assert errors(response_validator("/variable"), [{"text": "a"}])
