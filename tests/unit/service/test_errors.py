"""Errors as a new user meets them: JSON bodies, the right status, never a 500.

Upstream failures use a real PrometheusSource against a closed port (502) and against a server that
accepts connections and never answers (504 within the configured timeout).
"""

from __future__ import annotations

import base64
import socket
import threading

import pytest

from contract.grafana_requests import query_request, target
from promcast.sources.prometheus import PrometheusSource

CPU = 'node_cpu_utilisation{instance="node-1:9100"}'


@pytest.fixture
def hanging_url():
    """A loopback server that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted, stop = [], threading.Event()

    def accept():
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    server.close()


@pytest.fixture
def closed_url():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


NASTY = [
    ("/grafana/query", b"{not json", "bad_input", "malformed JSON"),
    ("/grafana/query", b"", "bad_input", "empty request body"),
    ("/grafana/query", b"[]", "bad_input", "expected a JSON object"),
    ("/grafana/query", b'{"range": {"from": "2024-06-10T00:00:00Z", "to": "2024-06-09T00:00:00Z"}, "targets": [{}]}',
     "bad_input", "before range.from"),
    ("/grafana/variable", b"{", "bad_input", "malformed JSON"),
    ("/grafana/metric-payload-options", b"[1]", "bad_input", "expected a JSON object"),
    ("/grafana/tag-values", b"{}", "bad_input", "bad key"),
]


@pytest.mark.parametrize("path, body, code, needle", NASTY)
def test_bad_bodies_are_json_400s(client, path, body, code, needle):
    response = client.post(path, data=body, content_type="application/json")
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == code and needle in error["message"]


@pytest.mark.parametrize("overrides", [
    {"maxDataPoints": 0}, {"maxDataPoints": 10**7}, {"maxDataPoints": -3}, {"maxDataPoints": None},
    {"intervalMs": "fast"}, {"targets": []}, {"targets": [None]}, {"range": {"from": 1, "to": "x"}},
    {"range": {"from": "1000-01-01", "to": "2024-06-10T00:00:00Z"}}, {"filters": [{"key": "a", "operator": ">"}]},
])
def test_nothing_a_user_sends_to_query_is_a_500(client, overrides):
    body = query_request([target("A", "forecast", {"expr": CPU, "history": "3d", "horizon": "10y"})])
    body.update(overrides)
    response = client.post("/grafana/query", json=body)
    assert response.status_code < 500, response.get_json()
    assert response.is_json


@pytest.mark.parametrize("payload", [
    {"expr": CPU, "history": "1000y"}, {"expr": CPU, "history": "1s"}, {"expr": CPU, "interval": "2"},
    {"expr": CPU, "legend": {"a": 1}}, {"expr": ["a", "b"]}, {"expr": CPU, "model": 7},
    {"expr": CPU, "sensitivity": "nan"}, {"expr": CPU, "sensitivity": "8"}, {"expr": CPU, "sensitivity": 9},
    {"expr": "{}"}, {"expr": "up offset 1d"}, [1, 2],
])
def test_nothing_in_a_payload_is_a_500(client, payload):
    for name in ("forecast", "anomalies", "anomaly_events"):
        response = client.post("/grafana/query", json=query_request([target("A", name, payload)]))
        assert response.status_code < 500, (name, payload, response.get_json())


def test_prometheus_down_is_a_502(make_client, closed_url):
    client = make_client(source=PrometheusSource(closed_url, retries=0))
    response = client.post("/grafana/query", json=query_request([target("A", "forecast", {"expr": "up"})]))
    assert response.status_code == 502
    error = response.get_json()["error"]
    assert error["code"] == "upstream_error" and "unreachable" in error["message"]
    assert client.post("/grafana/tag-keys", json={}).status_code == 502


def test_prometheus_hanging_is_a_504_within_the_timeout(make_client, hanging_url):
    client = make_client(source=PrometheusSource(hanging_url, timeout=0.5, retries=0))
    response = client.post("/grafana/query", json=query_request([target("A", "anomalies", {"expr": "up"})]))
    assert response.status_code == 504
    assert response.get_json()["error"]["code"] == "upstream_timeout"


def test_auth_protects_every_grafana_endpoint(make_client):
    client = make_client(auth_bearer_token="s3cret")
    for path in ("/grafana/query", "/grafana/metrics", "/grafana/variable", "/grafana/tag-keys"):
        assert client.post(path, json={}).status_code == 401
    good = client.post("/grafana/metrics", json={}, headers={"Authorization": "Bearer s3cret"})
    assert good.status_code == 200
    basic = make_client(auth_username="grafana", auth_password="pw")
    header = {"Authorization": "Basic " + base64.b64encode(b"grafana:pw").decode()}
    assert basic.post("/grafana/metrics", json={}, headers=header).status_code == 200
