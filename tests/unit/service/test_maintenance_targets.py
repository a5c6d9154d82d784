"""The ``disk_exhaustion``, ``memory_leak`` and ``capacity`` targets on the demo source (whose filling
disk, leaking process and growing traffic have known answers) and on CSV files for the edge cases.

Every answer is checked against the simpod-json-datasource OpenAPI schema as well.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from contract.grafana_requests import NOW, query_request, target
from contract.openapi import errors, response_validator
from promcast.sources.base import History
from promcast.sources.files import FileSource, write_csv_histories

DISK = {"expr": "node_filesystem_avail_bytes", "size_expr": "node_filesystem_size_bytes", "history": "7d"}
MEMORY = {"expr": "process_resident_memory_bytes", "limit": "2GiB", "history": "7d"}
LOAD = {"expr": "http_requests", "capacity": "3000", "headroom": "0.2", "horizon": "14d", "history": "7d",
        "model": "holt_winters"}
PANEL = {"start": NOW - pd.Timedelta("7D"), "end": NOW + pd.Timedelta("14D")}


def ask(client, *targets, status=200, **request):
    body = query_request(list(targets), **{**PANEL, **request})
    response = client.post("/grafana/query", json=body)
    answer = response.get_json()
    assert response.status_code == status, answer
    if status == 200:
        assert errors(response_validator("/query"), answer) == []
    return answer


def table_of(answer) -> list[dict]:
    """The table (the first element) as one dict per row."""
    table = answer[0]
    assert table["type"] == "table"
    names = [c["text"] for c in table["columns"]]
    return [dict(zip(names, row)) for row in table["rows"]]


def series(answer) -> dict[str, list]:
    return {e["target"]: e["datapoints"] for e in answer if "datapoints" in e}


def ms(ts: pd.Timestamp) -> int:
    return ts.value // 1_000_000


def notices(answer) -> list[dict]:
    return [n for e in answer for n in (e.get("meta") or {}).get("notices", [])]


# ------------------------------------------------------------------------------------------ listing


def test_metrics_lists_the_maintenance_targets_with_their_payloads(client):
    listed = {m["value"]: {p["name"] for p in m["payloads"]} for m in client.post("/grafana/metrics", json={}).get_json()}
    assert {"expr", "size_expr", "size", "history"} <= listed["disk_exhaustion"]
    assert {"expr", "limit", "limit_expr", "history"} <= listed["memory_leak"]
    assert {"expr", "capacity", "headroom", "horizon", "history", "model"} <= listed["capacity"]


# --------------------------------------------------------------------------------------------- disk


def test_disk_table_puts_the_filling_disk_first_and_the_stable_ones_empty(client):
    answer = ask(client, target("A", "disk_exhaustion", DISK))
    rows = table_of(answer)
    assert [r["mountpoint"] for r in rows][0] == "/"
    root = rows[0]
    assert 4.5 <= root["days_to_full"] <= 5.5  # the demo's / is full 5 days after "now"
    assert root["days_to_full_lower"] <= root["days_to_full"] <= root["days_to_full_upper"]
    assert pd.Timestamp(root["full_at"]) == pytest.approx(NOW + pd.Timedelta(days=root["days_to_full"]),
                                                          abs=pd.Timedelta("2min"))
    for row in rows[1:]:  # /var/log rotates daily, /data is stable at 95 %: neither fills
        assert (row["days_to_full"], row["full_at"]) == ("", "")
    assert {"device", "fstype", "instance", "job", "mountpoint"} <= set(rows[0])
    assert "__name__" not in rows[0]


def test_disk_projection_reaches_the_size_at_full_at(client):
    answer = ask(client, target("A", "disk_exhaustion", DISK))
    root = table_of(answer)[0]
    drawn = series(answer)
    prefix = '{device="/dev/nvme0n1p2",fstype="ext4",mountpoint="/"}'
    used, projection, limit = (drawn[f"{prefix} {name}"] for name in ("used", "projection", "limit"))
    size = 100 * 2**30
    assert {v for v, _t in limit} == {size}
    assert projection[0] == used[-1]  # the projection starts at the last sample
    assert projection[-1][0] == size  # it ends on the size, at full_at (which the table rounds to seconds)
    assert projection[-1][1] == pytest.approx(ms(pd.Timestamp(root["full_at"])), abs=1000)
    assert all(ms(PANEL["start"]) <= t <= ms(NOW) for _v, t in used)
    assert all(len(points) <= 1000 for points in drawn.values())


def test_disk_in_the_past_predicts_from_the_history_before_the_panel_end(client):
    end = NOW - pd.Timedelta("2D")
    answer = ask(client, target("A", "disk_exhaustion", DISK), start=end - pd.Timedelta("5D"), end=end)
    assert 6.5 <= table_of(answer)[0]["days_to_full"] <= 7.5  # two days earlier, two more days to go


def test_ad_hoc_filters_apply_to_the_size_expression_too(client):
    answer = ask(client, target("A", "disk_exhaustion", DISK),
                 filters=[{"key": "mountpoint", "operator": "=", "value": "/data"}])
    (row,) = table_of(answer)
    assert row["mountpoint"] == "/data"
    assert set(series(answer)) == {"used", "projection", "limit"}  # one series: plain names
    assert {v for v, _t in series(answer)["limit"]} == {2 * 2**40}


def test_disk_size_as_a_number(client):
    payload = {"expr": 'node_filesystem_avail_bytes{mountpoint="/"}', "size": "100GiB", "history": "7d"}
    (row,) = table_of(ask(client, target("A", "disk_exhaustion", payload)))
    assert 4.5 <= row["days_to_full"] <= 5.5


# ------------------------------------------------------------------------------------------- memory


def test_memory_table_lists_the_leak_first_with_time_to_oom(client):
    answer = ask(client, target("A", "memory_leak", MEMORY))
    rows = table_of(answer)
    assert [(r["job"], r["is_leak"]) for r in rows] == [("api", "true"), ("billing", "false"), ("worker", "false")]
    assert 60 <= rows[0]["time_to_oom_hours"] <= 84  # the demo's api is OOM-killed 3 days after "now"
    assert [r["time_to_oom_hours"] for r in rows[1:]] == ["", ""]
    projection = series(answer)['{instance="api-1:8080",job="api"} projection']
    assert projection[-1][0] == 2**31  # it ends on the limit
    assert projection[-1][1] == pytest.approx(ms(NOW + pd.Timedelta(hours=rows[0]["time_to_oom_hours"])), abs=60_000)


def test_memory_limit_in_bytes_and_with_a_unit_agree(client):
    in_bytes = ask(client, target("A", "memory_leak", {**MEMORY, "limit": 2147483648}))
    with_unit = ask(client, target("A", "memory_leak", MEMORY))
    assert table_of(in_bytes) == table_of(with_unit)


def test_memory_limit_expr_gives_the_limit_line(client):
    payload = {"expr": 'process_resident_memory_bytes{job="api"}', "history": "7d",
               "limit_expr": 'node_memory_MemTotal_bytes{instance="node-1:9100"}'}
    answer = ask(client, target("A", "memory_leak", payload))
    (row,) = table_of(answer)
    assert row["time_to_oom_hours"] == "" or row["time_to_oom_hours"] > 24 * 7  # 16 GiB is far away
    assert {v for v, _t in series(answer)["limit"]} == {16 * 2**30}


# ----------------------------------------------------------------------------------------- capacity


def test_capacity_plan_with_prophet_by_default(client):
    payload = {k: v for k, v in LOAD.items() if k != "model"}
    answer = ask(client, target("A", "capacity", payload))
    (row,) = table_of(answer)
    assert row["job"] == "frontend"
    assert row["recommended_capacity"] == pytest.approx(row["peak_forecast"] * 1.2, rel=1e-4)
    # weekday peaks near 3,600/s are already above 3000 * (1 - 0.2): scale up now
    assert pd.Timestamp(row["scale_up_date"]) <= NOW
    drawn = series(answer)
    assert set(drawn) == {"load", "projection", "upper projection", "limit"}
    assert {v for v, _t in drawn["limit"]} == {2400}
    assert drawn["projection"][-1][1] == ms(NOW + pd.Timedelta("14D"))
    assert all(lo <= hi + 1e-9 for (lo, _), (hi, _) in zip(drawn["projection"], drawn["upper projection"]))


def test_capacity_without_a_crossing_has_no_scale_up_date(client):
    (row,) = table_of(ask(client, target("A", "capacity", {**LOAD, "capacity": "50k"})))
    assert row["scale_up_date"] == ""
    assert row["peak_forecast"] < 40_000


def test_capacity_costs_and_scale_down_with_a_unit_cost(client):
    (row,) = table_of(ask(client, target("A", "capacity", {**LOAD, "capacity": "50k", "unit_cost": "2",
                                                              "cost_period": "30d"})))
    assert row["current_cost"] == pytest.approx(100_000)
    assert row["monthly_delta"] == pytest.approx(row["recommended_cost"] - 100_000, abs=0.02)
    assert row["monthly_delta"] < 0
    assert isinstance(row["scale_down_date"], str) and pd.Timestamp(row["scale_down_date"]) <= NOW
    (plain,) = table_of(ask(client, target("A", "capacity", LOAD)))
    assert plain["current_cost"] == "" and plain["scale_down_date"] == ""


def test_capacity_is_fitted_once_for_the_table_and_the_projection_panel(make_client):
    client = make_client()
    cache = client.application.extensions["promcast.cache"]
    first = ask(client, target("A", "capacity", LOAD))
    second = ask(client, target("A", "capacity", LOAD), max_points=500)
    assert len(cache) == 1
    assert table_of(first) == table_of(second)


# ------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize("name, payload, message", [
    ("disk_exhaustion", {"expr": "node_filesystem_avail_bytes"}, "payload.size or payload.size_expr is required"),
    ("disk_exhaustion", {**DISK, "size": "1TiB"}, "not both"),
    ("disk_exhaustion", {**DISK, "history": "2h"}, "too short, use at least 1d"),
    ("memory_leak", {"expr": "process_resident_memory_bytes"}, "payload.limit or payload.limit_expr is required"),
    ("memory_leak", {**MEMORY, "limit": "two gigs"}, "bad payload.limit"),
    ("memory_leak", {**MEMORY, "limit": "-1"}, "bad payload.limit"),
    ("capacity", {"expr": "http_requests"}, "payload.capacity is required"),
    ("capacity", {**LOAD, "headroom": "1.5"}, "bad payload.headroom"),
    ("capacity", {**LOAD, "model": "iforest"}, "does not forecast"),
    ("capacity", {**LOAD, "model": "nope"}, "unknown model"),
    ("capacity", {**LOAD, "horizon": "soon"}, "payload.horizon"),
    ("capacity", {**LOAD, "unit_cost": "-3"}, "bad payload.unit_cost"),
    ("memory_leak", {**MEMORY, "expr": "process_resident_memory_bytes{"}, ""),
])
def test_bad_payloads_are_400_naming_what_to_fix(client, name, payload, message):
    answer = ask(client, target("A", name, payload), status=400)
    assert message in answer["error"]["message"]


def test_a_bad_target_is_a_notice_beside_good_ones(client):
    answer = ask(client, target("A", "memory_leak", MEMORY), target("B", "capacity", {"expr": "http_requests"}))
    (error,) = [n for n in notices(answer) if n["severity"] == "error"]
    assert "payload.capacity is required" in error["text"]
    assert table_of(answer)[0]["job"] == "api"


def test_nothing_selected_is_an_info_notice(client):
    answer = ask(client, target("A", "memory_leak", {**MEMORY, "expr": "no_such_metric"}))
    assert [n["severity"] for n in notices(answer)] == ["info"]
    assert "no series match no_such_metric" in notices(answer)[0]["text"]


# ------------------------------------------------------------------------- edge cases from CSV files


def _csv_client(make_client, tmp_path, histories):
    path = tmp_path / "mem.csv"  # a file with one series names it after the file
    write_csv_histories(path, histories)
    return make_client(source=FileSource(path))


def _memory_history(job: str, values: np.ndarray, end: pd.Timestamp) -> History:
    index = pd.date_range(end=end, periods=len(values), freq="5min", tz="UTC")
    return History({"__name__": "mem", "job": job}, pd.Series(values, index=index, dtype=float))


def test_a_series_that_cannot_be_predicted_is_listed_last_with_its_error(make_client, tmp_path):
    end = pd.Timestamp("2024-05-01T00:00:00Z")
    n = 2 * 288
    leak = 500e6 + 1e6 * np.arange(n) + 50e6 * (np.arange(n) % 6) / 6
    broken = np.full(n, 400e6)
    broken[100] = -1.0  # a negative sample: not memory in use
    client = _csv_client(make_client, tmp_path, [_memory_history("leaky", leak, end),
                                                 _memory_history("broken", broken, end)])
    answer = ask(client, target("A", "memory_leak", {"expr": "mem", "limit": "2GB", "history": "2d"}),
                 start=end - pd.Timedelta("2D"), end=end)
    rows = table_of(answer)
    assert [r["job"] for r in rows] == ["leaky", "broken"]
    assert rows[0]["is_leak"] == "true" and rows[0]["error"] == ""
    assert "negative values" in rows[1]["error"] and rows[1]["is_leak"] == ""
    assert any(n["severity"] == "warning" and "negative values" in n["text"] for n in notices(answer))
    assert not any("broken" in name for name in series(answer))  # no projection for it


def test_when_every_series_fails_the_target_fails_with_a_clear_message(make_client, tmp_path):
    end = pd.Timestamp("2024-05-01T00:00:00Z")
    short = _memory_history("short", np.linspace(1e8, 2e8, 24), end)  # two hours
    client = _csv_client(make_client, tmp_path, [short])
    answer = ask(client, target("A", "memory_leak", {"expr": "mem", "limit": "2GB", "history": "1d"}), status=400,
                 start=end - pd.Timedelta("1D"), end=end)
    assert "needs at least 12h" in answer["error"]["message"]
    assert answer["error"]["message"].startswith("mem: ")


def test_a_constant_series_is_not_a_leak(make_client, tmp_path):
    end = pd.Timestamp("2024-05-01T00:00:00Z")
    client = _csv_client(make_client, tmp_path, [_memory_history("flat", np.full(2 * 288, 3e8), end)])
    answer = ask(client, target("A", "memory_leak", {"expr": "mem", "limit": "2GB", "history": "2d"}),
                 start=end - pd.Timedelta("2D"), end=end)
    (row,) = table_of(answer)
    assert (row["is_leak"], row["time_to_oom_hours"]) == ("false", "")
    assert {v for v, _t in series(answer)["projection"]} == {3e8}


# ---------------------------------------------------------------------------------------------- rightsize
RIGHTSIZE = {"history": "7d", "horizon": "30d", "cpu_cost": "23", "memory_cost": "3.2"}


def test_rightsize_lists_risks_first_then_savings(client):
    (row, *rest) = rows = table_of(ask(client, target("A", "rightsize", RIGHTSIZE)))
    assert len(rows) == 6
    risky = [r for r in rows if r["risk_now"] != "none"]
    assert {r["workload"] for r in risky} == {"deployment/search", "statefulset/cart-redis"}
    assert rows[: len(risky)] == risky
    calm = rows[len(risky):]
    assert [r["monthly_delta"] for r in calm] == sorted(r["monthly_delta"] for r in calm)
    assert calm[0]["workload"] in {"deployment/frontend", "deployment/reporting"}
    frontend = next(r for r in rows if r["workload"] == "deployment/frontend")
    assert frontend["pods"] == 3 and frontend["memory_request"] == 2**30
    assert frontend["recommended_memory_request"] < 2**28 and frontend["monthly_delta"] < 0


def test_rightsize_top_namespace_and_ad_hoc_filters(client):
    assert len(table_of(ask(client, target("A", "rightsize", {**RIGHTSIZE, "top": "2"})))) == 2
    assert {r["namespace"] for r in table_of(ask(client, target("A", "rightsize", {**RIGHTSIZE, "namespace": "data"})))} \
        == {"data"}
    filtered = ask(client, target("A", "rightsize", RIGHTSIZE),
                   filters=[{"key": "namespace", "operator": "=", "value": "monitoring"}])
    assert {r["namespace"] for r in table_of(filtered)} == {"monitoring"}


@pytest.mark.parametrize("payload,message", [
    ({"cpu_cost": "23"}, "payload.memory_cost"),
    ({"cpu_cost": "x", "memory_cost": "1"}, "payload.cpu_cost"),
    ({"horizon": "soon"}, "payload.horizon"),
])
def test_rightsize_bad_payloads_are_400(client, payload, message):
    answer = ask(client, target("A", "rightsize", payload), status=400)
    assert message in answer["error"]["message"]
