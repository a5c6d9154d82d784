"""The prediction kinds (disk, memory, capacity, anomaly), each named and checked once.

A :class:`PredictionKind` says what the kind is called where (``predict <name>``, the RuleSpec's
``kind``, the Grafana ``/query`` target), which estimator it fits and with which options, which
option is its limit, its user-given parameters (:mod:`promcast.kinds.params`: key, type, shared
limit, default, help, and which front ends read it), the fields of its JSON row and how rows sort.
``promcast predict`` (its flags), the service's targets (their payload keys) and the RuleSpec (its
per-kind fields) all read this table, so a new kind or parameter is added here once and every entry
point agrees on it.

The table itself loads nothing heavy (the CLI builds its argument parser from it): each estimator and
its row fields are named by import path and loaded on first use.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from ..errors import InputError, UnknownNameError
from ..validation import CAPACITY as CAPACITY_LIMIT, DISK_SIZE, HEADROOM, MEMORY_LIMIT, SENSITIVITY, UNIT_COST
from .params import CHOICE, DURATION, EXPRESSION, MODEL, NUMBER, QUANTITY, RULES, SERVICE, Param


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
    #: its user-given parameters, in the order ``--help`` and messages list them
    params: tuple[Param, ...] = ()
    #: the option holding what the series is compared against (one value, or one per series)
    limit_option: str | None = None
    #: that limit in words, for "needs --limit (...)" messages
    limit_meaning: str = ""
    #: the parameter giving the limit per series as PromQL instead (exclusive with the limit's own)
    limit_expr: str | None = None
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

    def param(self, name: str) -> Param:
        """The parameter with RuleSpec/payload key ``name``."""
        for param in self.params:
            if param.name == name:
                return param
        raise KeyError(f"{self.name} has no parameter {name!r}")

    @property
    def limit_param(self) -> Param | None:
        """The parameter that becomes :attr:`limit_option` (disk's ``size`` is its ``capacity``)."""
        return next((p for p in self.params if p.option == self.limit_option), None)

    def params_read_by(self, front_end: str) -> tuple[Param, ...]:
        """The parameters ``front_end`` (:data:`~promcast.kinds.params.CLI`, ``SERVICE``, ``RULES``) reads."""
        return tuple(p for p in self.params if front_end in p.read_by)

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


def _default_forecaster() -> str:
    from ..models.registry import DEFAULT_FORECASTER

    return DEFAULT_FORECASTER


_RULES = frozenset({RULES})
_RULES_AND_SERVICE = frozenset({RULES, SERVICE})


def _alert_lead(warning: str, critical: str) -> tuple[Param, Param]:
    """The two lead times of a kind whose rules warn before they page."""
    return (Param("warning_within", DURATION, "warn when the limit is this close", warning, read_by=_RULES),
            Param("critical_within", DURATION, "page when the limit is this close (at most warning_within)",
                  critical, read_by=_RULES))


_MAINTENANCE = "promcast.maintenance"
DISK = PredictionKind(
    "disk", "disk_exhaustion", "disk_exhaustion", f"{_MAINTENANCE}.disk:DiskUsagePredictor",
    frozenset({"capacity", "confidence", "min_history", "max_history", "max_days"}),
    params=(
        Param("size_expr", EXPRESSION, "PromQL for the filesystems' size, matched to expr by labels"),
        Param("size", QUANTITY, "one size for all filesystems, in the unit of expr (100 for percent, 500GiB)",
              limit=DISK_SIZE, flag_name="capacity", option_name="capacity"),
        *_alert_lead("7d", "1d"),
        Param("readonly_expr", EXPRESSION, "PromQL that is 1 for a read-only filesystem (false: none)",
              read_by=_RULES),
        Param("max_window", DURATION, "longest history a rule fits the growth on (at least 1h)", "15d",
              read_by=_RULES),
    ),
    limit_option="capacity", limit_meaning="the disk size, or 100 for percent", limit_expr="size_expr",
    fields_path=f"{_MAINTENANCE}.disk:DISK_FIELDS",
    order=_days_to_full)
MEMORY = PredictionKind(
    "memory", "memory_leak", "memory_leak", f"{_MAINTENANCE}.memory:MemoryLeakDetector",
    frozenset({"limit", "alpha", "min_growth", "min_history", "max_history", "restart_drop", "max_extrapolation"}),
    params=(
        Param("limit", QUANTITY, "memory limit for all series in bytes, e.g. 2GiB", limit=MEMORY_LIMIT),
        Param("limit_expr", EXPRESSION, "PromQL for each series' memory limit, matched to expr by labels"),
        *_alert_lead("3d", "12h"),
    ),
    limit_option="limit", limit_meaning="the memory limit in bytes, e.g. 2GiB", limit_expr="limit_expr",
    fields_path=f"{_MAINTENANCE}.memory:MEMORY_FIELDS",
    order=_time_to_oom)
CAPACITY = PredictionKind(
    "capacity", "capacity", "capacity", f"{_MAINTENANCE}.capacity:CapacityPlanner",
    frozenset({"capacity", "headroom", "horizon", "model", "interval", "min_history", "model_params", "unit_cost",
               "cost_period", "scale_down_below"}),
    params=(
        Param("capacity", QUANTITY, "the load the system can take, in the unit of expr (5000, 5k)",
              limit=CAPACITY_LIMIT),
        Param("headroom", NUMBER, "fraction of the capacity kept free", 0.2, limit=HEADROOM),
        Param("horizon", DURATION, "plan this far ahead", "30d"),
        Param("model", MODEL, "the forecaster of the load", "prophet", read_by=_RULES_AND_SERVICE),
        Param("unit_cost", NUMBER, "price of one unit of capacity per cost_period; adds current_cost, "
                                   "recommended_cost, monthly_delta", limit=UNIT_COST),
        Param("cost_period", DURATION, "the period unit_cost is for", "30d"),
    ),
    limit_option="capacity", limit_meaning="the load the system can take",
    fields_path=f"{_MAINTENANCE}.capacity:CAPACITY_FIELDS", order=_scale_up)
#: an anomaly band's estimator is a model of the registry (``model`` names it)
ANOMALY = PredictionKind(
    "anomaly", "anomaly_band", "anomalies", "promcast.models.registry:get_model", frozenset({"model"}),
    params=(
        Param("mode", CHOICE, "exported: promcast serves the band; promql: the rules compute it", "promql",
              choices=("exported", "promql"), read_by=_RULES),
        # the service's anomaly targets take payload.model as every model target does (settings' default)
        Param("model", MODEL, "the model of the band", _default_forecaster, read_by=_RULES),
        Param("sensitivity", NUMBER, "band width in robust standard deviations; lower flags more", 3,
              limit=SENSITIVITY, read_by=_RULES_AND_SERVICE),
        Param("severity", CHOICE, "the alert's severity label", "warning", choices=("critical", "info", "warning"),
              read_by=_RULES),
    ))

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
