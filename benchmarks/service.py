"""Service benchmark: a Grafana forecast panel through promcast vs Prometheus's own query_range.

Starts a real Prometheus over 7 days of 1-minute history (the demo's node-1 CPU, written with
tests/prom_harness.py) and promcast under waitress on loopback, pointed at it. The panel shows 2 days
at a 1-minute step; the request is what Grafana sends for it: ``maxDataPoints`` is the panel's "Max data
points" query option (5000) and ``intervalMs`` is Grafana's own ``calculateInterval`` (the range over
max data points rounded by ``roundInterval``, raised to the panel's "Min interval" of 1m): 60000. The
forecast (``history: 7d``, ``horizon: 1d``) answers all four series at that 1-minute step. Then, in the
same run:

- cold: the first ``/grafana/query`` forecast (fetching 7 days of history and fitting the model; the
  model's module is loaded at start-up, as ``promcast serve`` does);
- warm: the same request again (the fit is cached), median over ``--repeat`` runs, alternating with
  Prometheus's own ``/api/v1/query_range`` for the same 2 days at the same 1-minute step (what
  Grafana's Prometheus datasource asks for that panel), both over HTTP with the JSON decoded by the
  client (``response.json()``), as Grafana decodes both in the browser. The client is a process of its
  own (``_panel_client.py``), as Grafana is: in promcast's process, the garbage of decoding 15,844
  points triggered full collections over promcast's heap (Prophet, pandas: ~190,000 objects), a pause
  of ~100 ms in one run out of five that a separate client never causes.

Budgets (issue 12): warm p50 at most 2x Prometheus's p50; cold at most 3 s.

    .venv/bin/python benchmarks/service.py [--model prophet] [--repeat 41] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import _common  # noqa: E402,F401 - puts backend/ and tests/ on sys.path

import pandas as pd  # noqa: E402
import requests  # noqa: E402

import prom_harness  # noqa: E402
from promcast.config import load_settings  # noqa: E402
from promcast.service.app import create_app  # noqa: E402
from promcast.service.server import preload_default_model  # noqa: E402
from promcast.sources.demo import DemoSource  # noqa: E402
from promcast.sources.prometheus import PrometheusSource  # noqa: E402

WARM_BUDGET = 2.0
COLD_BUDGET_S = 3.0
EXPR = 'node_cpu_utilisation{instance="node-1:9100"}'
PANEL = pd.Timedelta("2D")
HISTORY = pd.Timedelta("7D")
MAX_POINTS = 5000  # the panel's "Max data points" query option
MIN_INTERVAL_MS = 60_000  # the panel's "Min interval" query option: 1m
STEP_S = 60.0


def grafana_round_interval(ms: float) -> int:
    """Grafana's ``roundInterval`` (@grafana/data rangeutil), up to the steps a 2-day panel can get."""
    ladder = ((10, 1), (15, 10), (35, 20), (75, 50), (150, 100), (350, 200), (750, 500), (1500, 1000),
              (3500, 2000), (7500, 5000), (12500, 10000), (17500, 15000), (25000, 20000), (45000, 30000),
              (90000, 60000), (210000, 120000), (450000, 300000), (750000, 600000), (1050000, 900000),
              (1500000, 1200000), (2700000, 1800000), (5400000, 3600000))
    for below, rounded in ladder:
        if ms < below:
            return rounded
    raise ValueError(f"interval {ms} ms is beyond this benchmark's ladder")


def grafana_interval_ms(span: pd.Timedelta, max_points: int, min_interval_ms: int) -> int:
    """Grafana's ``calculateInterval``: what a panel's request carries as ``intervalMs``."""
    return max(grafana_round_interval(span / pd.Timedelta("1ms") / max_points), min_interval_ms)


INTERVAL_MS = grafana_interval_ms(PANEL, MAX_POINTS, MIN_INTERVAL_MS)  # 60000: a 1-minute step


def history(end: pd.Timestamp) -> list[prom_harness.MetricSeries]:
    """7 days of the demo's node-1 CPU at 1m: daily and weekly seasonality, noise and incidents."""
    demo = DemoSource(now=end)
    found = demo.query_range(EXPR, end - HISTORY, end, pd.Timedelta("1min"))[0]
    labels = {k: v for k, v in found.labels.items() if k != "__name__"}
    return [prom_harness.MetricSeries.from_pandas("node_cpu_utilisation", labels, found.values)]


class Served:
    """promcast under waitress on a free loopback port, in a background thread."""

    def __init__(self, app) -> None:
        from waitress import create_server

        self.server = create_server(app, host="127.0.0.1", port=0, threads=8, ident="promcast")
        self.url = f"http://127.0.0.1:{self.server.effective_port}"
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> "Served":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.close()
        self.thread.join(timeout=10)


def _iso(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"  # as Grafana's toISOString


def panel_request(end: pd.Timestamp, model: str) -> dict:
    """The body Grafana's simpod-json-datasource POSTs for the panel (unused keys included)."""
    start = end - PANEL
    return {
        "app": "dashboard", "requestId": "Q100", "timezone": "browser", "panelId": 2, "dashboardUID": "promcast",
        "range": {"from": _iso(start), "to": _iso(end), "raw": {"from": "now-2d", "to": "now"}},
        "timeInfo": "", "interval": "1m", "intervalMs": INTERVAL_MS, "maxDataPoints": MAX_POINTS,
        "scopedVars": {"__interval": {"text": "1m", "value": "1m"}, "__interval_ms": {"text": str(INTERVAL_MS), "value": INTERVAL_MS}},
        "filters": [], "startTime": int(end.timestamp() * 1000), "rangeRaw": {"from": "now-2d", "to": "now"},
        "targets": [{"refId": "A", "datasource": {"type": "simpod-json-datasource", "uid": "promcast"},
                     "editorMode": "builder", "target": "forecast",
                     "payload": {"expr": EXPR, "model": model, "history": "7d", "horizon": "1d"}}],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="prophet", help="forecast model (default prophet)")
    parser.add_argument("--repeat", type=int, default=41, help="timed warm runs of each (default 41)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)

    missing = prom_harness.binaries_missing()
    if missing:
        print(f"{', '.join(missing)} not found: {prom_harness.INSTALL_HINT}", file=sys.stderr)
        return 2

    end = pd.Timestamp.now(tz="UTC").floor("min")
    series = history(end)
    settings = load_settings(environ={"PROMCAST_MODELS_DEFAULT": args.model})
    preload_default_model(settings)
    session = requests.Session()
    with tempfile.TemporaryDirectory(prefix="promcast-bench-") as workdir:
        prometheus = prom_harness.serve_history(series, workdir)
        try:
            app = create_app(settings, source=PrometheusSource(prometheus.url))
            with Served(app) as served:
                body = panel_request(end, args.model)

                def ours() -> int:
                    response = session.post(f"{served.url}/grafana/query", json=body, timeout=120)
                    response.raise_for_status()
                    return sum(len(f["datapoints"]) for f in response.json())

                def theirs() -> int:
                    response = session.get(f"{prometheus.url}/api/v1/query_range", timeout=30, params={
                        "query": EXPR, "start": (end - PANEL).timestamp(), "end": end.timestamp(), "step": STEP_S})
                    response.raise_for_status()
                    return sum(len(s["values"]) for s in response.json()["data"]["result"])

                prom_points = theirs()  # Prometheus's own first touch of the blocks
                began = time.perf_counter()
                points = ours()
                cold_s = time.perf_counter() - began
                frames = session.post(f"{served.url}/grafana/query", json=body, timeout=120).json()
                if [f["target"] for f in frames] != ["actual", "yhat", "yhat_lower", "yhat_upper"]:
                    print(f"unexpected answer: {[f.get('target') for f in frames]}", file=sys.stderr)
                    return 1
                steps = {(f["datapoints"][1][1] - f["datapoints"][0][1]) / 1000 for f in frames}
                if steps != {STEP_S}:
                    print(f"promcast answered at steps {sorted(steps)} s, not the panel's {STEP_S:g} s", file=sys.stderr)
                    return 1

                runs = {
                    "promcast": {"method": "POST", "url": f"{served.url}/grafana/query", "json": body},
                    "prometheus": {"method": "GET", "url": f"{prometheus.url}/api/v1/query_range", "params": {
                        "query": EXPR, "start": (end - PANEL).timestamp(), "end": end.timestamp(), "step": STEP_S}},
                }
                client = subprocess.run([sys.executable, str(Path(__file__).with_name("_panel_client.py"))],
                                        input=json.dumps({"repeat": args.repeat, "runs": runs}),
                                        capture_output=True, text=True, check=True)
                timed = json.loads(client.stdout)
                times, decoding = timed["times"], timed["decoding"]
        finally:
            prometheus.stop()

    p50 = {name: statistics.median(values) for name, values in times.items()}
    decode_p50 = {name: statistics.median(values) for name, values in decoding.items()}
    ratio = p50["promcast"] / p50["prometheus"]
    ok = ratio <= WARM_BUDGET and cold_s <= COLD_BUDGET_S
    result = {
        "model": args.model, "panel": "2d", "history": "7d", "intervalMs": INTERVAL_MS, "maxDataPoints": MAX_POINTS,
        "step_s": STEP_S, "points_returned": points, "prometheus_points_returned": prom_points,
        "repeat": args.repeat, "cold_s": round(cold_s, 3), "cold_budget_s": COLD_BUDGET_S,
        "warm_p50_s": round(p50["promcast"], 4), "prometheus_p50_s": round(p50["prometheus"], 4),
        "decode_p50_s": round(decode_p50["promcast"], 4), "prometheus_decode_p50_s": round(decode_p50["prometheus"], 4),
        "ratio": round(ratio, 3), "budget": WARM_BUDGET, "within_budget": ok,
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"2-day forecast panel ({EXPR}, model {args.model}, 7 days of 1m history; intervalMs {INTERVAL_MS}, "
              f"maxDataPoints {MAX_POINTS}), median of {args.repeat}, answers decoded by the client")
        print(f"cold first query           {cold_s:8.3f} s  (budget {COLD_BUDGET_S} s)")
        print(f"warm promcast /query       {p50['promcast'] * 1000:8.2f} ms  (step {STEP_S:g}s, 4 series, {points} points; "
              f"of which the client's JSON decode {decode_p50['promcast'] * 1000:.2f} ms)")
        print(f"Prometheus query_range     {p50['prometheus'] * 1000:8.2f} ms  (step {STEP_S:g}s, same 2 days, {prom_points} points; "
              f"decode {decode_p50['prometheus'] * 1000:.2f} ms)")
        print(f"ratio {ratio:.2f}x (budget {WARM_BUDGET}x): {'OK' if ok else 'OVER BUDGET'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
