"""One module per target kind: fit jobs, rule construction and promtool test synthesis.

The kinds themselves (names, estimators, limits) are :mod:`promcast.kinds.registry`'s; this maps each
RuleSpec kind to the module that writes its rules."""

from __future__ import annotations

import importlib
from types import ModuleType

from ...kinds.registry import ANOMALY, CAPACITY, DISK, MEMORY

_MODULES = {
    DISK.rule_kind: "promcast.rules.kinds.disk",
    MEMORY.rule_kind: "promcast.rules.kinds.memory",
    ANOMALY.rule_kind: "promcast.rules.kinds.anomaly",
    CAPACITY.rule_kind: "promcast.rules.kinds.capacity",
}


def kind_module(kind: str) -> ModuleType:
    """The module implementing ``kind``: ``prepare(target, source, window)`` and ``build(plan)``."""
    return importlib.import_module(_MODULES[kind])


__all__ = ["kind_module"]
