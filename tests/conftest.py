"""Shared test set-up: paths and a helper to run the CLI as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NAB_DIR = REPO.parent / "shared" / "data" / "nab"
sys.path.insert(0, str(REPO / "tests"))


@pytest.fixture(scope="session")
def nab_dir() -> Path:
    if not (NAB_DIR / "windows.json").exists():
        import tools

        tools.missing(f"NAB data not found at {NAB_DIR}")
    return NAB_DIR


#: the end of the demo source's data in CLI tests: a fixed Monday noon, so no test depends on the hour it runs
DEMO_NOW = "2024-06-10T12:00:00Z"


def run_cli(*args: str, env: dict | None = None, cwd: Path | None = None, timeout: float = 300):
    """Run ``promcast ARGS`` in a subprocess, with PROMCAST_* variables of the test runner removed and the
    demo source pinned to :data:`DEMO_NOW` (``env`` may override it)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PROMCAST_")}
    clean["PROMCAST_DEMO_NOW"] = DEMO_NOW
    clean.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "promcast", *args],
        capture_output=True, text=True, env=clean, cwd=cwd, timeout=timeout,
    )


def assert_one_line_error(result, *needles: str) -> None:
    """The user-error contract: non-zero exit, one clear line on stderr, no traceback."""
    assert result.returncode != 0, result
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if "error" in line.lower()]
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
