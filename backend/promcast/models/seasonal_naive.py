"""``seasonal_naive``: tomorrow looks like today. The baseline every forecaster must beat (MASE).

The expectation of time ``t`` is the value one season earlier (``1d`` by default); with less than a
season of history it is the last value (a plain naive forecast). Scoring uses the scored series' own
past values, so after a refit the expectation keeps following the data, causally.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd

from .base import Forecaster, to_timedelta
from .prepare import epoch_seconds
from .registry import register


@register("seasonal_naive")
class SeasonalNaive(Forecaster):
    """``yhat(t) = y(t - k * lag)`` for the smallest ``k >= 1`` that lands in known history.

    ``lag`` is ``season`` when the history covers at least one season plus a step, else one step.
    """

    min_points: ClassVar[int] = 2
    fallback: ClassVar[str | None] = "mad"

    def __init__(self, season: str = "1d"):
        self.season = season

    def _fit(self, y: pd.Series) -> None:
        season = to_timedelta(self.season, what="season")
        span = y.index[-1] - y.index[0]
        self.seasonal_ = bool(span >= season)
        self.lag_ = season if self.seasonal_ else self.fit_step_
        self.history_ = y.astype(float)
        expected = self._lookup(y.index, self.history_)
        resid = y.to_numpy(dtype=float) - expected
        self._learn_residuals(resid[np.isfinite(expected)], level=float(np.median(y)))

    def score_context(self) -> int:
        return int(np.ceil(self.lag_ / self.step_)) + 1

    def _lookup(self, index: pd.DatetimeIndex, known: pd.Series) -> np.ndarray:
        """Value of ``known`` at ``t - k * lag`` (as of, k >= 1 minimal with data there); NaN before it."""
        t = epoch_seconds(index)
        kt = epoch_seconds(known.index)
        lag = self.lag_.total_seconds()
        last = kt[-1]
        k = np.maximum(1.0, np.ceil((t - last) / lag - 1e-9))
        ref = t - k * lag
        pos = np.searchsorted(kt, ref + 1e-6, side="right") - 1
        values = known.to_numpy(dtype=float)
        out = np.where(pos >= 0, values[np.clip(pos, 0, None)], np.nan)
        return out

    def _predict_mean(self, index: pd.DatetimeIndex) -> np.ndarray:
        out = self._lookup(index, self.history_)
        # before one lag of history there is nothing to repeat: use the first value
        return np.where(np.isfinite(out), out, self.history_.iloc[0])

    def _expected(self, x: pd.Series) -> np.ndarray:
        # the scored series' own rows take precedence over the fitted grid where they overlap
        older = self.history_[self.history_.index < x.index[0]]
        known = pd.concat([older, x.astype(float)]) if len(older) else x.astype(float)
        out = self._lookup(x.index, known)
        return np.where(np.isfinite(out), out, x.to_numpy(dtype=float))
