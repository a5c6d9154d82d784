"""Helpers for the rules tests: specs from dicts, and promtool on rendered files."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

import tools

from promcast.rules.spec import parse_spec

END = "2024-05-06T12:00:00Z"
needs_promtool = tools.unless_present(shutil.which("promtool") is not None, "promtool not installed")


def spec_from(targets: list[dict], **top) -> object:
    data = {"apiVersion": "promcast/v1", "kind": "RuleSpec", "metadata": {"name": "t"},
            "source": {"demo": True, "end": END}, "targets": targets}
    data.update(top)
    return parse_spec(data, origin="spec.yaml")


def write_tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")


def promtool(root: Path, files: dict[str, str]) -> subprocess.CompletedProcess:
    """Write ``files`` under ``root`` and run promtool check + test; returns the test run."""
    write_tree(root, files)
    rules = sorted(n for n in files if n.endswith(".rules.yaml"))
    tests = sorted(n for n in files if n.endswith(".test.yaml"))
    check = subprocess.run(["promtool", "check", "rules", *rules], cwd=root, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    return subprocess.run(["promtool", "test", "rules", *tests], cwd=root, capture_output=True, text=True)
