"""Grafana's own npm code for the contract tests: ``node`` with ``tests/js/node_modules`` installed.

``@grafana/data`` (toDataFrame, transformations, field matchers) and ``@grafana/runtime``
(toDataQueryError) are installed with ``npm ci`` from the lock file on first use. A missing Node.js is a
failure, not a skip: these checks are the only stand-in for Grafana itself.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

JS_DIR = Path(__file__).resolve().parents[1] / "js"
PACKAGES = ("@grafana/data", "@grafana/runtime")


def node() -> str:
    """The ``node`` executable, with the lock file's packages installed into ``tests/js/node_modules``."""
    executable = shutil.which("node")
    if executable is None:
        pytest.fail("node is not on PATH: install Node.js 18+ to run the Grafana checks")
    if not all((JS_DIR / "node_modules" / package / "package.json").exists() for package in PACKAGES):
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("npm is not on PATH: install Node.js 18+ to install Grafana's packages for the checks")
        env = {**os.environ, "npm_config_update_notifier": "false", "npm_config_fund": "false",
               "npm_config_audit": "false"}
        proc = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error", "--prefer-offline"],
                              cwd=JS_DIR, capture_output=True, text=True, timeout=600, env=env)
        if proc.returncode != 0:
            pytest.fail(f"npm ci in {JS_DIR} failed ({proc.returncode}): {(proc.stderr or proc.stdout)[-2000:]}")
    return executable


def run_script(script: str, payload: Any) -> Any:
    """Run ``tests/js/<script>`` with ``payload`` as JSON on stdin; its JSON output."""
    proc = subprocess.run([node(), str(JS_DIR / script)], input=json.dumps(payload), capture_output=True,
                          text=True, cwd=JS_DIR, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)
