"""A misbehaving upstream (hang, slow drip, garbage, reset, 500) through the fault proxy.

Every call ends within ``prometheus.timeout`` (plus a generous margin for a loaded test machine) with a
502/504-class error; a slow upstream holds at most ``max_in_flight`` exchanges, so the server's own
endpoints keep answering while it drips. Bounds on time are only "within the timeout" bounds.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pandas as pd
import pytest
import requests

from fault_proxy import FaultProxy
from promcast.errors import UpstreamBusy, UpstreamError, UpstreamTimeout
from promcast.sources.prometheus import PrometheusSource

TIMEOUT = 1.5
#: slack for a loaded CI machine; the point is "not 150 s", not a speed figure
MARGIN = 5.0
T0 = pd.Timestamp("2024-03-01", tz="UTC")
EMPTY = {"status": "success", "data": {"resultType": "matrix", "result": []}}


class _Prometheus(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's naming
        body = json.dumps(EMPTY).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *args):
        pass


@pytest.fixture
def upstream():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Prometheus)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield ("127.0.0.1", httpd.server_address[1])
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def proxy(upstream):
    with FaultProxy(upstream, drip_interval=0.3) as p:
        yield p


def query(source):
    return source.query_range("up", T0, T0 + pd.Timedelta("1h"), pd.Timedelta("1min"))


def test_pass_mode_forwards_to_the_upstream(proxy):
    assert query(PrometheusSource(proxy.url, timeout=TIMEOUT)) == []


@pytest.mark.parametrize("mode, error", [
    ("hang", UpstreamTimeout),
    ("drip", UpstreamTimeout),
    ("drip_head", UpstreamTimeout),
    ("garbage", UpstreamError),
    ("reset", UpstreamError),
    ("500", UpstreamError),
])
def test_every_fault_ends_within_the_timeout(proxy, mode, error):
    proxy.mode = mode
    source = PrometheusSource(proxy.url, timeout=TIMEOUT, retries=2, backoff=0.05)
    started = time.monotonic()
    with pytest.raises(error) as info:
        query(source)
    assert time.monotonic() - started < TIMEOUT + MARGIN
    if error is UpstreamTimeout:
        assert info.value.http_status == 504 and f"within {TIMEOUT:g}s" in str(info.value)
    else:
        assert info.value.http_status == 502


def test_drip_is_cut_off_at_the_deadline_not_at_the_end_of_the_answer(proxy):
    """The drip would take ~len(body) x 0.3 s = 20 s; one deadline covers every read of it."""
    proxy.mode = "drip"
    source = PrometheusSource(proxy.url, timeout=TIMEOUT, retries=0)
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout):
        query(source)
    assert time.monotonic() - started < TIMEOUT + MARGIN
    # the cut-off exchange gives its slot back: the next call gets one (and passes)
    proxy.mode = "pass"
    deadline = time.monotonic() + MARGIN
    while True:
        try:
            assert query(source) == []
            break
        except UpstreamBusy:
            assert time.monotonic() < deadline, "the dripping exchange never gave its slot back"
            time.sleep(0.1)


def test_calls_beyond_max_in_flight_are_refused_at_once(proxy):
    proxy.mode = "hang"
    source = PrometheusSource(proxy.url, timeout=TIMEOUT, retries=0, max_in_flight=2)
    with ThreadPoolExecutor(6) as pool:
        outcomes = list(pool.map(lambda _: _outcome(source), range(6)))
    assert outcomes.count("UpstreamTimeout") == 2
    assert outcomes.count("UpstreamBusy") == 4


def _outcome(source) -> str:
    try:
        query(source)
    except UpstreamError as exc:
        return type(exc).__name__
    return "ok"


# --------------------------------------------------------------------------- the whole server


@pytest.fixture
def served(proxy):
    """``promcast serve`` (waitress, 16 threads) on loopback with the fault proxy as its Prometheus."""
    from waitress import create_server

    from promcast.config import load_settings
    from promcast.service.app import create_app

    settings = load_settings(environ={
        "PROMCAST_PROMETHEUS_URL": proxy.url, "PROMCAST_PROMETHEUS_TIMEOUT": str(TIMEOUT),
        "PROMCAST_PROMETHEUS_RETRIES": "0", "PROMCAST_MODELS_DEFAULT": "mad",
    })
    server = create_server(create_app(settings), host="127.0.0.1", port=0, threads=settings.server.threads)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    server.close()


def test_health_and_metrics_answer_while_16_requests_wait_on_a_dripping_upstream(proxy, served):
    proxy.mode = "drip"
    now = pd.Timestamp.now(tz="UTC")
    body = {"range": {"from": (now - pd.Timedelta("2D")).isoformat(), "to": now.isoformat()},
            "targets": [{"refId": "A", "target": "forecast", "payload": {"expr": "up"}}]}

    def ask(_):
        started = time.monotonic()
        answer = requests.post(f"{served}/grafana/query", json=body, timeout=60)
        return answer.status_code, answer.json(), time.monotonic() - started

    with ThreadPoolExecutor(16) as pool:
        pending = [pool.submit(ask, i) for i in range(16)]
        time.sleep(0.5)  # all 16 in flight (or refused as busy)
        for path in ("/healthz", "/metrics", "/healthz"):
            started = time.monotonic()
            answer = requests.get(f"{served}{path}", timeout=10)
            assert answer.status_code == 200
            assert time.monotonic() - started < 1.0, f"{path} waited behind the dripping requests"
        results = [p.result() for p in pending]
    for status, answer, elapsed in results:
        assert status in (503, 504), answer
        assert answer["error"]["code"] in ("upstream_timeout", "upstream_busy")
        assert elapsed < TIMEOUT + MARGIN
    assert any(status == 504 for status, _, _ in results)
