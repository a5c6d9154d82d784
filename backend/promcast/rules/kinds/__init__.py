"""One module per target kind: fit jobs, rule construction and promtool test synthesis."""

from __future__ import annotations

import importlib
from types import ModuleType

_MODULES = {
    "disk_exhaustion": "promcast.rules.kinds.disk",
    "memory_leak": "promcast.rules.kinds.memory",
    "anomaly_band": "promcast.rules.kinds.anomaly",
    "capacity": "promcast.rules.kinds.capacity",
}


def kind_module(kind: str) -> ModuleType:
    """The module implementing ``kind``: ``prepare(target, source, window)`` and ``build(plan)``."""
    return importlib.import_module(_MODULES[kind])


__all__ = ["kind_module"]
