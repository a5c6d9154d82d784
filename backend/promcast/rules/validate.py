"""Check generated rules before anything is written.

Always: every expression parses with promql-parser, recording rule names are valid metric names, and
every rendered file reads back (``yaml.safe_load``) to exactly the rule model it was rendered from, so
no label value or expression can bend the YAML. With ``check``: ``promtool check rules`` on the rule
files and ``promtool test rules`` on the generated tests, in a scratch directory laid out like the
output. Any failure raises :class:`RuleValidationError` and nothing is written.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Mapping

import yaml

from ..errors import PromcastError
from .model import RuleGroups
from .promql import PROMETHEUS_2_42_FUNCTIONS, dur, functions_used
from ..promql import parse as parse_promql

_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
PROMTOOL_TIMEOUT = 600.0
#: longest promtool output quoted in an error (the rest is what the failing test expected, at length)
MAX_DETAIL = 1500


class RuleValidationError(PromcastError):
    """Generated rules failed a check; nothing was written."""

    code = "rules_invalid"


def check_expressions(groups: RuleGroups) -> list[str]:
    """Parse every expression; returns warnings (functions Prometheus 2.42 lacks), raises on errors."""
    warnings = []
    for group in groups.groups:
        for rule in group.rules:
            where = f"group {group.name}, rule {rule.name}"
            if rule.record and not _METRIC_NAME.match(rule.record):
                raise RuleValidationError(f"{where}: {rule.record!r} is not a valid metric name")
            try:
                parse_promql(rule.expr)
            except (ValueError, TypeError) as exc:
                raise RuleValidationError(f"{where}: generated PromQL does not parse: {' '.join(str(exc).split())}; "
                                          f"expr: {' '.join(rule.expr.split())}") from None
            unknown = sorted(functions_used(rule.expr) - PROMETHEUS_2_42_FUNCTIONS)
            if unknown:
                warnings.append(f"{where} calls {', '.join(unknown)}, which Prometheus 2.42 does not have "
                                "(from the target's expr); it needs a newer Prometheus")
    return warnings


def _model_groups(groups: RuleGroups) -> list[dict]:
    out = []
    for g in groups.groups:
        rules = []
        for r in g.rules:
            item: dict = {"record": r.record} if r.record else {"alert": r.alert}
            item["expr"] = r.expr
            if r.alert and r.for_ is not None:
                item["for"] = dur(r.for_)
            if r.labels:
                item["labels"] = dict(r.labels)
            if r.annotations:
                item["annotations"] = dict(r.annotations)
            rules.append(item)
        group = {"name": g.name, "rules": rules}
        if g.interval is not None:
            group["interval"] = dur(g.interval)
        out.append(group)
    return out


def check_round_trip(groups: RuleGroups, files: Mapping[str, str]) -> None:
    """Every rendered rule file must load back to the rule model, every file must be valid YAML."""
    expected = {g["name"]: g for g in _model_groups(groups)}
    seen: dict[str, dict] = {}
    for path, text in files.items():
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise RuleValidationError(f"rendered {path} is not valid YAML: {exc}") from None
        if path.endswith(".prometheusrule.yaml"):
            loaded = (data or {}).get("spec", {}).get("groups", [])
            if [g["name"] for g in loaded] != list(expected):
                raise RuleValidationError(f"rendered {path} does not hold the generated groups")
        elif path.endswith(".rules.yaml"):
            loaded = (data or {}).get("groups", [])
        else:
            continue
        for g in loaded:
            if g != expected.get(g.get("name")):
                raise RuleValidationError(f"rendered {path}: group {g.get('name')} differs from the rule model")
            seen[g["name"]] = g
    missing = set(expected) - set(seen)
    if missing:
        raise RuleValidationError(f"rendered files lack groups {', '.join(sorted(missing))}")


def promtool_path() -> str:
    path = shutil.which("promtool")
    if path is None:
        raise RuleValidationError("promtool not found on PATH: install Prometheus's promtool (Debian/Ubuntu: "
                                  "apt-get install prometheus) or run without --check")
    return path


def check_with_promtool(files: Mapping[str, str]) -> None:
    """``promtool check rules`` and ``promtool test rules`` on the files, laid out in a scratch dir."""
    promtool = promtool_path()
    with tempfile.TemporaryDirectory(prefix="promcast-check-") as scratch:
        root = Path(scratch)
        for path, text in files.items():
            target = root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        rule_files = sorted(p for p in files if p.endswith(".rules.yaml"))
        test_files = sorted(p for p in files if p.endswith(".test.yaml"))
        _run([promtool, "check", "rules", *rule_files], root, "promtool check rules")
        parts = [part for name in test_files for part in _split_cases(root, name)]
        workers = max(1, min(len(parts), os.cpu_count() or 1))
        with ThreadPoolExecutor(max_workers=workers) as pool:  # promtool runs one test case per process
            for error in pool.map(lambda part: _run([promtool, "test", "rules", part], root, "promtool test rules",
                                                    raise_error=False), parts):
                if error:
                    raise RuleValidationError(error)


def _split_cases(root: Path, name: str) -> list[str]:
    """One test file per case (same rule files, same evaluation interval), so they can run in parallel."""
    data = yaml.safe_load((root / name).read_text(encoding="utf-8"))
    cases = data.get("tests") or []
    if len(cases) <= 1:
        return [name]
    out = []
    for i, case in enumerate(cases):
        part = f"{name[:-len('.test.yaml')]}.case{i}.test.yaml"
        (root / part).write_text(yaml.safe_dump({**data, "tests": [case]}, sort_keys=False), encoding="utf-8")
        out.append(part)
    return out


def _run(cmd: list[str], cwd: Path, what: str, *, raise_error: bool = True) -> str | None:
    """Run promtool; a failure becomes one line naming what failed (raised, or returned)."""
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=PROMTOOL_TIMEOUT,
                              env={**os.environ, "LC_ALL": "C"})
    except subprocess.TimeoutExpired:
        error = f"{what} took longer than {PROMTOOL_TIMEOUT:g}s; nothing written"
    else:
        if proc.returncode == 0:
            return None
        lines = [line.strip() for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]
        detail = " | ".join(lines)
        if len(detail) > MAX_DETAIL:
            detail = detail[:MAX_DETAIL] + " ..."
        error = f"{what} failed, nothing written: {detail}"
    if raise_error:
        raise RuleValidationError(error)
    return error


__all__ = ["RuleValidationError", "check_expressions", "check_round_trip", "check_with_promtool", "promtool_path"]
