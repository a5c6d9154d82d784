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
  and an old regime does not; when growth started in the latest half of the history (a leak, a
  launch), the profile, level and spread come from that half only;
- an **upper bound**: the ``(1 + interval) / 2`` quantile of each day's worst residual (a limit is
  passed by the worst hour of a day) plus the trend's own uncertainty growing with the lead time
  (memory cannot be throttled: its limit follows this bound).

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
        self.origin_ = index[0].floor("D")  # days are UTC calendar days
        t = np.asarray((index - self.origin_) / DAY, dtype=float)
        y = values.to_numpy()
        weekday = _phase(index, 168) // 24 if span >= 2 * WEEK - DAY else None
        self.slope_, self.slope_se_, self.t_mean_, since = _trend(t, y, self.min_trend_t, weekday)
        # profile, level and spread come from the span the trend describes (all of it, or the latest
        # half when growth started there), so a regime the trend does not fit does not bend them
        window = t >= since
        index, t, y = index[window], t[window], y[window]
        span = index[-1] - index[0]
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
        residual = base - self.level_
        quantile = 1.0 - (1.0 - float(self.interval)) / 2.0
        # a limit is hit by a day's worst hour, not by a typical one: the bound covers the daily maximum
        # of the residuals (rare spikes land in a few hours but in many days), hourly ones under 3 days
        day = np.floor(t).astype(int)
        days = np.unique(day)
        worst = np.array([residual[day == d].max() for d in days]) if len(days) >= 3 else residual
        self.upper_offset_ = float(max(0.0, np.quantile(worst, quantile)))
        self.z_ = float(stats.norm.ppf(quantile))
        self.last_ = index[-1]
        return self

    def predict(self, horizon: pd.Timedelta | str) -> pd.DataFrame:
        """Hourly ``yhat, yhat_upper`` from the hour after the last one to ``horizon`` ahead (never below 0)."""
        if not hasattr(self, "last_"):
            raise NotFittedError("PeakForecaster is not fitted yet; call fit(hourly) first")
        index = pd.date_range(self.last_ + HOUR, self.last_ + pd.Timedelta(horizon), freq=HOUR)
        t = np.asarray((index - self.origin_) / DAY, dtype=float)
        yhat = self.level_ + self.slope_ * t + self.profile_[_phase(index, self.period_)]
        spread = self.z_ * self.slope_se_ * np.abs(t - self.t_mean_) if self.slope_ > 0 else 0.0
        upper = yhat + self.upper_offset_ + spread
        return pd.DataFrame({"yhat": np.clip(yhat, 0.0, None), "yhat_upper": np.clip(upper, 0.0, None)}, index=index)


def _phase(index: pd.DatetimeIndex, period: int) -> np.ndarray:
    hours = np.asarray(index.as_unit("ns").asi8 // (3600 * 10**9), dtype=np.int64)
    # hours since Monday 00:00 UTC (1970-01-01 was a Thursday)
    return np.mod(hours + 72, period) if period > 1 else np.zeros(len(index), dtype=np.int64)


def _trend(t: np.ndarray, y: np.ndarray, min_t: float,
           weekday: np.ndarray | None = None) -> tuple[float, float, float, float]:
    """Growth per day of the daily means, its standard error, the mean time of the fit it came from and
    where that fit's data starts (days since the origin).

    Two fits: the whole history (beside a day-of-week effect when ``weekday`` is given, so quiet
    weekends do not read as a trend) and its latest half (on the daily means less that day-of-week
    effect), because growth that started a week ago (a leak, a launch) is what the weeks ahead will
    see. The steeper *clear* growth wins (t-statistic at least ``min_t``); none: slope 0.
    """
    day = np.floor(t).astype(int)
    days, counts = np.unique(day, return_counts=True)
    days = days[counts >= 20]  # whole days only: a partial day's mean is its hours', not the day's
    x = days.astype(float) + 0.5
    means = np.array([y[day == d].mean() for d in days])
    effect = np.zeros(len(days))
    columns = [np.ones(len(days)), x]
    dow = None
    if weekday is not None:
        dow = np.array([weekday[day == d][0] for d in days])
        present = [k for k in range(7) if (dow == k).any()]
        columns += [(dow == k).astype(float) for k in present[1:]]
    best = (0.0, 0.0, float(x.mean()) if len(x) else float(t.mean()), float(t[0]))
    fit = _ols(np.column_stack(columns), means)
    if fit is not None:
        coef, se = fit
        if dow is not None:
            for i, k in enumerate(present[1:]):
                effect[dow == k] = coef[2 + i]
        best = _keep(coef[1], se, min_t, x, best, float(t[0]))
    recent = x >= x[-1] - len(x) / 2.0 if len(x) else x
    if recent.sum() >= 5:
        fit = _ols(np.column_stack([np.ones(recent.sum()), x[recent]]), (means - effect)[recent])
        if fit is not None:
            best = _keep(fit[0][1], fit[1], min_t, x[recent], best, float(x[recent][0] - 0.5))
    return best


def _ols(design: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, float] | None:
    """Least-squares coefficients and the slope's (column 1) standard error; None without 2 degrees of freedom."""
    dof = len(target) - design.shape[1]
    if dof < 2:
        return None
    coef, *_ = np.linalg.lstsq(design, target, rcond=None)
    residual = target - design @ coef
    cov = float(residual @ residual) / dof * np.linalg.pinv(design.T @ design)
    return coef, float(np.sqrt(max(cov[1, 1], 0.0)))


def _keep(slope: float, se: float, min_t: float, x: np.ndarray, best: tuple, since: float) -> tuple:
    if slope > best[0] and slope > 0 and (se == 0.0 or slope / se >= min_t):
        return float(slope), float(se), float(x.mean()), since
    return best
