"""When will this disk be full?

:class:`DiskUsagePredictor` fits a robust trend to space *used* and extrapolates it to the capacity.
The usual alert, ``predict_linear(avail[6h], 24h) < 0``, pages for disks that were never going to fill
(a daily cycle's rising half, log rotation's sawtooth) and misses the ones that changed behaviour
yesterday. Here:

1. values are averaged on bins of at least 10 minutes and their **daily profile** (the typical shape
   of a day, e.g. logs growing until the nightly rotation) is learned and removed, so the trend sees
   through cycles; the profile is added back when projecting, so ``full_at`` lands at the time of day
   the peak actually reaches the capacity;
2. the **latest regime** is found by repeated two-segment splits (a fill that started, a rate that
   changed, a cleanup drop) and only it is used; a recent cleanup drop that did not change the rate
   keeps the longer history for the slope;
3. the slope is **Sen's slope** (robust to spikes) with an interval from bin means (neighbours are
   correlated, so per-sample intervals would be too narrow); a significantly positive curvature
   (**accelerating** growth) switches the projection to the fitted quadratic, so growth that speeds
   up is not underestimated;
4. the disk counts as filling only when the slope's interval excludes zero and it reaches the capacity
   within ``max_days``; otherwise ``days_to_full`` and friends are ``null``;
5. **periodic cleanups** (two or more regular drops, 1.5 days or more apart: a weekly cron) make a cycle:
   the disk fills at the peak before a cleanup, in the current ramp or the first later cycle whose peak
   gets there (a daily cleanup is already the daily profile);
6. the **interval** is the widest of the slope's interval widened by day-to-day growth variability and
   the series' own **rolling-origin** errors: at past origins a slope as long as the current window
   predicted the growth of the next days; the realised/predicted ratios give a Student-t prediction
   interval (overlapping origins counted as fewer). ``full_at`` stays the point estimate.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.stats import norm
from scipy.stats import t as student_t
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from ..errors import InputError
from .inputs import as_duration, bin_stat, iso, nice_window, positive_number, sampling_step, seconds, usage_series
from .trend import (
    DAY_S,
    binned_slope_interval,
    cleanup_cycles,
    daily_profile,
    first_crossing,
    last_regime,
    pooled_sen_slope,
    quadratic_acceleration,
    rolling_origin_ratios,
    sen_slope,
    theil_sen,
)

#: fields of ``promcast predict disk`` (the design's JSON contract), in order
DISK_FIELDS = ("current_usage", "daily_growth", "days_to_full", "days_to_full_lower", "days_to_full_upper", "full_at")

_MIN_GRID = pd.Timedelta("10min")
_MAX_GRID_POINTS = 4500
_MAX_TREND_POINTS = 400
#: regime detection: shortest regime (days), regimes shorter than slope_days may pool across a jump,
#: and the F statistic a break needs
_REGIME = {"min_days": 1.0, "slope_days": 2.0, "f_crit": 12.0, "hac_days": 0.5}
#: each half of the window must grow at least this share of the whole window's slope
_HALF_SHARE = 0.25
#: day-to-day variability of growth assumed when the window is too short to learn it
_DEFAULT_DAILY_SPREAD = 0.25
#: the projection starts from the level of the latest hours (days)
_ANCHOR_DAYS = 0.5


def used_space(avail: pd.Series, size: pd.Series | float) -> tuple[pd.Series, float]:
    """Space used (``size - avail``, never below 0) and the disk's capacity (its size at the last sample).

    The one place free space and size become usage: ``predict disk --size-expr``, the disk panel and
    ``generate-rules`` all call it, so they read the same data the same way. ``size`` is a constant or a
    series (carried forward, and back to the first sample, onto ``avail``'s timestamps).
    """
    avail = avail.dropna()
    if avail.empty:
        raise InputError("the free-space series has no values")
    if isinstance(size, pd.Series):
        size_at = size.reindex(avail.index.union(size.index)).ffill().bfill().reindex(avail.index)
    else:
        size_at = pd.Series(float(size), index=avail.index)
    capacity = float(size_at.iloc[-1])
    if not capacity > 0:
        raise InputError(f"filesystem size is {capacity:g}; size must be positive")
    if (avail > size_at * (1 + 1e-9)).any():
        raise InputError("free space is larger than the size; the expression must be free (available) space "
                         "and the size (size_expr, --size-expr or size) the filesystem size, in the same unit")
    return (size_at - avail).clip(lower=0.0).rename("used"), capacity


class DiskUsagePredictor(BaseEstimator):
    """Predict when space used reaches ``capacity`` (same unit: percent with 100, or bytes).

    Fitted attributes: ``current_usage_``, ``daily_growth_`` (units/day, at the end of the history),
    ``curvature_`` (units/day^2, 0 unless accelerating), ``level_`` (de-noised usage now, daily mean),
    ``filling_``, ``days_to_full_`` (+ ``_lower_``/``_upper_``), ``full_at_`` (Timestamp or None),
    ``window_`` (Timedelta of the latest regime, rounded for ``predict_linear(used[window], ...)``),
    ``cycle_peak_`` / ``cycle_peak_fraction_`` (how far the daily peak sits above the daily mean, in
    units and as a fraction of capacity: a rule adds it to a linear prediction), ``profile_``,
    ``regime_start_``, ``growing_`` (significant growth in both halves of the window), ``growth_ratios_``
    (rolling-origin realised/predicted growth by horizon in days), ``cleanups_`` (a cleanup cycle or None),
    ``growth_interval_`` (the growth's interval at ``confidence``), ``noise_`` and ``last_timestamp_``.
    """

    def __init__(self, capacity: float, *, confidence: float = 0.9, min_history: str = "1d",
                 max_history: str = "28d", max_days: float = 1825.0):
        self.capacity = capacity
        self.confidence = confidence
        self.min_history = min_history
        self.max_history = max_history
        self.max_days = max_days

    # ---- fitting -------------------------------------------------------------------------------
    def fit(self, series: pd.Series) -> "DiskUsagePredictor":
        """Learn the trend of ``series`` (space used, indexed by UTC timestamps); returns ``self``."""
        capacity = positive_number(self.capacity, what="capacity")
        if not 0.5 <= float(self.confidence) < 1.0:
            raise InputError(f"bad confidence {self.confidence!r}: expected a probability in [0.5, 1), e.g. 0.9")
        values = usage_series(series, what="disk usage series", min_history=self.min_history)
        current = float(values.iloc[-1])
        if current > capacity * (1 + 1e-9):
            raise InputError(
                f"disk usage {current:g} is above the capacity {capacity:g}: values must be space used in the "
                "capacity's unit (percent with capacity 100, or bytes with the disk size)"
            )
        keep = values.index >= values.index[-1] - as_duration(self.max_history, what="maximum history")
        values = values[keep]
        self.capacity_ = capacity
        self.current_usage_ = current
        self.last_timestamp_ = values.index[-1]
        self._fit_trend(values)
        self._predict_full(values)
        return self

    def _fit_trend(self, values: pd.Series) -> None:
        x, y, coarse, trend_w = self._deseasonalised(values)
        regime, xw, yw, slope = _latest_line(x, y, DAY_S / trend_w.total_seconds(), self.confidence)
        level = float(np.median(yw - slope * xw))
        lo, hi = binned_slope_interval(xw, yw, confidence=self.confidence)
        lo, hi = min(lo, slope), max(hi, slope)
        # growth counts when its interval excludes zero and both halves of the window grow: a step
        # (a one-off copy, a deploy) inside the window lifts one half only
        half = len(xw) // 2
        halves = (sen_slope(xw[:half], yw[:half]), sen_slope(xw[half:], yw[half:])) if half >= 3 else (slope, slope)
        self.growing_ = bool(slope > 0 and lo > 0 and min(halves) > _HALF_SHARE * slope)
        curv = 0.0
        quad = _accelerating(x, y, regime, slope) if self.growing_ else None
        if quad is not None:
            c, b, a = quad
            curv, level = c, a
            lo, hi = b - (slope - lo), b + (hi - slope)
            slope = b
        resid = yw - (level + slope * xw + curv * xw * xw)
        self.noise_ = float(1.4826 * np.median(np.abs(resid - np.median(resid))))
        self.rate_spread_ = _daily_rate_spread(xw, resid)
        self.cleanups_ = cleanup_cycles(x, y)
        # the series' own forecast errors, from the latest level jump on (a cleanup would read as a miss)
        since = x >= x[regime.last_jump]
        span = float(xw[-1] - xw[0]) if len(xw) else 0.0
        self.growth_ratios_ = (rolling_origin_ratios(x[since], y[since], window=max(2.0, min(span, 7.0)),
                                                     min_slope=0.25 * slope) if self.growing_ else {})
        # start the projection where usage is now: growth wobbles (weekends, busy days) leave the
        # latest hours above or below the window's line, and the next day starts from them
        recent = xw >= -_ANCHOR_DAYS
        if recent.sum() >= 4 and xw[-1] - xw[0] > 2 * _ANCHOR_DAYS:
            level = float(np.median(yw[recent] - slope * xw[recent] - curv * xw[recent] ** 2))
        self.level_ = level
        self.daily_growth_ = float(slope)
        self.curvature_ = float(curv)
        self.growth_interval_ = (float(lo), float(hi))
        self.regime_start_ = coarse.index[regime.start] - trend_w / 2
        window = self.last_timestamp_ - self.regime_start_
        if not self.profile_.is_flat:  # a rule's window must span whole days to average the cycle out
            window = max(pd.Timedelta(days=1), pd.Timedelta(days=math.ceil(window / pd.Timedelta(days=1) - 0.25)))
        self.window_ = nice_window(window, floor=pd.Timedelta("1h"))
        self.cycle_peak_ = self.profile_.peak
        self.cycle_peak_fraction_ = self.cycle_peak_ / self.capacity_

    def _deseasonalised(self, values: pd.Series):
        """Learn the daily profile on >= 10-minute means, remove it and average to >= 1 hour.

        Returns ``(x, y, coarse, width)``: days before the last sample (0 = now), deseasonalised usage,
        the coarse Series and its bin width.
        """
        span = values.index[-1] - values.index[0]
        grid_w = max(sampling_step(values), _MIN_GRID, pd.Timedelta(span / _MAX_GRID_POINTS).ceil("1min"))
        grid = bin_stat(values, grid_w)
        self.profile_ = daily_profile(grid, grid_w)
        self._now_s = float(seconds(pd.DatetimeIndex([self.last_timestamp_]))[0])
        deseason = grid - self.profile_.at(seconds(grid.index))
        trend_w = max(grid_w, pd.Timedelta("1h"), pd.Timedelta(span / _MAX_TREND_POINTS).ceil("1min"))
        coarse = bin_stat(deseason, trend_w)
        x = (seconds(coarse.index) - self._now_s) / DAY_S
        return x, coarse.to_numpy(dtype=float), coarse, trend_w

    def _predict_full(self, values: pd.Series) -> None:
        cap = self.capacity_
        lo, hi = self.growth_interval_
        self.filling_ = False
        self.full_at_ = None
        self.days_to_full_ = self.days_to_full_lower_ = self.days_to_full_upper_ = None
        if self.current_usage_ >= cap * (1 - 1e-9):
            # already full: say since when (start of the latest run at capacity)
            below = values < cap * (1 - 1e-9)
            since = values.index[np.flatnonzero(below.to_numpy())[-1] + 1] if below.any() else values.index[0]
            self.filling_ = True
            self.full_at_ = since
            self.days_to_full_ = self.days_to_full_lower_ = self.days_to_full_upper_ = 0.0
            return
        if not self.growing_:
            return

        def days(slope, shift=0.0):
            if slope <= 0:
                return None
            at = first_crossing(self._now_s, self.level_ + shift, slope, self.curvature_, self.profile_, cap,
                                max_tau=float(self.max_days))
            return None if at is None else max(0.0, (at - self._now_s) / DAY_S)

        point = days(self.daily_growth_)
        cycle_point = None
        if self.cleanups_ is not None:
            # periodic cleanups: the disk fills at the peak before one, not when the mean gets there
            cycle_point = self.cleanups_.days_to_reach(self.level_ + max(self.profile_.peak, 0.0), cap,
                                                       max_days=float(self.max_days))
            if cycle_point is None:
                return
        if point is None:
            return
        self.filling_ = True
        self.days_to_full_ = point
        self.full_at_ = self.last_timestamp_ + pd.Timedelta(days=point)
        # the interval: the slope's interval widened by how much the growth of single days varied
        # (averaged over the days to go), and usage wandering by its short-term noise
        z = float(norm.ppf(0.5 + self.confidence / 2.0))
        spread = z * _average_rate_spread(self.rate_spread_, self.daily_growth_, point)
        lower = days(max(hi, self.daily_growth_ + spread), z * self.noise_)
        upper = days(min(lo, self.daily_growth_ - spread), -z * self.noise_)
        self.days_to_full_lower_ = min(point, lower) if lower is not None else point
        self.days_to_full_upper_ = max(point, upper) if upper is not None else None
        # and never narrower than the series' own past forecasts erred (rolling origins)
        found = _ratios_for(self.growth_ratios_, point)
        if found is not None:
            r_lo, r_hi = _ratio_interval(*found, self.confidence)
            if r_hi > 0:
                self.days_to_full_lower_ = min(self.days_to_full_lower_, point / r_hi)
            if self.days_to_full_upper_ is not None:
                self.days_to_full_upper_ = (max(self.days_to_full_upper_, point / r_lo) if r_lo > 0
                                            else None)
        if cycle_point is not None and point > 0:
            # the cycle's crossing is the point estimate; the interval keeps its relative width and spans
            # the crossings at the fastest and slowest ramps seen
            scale = cycle_point / point
            start = self.level_ + max(self.profile_.peak, 0.0)
            fast = self.cleanups_.days_to_reach(start, cap, gross=self.cleanups_.gross_high)
            slow = self.cleanups_.days_to_reach(start, cap, gross=self.cleanups_.gross_low)
            self.days_to_full_ = cycle_point
            self.full_at_ = self.last_timestamp_ + pd.Timedelta(days=cycle_point)
            self.days_to_full_lower_ = min(self.days_to_full_lower_ * scale, cycle_point,
                                           fast if fast is not None else cycle_point)
            if self.days_to_full_upper_ is not None:
                self.days_to_full_upper_ = None if slow is None else max(self.days_to_full_upper_ * scale, slow)

    # ---- results -------------------------------------------------------------------------------
    def _check(self) -> None:
        if not hasattr(self, "last_timestamp_"):
            raise NotFittedError("DiskUsagePredictor is not fitted yet; call fit(series) first")

    def result(self) -> dict:
        """The design's JSON fields: ``current_usage, daily_growth, days_to_full, days_to_full_lower,
        days_to_full_upper, full_at`` (None where they do not apply, e.g. a disk that is not filling)."""
        self._check()
        rnd = lambda v, k=3: None if v is None else round(float(v), k)  # noqa: E731
        return {
            "current_usage": self.current_usage_,
            "daily_growth": _round_sig(self.daily_growth_),
            "days_to_full": rnd(self.days_to_full_),
            "days_to_full_lower": rnd(self.days_to_full_lower_),
            "days_to_full_upper": rnd(self.days_to_full_upper_),
            "full_at": iso(self.full_at_),
        }

    def trend_at(self, index: pd.DatetimeIndex) -> np.ndarray:
        """The fitted usage (trend + daily profile) at ``index`` (past or future)."""
        self._check()
        t = seconds(pd.DatetimeIndex(index))
        tau = (t - self._now_s) / DAY_S
        curv = self.curvature_ * np.clip(tau, 0, None) ** 2
        return self.level_ + self.daily_growth_ * tau + curv + self.profile_.at(t)

    def projection(self, horizon: str | pd.Timedelta | None = None, *, max_points: int = 2000) -> pd.Series:
        """Projected usage from the last sample on, for plots and Grafana panels.

        It runs until it reaches the capacity (its last point is the capacity at ``full_at``) or for
        ``horizon`` (default: 7 days past ``full_at`` capped, or 7 days when the disk is not filling).
        Values are clipped to ``[0, capacity]``.
        """
        self._check()
        start = self.last_timestamp_
        if horizon is not None:
            end = start + as_duration(horizon, what="horizon")
        elif self.full_at_ is not None and self.full_at_ > start:
            end = self.full_at_
        else:
            end = start + pd.Timedelta(days=7)
        if self.full_at_ is not None and start < self.full_at_ < end:
            end = self.full_at_
        step = max(pd.Timedelta("5min"), pd.Timedelta((end - start) / max_points).ceil("1min"))
        index = pd.date_range(start, end, freq=step)
        values = np.clip(self.trend_at(index), 0.0, self.capacity_)
        values[0] = self.current_usage_
        out = pd.Series(values, index=index, name="projection")
        if self.full_at_ is not None and start < self.full_at_ <= end:
            out = out[out.index < self.full_at_]
            out.loc[self.full_at_] = self.capacity_
        out.index.name = "timestamp"
        return out


def _latest_line(x: np.ndarray, y: np.ndarray, per_day: float, confidence: float):
    """The latest regime and its Sen slope: ``(regime, x_window, y_window, slope)``.

    When the regime was extended back over a jump (a cleanup that left the rate alone), the slope is
    pooled within the two segments and the earlier segment is shifted onto the latest one.
    """
    regime = last_regime(x, y, min_points=max(6, int(round(_REGIME["min_days"] * per_day))),
                         slope_points=int(round(_REGIME["slope_days"] * per_day)), f_crit=_REGIME["f_crit"],
                         hac_lags=int(round(_REGIME["hac_days"] * per_day)))
    start = regime.joined_start if regime.joined_start is not None else regime.start
    xw, yw = x[start:], y[start:]
    if regime.joined_start is None:
        slope, _, _, _ = theil_sen(xw, yw, confidence)
        return regime, xw, yw, slope
    groups = (np.arange(start, len(y)) >= regime.start).astype(int)
    slope = pooled_sen_slope(xw, yw, groups)
    offsets = [float(np.median(yw[groups == g] - slope * xw[groups == g])) for g in (0, 1)]
    return regime, xw, yw - np.where(groups == 0, offsets[0] - offsets[1], 0.0), slope


def _ratios_for(ratios: dict[float, np.ndarray], days: float, *, min_count: int = 6) -> np.ndarray | None:
    """Realised/predicted growth ratios at the horizon closest below ``days`` with ``min_count`` or more.

    Farther horizons than the history allows use the farthest seen (errors shrink with the horizon,
    so this errs wide); None when too few origins were seen.
    """
    usable = sorted(h for h, v in ratios.items() if len(v) >= min_count)
    if not usable:
        return None
    below = [h for h in usable if h <= max(days, 1.0)]
    h = below[-1] if below else usable[0]
    return ratios[h], h


def _ratio_interval(ratios: np.ndarray, horizon: float, confidence: float, *,
                    step: float = 0.25) -> tuple[float, float]:
    """A prediction interval for the next realised/predicted growth ratio.

    Origins ``step`` days apart forecasting ``horizon`` days ahead overlap, so they count as
    ``len * step / horizon`` independent ones (at least two); the interval is Student's t on the
    log ratios, widened for the next draw (``sqrt(1 + 1/n)``). A past ratio at or below 0.05 (the
    usage fell where growth was predicted) leaves the slow side open (0).
    """
    n_eff = max(2.0, len(ratios) * step / horizon)
    t_mult = float(student_t.ppf(0.5 + confidence / 2.0, n_eff - 1)) * math.sqrt(1 + 1 / n_eff)
    positive = ratios[ratios > 0.05]
    if not len(positive):
        return 0.0, 0.0
    logs = np.log(positive)
    half = t_mult * (float(np.std(logs, ddof=1)) if len(logs) > 1 else 0.0)
    lo = 0.0 if len(positive) < len(ratios) else float(np.exp(np.mean(logs) - half))
    return lo, float(np.exp(np.mean(logs) + half))


def _daily_rate_spread(x: np.ndarray, resid: np.ndarray) -> tuple[float, float] | None:
    """``(sd, rho)`` of one day's growth around the trend (units/day) and its day-to-day correlation.

    Growth varies from day to day (weekends, busy days) and busy spells last, so the days to go
    average it out only partly. None with fewer than five whole days to learn from.
    """
    day = np.floor(x - x[-1]).astype(int)
    days = np.unique(day)
    full = [d for d in days if np.sum(day == d) >= 0.75 * np.sum(day == days[-2])] if len(days) > 2 else []
    if len(full) < 5:
        return None
    means = np.array([resid[day == d].mean() for d in full])
    steps = np.diff(means)  # each day's growth beyond the trend's
    sd = float(np.std(steps))
    c = steps - steps.mean()
    rho = float(np.clip(np.dot(c[1:], c[:-1]) / np.dot(c, c), 0.0, 0.9)) if np.dot(c, c) > 0 else 0.0
    return sd, rho


def _average_rate_spread(spread: tuple[float, float] | None, slope: float, days: float) -> float:
    """Standard deviation of the average growth over the next ``days`` days.

    Unknown variability (a short window) is taken as 25 % of the growth per day.
    """
    sd, rho = spread if spread is not None else (_DEFAULT_DAILY_SPREAD * abs(slope), 0.3)
    n = max(days, 1.0)
    return sd * math.sqrt((1.0 + rho) / (1.0 - rho) / n)


def _accelerating(x: np.ndarray, y: np.ndarray, regime, linear_slope: float,
                  *, windows=(7.0, 14.0), t_min: float = 3.0) -> tuple[float, float, float] | None:
    """``(c, b, a)`` of a quadratic ``a + b x + c x^2`` when growth is accelerating, else None.

    Candidates are quadratics over the last 7 and 14 days (never across a level jump). One is taken
    only when its curvature is positive and significant (``t_min``), its slope now exceeds the linear
    one, and it fits at least as well as the best *broken line* (two lines joined at any point): a
    fill that merely started or changed rate bends once, and a quadratic through that knee would keep
    accelerating where the data goes straight. Of two candidates, the better-fitting per point wins.
    """
    jump_x = x[regime.last_jump]
    best, best_score = None, None
    for days in windows:
        m = x >= max(-days, jump_x)
        if m.sum() < 10 or x[m][-1] - x[m][0] < 3.0:
            continue
        xm, ym = x[m], y[m]
        coef, t_curv = quadratic_acceleration(xm, ym)
        c, b, a = (float(v) for v in coef)
        if not (c > 0 and t_curv > t_min and b > linear_slope):
            continue
        sse_quad = float(np.sum((ym - np.polyval(coef, xm)) ** 2))
        if sse_quad > _broken_line_sse(xm, ym):
            continue
        score = sse_quad / len(xm)
        if best_score is None or score < best_score:
            best, best_score = (c, b, a), score
    return best


def _broken_line_sse(x: np.ndarray, y: np.ndarray, *, candidates: int = 60) -> float:
    """Least residual sum of squares of a continuous two-piece line (knot anywhere inside)."""
    lo, hi = x[0] + 0.1 * (x[-1] - x[0]), x[-1] - 0.1 * (x[-1] - x[0])
    best = math.inf
    ones = np.ones_like(x)
    for knot in np.linspace(lo, hi, candidates):
        design = np.column_stack([ones, x, np.maximum(0.0, x - knot)])
        coef, *_ = np.linalg.lstsq(design, y, rcond=None)
        resid = y - design @ coef
        best = min(best, float(resid @ resid))
    return best


def _round_sig(value: float, digits: int = 6) -> float:
    """Round to ``digits`` significant digits (growth can be 1e9 bytes/day or 0.01 %/day)."""
    if value == 0 or not np.isfinite(value):
        return float(value)
    return float(f"{value:.{digits}g}")
