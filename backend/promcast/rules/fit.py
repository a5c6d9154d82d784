"""What fitting a target produces and the helpers each kind's ``prepare`` uses (fetch, windows, jobs).

The kinds (:mod:`.kinds`) import this module; :mod:`.fitting` runs them over a whole spec.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, Mapping, Sequence

import pandas as pd

from ..errors import PromcastError
from ..failures import SeriesFailure
from ..sources.base import History, Labelled, Source
from .spec import Target


@dataclass(frozen=True)
class SeriesFit(Labelled):
    """What promcast learned for one series.

    ``params`` is what the rules embed (hashable: equal params share rule terms); ``numbers`` are the
    predictor's own results for the report; ``shape`` describes the series' normal behaviour for the
    generated promtool tests (levels, sizes, amplitudes).
    """

    labels: Mapping[str, str]
    params: Hashable
    numbers: Mapping[str, Any] = field(default_factory=dict)
    shape: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class TargetFit:
    target: Target
    series: tuple[SeriesFit, ...]
    failures: tuple[SeriesFailure, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def label_sets(self) -> list[Mapping[str, str]]:
        return [s.labels for s in self.series]


@dataclass(frozen=True)
class SeriesJob:
    """One series to fit: ``func(*args) -> SeriesFit`` (module-level, plain data: runs anywhere)."""

    target: str
    legend: str
    func: Callable[..., SeriesFit]
    args: tuple


class TargetError(PromcastError):
    """A target could not be fitted at all (no series, the source failed, every series failed)."""


@dataclass(frozen=True)
class Window:
    """The history range fetched for a target."""

    start: pd.Timestamp
    end: pd.Timestamp
    step: pd.Timedelta


def history_window(target: Target, end: pd.Timestamp) -> Window:
    step = pd.Timedelta(target.step)
    end = end.floor(step) if end.value % step.value else end
    return Window(end - pd.Timedelta(target.history), end, step)


def fetch(source: Source, target: Target, expr: str, window: Window, *, field_name: str = "expr") -> list[History]:
    """Fetch ``expr``; errors name the target and the field."""
    try:
        histories = source.query_range(expr, window.start, window.end, window.step)
    except PromcastError as exc:
        raise type(exc)(f"target {target.name!r} ({field_name}): {exc}") from exc
    histories = [h for h in histories if h.values.notna().any()]
    if not histories:
        raise TargetError(
            f"target {target.name!r}: {field_name} {expr!r} matched no series with data between "
            f"{_iso(window.start)} and {_iso(window.end)} on {source.description}; check the selector and "
            "that the metric exists (or lengthen source.history)"
        )
    return histories


def fetch_paired(source: Source, target: Target, window: Window,
                 field_name: str) -> tuple[list[tuple[History, pd.Series | None]], list[SeriesFailure]]:
    """Each series of the target's ``expr`` with the values of its series of a second expression (the
    target's ``field_name``: ``size_expr``, ``limit_expr``), matched by labels (``__name__`` aside);
    None for every series when the target gives no such expression. A series without its match is a
    failure, and the others go on."""
    primary = fetch(source, target, target.expr, window)
    other_expr = target.param(field_name)
    if not other_expr:
        return [(h, None) for h in primary], []
    matched = _match_by_labels(primary, fetch(source, target, other_expr, window, field_name=field_name))
    pairs, failures = [], []
    for h in primary:
        if h.legend not in matched:
            failures.append(SeriesFailure(target.name, h.legend, f"no {field_name} series with the same labels; "
                                          f"{field_name} must return one series per expr series, labels alike"))
            continue
        pairs.append((h, matched[h.legend].values))
    return pairs, failures


def _match_by_labels(primary: Sequence[History], secondary: Sequence[History]) -> dict[str, History]:
    """For each primary series, the secondary series with the same labels (``__name__`` aside)."""
    def key(h: History) -> tuple:
        return tuple(sorted((k, v) for k, v in h.labels.items() if k != "__name__"))

    by_key: dict[tuple, History] = {}
    for h in secondary:
        by_key.setdefault(key(h), h)
    return {p.legend: by_key[key(p)] for p in primary if key(p) in by_key}


def _iso(ts: pd.Timestamp) -> str:
    return pd.Timestamp(ts).strftime("%Y-%m-%dT%H:%M:%SZ")


__all__ = ["SeriesFailure", "SeriesFit", "SeriesJob", "TargetError", "TargetFit", "Window", "fetch",
           "history_window", "fetch_paired"]
