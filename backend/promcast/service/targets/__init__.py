"""The ``/query`` targets, by name.

Adding a target is one small module in this package that defines a :class:`.base.Target` subclass,
plus its module name in :data:`MODULES` (the order is the order ``/grafana/metrics`` lists them in).
"""

from __future__ import annotations

import importlib

from ...errors import UnknownNameError
from .base import Target

#: modules in this package that define targets, in the order Grafana's picker shows them
MODULES = ["forecast", "anomalies", "anomaly_events", "disk_exhaustion", "memory_leak", "capacity", "rightsize"]

_TARGETS: dict[str, Target] | None = None


def _load() -> dict[str, Target]:
    global _TARGETS
    if _TARGETS is None:
        found: dict[str, Target] = {}
        for module_name in MODULES:
            module = importlib.import_module(f"{__name__}.{module_name}")
            for value in vars(module).values():
                if (isinstance(value, type) and issubclass(value, Target) and value is not Target
                        and value.__module__ == module.__name__):
                    found[value.name] = value()
        _TARGETS = found
    return _TARGETS


def all_targets() -> list[Target]:
    return list(_load().values())


def target_names() -> list[str]:
    return list(_load())


def get_target(name: str | None) -> Target:
    """The target called ``name``; UnknownNameError lists the known ones."""
    targets = _load()
    if not name:
        raise UnknownNameError(f"missing target: set target to one of {', '.join(targets)}")
    if name not in targets:
        raise UnknownNameError(f"unknown target {name!r}; known targets: {', '.join(targets)}")
    return targets[name]


__all__ = ["MODULES", "Target", "all_targets", "get_target", "target_names"]
