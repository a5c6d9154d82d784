"""Service benchmark: a Grafana forecast panel through promcast vs Prometheus's own query_range.

Starts a real Prometheus over 14 days of 1-minute history (the demo's node-1 CPU, written with
tests/prom_harness.py) and promcast under waitress on loopback, pointed at it. Then, in the same run:

- cold: the first ``/grafana/query`` forecast of a 2-day panel (fetching 14 days of history and
  fitting the model; the model's module is loaded at start-up, as ``promcast serve`` does);
- warm: the same request again (the fit is cached), median over ``--repeat`` runs, alternating with
  Prometheus's own ``/api/v1/query_range`` for the same 2 days at the panel's step (``intervalMs``, as
  Grafana's Prometheus datasource would ask), both over HTTP with the JSON decoded.

Budgets (issue 4): warm p50 at most 1.5x Prometheus's p50; cold at most 3 s.

    .venv/bin/python benchmarks/service.py [--model prophet] [--repeat 41] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time

import _common  # noqa: E402,F401 - puts backend/ and tests/ on sys.path

import pandas as pd  # noqa: E402
import requests  # noqa: E402

import prom_harness  # noqa: E402
from promcast.config import load_settings  # noqa: E402
from promcast.service.app import create_app  # noqa: E402
from promcast.service.server import preload_default_model  # noqa: E402
from promcast.sources.demo import DemoSource  # noqa: E402
from promcast.sources.prometheus import PrometheusSource  # noqa: E402

WARM_BUDGET = 1.5
COLD_BUDGET_S = 3.0
EXPR = 'node_cpu_utilisation{instance="node-1:9100"}'
PANEL = pd.Timedelta("2D")
MAX_POINTS = 1000
INTERVAL_MS = 120_000  # what Grafana picks for a 2-day panel 1,000 points wide (172.8 s rounds to 2m)


def history(end: pd.Timestamp) -> list[prom_harness.MetricSeries]:
    """14 days of the demo's node-1 CPU at 1m: daily and weekly seasonality, noise and incidents."""
    demo = DemoSource(now=end)
    found = demo.query_range(EXPR, end - pd.Timedelta("14D"), end, pd.Timedelta("1min"))[0]
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


def panel_request(end: pd.Timestamp, model: str) -> dict:
    start = end - PANEL
    return {
        "range": {"from": start.isoformat(), "to": end.isoformat(), "raw": {"from": "now-2d", "to": "now"}},
        "intervalMs": INTERVAL_MS, "maxDataPoints": MAX_POINTS, "scopedVars": {}, "filters": [],
        "targets": [{"refId": "A", "target": "forecast", "payload": {"expr": EXPR, "model": model, "horizon": "1d"}}],
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

                def theirs(step_s: float) -> int:
                    response = session.get(f"{prometheus.url}/api/v1/query_range", timeout=30, params={
                        "query": EXPR, "start": (end - PANEL).timestamp(), "end": end.timestamp(), "step": step_s})
                    response.raise_for_status()
                    return sum(len(s["values"]) for s in response.json()["data"]["result"])

                theirs(INTERVAL_MS / 1000)  # Prometheus's own first touch of the blocks
                began = time.perf_counter()
                points = ours()
                cold_s = time.perf_counter() - began
                frames = session.post(f"{served.url}/grafana/query", json=body, timeout=120).json()
                if [f["target"] for f in frames] != ["actual", "yhat", "yhat_lower", "yhat_upper"]:
                    print(f"unexpected answer: {[f.get('target') for f in frames]}", file=sys.stderr)
                    return 1
                our_step_s = (frames[1]["datapoints"][1][1] - frames[1]["datapoints"][0][1]) / 1000

                times: dict[str, list[float]] = {"promcast": [], "prometheus": [], "prometheus_same_step": []}
                runs = {"promcast": ours, "prometheus": lambda: theirs(INTERVAL_MS / 1000),
                        "prometheus_same_step": lambda: theirs(our_step_s)}
                for i in range(args.repeat):
                    names = list(runs) if i % 2 == 0 else list(reversed(runs))
                    for name in names:
                        began = time.perf_counter()
                        runs[name]()
                        times[name].append(time.perf_counter() - began)
        finally:
            prometheus.stop()

    p50 = {name: statistics.median(values) for name, values in times.items()}
    ratio = p50["promcast"] / p50["prometheus"]
    ok = ratio <= WARM_BUDGET and cold_s <= COLD_BUDGET_S
    result = {
        "model": args.model, "panel": "2d", "intervalMs": INTERVAL_MS, "maxDataPoints": MAX_POINTS,
        "promcast_step_s": our_step_s, "points_returned": points, "repeat": args.repeat,
        "cold_s": round(cold_s, 3), "cold_budget_s": COLD_BUDGET_S,
        "warm_p50_s": round(p50["promcast"], 4), "prometheus_p50_s": round(p50["prometheus"], 4),
        "prometheus_same_step_p50_s": round(p50["prometheus_same_step"], 4),
        "ratio": round(ratio, 3), "ratio_same_step": round(p50["promcast"] / p50["prometheus_same_step"], 3),
        "budget": WARM_BUDGET, "within_budget": ok,
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"2-day forecast panel ({EXPR}, model {args.model}, 14 days of 1m history), median of {args.repeat}")
        print(f"cold first query           {cold_s:8.3f} s  (budget {COLD_BUDGET_S} s)")
        print(f"warm promcast /query       {p50['promcast'] * 1000:8.2f} ms  (step {our_step_s:g}s, 4 series)")
        print(f"Prometheus query_range     {p50['prometheus'] * 1000:8.2f} ms  (step {INTERVAL_MS / 1000:g}s, the panel's intervalMs)")
        print(f"Prometheus, promcast's step{p50['prometheus_same_step'] * 1000:8.2f} ms  (step {our_step_s:g}s)")
        print(f"ratio {ratio:.2f}x (budget {WARM_BUDGET}x; {result['ratio_same_step']:.2f}x at the same step): "
              f"{'OK' if ok else 'OVER BUDGET'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
