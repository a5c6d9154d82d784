"""Shared by the golden tests: run a golden case and split/join its concatenated output."""

from __future__ import annotations

import re
from pathlib import Path

GOLDEN = Path(__file__).resolve().parents[2] / "golden"
_SEPARATOR = re.compile(r"^# ==> (.+) <==$", re.M)


def cases() -> list[str]:
    return sorted(p.name[3:-5] for p in GOLDEN.glob("in-*.yaml"))


def case_format(name: str) -> str:
    first = (GOLDEN / f"in-{name}.yaml").read_text().splitlines()[0]
    match = re.match(r"#\s*format:\s*(\S+)", first)
    return match.group(1) if match else "both"


def generate(name: str) -> dict[str, str]:
    """Fit and render a golden case (no writing, no promtool)."""
    from promcast.rules.fitting import fit_spec
    from promcast.rules.run import build_files, make_source
    from promcast.rules.spec import load_spec

    spec = load_spec(GOLDEN / f"in-{name}.yaml")
    report = fit_spec(spec, make_source(spec), progress=False)
    _, files, _ = build_files(spec, report, case_format(name), check=False)
    return files


def join(files: dict[str, str]) -> str:
    return "".join(f"# ==> {path} <==\n{text}" for path, text in sorted(files.items()))


def split(text: str) -> dict[str, str]:
    parts = _SEPARATOR.split(text)
    return {parts[i]: parts[i + 1].lstrip("\n") for i in range(1, len(parts), 2)}
