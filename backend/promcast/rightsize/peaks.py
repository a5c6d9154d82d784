"""Forecast a container's hourly usage peaks over a horizon: trend, weekly (or daily) profile, upper bound.

Right-sizing plans for the busy hours of the weeks ahead, not for the average of the weeks behind.
:class:`PeakForecaster` fits, on hourly values (hourly means for CPU requests, hourly maxima for
limits and memory):

- a **trend** from the daily means (least squares); it is kept only when it is clearly there
  (t-statistic above ``min_trend_t``) and growing: a plan that shrinks with a noisy negative slope
  risks OOMs, one that ignores a real growth risks them for sure;
- a **profile** by hour of the week (14 days of history or more), else by hour of the day (2 days or
  more): busy hours and quiet weekends;
- a **level** from the latest week (or the latest day), so a deploy that changed the footprint counts
  and an old regime does not;
- an **upper bound**: the residuals' ``(1 + interval) / 2`` quantile over the same recent window plus
  the trend's own uncertainty growing with the lead time (memory cannot be throttled: its limit
  follows this bound).

No model server, no Prophet: one least-squares fit per series, so a cluster of thousands of
containers is sized in seconds and the benchmark can replay many weeks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from ..errors import InputError

HOUR = pd.Timedelta("1h")
DAY = pd.Timedelta(days=1)
WEEK = pd.Timedelta(days=7)


class PeakForecaster(BaseEstimator):
    """Hourly usage -> hourly ``yhat`` and ``yhat_upper`` over a horizon.

    Fitted attributes: ``slope_`` (per day, 0 when no growth is clear), ``slope_se_``, ``period_``
    (168, 24 or 1 hours), ``profile_``, ``level_``, ``upper_offset_``, ``last_``.
    """

    def __init__(self, interval: float = 0.95, min_trend_t: float = 3.0):
        self.interval = interval
        self.min_trend_t = min_trend_t

    def fit(self, hourly: pd.Series) -> "PeakForecaster":
        values = hourly.dropna().astype(float)
        if len(values) < 6:
            raise InputError(f"only {len(values)} hours of usage; give at least six hours of history")
        index = pd.DatetimeIndex(values.index)
        span = index[-1] - index[0]
        t = np.asarray((index - index[0]) / DAY, dtype=float)
        y = values.to_numpy()
        self.origin_ = index[0]
        self.slope_, self.slope_se_, self.t_mean_ = _trend(t, y, self.min_trend_t)
        self.period_ = 168 if span >= 2 * WEEK - DAY else (24 if span >= 2 * DAY - HOUR else 1)
        phase = _phase(index, self.period_)
        detrended = y - self.slope_ * t
        overall = detrended.mean()
        profile = np.zeros(self.period_)
        for p in range(self.period_):
            hit = phase == p
            profile[p] = detrended[hit].mean() - overall if hit.any() else 0.0
        self.profile_ = profile
        recent = t >= t[-1] - max(7.0 if self.period_ == 168 else 1.0, self.period_ / 24.0) + 1e-9
        base = detrended - profile[phase]
        self.level_ = float(base[recent].mean())
        residual = base[recent] - self.level_
        quantile = 1.0 - (1.0 - float(self.interval)) / 2.0
        self.upper_offset_ = float(max(0.0, np.quantile(residual, quantile)))
        self.z_ = float(stats.norm.ppf(quantile))
        self.last_ = index[-1]
        return self

    def predict(self, horizon: pd.Timedelta | str) -> pd.DataFrame:
        """Hourly ``yhat, yhat_upper`` from the hour after the last one to ``horizon`` ahead (never below 0)."""
        if not hasattr(self, "last_"):
            raise NotFittedError("PeakForecaster is not fitted yet; call fit(hourly) first")
        index = pd.date_range(self.last_ + HOUR, self.last_ + pd.Timedelta(horizon), freq=HOUR)
        t = np.asarray((index - self.origin_) / DAY, dtype=float)
        t_last = (self.last_ - self.origin_) / DAY
        yhat = self.level_ + self.slope_ * (t - t_last) + self.profile_[_phase(index, self.period_)]
        spread = self.z_ * self.slope_se_ * np.abs(t - self.t_mean_) if self.slope_ > 0 else 0.0
        upper = yhat + self.upper_offset_ + spread
        return pd.DataFrame({"yhat": np.clip(yhat, 0.0, None), "yhat_upper": np.clip(upper, 0.0, None)}, index=index)


def _phase(index: pd.DatetimeIndex, period: int) -> np.ndarray:
    hours = np.asarray(index.as_unit("ns").asi8 // (3600 * 10**9), dtype=np.int64)
    # hours since Monday 00:00 UTC (1970-01-01 was a Thursday)
    return np.mod(hours + 72, period) if period > 1 else np.zeros(len(index), dtype=np.int64)


def _trend(t: np.ndarray, y: np.ndarray, min_t: float) -> tuple[float, float, float]:
    """Slope per day of the daily means, its standard error and the mean time; slope 0 unless clear growth."""
    day = np.floor(t).astype(int)
    days = np.unique(day)
    if len(days) < 3:
        return 0.0, 0.0, float(t.mean())
    means = np.array([y[day == d].mean() for d in days])
    x = days.astype(float) + 0.5
    fit = stats.linregress(x, means)
    se = float(fit.stderr) if np.isfinite(fit.stderr) else 0.0
    if fit.slope > 0 and (se == 0.0 or fit.slope / se >= min_t):
        return float(fit.slope), se, float(x.mean())
    return 0.0, se, float(x.mean())
