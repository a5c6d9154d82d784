"""``promcast predict disk|memory|capacity`` and the Grafana maintenance targets: fit one predictor of a
kind (:mod:`.registry`) per series and report the rows.

:func:`predict` fits one predictor per series and returns the design's JSON objects, soonest first;
:func:`predictions` returns the fitted predictors too (the service draws their projections);
:func:`format_table` renders rows for ``--format table``.

Errors: a series that cannot be predicted (negative values, too short, usage above capacity...)
gets a row with ``"error"`` and null fields, listed last; it does not stop the others. When *every*
series fails the first error is raised (one series: its own message), so a CLI run on one bad file
exits non-zero with one clear line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..errors import InputError, PromcastError
from ..failures import SeriesFailure
from ..sources.base import History, format_labels
from .registry import KINDS, PREDICTABLE, get_kind


@dataclass
class Prediction:
    """One series' outcome: the fitted predictor and its JSON row, or why it failed (the row then has
    ``error`` and null fields)."""

    history: History
    predictor: Any | None
    row: dict
    failure: SeriesFailure | None = None

    def projection(self) -> pd.Series | pd.DataFrame | None:
        """The projected usage (disk, memory) or forecast frame (capacity); None after an error."""
        return None if self.predictor is None else self.predictor.projection()


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
    spec = get_kind(kind)
    limit = spec.limit_option
    limits = _per_series(options.pop(limit, None), len(histories), limit)
    out = []
    for history, value in zip(histories, limits):
        base = {"series": history.legend, "labels": dict(history.labels)}
        try:
            predictor = spec.make_predictor(**{limit: value}, **options).fit(history.values)
        except PromcastError as exc:
            row = {**base, **{f: None for f in spec.fields}, "error": str(exc)}
            out.append(Prediction(history, None, row, SeriesFailure.of("", history.legend, exc)))
            continue
        out.append(Prediction(history, predictor, {**base, **predictor.result()}))
    return out


def predict(kind: str, histories: Sequence[History], **options) -> list[dict]:
    """The design's JSON objects, one per series (``series``, ``labels`` and the kind's fields), soonest
    first. Series that fail carry ``error`` and null fields (last); when all fail, the error is raised.
    """
    get_kind(kind)
    if not histories:
        raise InputError("no series to predict: the query or file returned nothing")
    return rows(kind, predictions(kind, histories, **options))


def rows(kind: str, results: Sequence[Prediction]) -> list[dict]:
    """JSON rows of fitted :func:`predictions`, soonest first; raises when every series failed."""
    failed = [p.failure for p in results if p.failure is not None]
    if len(failed) == len(results):
        first = failed[0]
        if len(results) == 1:
            raise first.error
        raise InputError(f"all {len(results)} series failed; first, {first}") from first.error
    return sorted((p.row for p in results), key=get_kind(kind).sort_key)


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
        kind = next((k for k in PREDICTABLE if set(KINDS[k].fields) <= present), "disk")
    fields = list(get_kind(kind).fields)
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
