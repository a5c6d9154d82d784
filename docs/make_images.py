"""Regenerate the pictures in docs/img/: each dashboard's main panel drawn by promcast's own ``--plot``.

Run from the repository root (``.venv/bin/python docs/make_images.py``). Every picture comes from the
embedded demo source through the CLI a user would run, so it shows what the panel shows on the demo.
A command that this version of promcast does not have yet is reported and skipped.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

IMG = Path(__file__).resolve().parent / "img"

#: picture -> (dashboard panel it stands for, promcast arguments without --plot)
PICTURES = {
    "forecasts.png": ("promcast / Forecasts and anomalies: Forecast", [
        "forecast", "--source", "demo", "--expr", 'node_cpu_utilisation{instance="node-1:9100"}',
        "--history", "7d", "--horizon", "1d", "--model", "prophet"]),
    "maintenance-disk.png": ("promcast / Predictive maintenance: Projected disk usage to the limit", [
        "predict", "disk", "--source", "demo", "--expr", 'node_filesystem_avail_bytes{mountpoint="/"}',
        "--size-expr", 'node_filesystem_size_bytes{mountpoint="/"}', "--history", "7d"]),
    "anomalies.png": ("promcast / Forecasts and anomalies: Anomaly score", [
        "detect", "--source", "demo", "--expr", 'node_cpu_utilisation{instance="node-2:9100"}',
        "--history", "7d", "--step", "10m", "--model", "ensemble"]),
    "maintenance-memory.png": ("promcast / Predictive maintenance: Memory projection", [
        "predict", "memory", "--source", "demo", "--expr", 'process_resident_memory_bytes{job="api"}',
        "--limit", "2GiB", "--history", "7d"]),
    "capacity.png": ("promcast / Predictive maintenance: Capacity plan", [
        "predict", "capacity", "--source", "demo", "--expr", 'http_requests{job="frontend"}',
        "--capacity", "5000", "--history", "21d", "--step", "1h"]),
}


def main() -> int:
    IMG.mkdir(parents=True, exist_ok=True)
    made = 0
    with tempfile.TemporaryDirectory() as scratch:
        for name, (panel, args) in PICTURES.items():
            extra = ["--output", str(Path(scratch) / "out.csv")] if args[0] in ("forecast", "detect") else []
            proc = subprocess.run([sys.executable, "-m", "promcast", *args, *extra, "--plot", str(IMG / name)],
                                  capture_output=True, text=True)
            if proc.returncode == 0:
                made += 1
                print(f"{name}: {panel}")
            elif "not available in this version yet" in proc.stderr:
                print(f"{name}: skipped, `promcast {args[0]}` is not available yet", file=sys.stderr)
            else:
                print(f"{name}: failed: {proc.stderr.strip().splitlines()[-1]}", file=sys.stderr)
                return 1
    made += _self_picture()
    return 0 if made else 1


def _self_picture() -> int:
    """promcast-self's main panel (request latency by endpoint): serve a few panel refreshes on the demo
    in-process, then draw promcast's own latency histogram from its /metrics registry."""
    import json

    import pandas as pd

    from promcast.config import load_settings
    from promcast.plots import _pyplot, save_figure
    from promcast.service.app import create_app
    from promcast.sources.demo import DemoSource

    app = create_app(load_settings(environ={}), source=DemoSource())
    client = app.test_client()
    end = pd.Timestamp.now(tz="UTC").floor("min")
    for model in ("seasonal_naive", "holt_winters", "prophet"):
        for _ in range(5):
            for target in ("forecast", "anomalies"):
                payload = json.dumps({"expr": "node_cpu_utilisation", "model": model, "history": "7d"})
                client.post("/grafana/query", json={
                    "range": {"from": (end - pd.Timedelta(days=2)).isoformat(), "to": end.isoformat()},
                    "maxDataPoints": 600, "intervalMs": 300000,
                    "targets": [{"refId": "A", "target": target, "payload": payload}]})
    histogram = app.extensions["promcast.metrics"].request_seconds
    buckets: dict[str, list[tuple[float, float]]] = {}
    for metric in histogram.collect():
        for sample in metric.samples:
            if sample.name.endswith("_bucket") and sample.labels["endpoint"].startswith("/grafana/query"):
                buckets.setdefault(sample.labels["endpoint"], []).append((float(sample.labels["le"]), sample.value))
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(10, 4))
    for endpoint, points in buckets.items():
        points.sort()
        bounds = [b for b, _ in points if b != float("inf")]
        counts = [c for b, c in points if b != float("inf")]
        ax.step(range(len(bounds)), counts, where="post", label=f"{endpoint} (cumulative requests)")
        ax.set_xticks(range(len(bounds)), [f"{b:g}s" for b in bounds])
    ax.set_xlabel("promcast_http_request_duration_seconds bucket (le)")
    ax.set_ylabel("requests")
    ax.set_title("promcast itself: /grafana/query latency (cold fits, then cache hits)", loc="left", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    save_figure(fig, IMG / "self.png")
    print("self.png: promcast / promcast itself: request latency")
    return 1


if __name__ == "__main__":
    sys.exit(main())
