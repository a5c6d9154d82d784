"""Panel errors as Grafana shows them: promcast's error bodies through ``toDataQueryError`` from npm
``@grafana/runtime``.

simpod-json-datasource hands a failed ``/query`` or ``/variable`` response to Grafana's
``toDataQueryError``, which shows ``data.message`` when it is a string and otherwise puts the raw
``data.error`` on the panel (an object: no text). The plugin's "Save & test" reads ``data.error.code`` and
``data.error.message``. So every error body carries both, with the same text.
"""

from __future__ import annotations

import pytest

from contract.grafana_js import run_script
from contract.grafana_requests import query_request, target
from promcast.config import load_settings
from promcast.service.app import create_app
from promcast.sources.demo import DemoSource
from contract.grafana_requests import NOW

FAILURES = {
    "bad PromQL": ("/grafana/query", query_request([target("A", "forecast", {"expr": "node_cpu_utilisation{"})])),
    "unknown target": ("/grafana/query", query_request([target("A", "nope", {"expr": "up"})])),
    "unknown model": ("/grafana/query",
                      query_request([target("A", "forecast", {"expr": "up", "model": "no-such-model"})])),
    "bad duration": ("/grafana/query",
                     query_request([target("A", "forecast", {"expr": "up", "history": "fortnight"})])),
    "bad variable query": ("/grafana/variable", {"payload": {"target": "label_values", "label": "1nvalid"}}),
    "not JSON": ("/grafana/query", "{not json"),
}


def _post(client, path, body, **kwargs):
    if isinstance(body, str):
        return client.post(path, data=body, content_type="application/json", **kwargs)
    return client.post(path, json=body, **kwargs)


@pytest.fixture(scope="module")
def failed_responses(client):
    """``name -> {status, statusText, data}``: what the plugin's fetch rejects with."""
    out = {}
    for name, (path, body) in FAILURES.items():
        response = _post(client, path, body)
        assert 400 <= response.status_code < 500, (name, response.status_code)
        out[name] = {"status": response.status_code, "statusText": response.status, "data": response.get_json()}
    return out


def test_every_panel_error_shows_promcast_message_through_to_data_query_error(failed_responses):
    names = list(failed_responses)
    shown = run_script("to_query_error.js", [failed_responses[n] for n in names])
    for name, error in zip(names, shown):
        data = failed_responses[name]["data"]
        assert error["messageType"] == "string", (name, error)
        assert error["message"] == data["message"] == data["error"]["message"], name
        assert error["message"] != "Query error" and len(error["message"]) > 10, name
    by_name = dict(zip(names, shown))
    assert "PromQL" in by_name["bad PromQL"]["message"]
    assert "nope" in by_name["unknown target"]["message"]
    assert "no-such-model" in by_name["unknown model"]["message"]


def test_the_old_error_shape_would_show_no_text():
    """The check can fail: a body with only ``error: {code, message}`` reaches the panel as an object."""
    (error,) = run_script("to_query_error.js",
                          [{"status": 400, "statusText": "BAD REQUEST",
                            "data": {"error": {"code": "bad_query", "message": "bad PromQL"}}}])
    assert error["messageType"] == "object"


def test_save_and_test_reads_error_code_and_message_too(failed_responses):
    for name, response in failed_responses.items():
        error = response["data"]["error"]
        assert isinstance(error["code"], str) and error["code"], name
        assert isinstance(error["message"], str) and error["message"], name


def test_unauthorized_and_not_found_have_the_same_shape():
    settings = load_settings(environ={"PROMCAST_AUTH_BEARER_TOKEN": "s3cret"})
    client = create_app(settings, source=DemoSource(now=NOW)).test_client()
    responses = [client.get("/grafana"), client.post("/grafana/query", json={}),
                 client.get("/grafana/nope", headers={"Authorization": "Bearer s3cret"})]
    shown = run_script("to_query_error.js", [{"status": r.status_code, "statusText": r.status,
                                              "data": r.get_json()} for r in responses])
    assert [r.status_code for r in responses] == [401, 401, 404]
    for response, error in zip(responses, shown):
        assert error["messageType"] == "string" and error["message"] == response.get_json()["error"]["message"]
