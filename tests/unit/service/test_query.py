"""``/grafana/query`` on the demo source, with requests shaped exactly like Grafana's."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from contract.grafana_requests import NOW, query_request, target
from promcast.sources.demo import NODES

CPU1 = 'node_cpu_utilisation{instance="node-1:9100"}'
FIELDS = ["actual", "yhat", "yhat_lower", "yhat_upper"]


def post(client, body):
    response = client.post("/grafana/query", json=body)
    return response, response.get_json()


def points(frame) -> np.ndarray:
    return np.asarray(frame["datapoints"], dtype=float).reshape(-1, 2)


def ms(ts: pd.Timestamp) -> int:
    return int(ts.value // 1_000_000)


def test_forecast_of_one_series_has_exact_names_and_extends_past_the_range(client):
    body = query_request([target("A", "forecast", {"expr": CPU1, "horizon": "1d", "history": "7d"})], max_points=500)
    response, frames = post(client, body)
    assert response.status_code == 200
    assert [f["target"] for f in frames] == FIELDS and {f["refId"] for f in frames} == {"A"}
    series = {f["target"]: points(f) for f in frames}
    assert all(0 < len(p) <= 500 for p in series.values())
    actual, yhat = series["actual"], series["yhat"]
    assert actual[:, 1].min() >= ms(NOW - pd.Timedelta("2D")) and actual[:, 1].max() <= ms(NOW)
    assert yhat[:, 1].max() > ms(NOW + pd.Timedelta("23h"))  # a day past range.to
    assert yhat[:, 1].min() < ms(NOW - pd.Timedelta("1D"))  # and over the visible range
    assert (series["yhat_lower"][:, 0] <= yhat[:, 0]).all() and (yhat[:, 0] <= series["yhat_upper"][:, 0]).all()
    assert 0.0 < np.median(actual[:, 0]) < 1.0  # a CPU ratio, not garbage


def test_several_series_are_named_by_legend(client):
    payload = {"expr": "node_cpu_utilisation", "history": "3d"}
    _, frames = post(client, query_request([target("A", "forecast", payload)]))
    names = [f["target"] for f in frames]
    assert names[:4] == [f'{{instance="10.0.0.1:9100"}} {name}' for name in FIELDS] and len(names) == 4 * len(NODES)
    _, frames = post(client, query_request([target("A", "forecast", {**payload, "legend": "{{instance}}"})]))
    assert [f["target"] for f in frames][4:8] == [f"db-2.example.com:9100 {name}" for name in FIELDS]


@pytest.mark.parametrize("max_points", [1, 7, 50, "300"])
def test_no_series_exceeds_max_data_points(client, max_points):
    body = query_request([target("A", "forecast", {"expr": CPU1, "history": "3d", "horizon": "2d"}),
                          target("B", "anomalies", {"expr": CPU1, "history": "3d"})],
                         max_points=max_points, interval_ms=1000)
    response, frames = post(client, body)
    assert response.status_code == 200
    assert all(0 < len(f["datapoints"]) <= int(max_points) for f in frames)


def test_anomalies_score_the_demo_spike(client, demo):
    spike = next(a for a in demo.anomalies if a.kind == "spike" and a.start > NOW - pd.Timedelta("2D"))
    instance = spike.labels["instance"]
    body = query_request([target("A", "anomalies", {"expr": f'node_cpu_utilisation{{instance="{instance}"}}',
                                                    "sensitivity": "3", "history": "7d"}, as_string=False)],
                         max_points=2000, interval_ms=60_000)
    response, frames = post(client, body)
    assert response.status_code == 200
    assert [f["target"] for f in frames] == ["actual", "yhat_lower", "yhat_upper", "anomaly_score"]
    score = points(frames[3])
    assert ((score[:, 0] >= 0) & (score[:, 0] <= 1)).all()
    during = (score[:, 1] >= ms(spike.start)) & (score[:, 1] < ms(spike.end))
    assert score[during, 0].max() > 0.999
    assert np.median(score[~during, 0]) < 0.9


def test_anomaly_events_are_annotation_rows_covering_the_spike(client, demo):
    spike = next(a for a in demo.anomalies if a.kind == "spike" and a.start > NOW - pd.Timedelta("2D"))
    body = query_request([target("A", "anomaly_events", {"expr": "node_cpu_utilisation", "history": "7d",
                                                         "sensitivity": 4})])
    response, frames = post(client, body)
    assert response.status_code == 200
    (table,) = frames
    assert table["type"] == "table" and table["refId"] == "A"
    assert [c["text"] for c in table["columns"]] == ["time", "timeEnd", "title", "text", "tags"]
    assert [c["type"] for c in table["columns"]] == ["time", "time", "string", "string", "string"]
    rows = table["rows"]
    assert rows == sorted(rows, key=lambda r: r[0]) and all(r[0] <= r[1] for r in rows)
    hits = [r for r in rows if r[0] <= ms(spike.end) and r[1] >= ms(spike.start) and spike.labels["instance"] in r[2]]
    assert hits, rows
    assert hits[0][4].split(",")[:2] == ["promcast", "anomaly"] and "peak score" in hits[0][3]


def test_one_failing_target_does_not_break_the_others(client):
    body = query_request([target("A", "forecast", {"expr": CPU1, "history": "3d"}),
                          target("B", "forecast", {"expr": "abs(node_cpu_utilisation)"}),
                          target("C", "nope", {})])
    response, frames = post(client, body)
    assert response.status_code == 200
    assert [f["target"] for f in frames if f["refId"] == "A"] == FIELDS
    errors = {f["refId"]: f["meta"]["notices"] for f in frames if f["refId"] != "A"}
    assert errors["B"][0]["severity"] == "error" and "real Prometheus" in errors["B"][0]["text"]
    assert "unknown target 'nope'" in errors["C"][0]["text"]
    assert all(f["datapoints"] == [] for f in frames if f["refId"] != "A")


@pytest.mark.parametrize("payload, name, status, code, needle", [
    ({"expr": "sum(rate(x[5m]"}, "forecast", 400, "bad_query", "bad PromQL"),
    ({"expr": "up", "model": "crystal_ball"}, "forecast", 400, "unknown_name", "unknown model 'crystal_ball'"),
    ({"expr": "up", "history": "two weeks"}, "anomalies", 400, "bad_input", "payload.history"),
    ({"expr": "up", "history": "5m"}, "anomaly_events", 400, "bad_input", "too short"),
    ({"expr": "up", "horizon": "-1d"}, "forecast", 400, "bad_input", "payload.horizon"),
    ({"expr": "up", "sensitivity": "0"}, "anomalies", 400, "bad_input", "payload.sensitivity"),
    ({}, "forecast", 400, "bad_input", "payload.expr is required"),
    ({"expr": "up"}, "unknown_target", 400, "unknown_name", "unknown target"),
    ({"expr": "up"}, None, 400, "unknown_name", "missing target"),
    ("{not json", "forecast", 400, "bad_input", "payload"),
])
def test_when_every_target_fails_the_request_fails_with_its_error(client, payload, name, status, code, needle):
    response, body = post(client, query_request([target("A", name, payload)]))
    assert response.status_code == status
    assert body["error"]["code"] == code and needle in body["error"]["message"]


def test_several_failures_are_reported_together(client):
    body = query_request([target("A", "forecast", {"expr": "up", "model": "nope"}),
                          target("B", "nope", {})])
    response, answer = post(client, body)
    assert response.status_code == 400
    assert answer["error"]["message"].startswith("A: unknown model 'nope'") and "; B: unknown target" in answer["error"]["message"]


def test_a_ten_year_horizon_is_capped_with_a_notice(client):
    body = query_request([target("A", "forecast", {"expr": CPU1, "horizon": "10y", "history": "3d"})], max_points=300)
    response, frames = post(client, body)
    assert response.status_code == 200
    assert "horizon 10y capped to 90d" in frames[0]["meta"]["notices"][0]["text"]
    yhat = points(frames[1])
    assert len(yhat) <= 300 and yhat[:, 1].max() > ms(NOW + pd.Timedelta("85D"))
    assert yhat[:, 1].max() <= ms(NOW + pd.Timedelta("90D"))


def test_max_data_points_over_the_cap_gives_a_notice(client):
    body = query_request([target("A", "anomalies", {"expr": CPU1, "history": "3d"})], max_points=10**7)
    response, frames = post(client, body)
    assert response.status_code == 200
    assert "maxDataPoints 10000000 capped" in frames[0]["meta"]["notices"][0]["text"]


def test_ad_hoc_filters_select_series(client):
    filters = [{"key": "instance", "operator": "=", "value": "node-2:9100", "condition": ""},
               {"key": "job", "operator": "=~", "value": "no.e"}]
    body = query_request([target("A", "forecast", {"expr": "node_cpu_utilisation", "history": "3d"})], filters=filters)
    response, frames = post(client, body)
    assert response.status_code == 200
    assert [f["target"] for f in frames] == FIELDS  # one series left: exact names


def test_hidden_targets_are_skipped_and_unknown_keys_ignored(client):
    body = query_request([target("A", "forecast", {"expr": CPU1}, hide=True)], somethingNew={"x": 1})
    response, frames = post(client, body)
    assert response.status_code == 200 and frames == []


def test_no_matching_series_is_an_informative_empty_answer(client):
    response, frames = post(client, query_request([target("A", "forecast", {"expr": "does_not_exist"})]))
    assert response.status_code == 200
    assert frames[0]["datapoints"] == [] and "no series match does_not_exist" in frames[0]["meta"]["notices"][0]["text"]


def test_a_range_in_the_past_fits_on_history_before_it(client):
    end = NOW - pd.Timedelta("5D")
    body = query_request([target("A", "forecast", {"expr": CPU1, "history": "3d"})], start=end - pd.Timedelta("1D"), end=end)
    assert client.post("/grafana/query", json=body).status_code == 200
    cache = client.application.extensions["promcast.cache"]
    (entry,) = cache._entries.values()
    assert entry.model.last_timestamp_ <= end


def test_refreshes_reuse_the_fit_and_metrics_count_it(client):
    body = query_request([target("A", "forecast", {"expr": CPU1, "history": "3d"}),
                          target("B", "anomalies", {"expr": CPU1, "history": "3d"})])
    first = client.post("/grafana/query", json=body).get_data()
    second = client.post("/grafana/query", json=body).get_data()
    assert first == second
    text = client.get("/metrics").get_data(as_text=True)
    assert "promcast_model_cache_misses_total 1.0" in text  # forecast and anomalies share one fit
    assert "promcast_model_cache_hits_total 3.0" in text
    assert 'promcast_model_fit_duration_seconds_count{model="mad"} 1.0' in text
    assert 'promcast_model_fits_total{model="mad",outcome="ok"} 1.0' in text


def test_concurrent_panels_share_one_fit(make_client):
    import threading

    client = make_client(models_default="holt_winters")
    body = query_request([target("A", "forecast", {"expr": CPU1, "history": "7d"})])
    statuses = []
    threads = [threading.Thread(target=lambda: statuses.append(client.post("/grafana/query", json=body).status_code))
               for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 6
    text = client.get("/metrics").get_data(as_text=True)
    assert 'promcast_model_fits_total{model="holt_winters",outcome="ok"} 1.0' in text
    assert "promcast_model_cache_hits_total 5.0" in text


@pytest.mark.parametrize("sensitivity", ["0.5", "8"])
def test_extreme_sensitivities_still_give_a_band(client, sensitivity):
    body = query_request([target("A", "anomalies", {"expr": CPU1, "history": "3d", "sensitivity": sensitivity})])
    response, frames = post(client, body)
    assert response.status_code == 200
    lower, upper = points(frames[1]), points(frames[2])
    assert len(lower) and (lower[:, 0] <= upper[:, 0]).all()


def test_anomaly_panels_use_the_configured_ensemble_score_members(make_client, demo):
    """``models.ensemble_score_weights`` reaches the ensembles the service fits: naming the default member
    explicitly gives the default's scores, another member gives other scores."""
    spike = next(a for a in demo.anomalies if a.kind == "spike" and a.start > NOW - pd.Timedelta("2D"))
    body = query_request([target("A", "anomalies", {"expr": f'node_cpu_utilisation{{instance="{spike.labels["instance"]}"}}',
                                                    "history": "3d", "model": "ensemble"}, as_string=False)],
                         max_points=500, interval_ms=60_000)

    def scores(**env):
        response, frames = post(make_client(models_ensemble_weights='{"mad": 1}', **env), body)
        assert response.status_code == 200, frames
        return points(frames[-1])[:, 0]

    default = scores()
    np.testing.assert_array_equal(scores(models_ensemble_score_weights='{"cad_ose": 1}'), default)
    assert not np.array_equal(scores(models_ensemble_score_weights='{"mad": 1}'), default)
