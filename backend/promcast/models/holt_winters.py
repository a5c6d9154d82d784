"""``holt_winters``: exponential smoothing (statsmodels), damped additive trend, additive seasonality.

Seasonality is used when the history covers at least two seasons (the heuristic initialisation needs
them); otherwise it is Holt's damped trend. The history is averaged to at most ``max_fit_points``
points (and a season to at most ~300 points), which keeps the fit well under a second. The band comes
from the one-step residuals (see :class:`.base.Forecaster`).
"""

from __future__ import annotations

import warnings
from typing import ClassVar

import numpy as np
import pandas as pd

from .base import Forecaster, ModelFitError, to_timedelta
from .prepare import grid_positions
from .registry import register


@register("holt_winters")
class HoltWinters(Forecaster):
    """Holt-Winters via ``statsmodels.tsa.holtwinters.ExponentialSmoothing``."""

    min_points: ClassVar[int] = 10
    fallback: ClassVar[str | None] = "seasonal_naive"
    max_fit_points: ClassVar[int | None] = 2100

    def __init__(self, season: str = "1d", damped_trend: bool = True):
        self.season = season
        self.damped_trend = damped_trend

    def _fit(self, y: pd.Series) -> None:
        from statsmodels.tsa.holtwinters import ExponentialSmoothing

        season = to_timedelta(self.season, what="season")
        values = y.to_numpy(dtype=float)
        period = int(round(season / self.fit_step_))
        self.origin_ = y.index[0]
        self.period_ = period if period >= 2 and len(values) >= 2 * period else 0
        if np.ptp(values) == 0.0:
            # nothing to smooth: a constant; statsmodels would warn and may return NaNs
            self.result_ = None
            self.fitted_ = values.copy()
            self.constant_ = float(values[0])
            self._learn_residuals(np.zeros(1), level=self.constant_)
            return
        self.constant_ = None
        kwargs = dict(trend="add", damped_trend=bool(self.damped_trend))
        if self.period_:
            kwargs.update(seasonal="add", seasonal_periods=self.period_, initialization_method="heuristic")
        else:
            kwargs.update(initialization_method="estimated")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                result = ExponentialSmoothing(values, **kwargs).fit()
            except (ValueError, np.linalg.LinAlgError) as exc:
                raise ModelFitError(f"holt_winters could not fit this history: {exc}") from exc
        fitted = np.asarray(result.fittedvalues, dtype=float)
        if not np.all(np.isfinite(fitted)):
            raise ModelFitError("holt_winters produced non-finite values on this history")
        self.result_ = result
        self.fitted_ = fitted
        warmup = min(self.period_, len(values) // 4)  # initial season's states are a guess
        self._learn_residuals((values - fitted)[warmup:], level=float(np.median(values)))

    def _predict_mean(self, index: pd.DatetimeIndex) -> np.ndarray:
        pos = grid_positions(index, self.origin_, self.fit_step_)
        n = len(self.fitted_)
        if self.constant_ is not None:
            return np.full(len(index), self.constant_)
        path = self.fitted_
        beyond = int(np.ceil(pos.max())) - (n - 1) if len(pos) else 0
        if beyond > 0:
            path = np.concatenate([path, np.asarray(self.result_.forecast(beyond), dtype=float)])
        return np.interp(np.clip(pos, 0, len(path) - 1), np.arange(len(path)), path)
