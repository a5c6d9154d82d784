"""PrometheusSource: window arithmetic, and HTTP behaviour against a tiny real HTTP server.

The server is ``http.server`` on 127.0.0.1 in a thread: scripted answers (503 then 200, 400, a slow
answer...) let the retry, error and timeout paths run over real sockets. What a real Prometheus
answers is covered in ``tests/integration``.
"""

from __future__ import annotations

import base64
import json
import logging
import time

import numpy as np
import pandas as pd
import pytest

from fake_prometheus import FakePrometheus
from promcast.errors import BadQueryError, ConfigError, InputError, UpstreamError, UpstreamTimeout
from promcast.sources.prometheus import (
    MIN_POINTS_PER_REQUEST,
    PrometheusSource,
    align_range,
    decode_query_response,
    format_seconds,
    plan_windows,
    too_large,
)

MIN = 60_000  # one minute in ms


# --------------------------------------------------------------------------- window arithmetic


def points(windows, step):
    return [t for first, last in windows for t in range(first, last + 1, step)]


def test_thirty_days_at_one_minute_is_five_windows_covering_each_point_once():
    start = 1_700_000_000_000 - 1_700_000_000_000 % MIN
    end = start + 30 * 86_400_000
    windows = plan_windows(start, end, MIN, 10_000)
    assert [(last - first) // MIN + 1 for first, last in windows] == [10_000] * 4 + [3_201]
    assert points(windows, MIN) == list(range(start, end + 1, MIN))
    for (_, last), (nxt, _) in zip(windows, windows[1:]):
        assert nxt == last + MIN  # no duplicate, no gap


def test_start_and_end_are_floored_to_the_step():
    assert align_range(90_500, 310_999, MIN) == (60_000, 300_000)
    assert plan_windows(90_500, 310_999, MIN) == [(60_000, 300_000)]


def test_range_inside_one_step_is_one_point():
    assert plan_windows(61_000, 119_000, MIN) == [(60_000, 60_000)]


@pytest.mark.parametrize("seed", range(5))
def test_random_ranges_cover_every_aligned_point_once(seed):
    rng = np.random.default_rng(seed)
    step = int(rng.choice([1, 15_000, MIN, 3_600_000, 7_000]))
    start = int(rng.integers(0, 10**12))
    end = start + int(rng.integers(0, 500)) * step + int(rng.integers(0, step))
    max_points = int(rng.integers(1, 60))
    windows = plan_windows(start, end, step, max_points)
    first, last = align_range(start, end, step)
    assert points(windows, step) == list(range(first, last + 1, step))
    assert all((b - a) // step + 1 <= max_points for a, b in windows)


def test_end_before_start_is_an_input_error():
    with pytest.raises(InputError, match="end is before the start"):
        plan_windows(120_000, 60_000, MIN)


def test_seconds_formatting():
    assert format_seconds(1_700_000_000_000) == "1700000000"
    assert format_seconds(1_700_000_000_500) == "1700000000.5"
    assert format_seconds(15) == "0.015"


# --------------------------------------------------------------------------- decoding


def matrix(*series):
    result = [{"metric": labels, "values": values} for labels, values in series]
    return {"status": "success", "data": {"resultType": "matrix", "result": result}}


def decoded_points(body: bytes):
    """(labels, timestamps, values) per series, whichever way the decoder took."""
    out = []
    for item in decode_query_response(body)["data"]["result"]:
        values = item["values"]
        if not isinstance(values, tuple):
            values = (np.array([p[0] for p in values], float), np.array([float(p[1]) for p in values]))
        out.append((item["metric"], values[0].tolist(), values[1].tolist()))
    return out


TRICKY = matrix(
    ({"__name__": "m", "note": 'a "values":[[1,"2"]] trap', "path": "C:\\"}, [[1.5, "NaN"], [2, "+Inf"], [3, "-Inf"]]),
    ({"values": "x"}, [[1700000000.123, "1e-300"]]),
    ({}, [[4, "1.7976931348623157e+308"], [5, "-0"], [6, "0.1"]]),
)


@pytest.mark.parametrize(
    "body",
    [
        json.dumps(TRICKY, separators=(",", ":")).encode(),  # Prometheus's layout: the fast path
        json.dumps(TRICKY, indent=1).encode(),  # any other layout: plain json
        json.dumps(matrix(({"a": "1"}, []), ({"a": "2"}, [[1, "3"]])), separators=(",", ":")).encode(),
    ],
)
def test_decoder_matches_plain_json(body):
    plain = [
        (item["metric"], [float(p[0]) for p in item["values"]], [float(p[1]) for p in item["values"]])
        for item in json.loads(body)["data"]["result"]
    ]
    got = decoded_points(body)
    assert [g[0] for g in got] == [p[0] for p in plain]
    for (_, t1, v1), (_, t2, v2) in zip(got, plain):
        assert t1 == t2
        np.testing.assert_array_equal(v1, v2)


def test_decoder_uses_numpy_arrays_for_prometheus_layout():
    body = json.dumps(TRICKY, separators=(",", ":")).encode()
    assert all(isinstance(i["values"], tuple) for i in decode_query_response(body)["data"]["result"])


def test_decoder_falls_back_when_values_are_not_numbers():
    body = b'{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"abc"]]}]}}'
    assert decode_query_response(body)["data"]["result"][0]["values"] == [[1, "abc"]]


# --------------------------------------------------------------------------- a scripted HTTP server


@pytest.fixture
def fake():
    server = FakePrometheus()
    yield server
    server.close()


def source(fake, **kwargs):
    kwargs.setdefault("backoff", 0.001)
    return PrometheusSource(fake.url, **kwargs)


T0 = pd.Timestamp("2024-03-01", tz="UTC")
OK = {"status": "success", "data": {"resultType": "matrix", "result": []}}
BAD = {"status": "error", "errorType": "bad_data", "error": '1:5: parse error: unexpected "}"'}


def query(src, hours=1):
    return src.query_range("m", T0, T0 + pd.Timedelta(hours=hours), pd.Timedelta("1min"))


# --------------------------------------------------------------------------- parsing and requests


def test_windows_are_fetched_and_concatenated_per_label_set(fake):
    got = query(source(fake, max_points_per_request=7), hours=1)
    windows = [(float(r["params"]["start"]), float(r["params"]["end"])) for r in fake.requests]
    assert len(windows) == 9  # 61 points, at most 7 per window
    assert all(nxt == end + 60 for (_, end), (nxt, _) in zip(windows, windows[1:]))  # no overlap, no gap
    assert all(r["params"]["step"] == "60" for r in fake.requests)
    assert [h.labels["job"] for h in got] == ["a", "b"]  # sorted by legend
    values = got[0].values
    assert len(values) == 61 and values.index.is_unique and values.index.is_monotonic_increasing
    assert str(values.index.tz) == "UTC" and values.index[0] == T0 and values.index[-1] == T0 + pd.Timedelta("1h")
    minutes = values.index.asi8 // 60_000_000_000
    expected = np.where(minutes % 10 == 0, np.nan, np.where(minutes % 11 == 0, np.inf, minutes.astype(float)))
    np.testing.assert_array_equal(values.to_numpy(), expected)


def test_scalar_result_becomes_one_unlabelled_series(fake):
    fake.then(200, {"status": "success", "data": {"resultType": "scalar", "result": [T0.timestamp(), "2.5"]}})
    got = source(fake).query_range("2.5", T0, T0, pd.Timedelta("1min"))
    assert [dict(h.labels) for h in got] == [{}] and got[0].values.tolist() == [2.5]


def test_overlapping_or_unsorted_answers_still_give_a_sorted_unique_index(fake):
    fake.then(200, matrix(({"job": "x"}, [[T0.timestamp() + 120, "3"], [T0.timestamp(), "1"], [T0.timestamp() + 120, "3"]])))
    got = source(fake).query_range("m", T0, T0 + pd.Timedelta("2min"), pd.Timedelta("1min"))
    assert got[0].values.tolist() == [1.0, 3.0] and got[0].values.index.is_monotonic_increasing


def test_a_sample_that_is_not_a_number_is_an_upstream_error(fake):
    fake.then(200, matrix(({"job": "x"}, [[T0.timestamp(), "oops"]])))
    with pytest.raises(UpstreamError, match="not \\[time, \"number\"\\]"):
        source(fake).query_range("m", T0, T0, pd.Timedelta("1min"))


def test_short_queries_use_get_and_long_ones_a_post_form(fake):
    src = source(fake)
    query(src)
    long_expr = "sum(" + " + ".join(f'm{{job="{i:04d}"}}' for i in range(300)) + ")"
    src.query_range(long_expr, T0, T0 + pd.Timedelta("1h"), pd.Timedelta("1min"))
    assert [r["method"] for r in fake.requests] == ["GET", "POST"]
    assert fake.requests[1]["params"]["query"] == long_expr
    assert fake.requests[1]["headers"]["content-type"] == "application/x-www-form-urlencoded"


def test_auth_tenant_header_and_path_prefix_reach_the_server(fake):
    src = PrometheusSource(fake.url + "/mimir/", path_prefix="/prometheus/", bearer_token="s3cret",
                           headers={"X-Scope-OrgID": "team-a"})
    src.label_names()
    request = fake.requests[0]
    assert request["path"] == "/mimir/prometheus/api/v1/labels"
    assert request["headers"]["authorization"] == "Bearer s3cret"
    assert request["headers"]["x-scope-orgid"] == "team-a"
    assert src.description == f"Prometheus at {fake.url}/mimir"

    PrometheusSource(fake.url, basic_auth=("alice", "pw")).label_values("job", "up")
    request = fake.requests[1]
    assert request["headers"]["authorization"] == "Basic " + base64.b64encode(b"alice:pw").decode()
    assert request["path"] == "/api/v1/label/job/values" and request["params"] == {"match[]": "up"}


def test_label_listings_are_sorted(fake):
    assert source(fake).label_names() == ["a", "x"]


# --------------------------------------------------------------------------- retries and errors


def test_5xx_is_retried_then_succeeds(fake):
    fake.then(503, {"status": "error", "errorType": "unavailable", "error": "busy"}).then(502, b"bad gateway")
    assert query(source(fake, retries=3))[0].labels["job"] == "a"
    assert len(fake.requests) == 3


def test_429_is_retried(fake):
    fake.then(429, b"slow down", {"Retry-After": "0"})
    assert len(query(source(fake))) == 2 and len(fake.requests) == 2


def test_5xx_after_all_retries_names_the_status(fake):
    for _ in range(3):
        fake.then(503, {"status": "error", "errorType": "unavailable", "error": "too many queries"})
    with pytest.raises(UpstreamError, match=r"failed with HTTP 503 Service Unavailable after 3 attempts: too many queries"):
        query(source(fake, retries=2))
    assert len(fake.requests) == 3


def test_bad_data_is_a_bad_query_and_never_retried(fake):
    fake.then(400, BAD)
    with pytest.raises(BadQueryError, match=r'^bad PromQL: 1:5: parse error: unexpected "}"$'):
        query(source(fake))
    assert len(fake.requests) == 1


@pytest.mark.parametrize("status", [401, 403])
def test_auth_failures_say_to_check_credentials_without_retry(fake, status):
    fake.then(status, b"no")
    with pytest.raises(UpstreamError, match=rf"HTTP {status} .*check the credentials"):
        query(source(fake))
    assert len(fake.requests) == 1


def test_404_points_at_the_path_prefix(fake):
    fake.then(404, b"404 page not found", {"Content-Type": "text/plain"})
    with pytest.raises(UpstreamError, match="has no /api/v1/query_range .*path prefix"):
        query(source(fake))
    assert len(fake.requests) == 1


def test_html_instead_of_api_json_is_explained(fake):
    fake.then(200, b"<html>Grafana</html>", {"Content-Type": "text/html"})
    with pytest.raises(UpstreamError, match="text/html, not Prometheus API JSON: check the URL"):
        query(source(fake))


def test_slow_answer_is_a_timeout_and_not_retried(fake):
    fake.then(200, OK, delay=1.5)
    with pytest.raises(UpstreamTimeout, match=rf"^Prometheus at {fake.url} did not answer within 0.2s$"):
        query(source(fake, timeout=0.2))
    assert len(fake.requests) == 1


def test_prometheus_query_timeout_is_an_upstream_timeout(fake):
    fake.then(503, {"status": "error", "errorType": "timeout", "error": "query timed out in expression evaluation"})
    with pytest.raises(UpstreamTimeout, match="timed out evaluating the query: query timed out"):
        query(source(fake))
    assert len(fake.requests) == 1


def test_unresolvable_host_is_unreachable():
    src = PrometheusSource("http://promcast-no-such-host.invalid:9090", retries=0)
    with pytest.raises(UpstreamError, match=r"^Prometheus at http://promcast-no-such-host.invalid:9090 is unreachable: "):
        src.label_names()


# --------------------------------------------------------------------------- configuration


@pytest.mark.parametrize("url", ["localhost:9090", "ftp://x", "", "http://"])
def test_bad_url_is_a_config_error(url):
    with pytest.raises(ConfigError, match="bad Prometheus URL"):
        PrometheusSource(url)


def test_both_auth_methods_is_a_config_error():
    with pytest.raises(ConfigError, match="either a bearer token or basic auth"):
        PrometheusSource("http://x:9090", bearer_token="t", basic_auth=("u", "p"))


def test_credentials_in_the_url_stay_out_of_messages():
    assert PrometheusSource("http://bob:hunter2@prom:9090/").description == "Prometheus at http://prom:9090"


# --------------------------------------------------------------------------- stores that refuse large windows

# The refusals real stores send (texts from their sources; the VictoriaMetrics one as 1.79.5 answers it).
PROM_RESOLUTION = (400, {"status": "error", "errorType": "bad_data", "error": "exceeded maximum resolution of 11,000 "
                         "points per timeseries. Try decreasing the query resolution (?step=XX)"})
VM_POINTS = (422, {"status": "error", "errorType": "422", "error": 'error when executing query="m" on the time range '
                   "(start=1709251200000, end=1709311140000, step=60000): too many points for the given step=60000, "
                   "start=1709251200000 and end=1709311140000: 1000; cannot exceed -search.maxPointsPerTimeseries=300"})
VM_SAMPLES = (422, {"status": "error", "errorType": "422", "error": "cannot select more than -search.maxSamplesPerQuery="
                    "1000 samples; possible solutions: to increase the -search.maxSamplesPerQuery; to reduce time range "
                    "for the query; to use more specific label filters in order to select lower number of series"})
PROM_SAMPLES = (422, {"status": "error", "errorType": "execution",
                      "error": "query processing would load too many samples into memory in query execution"})
MIMIR_CHUNKS = (422, {"status": "error", "errorType": "execution", "error": "the query exceeded the maximum number of "
                      "chunks (limit: 2 chunks) (err-mimir-max-chunks-per-query). Consider reducing the time range "
                      "and/or number of series selected by the query."})
MIMIR_LENGTH = (422, {"status": "error", "errorType": "execution", "error": "the query time range exceeds the limit "
                      "(query length: 16h40m0s, limit: 5h0m0s) (err-mimir-max-query-length)"})
CORTEX_SERIES = (422, {"status": "error", "errorType": "execution",
                       "error": "the query hit the max number of series limit (limit: 10 series)"})
CORTEX_SAMPLES = (413, b"exceeded maximum number of samples in a query (100000)")
THANOS_STORE = (503, {"status": "error", "errorType": "internal", "error": "proxy Series(): rpc error: code = "
                      "ResourceExhausted desc = exceeded chunks limit: limit 100 violated (got 120)"})

REFUSALS = {"prometheus-resolution": PROM_RESOLUTION, "vm-points": VM_POINTS, "vm-samples": VM_SAMPLES,
            "prometheus-samples": PROM_SAMPLES, "mimir-chunks": MIMIR_CHUNKS, "mimir-length": MIMIR_LENGTH,
            "cortex-series": CORTEX_SERIES, "cortex-samples": CORTEX_SAMPLES, "thanos-store": THANOS_STORE}
PER_STORE = {"prometheus-resolution", "vm-points"}  # limits on points per series: the same for every query


def window_sizes(requests):
    return [round((float(r["params"]["end"]) - float(r["params"]["start"])) / 60) + 1
            for r in requests if r["path"].endswith("/query_range")]


@pytest.mark.parametrize("name", REFUSALS)
def test_a_refused_window_is_halved_until_the_store_accepts_it(fake, name, caplog):
    status, payload = REFUSALS[name]
    fake.limit = (300, status, payload)
    src = source(fake, max_points_per_request=1000, retries=3)
    with caplog.at_level(logging.INFO, logger="promcast.sources.prometheus"):
        got = query(src, hours=24)

    # 1000 and 500 refused (once each: a refusal is never retried), then 1441 points in windows of 250
    assert window_sizes(fake.requests) == [1000, 500, 250, 250, 250, 250, 250, 191]
    assert [len(h.values) for h in got] == [1441, 1441]
    minutes = got[0].values.index.asi8 // 60_000_000_000
    assert (got[0].values.index == T0 + pd.to_timedelta(np.arange(1441), unit="min")).all()
    finite = np.isfinite(got[0].values.to_numpy())
    np.testing.assert_array_equal(got[0].values.to_numpy()[finite], minutes[finite].astype(float))

    records = [r for r in caplog.records if r.name == "promcast.sources.prometheus"]
    assert len(records) == 1 and "windows of 250 points" in records[0].getMessage()
    assert records[0].levelno == (logging.WARNING if name in PER_STORE else logging.INFO)


@pytest.mark.parametrize("name", ["vm-points", "vm-samples"])
def test_only_a_points_per_series_limit_is_remembered_for_later_queries(fake, name):
    fake.limit = (300, *REFUSALS[name])
    src = source(fake, max_points_per_request=1000)
    query(src, hours=24)
    fake.requests.clear()
    query(src, hours=24)
    if name in PER_STORE:  # the store's limit: later fetches start small, with no refusal
        assert src.window_points == 250 and window_sizes(fake.requests) == [250] * 5 + [191]
    else:  # the query's limit: the next query may be lighter, so it starts at the full size again
        assert src.window_points == 1000 and window_sizes(fake.requests)[:2] == [1000, 500]


def test_gives_up_at_the_minimum_window_naming_the_limit(fake):
    fake.limit = (50, *VM_POINTS)
    with pytest.raises(UpstreamError, match=(
            rf"^Prometheus at {fake.url} refuses the query as too large even in windows of {MIN_POINTS_PER_REQUEST} "
            r"points \(HTTP 422: .*cannot exceed -search.maxPointsPerTimeseries=300\): use a larger step, "
            r"select fewer series, or raise that limit on the store$")):
        query(source(fake), hours=24)
    assert window_sizes(fake.requests) == [1441, 720, 360, 180, MIN_POINTS_PER_REQUEST]


def test_other_execution_errors_do_not_shrink(fake):
    fake.then(422, {"status": "error", "errorType": "execution", "error": "found duplicate series for the match group"})
    with pytest.raises(BadQueryError, match="could not run the query: found duplicate series"):
        query(source(fake), hours=24)
    assert len(fake.requests) == 1


@pytest.mark.parametrize("text", ["1:5: parse error: unexpected \"}\"", "query timed out in expression evaluation",
                                  "too many concurrent queries, try again later", "many-to-many matching not allowed"])
def test_unrelated_errors_are_not_taken_for_size_limits(text):
    assert too_large(text) is None


def test_tenant_header_and_path_prefix_reach_every_endpoint(fake):
    """Mimir needs ``X-Scope-OrgID`` and the ``/prometheus`` prefix on each call, not just the first."""
    src = PrometheusSource(fake.url + "/mimir", path_prefix="prometheus", headers={"X-Scope-OrgID": "team-a"},
                           max_points_per_request=30)
    query(src)  # three windows
    long_expr = "sum(" + " + ".join(f'm{{job="{i:04d}"}}' for i in range(300)) + ")"
    src.query_range(long_expr, T0, T0, pd.Timedelta("1min"))  # a POST form
    src.label_names("up")
    src.label_values("job")
    src.series("up")
    src.metric_names()
    paths = [r["path"] for r in fake.requests]
    assert paths == ["/mimir/prometheus/api/v1/query_range"] * 4 + [
        "/mimir/prometheus/api/v1/labels", "/mimir/prometheus/api/v1/label/job/values",
        "/mimir/prometheus/api/v1/series", "/mimir/prometheus/api/v1/label/__name__/values"]
    assert "POST" in [r["method"] for r in fake.requests]
    assert all(r["headers"].get("x-scope-orgid") == "team-a" for r in fake.requests)


def test_query_params_reach_every_call_from_settings(fake):
    """Thanos users send ``max_source_resolution`` and ``partial_response`` with every call."""
    from promcast.config import load_settings

    settings = load_settings(environ={
        "PROMCAST_PROMETHEUS_URL": fake.url,
        "PROMCAST_PROMETHEUS_QUERY_PARAMS": "max_source_resolution=auto,partial_response=false",
        "PROMCAST_PROMETHEUS_MAX_POINTS_PER_REQUEST": "30"})
    src = settings.source_spec().open()
    assert src.max_points_per_request == 30
    query(src)  # three windows of 30 points
    src.label_values("job")
    assert len(fake.requests) == 4
    for r in fake.requests:
        assert r["params"].get("max_source_resolution") == "auto", r
        assert r["params"].get("partial_response") == "false", r


def test_max_points_per_request_above_prometheus_limit_is_refused():
    from promcast.config import load_settings
    from promcast.errors import ConfigError

    with pytest.raises(ConfigError, match="max_points_per_request"):
        load_settings(environ={"PROMCAST_PROMETHEUS_MAX_POINTS_PER_REQUEST": "30000"})


# --------------------------------------------------------------------------- the environment, read once


def test_proxies_ca_bundle_and_netrc_come_from_the_environment_once(monkeypatch, tmp_path):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "all_proxy",
                 "no_proxy", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    netrc = tmp_path / "netrc"
    netrc.write_text("machine prom.example login netrc-user password netrc-pass\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "ca.pem"))
    session = PrometheusSource("http://prom.example:9090")._session
    assert session.trust_env is False  # requests no longer reads them on every call
    assert session.proxies["http"] == "http://proxy.example:3128"
    assert session.verify == str(tmp_path / "ca.pem")
    assert session.auth == ("netrc-user", "netrc-pass")

    assert PrometheusSource("http://prom.example:9090", basic_auth=("u", "p"))._session.auth == ("u", "p")
    monkeypatch.setenv("NO_PROXY", "prom.example")
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    monkeypatch.delenv("NETRC")
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc
    session = PrometheusSource("http://prom.example:9090")._session
    assert not session.proxies and session.verify is True and session.auth is None
