"""The prediction kinds (disk, memory, capacity, anomaly), each named and checked once.

A :class:`PredictionKind` says what the kind is called where (``predict <name>``, the RuleSpec's
``kind``, the Grafana ``/query`` target), which estimator it fits and with which options, which
option is its limit, the shared :mod:`promcast.validation` limits of its numbers, the fields of its
JSON row and how rows sort. ``promcast predict``, the service's targets and the rule generator all
read this table, so a new kind is added here once and every entry point agrees on it.

The table itself loads nothing heavy (the CLI builds its argument parser from it): each estimator and
its row fields are named by import path and loaded on first use.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from ..errors import InputError, UnknownNameError
from ..validation import HEADROOM, SENSITIVITY, Limit


def _load(path: str) -> Any:
    """``"package.module:name"`` imported."""
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def _days_to_full(row: Mapping) -> tuple:
    v = row.get("days_to_full")
    return (0 if v is not None else 2, v if v is not None else math.inf)


def _time_to_oom(row: Mapping) -> tuple:
    v = row.get("time_to_oom_hours")
    rank = 0 if v is not None else (1 if row.get("is_leak") else 2)
    return (rank, v if v is not None else math.inf)


def _scale_up(row: Mapping) -> tuple:
    import pandas as pd

    v = row.get("scale_up_date")
    return (0 if v is not None else 2, pd.Timestamp(v).timestamp() if v else math.inf)


@dataclass(frozen=True)
class PredictionKind:
    """One kind of prediction and every name and check it has."""

    #: ``promcast predict <name>``
    name: str
    #: the RuleSpec ``kind``
    rule_kind: str
    #: the Grafana ``/query`` target that draws it
    target: str
    #: import path of what makes the unfitted estimator from the options (``fit(series) -> self``)
    estimator_path: str
    #: the estimator's keyword options a caller may pass
    options: frozenset[str]
    #: the shared range of each numeric option (:mod:`promcast.validation`)
    limits: Mapping[str, Limit] = field(default_factory=dict)
    #: the option holding what the series is compared against (one value, or one per series)
    limit_option: str | None = None
    #: that limit in words, for "needs --limit (...)" messages
    limit_meaning: str = ""
    #: import path of the fields of its JSON row (``promcast predict``, the service's table); None: no row
    fields_path: str | None = None
    #: a row's place, soonest first (errors and series aside)
    order: Callable[[Mapping], tuple] | None = None

    @property
    def estimator(self) -> Callable[..., Any]:
        return _load(self.estimator_path)

    @property
    def fields(self) -> tuple[str, ...]:
        return _load(self.fields_path) if self.fields_path else ()

    @property
    def predictable(self) -> bool:
        """Whether ``promcast predict`` offers it (a row per series)."""
        return self.fields_path is not None

    def check(self, option: str, value: Any, what: str | None = None) -> float:
        """``value`` of a numeric option within the kind's shared limit, or InputError naming ``what``."""
        return self.limits[option].check(value, what or option)

    def make_predictor(self, **options: Any):
        """A new, unfitted estimator with ``options``; InputError for an unknown option or a missing limit."""
        unknown = sorted(set(options) - self.options)
        if unknown:
            raise InputError(f"unknown option(s) {', '.join(unknown)} for predict {self.name}; known: "
                             f"{', '.join(sorted(self.options))}")
        if self.limit_option is not None and options.get(self.limit_option) is None:
            raise InputError(f"predict {self.name} needs --{self.limit_option} ({self.limit_meaning})")
        return self.estimator(**options)

    def sort_key(self, row: Mapping) -> tuple:
        """Soonest first; rows without a prediction after, errors last, then by series."""
        if row.get("error"):
            return (3, 0.0, row["series"])
        return (*self.order(row), row["series"])


_MAINTENANCE = "promcast.maintenance"
DISK = PredictionKind(
    "disk", "disk_exhaustion", "disk_exhaustion", f"{_MAINTENANCE}.disk:DiskUsagePredictor",
    frozenset({"capacity", "confidence", "min_history", "max_history", "max_days"}),
    limit_option="capacity", limit_meaning="the capacity", fields_path=f"{_MAINTENANCE}.disk:DISK_FIELDS",
    order=_days_to_full)
MEMORY = PredictionKind(
    "memory", "memory_leak", "memory_leak", f"{_MAINTENANCE}.memory:MemoryLeakDetector",
    frozenset({"limit", "alpha", "min_growth", "min_history", "max_history", "restart_drop", "max_extrapolation"}),
    limit_option="limit", limit_meaning="the memory limit in bytes", fields_path=f"{_MAINTENANCE}.memory:MEMORY_FIELDS",
    order=_time_to_oom)
CAPACITY = PredictionKind(
    "capacity", "capacity", "capacity", f"{_MAINTENANCE}.capacity:CapacityPlanner",
    frozenset({"capacity", "headroom", "horizon", "model", "interval", "min_history", "model_params", "unit_cost",
               "cost_period", "scale_down_below"}),
    limits={"headroom": HEADROOM}, limit_option="capacity", limit_meaning="the capacity",
    fields_path=f"{_MAINTENANCE}.capacity:CAPACITY_FIELDS", order=_scale_up)
#: an anomaly band's estimator is a model of the registry (``model`` names it)
ANOMALY = PredictionKind(
    "anomaly", "anomaly_band", "anomalies", "promcast.models.registry:get_model", frozenset({"model"}),
    limits={"sensitivity": SENSITIVITY})

#: every kind by its ``predict`` name
KINDS: dict[str, PredictionKind] = {k.name: k for k in (DISK, MEMORY, CAPACITY, ANOMALY)}
#: the kinds ``promcast predict`` offers
PREDICTABLE: tuple[str, ...] = tuple(name for name, k in KINDS.items() if k.predictable)
#: the RuleSpec kinds, sorted
RULE_KINDS: tuple[str, ...] = tuple(sorted(k.rule_kind for k in KINDS.values()))


def get_kind(name: str) -> PredictionKind:
    """The kind ``predict`` calls ``name``; UnknownNameError listing the choices otherwise."""
    kind = KINDS.get(name)
    if kind is None or not kind.predictable:
        raise UnknownNameError(f"unknown prediction kind {name!r}; choose one of {', '.join(PREDICTABLE)}")
    return kind


def rule_kind(name: str) -> PredictionKind:
    """The kind a RuleSpec calls ``name`` (``disk_exhaustion``, ``anomaly_band``, ...)."""
    for kind in KINDS.values():
        if kind.rule_kind == name:
            return kind
    raise UnknownNameError(f"unknown rule kind {name!r}; choose one of {', '.join(RULE_KINDS)}")


__all__ = ["ANOMALY", "CAPACITY", "DISK", "KINDS", "MEMORY", "PREDICTABLE", "PredictionKind", "RULE_KINDS",
           "get_kind", "rule_kind"]
