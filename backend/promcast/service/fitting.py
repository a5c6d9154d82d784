"""Fitted models for the series of one expression: from the cache, or fitted on their history.

The cache key is the series identity (source, expression after ad hoc filters, label set), the model
and its parameters, the history length and where the history ends. A panel looking at the present
shares one "live" fit (refitted every ``refit_interval``); a panel looking at the past gets a fit on
the history before its own end, so it never forecasts with data from after the range it shows.
History for an expression is fetched once, on the first cache miss, for all of its series.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

import pandas as pd

from ..durations import human_duration
from ..errors import InputError, PromcastError
from ..models import fit_with_fallback, get_model_class
from ..sources.base import History, Source, format_labels
from .cache import CacheEntry, ModelCache
from .timegrid import floor_time, nice_step

if TYPE_CHECKING:
    from ..config import ModelSettings

#: points of history a fit asks the source for (models average longer histories further themselves)
FIT_POINTS = 5000
#: finest step history is fetched at (Prometheus' usual scrape intervals are 15s to 1m)
MIN_FIT_STEP = pd.Timedelta("15s")
#: longest history a fit uses
MAX_HISTORY = pd.Timedelta("365D")


@dataclass(frozen=True)
class ModelSpec:
    """Which model to fit, with which hyper-parameters, on how much history."""

    name: str
    history: pd.Timedelta
    params: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, name: str, history: pd.Timedelta, params: Mapping[str, Any]) -> "ModelSpec":
        """The spec of a fit recorded elsewhere (a store entry, a batch task): params as a mapping."""
        return cls(name, history, tuple(sorted(params.items())))

    @property
    def fit_step(self) -> pd.Timedelta:
        return nice_step(max(self.history / FIT_POINTS, MIN_FIT_STEP))


def series_key(labels: Mapping[str, str]) -> frozenset:
    return frozenset(labels.items())


def cache_key(source_identity: str, expr: str, labels: Mapping[str, str], spec: ModelSpec,
              end_key: object = "live") -> tuple:
    """The model cache key of one series: what panels, store preloads and pre-fits all agree on."""
    return (source_identity, expr, series_key(labels), spec.name, spec.params, spec.history.value, end_key)


class SeriesModels:
    """Models for the series of ``expr`` under ``spec``, with history ending at ``end``.

    ``end_key`` is ``"live"`` for a panel showing the present (the fit is shared and refreshed every
    refit interval) or the history end itself for a panel in the past.
    """

    def __init__(self, source: Source, cache: ModelCache, expr: str, spec: ModelSpec,
                 end: pd.Timestamp, end_key: object, extra_params: Mapping[str, Any] | None = None) -> None:
        self.source = source
        self.cache = cache
        self.expr = expr
        self.spec = spec
        self.end = end
        self.end_key = end_key
        self.extra_params = dict(extra_params or {})
        self._history: dict[frozenset, History] | None = None
        self._error: PromcastError | None = None
        self._lock = threading.Lock()

    def key(self, labels: Mapping[str, str]) -> tuple:
        return cache_key(self.source.identity, self.expr, labels, self.spec, self.end_key)

    def get(self, labels: Mapping[str, str]) -> tuple[CacheEntry, bool]:
        """``(entry, hit)`` for the series with ``labels``; errors name the series."""
        try:
            return self.cache.get_or_fit(self.key(labels), lambda: self._fit(labels), model_name=self.spec.name)
        except PromcastError as exc:
            raise type(exc)(f"{format_labels(labels)}: {exc}") from exc

    def _fit(self, labels: Mapping[str, str]):
        history = self._history_of(labels)
        params = dict(self.spec.params)
        params.update(self.extra_params)
        return fit_with_fallback(self.spec.name, history.values, warn=False, **params)

    def _history_of(self, labels: Mapping[str, str]) -> History:
        with self._lock:
            if self._error is not None:  # one failed fetch (a timeout) is not repeated for every series
                raise self._error
            if self._history is None:
                step = self.spec.fit_step
                end = floor_time(self.end, step)
                try:
                    found = self.source.query_range(self.expr, end - self.spec.history, end, step)
                except PromcastError as exc:
                    self._error = exc
                    raise
                self._history = {series_key(h.labels): h for h in found}
        history = self._history.get(series_key(labels))
        if history is None or not history.values.notna().any():
            raise InputError(
                f"no history in the {human_duration(self.spec.history)} before {self.end.isoformat()}; "
                "shorten payload.history or pick a range with data")
        return history


def model_extra_params(name: str, models: ModelSettings, *, forecast: bool = True) -> dict[str, Any]:
    """Settings-driven hyper-parameters: the ensemble's forecast weights from ``models.ensemble_weights``
    (unless ``forecast`` is False: walk-forward scoring fits no forecast member) and, when set, its
    anomaly-score weights from ``models.ensemble_score_weights``."""
    if name != "ensemble":
        return {}
    import inspect

    accepted = inspect.signature(get_model_class(name).__init__).parameters
    out: dict[str, Any] = {"weights": dict(models.ensemble_weights)} if forecast and "weights" in accepted else {}
    if models.ensemble_score_weights is not None and "score_weights" in accepted:
        out["score_weights"] = dict(models.ensemble_score_weights)
    return out
