"""What Grafana draws: our ``/query`` answers converted by Grafana's own ``toDataFrame``.

``tests/js/to_data_frame.js`` loads ``@grafana/data`` (installed into ``tests/js/node_modules`` on first
use with ``npm ci``, from the lock file) and reports frame names, field names, types and display
names. The band only works if the fields Grafana sees are called exactly ``yhat_lower``/``yhat_upper``
(a ``fillBelowTo`` override refers to them by display name); annotations need ``time``/``timeEnd``
typed as time; a failing target must keep its notice.
"""

from __future__ import annotations

import pytest

from contract.grafana_js import run_script
from contract.grafana_requests import query_request, target, variable_request
from promcast.sources.demo import NODES

CPU1 = 'node_cpu_utilisation{instance="node-1:9100"}'


@pytest.fixture(scope="module")
def grafana(client):
    """``convert(query_answer, variable_answer=None)`` -> what Grafana makes of them."""
    def convert(query_answer, variable_answer=None):
        request = {"query": query_answer}
        if variable_answer is not None:
            request["variable"] = variable_answer
        return run_script("to_data_frame.js", request)

    return convert


@pytest.fixture(scope="module")
def answer(client):
    body = query_request([
        target("A", "forecast", {"expr": CPU1, "history": "3d", "horizon": "1d"}),
        target("B", "anomalies", {"expr": "node_cpu_utilisation", "history": "3d", "legend": "{{instance}}"}),
        target("C", "anomaly_events", {"expr": "node_cpu_utilisation", "history": "3d"}),
        target("D", "forecast", {"expr": "abs(node_cpu_utilisation)"}),
    ])
    response = client.post("/grafana/query", json=body)
    assert response.status_code == 200
    return response.get_json()


def by_ref(frames, ref_id):
    return [f for f in frames if f["refId"] == ref_id]


def display_names(frame):
    return [f["displayName"] for f in frame["fields"]]


def test_one_series_forecast_has_the_names_a_band_override_needs(grafana, answer):
    frames = by_ref(grafana(answer)["query"], "A")
    assert [f["name"] for f in frames] == ["actual", "yhat", "yhat_lower", "yhat_upper"]
    for frame in frames:
        time, value = frame["fields"]
        assert time["type"] == "time" and value["type"] == "number"
        assert value["displayName"] == frame["name"]
    ours = by_ref(answer, "A")
    assert frames[3]["length"] == len(ours[3]["datapoints"])
    assert frames[3]["fields"][1]["last"] == ours[3]["datapoints"][-1][0]
    assert frames[3]["fields"][0]["last"] == ours[3]["datapoints"][-1][1]


def test_several_series_are_told_apart_by_legend(grafana, answer):
    frames = by_ref(grafana(answer)["query"], "B")
    names = [display_names(f)[1] for f in frames]
    assert names[:4] == ["10.0.0.1:9100 actual", "10.0.0.1:9100 yhat_lower", "10.0.0.1:9100 yhat_upper",
                         "10.0.0.1:9100 anomaly_score"]
    assert len(names) == len(set(names)) == 4 * len(NODES)


def test_anomaly_events_become_annotation_fields(grafana, answer):
    (frame,) = by_ref(grafana(answer)["query"], "C")
    fields = {f["name"]: f["type"] for f in frame["fields"]}
    assert fields == {"time": "time", "timeEnd": "time", "title": "string", "text": "string", "tags": "string"}
    assert frame["length"] == len(by_ref(answer, "C")[0]["rows"]) > 0


def test_a_failing_target_keeps_its_notice(grafana, answer):
    (frame,) = by_ref(grafana(answer)["query"], "D")
    (notice,) = frame["meta"]["notices"]
    assert notice["severity"] == "error" and "real Prometheus" in notice["text"]
    assert frame["length"] == 0


def test_variable_answers_become_the_options_we_meant(client, grafana):
    payload = {"target": "label_values", "label": "instance", "expr": "node_cpu_utilisation"}
    variable = client.post("/grafana/variable", json=variable_request(payload)).get_json()
    options = grafana([], variable)["variable"]
    assert options == [{"text": v, "value": v} for v in sorted(NODES)]
