"""A real ``promcast serve`` process pre-fits its configured targets from a real Prometheus into its
store; restarted, it answers its first forecast query warm (the fit counter stays at zero)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import requests

import prom_harness
from contract.grafana_requests import query_request, target

pytestmark = pytest.mark.integration

EXPR = "promcast_test_walk"
MODEL = "holt_winters"
HISTORY = "2d"


def metric(base: str, name: str, **labels: str) -> float:
    text = requests.get(f"{base}/metrics", timeout=10).text
    return sum(float(value) for found, value in re.findall(rf"^{name}(\{{[^}}]*\}})? (\S+)$", text, re.M)
               if all(f'{k}="{v}"' in found for k, v in labels.items()))


class Serve:
    """``promcast serve`` in a subprocess on a free port."""

    def __init__(self, env: dict[str, str], log: Path):
        self.port = prom_harness.free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        clean = {k: v for k, v in os.environ.items() if not k.startswith("PROMCAST_")}
        clean.update(env)
        self.log = log
        self.proc = subprocess.Popen([sys.executable, "-m", "promcast", "serve", "--port", str(self.port)],
                                     env=clean, stdout=subprocess.DEVNULL, stderr=log.open("w"))

    def wait_for(self, check, what: str, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"promcast serve exited ({self.proc.returncode}): {self.log.read_text()[-2000:]}")
            try:
                if check():
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        pytest.fail(f"promcast serve: {what} did not happen; log: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def test_restarted_serve_answers_its_first_forecast_warm_from_its_prefits(month_prometheus, tmp_path):
    env = {"PROMCAST_PROMETHEUS_URL": month_prometheus.url, "PROMCAST_MODELS_DEFAULT": MODEL,
           "PROMCAST_STORE_DIR": str(tmp_path / "store"),
           "PROMCAST_PREFIT_TARGETS": json.dumps([{"expr": EXPR, "model": MODEL, "history": HISTORY}])}
    first = Serve(env, tmp_path / "first.log")
    try:
        first.wait_for(lambda: metric(first.base, "promcast_prefit_cycles_total") >= 1, "a pre-fit cycle")
        assert metric(first.base, "promcast_prefit_series_total", result="fitted") == 3
        assert metric(first.base, "promcast_prefit_series_total", result="failed") == 0
    finally:
        first.stop()
    assert len(json.loads((tmp_path / "store" / "index.json").read_text())["entries"]) == 3

    second = Serve(env, tmp_path / "second.log")
    try:
        second.wait_for(lambda: requests.get(f"{second.base}/healthz", timeout=5).ok, "start-up")
        now = pd.Timestamp.now(tz="UTC").floor("min")  # a panel showing the present: the live fits
        body = query_request([target("A", "forecast", {"expr": EXPR, "model": MODEL, "history": HISTORY,
                                                       "horizon": "6h"})], end=now, max_points=300)
        response = requests.post(f"{second.base}/grafana/query", json=body, timeout=120)
        assert response.status_code == 200, response.text
        assert sum(1 for f in response.json() if f["target"].endswith(" yhat") and f["datapoints"]) == 3
        assert metric(second.base, "promcast_model_fits_total") == 0
        second.wait_for(lambda: metric(second.base, "promcast_prefit_cycles_total") >= 1, "a pre-fit cycle")
        assert metric(second.base, "promcast_prefit_series_total", result="fresh") == 3
        assert metric(second.base, "promcast_prefit_series_total", result="fitted") == 0
    finally:
        second.stop()
