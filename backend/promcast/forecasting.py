"""Library entry points behind ``promcast forecast`` and ``promcast detect``: histories in, results out.

One failing series does not stop the others: its error is collected and reported after the rest.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import pandas as pd

from .errors import InputError, PromcastError
from .failures import SeriesFailure
from .sources.base import History

log = logging.getLogger(__name__)

@dataclass
class BatchResult:
    """Per-series results plus the failures, in input order."""

    items: list = field(default_factory=list)
    failures: list[SeriesFailure] = field(default_factory=list)

    def raise_if_all_failed(self, what: str) -> None:
        if self.failures and not self.items:
            first = self.failures[0]
            more = f" (and {len(self.failures) - 1} more series)" if len(self.failures) > 1 else ""
            raise InputError(f"{what} failed for {first.series}: {first.message}{more}")


@dataclass
class SeriesForecast:
    history: History
    forecast: pd.DataFrame
    model: str
    note: str | None


@dataclass
class SeriesScores:
    history: History
    scores: pd.Series


def forecast_histories(histories: list[History], model: str, horizon, interval: float = 0.95,
                       **params) -> BatchResult:
    """Fit ``model`` (falling back to simpler models on short history) and forecast each series."""
    from .models.registry import fit_with_fallback, get_model_class

    if not get_model_class(model).is_forecaster:
        raise InputError(f"model {model!r} detects anomalies but does not forecast; pick a forecaster such as prophet")
    result = BatchResult()
    for history in histories:
        try:
            fitted = fit_with_fallback(model, history.values, **params)
            forecast = fitted.predict(horizon, interval=interval)
        except PromcastError as exc:
            result.failures.append(SeriesFailure.of("", history.legend, exc))
            continue
        result.items.append(SeriesForecast(history, forecast, fitted.name, getattr(fitted, "fallback_reason_", None)))
    return result


def detect_histories(histories: list[History], model: str, refit_every="1d", **params) -> BatchResult:
    """Walk-forward anomaly scores for every row of each series (causal)."""
    from .models.walkforward import walk_forward_scores

    result = BatchResult()
    for history in histories:
        try:
            scores = walk_forward_scores(model, history.values, refit_every=refit_every, params=params)
        except PromcastError as exc:
            result.failures.append(SeriesFailure.of("", history.legend, exc))
            continue
        result.items.append(SeriesScores(history, scores.reindex(history.values.index).fillna(0.0)))
    return result


def report_failures(result: BatchResult) -> None:
    for failure in result.failures:
        log.error("series %s failed: %s", failure.series, failure.message)
