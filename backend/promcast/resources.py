"""Locate shipped data folders (templates, dashboards, provisioning) in a wheel or a checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_NAMES = ("rules_templates", "dashboards", "provisioning")


def data_dir(name: str) -> Path:
    """Return the folder ``name``; wheels carry it under ``promcast/_data``, checkouts at the repo root."""
    if name not in _NAMES:
        raise ValueError(f"unknown data folder {name!r}; known: {', '.join(_NAMES)}")
    for candidate in (_PACKAGE / "_data" / name, _PACKAGE.parent.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"promcast data folder {name!r} is missing from this installation")
