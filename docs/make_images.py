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
    return 0 if made else 1


if __name__ == "__main__":
    sys.exit(main())
