"""Grafana's request parsing: lenient about shapes Grafana really sends, clear about everything else."""

from __future__ import annotations

import pandas as pd
import pytest

from contract.grafana_requests import NOW, query_request, target
from promcast.errors import InputError
from promcast.service.request import (MAX_DATA_POINTS, Payload, capped_duration, parse_interval, parse_json_body,
                                      parse_query_request)


def test_a_full_grafana_request_parses():
    body = query_request([target("A", "forecast", {"expr": "up"}), target("B", "anomalies", {"expr": "up"}, hide=True)],
                         max_points="800", interval_ms="60000",
                         filters=[{"key": "job", "operator": "=", "value": "node"}])
    parsed = parse_query_request(body)
    assert parsed.end == NOW and parsed.start == NOW - pd.Timedelta("2D")
    assert parsed.max_points == 800 and parsed.min_step == pd.Timedelta("1min")
    assert [(t.ref_id, t.target, t.hide) for t in parsed.targets] == [("A", "forecast", False), ("B", "anomalies", True)]
    assert parsed.targets[0].payload().text("expr") == "up"
    assert [str(m) for m in parsed.matchers] == ['job="node"']


def test_older_plugins_adhoc_filters_and_data_keys_are_understood():
    body = query_request([{"refId": "A", "target": "forecast", "data": {"expr": "up"}}],
                         adhocFilters=[{"key": "job", "operator": "=", "value": "x"}])
    del body["filters"]
    parsed = parse_query_request(body)
    assert parsed.targets[0].payload().text("expr") == "up" and len(parsed.matchers) == 1


def test_huge_max_data_points_is_capped_with_a_notice():
    parsed = parse_query_request(query_request([target("A", "forecast", {})], max_points=10**7))
    assert parsed.max_points == MAX_DATA_POINTS
    assert "capped" in parsed.notices[0]["text"] and parsed.notices[0]["severity"] == "warning"


@pytest.mark.parametrize("overrides, message", [
    ({"maxDataPoints": 0}, "maxDataPoints"),
    ({"maxDataPoints": "many"}, "maxDataPoints"),
    ({"maxDataPoints": 2.5}, "whole number"),
    ({"intervalMs": -1}, "intervalMs"),
    ({"targets": []}, "targets is empty"),
    ({"targets": "forecast"}, "missing targets"),
    ({"targets": ["forecast"]}, "targets[0]"),
    ({"range": None}, "missing range"),
    ({"range": {"from": "yesterday-ish", "to": "2024-06-10T12:00:00Z"}}, "range.from"),
    ({"range": {"from": "2024-06-10T12:00:00Z", "to": "2024-06-09T12:00:00Z"}}, "before range.from"),
    ({"range": {"from": "0001-01-01T00:00:00Z", "to": "2024-06-09T12:00:00Z"}}, "range.from"),
    ({"filters": {"key": "job"}}, "filters"),
])
def test_bad_requests_name_the_field(overrides, message):
    body = query_request([target("A", "forecast", {})])
    body.update(overrides)
    with pytest.raises(InputError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_query_request(body)


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2", b"\xff\xfe"])
def test_malformed_json_is_an_input_error(raw):
    with pytest.raises(InputError, match="malformed JSON"):
        parse_json_body(raw)


def test_payload_as_object_or_string_and_values_as_strings():
    for raw in ({"sensitivity": "2.5", "history": "7d"}, '{"sensitivity": 2.5, "history": "7d"}'):
        payload = Payload.parse(raw)
        assert payload.number("sensitivity", 3, low=0, high=10, hint="") == 2.5
        assert payload.duration("history", "14d") == pd.Timedelta("7D")
    assert Payload.parse("").data == {} and Payload.parse(None).data == {}
    assert Payload.parse({"model": ["mad"]}).text("model") == "mad"  # a multi-select with one value


@pytest.mark.parametrize("raw, message", [("{nope", "not valid JSON"), ("[1]", "expected a JSON object")])
def test_bad_payloads(raw, message):
    with pytest.raises(InputError, match=message):
        Payload.parse(raw)


@pytest.mark.parametrize("value, expected", [(None, 0.95), ("0.8", 0.8), (90, 0.9), ("99%", 0.99)])
def test_interval_accepts_fractions_and_percentages(value, expected):
    assert parse_interval(Payload({"interval": value})) == pytest.approx(expected)


@pytest.mark.parametrize("value", ["1", "0.2", "abc", "-5"])
def test_bad_intervals(value):
    with pytest.raises(InputError, match="payload.interval"):
        parse_interval(Payload({"interval": value}))


def test_long_durations_are_capped_with_a_notice():
    notices = []
    assert capped_duration(Payload({"horizon": "10y"}), "horizon", "1d", pd.Timedelta("90D"), notices) == pd.Timedelta("90D")
    assert notices == [{"severity": "warning", "text": "horizon 10y capped to 90d, the longest horizon promcast uses"}]
    with pytest.raises(InputError, match="too short, use at least 1h"):
        capped_duration(Payload({"history": "1s"}), "history", "14d", pd.Timedelta("365D"), [], pd.Timedelta("1h"))
    with pytest.raises(InputError, match="payload.horizon"):
        capped_duration(Payload({"horizon": "soon"}), "horizon", "1d", pd.Timedelta("90D"), [])
