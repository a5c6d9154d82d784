"""promcast on a real Dask cluster: a ``dask scheduler`` and ``dask worker`` processes started the way
docs/scale.md tells an operator to, reached by address (``--scheduler`` and ``DASK_SCHEDULER_ADDRESS``).

The fits a cluster stores are byte-identical to the local pool's, and ``serve``'s pre-fits run there too.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import tools

import prom_harness
from conftest import run_cli
from promcast.config import load_settings
from promcast.service.cache import ModelCache
from promcast.service.prefit import Prefitter
from promcast.sources.prometheus import PrometheusSource

pytestmark = pytest.mark.integration

EXPR = "promcast_test_walk"


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory):
    """``dask scheduler`` plus ``dask worker --nworkers 2 --nthreads 1`` on loopback."""
    dask_cli = Path(sys.executable).with_name("dask")
    if not dask_cli.exists() and shutil.which("dask") is None:
        tools.missing("the dask command (dask[distributed]) is not installed")
    dask_cli = str(dask_cli if dask_cli.exists() else shutil.which("dask"))
    port = prom_harness.free_port()
    address = f"tcp://127.0.0.1:{port}"
    logs = tmp_path_factory.mktemp("dask")
    procs = [subprocess.Popen([dask_cli, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard"], stdout=subprocess.DEVNULL, stderr=(logs / "scheduler.log").open("w"))]
    try:
        procs.append(subprocess.Popen([dask_cli, "worker", address, "--nworkers", "2", "--nthreads", "1",
                                       "--no-dashboard", "--host", "127.0.0.1"],
                                      stdout=subprocess.DEVNULL, stderr=(logs / "worker.log").open("w")))
        from distributed import Client

        client = Client(address, timeout="60s")
        try:
            client.wait_for_workers(2, timeout=120)
        finally:
            client.close()
        yield address
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def stored_models(directory: Path) -> dict[str, bytes]:
    index = json.loads((directory / "index.json").read_text())["entries"]
    return {json.dumps(e["labels"], sort_keys=True): (directory / f"{key}.model").read_bytes() for key, e in index.items()}


def test_fits_on_a_cluster_by_address_equal_the_local_pool(month_prometheus, scheduler, tmp_path):
    args = ("fit", "--prometheus-url", month_prometheus.url, "--expr", EXPR, "--model", "holt_winters",
            "--history", "3d", "--step", "5m", "--end", month_prometheus.end.isoformat())
    local = run_cli(*args, "--store", str(tmp_path / "local"))
    assert local.returncode == 0, local.stderr
    by_flag = run_cli(*args, "--store", str(tmp_path / "flag"), "--executor", "dask", "--scheduler", scheduler)
    assert by_flag.returncode == 0, by_flag.stderr
    assert "fitted 3 series, stored 3" in by_flag.stdout
    by_env = run_cli(*args, "--store", str(tmp_path / "env"), "--executor", "dask",
                     env={"DASK_SCHEDULER_ADDRESS": scheduler})
    assert by_env.returncode == 0, by_env.stderr
    expected = stored_models(tmp_path / "local")
    assert len(expected) == 3
    assert stored_models(tmp_path / "flag") == expected
    assert stored_models(tmp_path / "env") == expected


def test_serve_prefits_run_on_the_cluster(month_prometheus, scheduler, tmp_path):
    settings = load_settings(environ={
        "PROMCAST_EXECUTOR_KIND": "dask", "PROMCAST_EXECUTOR_SCHEDULER": scheduler,
        "PROMCAST_PROMETHEUS_URL": month_prometheus.url, "PROMCAST_STORE_DIR": str(tmp_path),
        "PROMCAST_PREFIT_TARGETS": json.dumps([{"expr": EXPR, "model": "mad", "history": "2d"}])})
    cache = ModelCache(max_entries=100, max_bytes=2**30, refit_interval=900)
    report = Prefitter(settings, PrometheusSource(month_prometheus.url), cache).run_cycle()
    assert report.fitted == 3 and not report.failures, report.failures
    assert len(cache) == 3


def test_an_unreachable_scheduler_is_one_clear_error(month_prometheus, tmp_path):
    result = run_cli("fit", "--prometheus-url", month_prometheus.url, "--expr", EXPR, "--model", "mad",
                     "--history", "1d", "--executor", "dask", "--scheduler",
                     f"tcp://127.0.0.1:{prom_harness.free_port()}", "--store", str(tmp_path), timeout=120,
                     env={"DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "3s"})
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "cannot connect to the Dask scheduler" in result.stderr
