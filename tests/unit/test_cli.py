"""The CLI as a new user meets it: help everywhere, clear one-line errors, never a traceback."""

import socket
import subprocess
import sys
import time
import urllib.request

import pandas as pd
import pytest

from conftest import assert_one_line_error, run_cli
from promcast.sources.demo import NODES

COMMANDS = ["serve", "fetch", "forecast", "detect", "predict", "generate-rules", "fit", "provision", "evaluate"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_top_level_help_lists_every_command():
    result = run_cli("--help")
    assert result.returncode == 0
    for command in COMMANDS:
        assert command in result.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_has_help(command):
    args = [command, "--help"] if command != "predict" else ["predict", "--help"]
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    assert "usage: promcast " + command in result.stdout


def test_fetch_demo_writes_csv(tmp_path):
    out = tmp_path / "cpu.csv"
    result = run_cli("fetch", "--source", "demo", "--expr", 'node_cpu_utilisation{instance=~"node-1.*"}',
                     "--history", "1d", "--step", "5m", "--output", str(out))
    assert result.returncode == 0, result.stderr
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["timestamp", "value"]
    assert 280 <= len(frame) <= 290
    assert frame["value"].between(0, 1).all()


def test_fetch_several_series_has_series_column(tmp_path):
    out = tmp_path / "all.csv"
    result = run_cli("fetch", "--source", "demo", "--expr", "node_cpu_utilisation", "--history", "2h",
                     "--step", "1m", "--output", str(out))
    assert result.returncode == 0, result.stderr
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["timestamp", "value", "series"]
    assert frame["series"].nunique() == len(NODES)


@pytest.mark.parametrize(
    "args, needles",
    [
        (["fetch", "--source", "demo", "--expr", "rate(x[5m]", "--output", "o.csv"], ["bad PromQL"]),
        (["fetch", "--source", "demo", "--expr", "up", "--history", "2 weeks", "--output", "o.csv"],
         ["--history", "duration"]),
        (["fetch", "--expr", "up", "--output", "o.csv"], ["--prometheus-url", "--source demo"]),
        (["fetch", "--prometheus-url", "http://127.0.0.1:{port}", "--expr", "up", "--output", "o.csv"],
         ["unreachable"]),
        (["fetch", "--source", "demo", "--expr", "up", "--output", "o.csv", "--config", "missing.yaml"],
         ["missing.yaml", "does not exist"]),
    ],
)
def test_user_errors_are_one_line(tmp_path, args, needles):
    args = [a.replace("{port}", str(free_port())) for a in args]
    result = run_cli(*args, cwd=tmp_path)
    assert_one_line_error(result, *needles)
    assert not (tmp_path / "o.csv").exists()


def test_malformed_config_file(tmp_path):
    (tmp_path / "c.yaml").write_text("server:\n  port: [\n")
    result = run_cli("fetch", "--source", "demo", "--expr", "up", "--output", "o.csv", "--config", "c.yaml",
                     cwd=tmp_path)
    assert_one_line_error(result, "c.yaml", "not valid YAML")


def test_bad_env_value(tmp_path):
    result = run_cli("fetch", "--source", "demo", "--expr", "up", "--output", "o.csv",
                     env={"PROMCAST_PROMETHEUS_TIMEOUT": "forever"}, cwd=tmp_path)
    assert_one_line_error(result, "PROMCAST_PROMETHEUS_TIMEOUT", "'forever'")


def test_serve_answers_grafana_root_and_metrics():
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "promcast", "serve", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/grafana/", timeout=2) as response:
                    assert response.status == 200
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(proc.stdout.read() if proc.poll() is not None else "serve did not start")
                time.sleep(0.2)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            assert b"promcast_http_requests_total" in response.read()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
