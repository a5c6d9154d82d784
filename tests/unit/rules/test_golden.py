"""Golden files: each ``tests/golden/in-*.yaml`` spec must generate exactly ``out-*.yaml``.

Set ``PROMCAST_UPDATE_GOLDEN=1`` to rewrite the outputs after an intended change (then review the diff).
"""

from __future__ import annotations

import difflib
import os
import shutil
import subprocess

import pytest

import tools

from .golden import GOLDEN, case_format, cases, generate, join, split

UPDATE = os.environ.get("PROMCAST_UPDATE_GOLDEN") == "1"
KINDS = {"disk_exhaustion", "memory_leak", "anomaly_band", "capacity"}


def test_goldens_cover_every_kind_and_format():
    texts = [(GOLDEN / f"in-{c}.yaml").read_text() for c in cases()]
    assert all(any(f"kind: {k}" in t for t in texts) for k in KINDS)
    formats = {case_format(c) for c in cases()}
    assert {"prometheus", "prometheusrule"} <= formats | ({"prometheus", "prometheusrule"} if "both" in formats else set())
    assert any("mode: exported" in t for t in texts)


@pytest.mark.parametrize("case", cases())
def test_golden(case):
    got = join(generate(case))
    path = GOLDEN / f"out-{case}.yaml"
    if UPDATE or not path.exists():
        if not UPDATE:
            pytest.fail(f"{path.name} is missing; run with PROMCAST_UPDATE_GOLDEN=1 to create it")
        path.write_text(got, encoding="utf-8")
        return
    want = path.read_text(encoding="utf-8")
    if got != want:
        diff = "".join(list(difflib.unified_diff(want.splitlines(True), got.splitlines(True),
                                                 f"golden/{path.name}", "generated"))[:80])
        pytest.fail(f"generated rules differ from {path.name} (PROMCAST_UPDATE_GOLDEN=1 to accept):\n{diff}")


def test_generation_is_byte_identical_across_runs():
    case = "disk"
    assert join(generate(case)) == join(generate(case))


@tools.unless_present(shutil.which("promtool") is not None, "promtool not installed")
@pytest.mark.parametrize("case", cases())
def test_golden_output_passes_promtool(case, tmp_path):
    files = split((GOLDEN / f"out-{case}.yaml").read_text(encoding="utf-8"))
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    rule_files = sorted(n for n in files if n.endswith(".rules.yaml"))
    test_files = sorted(n for n in files if n.endswith(".test.yaml"))
    check = subprocess.run(["promtool", "check", "rules", *rule_files], cwd=tmp_path, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    test = subprocess.run(["promtool", "test", "rules", *test_files], cwd=tmp_path, capture_output=True, text=True)
    assert test.returncode == 0, test.stdout + test.stderr


#: ways to break each golden's rules that its own promtool tests must catch
MUTATIONS = [
    ("disk", r"seconds_to_full < 86400", "seconds_to_full < 1"),  # critical never fires
    ("disk", r"\n\s*unless ignoring\(promcast_target\) \(node_filesystem_readonly\{job=\"node\"\} == 1\)", ""),
    ("disk", r"daily_peak_ratio \* promcast:filesystems:size, 0\)", "daily_peak_ratio * 0, 0) * 1000"),
    ("disk-csv", r"seconds_to_full < 432000", "seconds_to_full < 1"),
    ("memory", r"hours_to_limit < 72", "hours_to_limit < 0.001"),
    ("memory", r"trough_slope_per_hour > promcast:app_memory:healthy_slope_bound",
     "trough_slope_per_hour > 1e15"),
    ("anomaly-promql", r"\+ 4 \* promcast:cpu:spread", "+ 40 * promcast:cpu:spread"),
    ("anomaly-promql", r"- 4 \* promcast:cpu:spread", "- 40 * promcast:cpu:spread"),
    ("anomaly-exported", r"absent\(promcast_forecast", "absent(promcast_nothing"),
    ("capacity", r"forecast_peak > 4000", "forecast_peak > 40000"),
    ("capacity", r"utilisation > 0.8", "utilisation > 8"),
]


@tools.unless_present(shutil.which("promtool") is not None, "promtool not installed")
@pytest.mark.parametrize("case, pattern, replacement", MUTATIONS)
def test_golden_tests_catch_a_broken_rule(case, pattern, replacement, tmp_path):
    import re

    files = split((GOLDEN / f"out-{case}.yaml").read_text(encoding="utf-8"))
    changed = 0
    for name in list(files):
        if name.endswith(".rules.yaml"):
            files[name], n = re.subn(pattern, replacement.replace("\\", "\\\\"), files[name])
            changed += n
    assert changed, f"mutation {pattern!r} matched nothing in {case}"
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    tests = sorted(n for n in files if n.endswith(".test.yaml"))
    run = subprocess.run(["promtool", "test", "rules", *tests], cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode != 0, f"the generated tests did not notice: {pattern!r} -> {replacement!r}"
