"""One entry point for ``promcast predict disk|memory|capacity`` and the Grafana targets.

:func:`predict` fits one predictor per series and returns the design's JSON objects, soonest first;
:func:`predictions` returns the fitted predictors too (the service draws their projections);
:func:`format_table` renders rows for ``--format table``. :func:`used_from_available` and
:func:`values_by_series` turn Prometheus' ``avail`` / ``size`` / limit series into what the predictors
take.

Errors: a series that cannot be predicted (negative values, too short, usage above capacity...)
gets a row with ``"error"`` and null fields, listed last; it does not stop the others. When *every*
series fails the first error is raised (one series: its own message), so a CLI run on one bad file
exits non-zero with one clear line.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ..errors import InputError, PromcastError, UnknownNameError
from ..sources.base import History, format_labels
from .capacity import CAPACITY_FIELDS, CapacityPlanner
from .disk import DISK_FIELDS, DiskUsagePredictor, used_space
from .memory import MEMORY_FIELDS, MemoryLeakDetector

KINDS = ("disk", "memory", "capacity")
FIELDS: dict[str, tuple[str, ...]] = {"disk": DISK_FIELDS, "memory": MEMORY_FIELDS, "capacity": CAPACITY_FIELDS}
#: the option naming each kind's limit (a number, or one number per series)
LIMIT_OPTION = {"disk": "capacity", "memory": "limit", "capacity": "capacity"}
_OPTIONS = {
    "disk": {"capacity", "confidence", "min_history", "max_history", "max_days"},
    "memory": {"limit", "alpha", "min_growth", "min_history", "max_history", "restart_drop", "max_extrapolation"},
    "capacity": {"capacity", "headroom", "horizon", "model", "interval", "min_history", "model_params", "unit_cost",
                 "cost_period", "scale_down_below"},
}


@dataclass
class Prediction:
    """One series' outcome: the fitted predictor and its JSON row, or the error."""

    history: History
    predictor: Any | None
    row: dict
    error: PromcastError | None = None

    def projection(self) -> pd.Series | pd.DataFrame | None:
        """The projected usage (disk, memory) or forecast frame (capacity); None after an error."""
        return None if self.predictor is None else self.predictor.projection()


def _check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise UnknownNameError(f"unknown prediction kind {kind!r}; choose one of {', '.join(KINDS)}")
    return kind


def make_predictor(kind: str, **options):
    """A new, unfitted predictor of ``kind`` with ``options`` (the kind's keyword arguments)."""
    _check_kind(kind)
    unknown = sorted(set(options) - _OPTIONS[kind])
    if unknown:
        raise InputError(f"unknown option(s) {', '.join(unknown)} for predict {kind}; known: "
                         f"{', '.join(sorted(_OPTIONS[kind]))}")
    limit = LIMIT_OPTION[kind]
    if options.get(limit) is None:
        raise InputError(f"predict {kind} needs --{limit} (the {'memory limit in bytes' if kind == 'memory' else 'capacity'})")
    cls = {"disk": DiskUsagePredictor, "memory": MemoryLeakDetector, "capacity": CapacityPlanner}[kind]
    return cls(**options)


def _per_series(value, n: int, name: str) -> list:
    if isinstance(value, (list, tuple, np.ndarray, pd.Series)):
        if len(value) != n:
            raise InputError(f"got {len(value)} values of {name} for {n} series; give one, or one per series")
        return list(value)
    return [value] * n


def predictions(kind: str, histories: Sequence[History], **options) -> list[Prediction]:
    """Fit a ``kind`` predictor on each history; the limit option may be one value per history.

    Returns one :class:`Prediction` per history in input order (errors included, not raised).
    """
    _check_kind(kind)
    limit = LIMIT_OPTION[kind]
    limits = _per_series(options.pop(limit, None), len(histories), limit)
    out = []
    for history, value in zip(histories, limits):
        base = {"series": history.legend, "labels": dict(history.labels)}
        try:
            predictor = make_predictor(kind, **{limit: value}, **options).fit(history.values)
        except PromcastError as exc:
            row = {**base, **{f: None for f in FIELDS[kind]}, "error": str(exc)}
            out.append(Prediction(history, None, row, exc))
            continue
        out.append(Prediction(history, predictor, {**base, **predictor.result()}))
    return out


def sort_key(kind: str):
    """Soonest first: days to full, leaks by time to OOM, earliest scale-up; nulls and errors last."""

    def key(row: dict):
        if row.get("error"):
            return (3, 0.0, row["series"])
        if kind == "disk":
            v = row.get("days_to_full")
            return (0 if v is not None else 2, v if v is not None else math.inf, row["series"])
        if kind == "memory":
            v = row.get("time_to_oom_hours")
            rank = 0 if v is not None else (1 if row.get("is_leak") else 2)
            return (rank, v if v is not None else math.inf, row["series"])
        v = row.get("scale_up_date")
        return (0 if v is not None else 2, pd.Timestamp(v).timestamp() if v else math.inf, row["series"])

    return key


def predict(kind: str, histories: Sequence[History], **options) -> list[dict]:
    """The design's JSON objects, one per series (``series``, ``labels`` and the kind's fields), soonest
    first. Series that fail carry ``error`` and null fields (last); when all fail, the error is raised.
    """
    _check_kind(kind)
    if not histories:
        raise InputError("no series to predict: the query or file returned nothing")
    return rows(kind, predictions(kind, histories, **options))


def rows(kind: str, results: Sequence[Prediction]) -> list[dict]:
    """JSON rows of fitted :func:`predictions`, soonest first; raises when every series failed."""
    failed = [p for p in results if p.error is not None]
    if len(failed) == len(results):
        first = failed[0]
        if len(results) == 1:
            raise first.error
        raise InputError(f"all {len(results)} series failed; first, {first.history.legend}: {first.error}") from first.error
    return sorted((p.row for p in results), key=sort_key(kind))


# ---- matching Prometheus series --------------------------------------------------------------------
def _key(labels: Mapping[str, str]) -> tuple:
    return tuple(sorted((k, v) for k, v in labels.items() if k != "__name__"))


def values_by_series(histories: Sequence[History], others: Sequence[History], *, what: str) -> list[float]:
    """The latest value of the series in ``others`` with the same labels (``__name__`` aside) as each
    history, e.g. a disk's ``node_filesystem_size_bytes`` or a container's memory limit.

    A single series in ``others`` applies to every history. InputError naming the series otherwise.
    """
    if not others:
        raise InputError(f"the {what} query returned no series")
    latest = {}
    for other in others:
        vals = other.values.dropna()
        if len(vals):
            latest[_key(other.labels)] = float(vals.iloc[-1])
    out = []
    for history in histories:
        k = _key(history.labels)
        if k in latest:
            out.append(latest[k])
        elif len(others) == 1 and latest:
            out.append(next(iter(latest.values())))
        else:
            raise InputError(f"no {what} series has the labels of {history.legend}; "
                             f"match the {what} query's labels to the main query's")
    return out


def used_from_available(avail: Sequence[History], size: Sequence[History] | float) -> tuple[list[History], list[float]]:
    """Space used (``size - avail``) per series and each disk's capacity, by :func:`.disk.used_space`.

    ``size`` is a number (the same for every series) or the ``--size-expr`` series, matched by labels.
    """
    used, capacities = [], []
    sizes: dict[tuple, pd.Series] = {}
    if not isinstance(size, (int, float)):
        for s in size:
            sizes[_key(s.labels)] = s.values.dropna()
        if not sizes:
            raise InputError("the size query returned no series")
    for h in avail:
        if isinstance(size, (int, float)):
            total: pd.Series | float = float(size)
        else:
            total = sizes.get(_key(h.labels))
            if total is None:
                if len(sizes) != 1:
                    raise InputError(f"no size series has the labels of {h.legend}; give the size expression "
                                     "(--size-expr, payload.size_expr) the labels of the usage expression "
                                     "(e.g. both by device and mountpoint)")
                total = next(iter(sizes.values()))
            if total.empty:
                raise InputError(f"the size series for {h.legend} has no values")
        try:
            values, capacity = used_space(h.values, total)
        except InputError as exc:
            raise InputError(f"{h.legend}: {exc}") from exc
        labels = {k: v for k, v in h.labels.items() if k != "__name__"}
        used.append(History(labels=labels, values=values))
        capacities.append(capacity)
    return used, capacities


# ---- table -----------------------------------------------------------------------------------------
def _cell(field: str, value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if field.startswith("days_to_full") or field == "time_to_oom_hours":
            return f"{value:.2f}"
        if field == "p_value":
            return f"{value:.3g}"
        return f"{value:.6g}"
    return str(value)


def format_table(rows: Sequence[dict], kind: str | None = None) -> str:
    """A fixed-width text table of ``rows`` (``--format table``): series, the kind's fields, errors."""
    if kind is None:
        present = set().union(*(r.keys() for r in rows)) if rows else set()
        kind = next((k for k in KINDS if set(FIELDS[k]) <= present), "disk")
    fields = list(FIELDS[_check_kind(kind)])
    header = ["series", *fields]
    has_error = any(r.get("error") for r in rows)
    if has_error:
        header.append("error")
    body = []
    for r in rows:
        line = [r.get("series") or format_labels(r.get("labels", {}))] + [_cell(f, r.get(f)) for f in fields]
        if has_error:
            line.append(r.get("error") or "")
        body.append(line)
    widths = [max(len(str(c)) for c in col) for col in zip(header, *body)]

    def render(cells):
        parts = []
        for i, (cell, width) in enumerate(zip(cells, widths)):
            numeric = 0 < i <= len(fields)
            parts.append(str(cell).rjust(width) if numeric else str(cell).ljust(width))
        return "  ".join(parts).rstrip()

    return "\n".join([render(header), *(render(line) for line in body)]) + "\n"
