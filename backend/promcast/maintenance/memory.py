"""Is this process leaking, and when will it be OOM-killed?

:class:`MemoryLeakDetector` looks at the *troughs* of memory in use: garbage collection draws a
sawtooth whose peaks say little, but a leak lifts the minima (what survives a collection). Then:

1. the GC period is estimated from the sawtooth's drops and the trough window ``trough_window_``
   (what a rule's ``min_over_time(mem[W])`` should use) covers a few cycles; hourly minima of the
   samples are the trough series;
2. history before the latest **restart** (a drop of the troughs by a quarter or more: an OOM kill, a
   deploy) is ignored; the latest process is judged on its own. When it is too young to prove a leak
   alone, the earlier runs are judged each on their own: when every one of six hours or more leaked
   (growth beyond warm-up, t > 3) at a rate close to the current run's, a leak that deploys keep
   cutting short is called at their rate;
3. the **daily load** shape is learned from the whole history (two days or more) and removed, so a
   busy afternoon is not a trend;
4. a leak needs all of: a Mann-Kendall trend (Hamed-Rao variance correction, which copes with the
   autocorrelation of hourly troughs) at ``alpha``; Sen's slope above a practical minimum
   (``min_growth`` of the level per day) over the whole window *and* in each half (a one-off deploy
   step rises in one half only); and growth beyond a **warm-up** curve: the troughs are fitted with
   ``a - b exp(-t / tau) + c t`` (``tau`` up to 6 hours: warm-ups that settle within a day) and the
   linear part ``c`` must be significant and above the minimum too (a warm-up is all exponential);
   When the whole run shows no leak, the **latest growth regime** of the troughs (a change point by
   two-segment splits, eight hours or more, rising at least twice as fast as before) is judged alone:
   a leak that began a day ago in a process that ran flat for a week;
5. ``time_to_oom_hours``: when the trough trend plus the typical height of the peaks above the
   troughs at that time of day (GC sawtooth and daily load) first reaches the limit;
6. and the OOM must come within ``max_extrapolation`` (4) times the span the trend was seen over:
   twelve hours of growth cannot tell a slow leak from a busy afternoon, but they can tell a leak
   that will kill the process tomorrow. A slow leak is called once the window is long enough.

Input is checked and cleaned as described in :mod:`.inputs`.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pymannkendall
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from ..errors import InputError
from .inputs import as_duration, bin_stat, nice_window, positive_number, sampling_step, seconds, usage_series
from .trend import Profile, daily_profile, first_crossing, last_regime, sen_slope

#: fields of ``promcast predict memory`` (the design's JSON contract), in order
MEMORY_FIELDS = ("is_leak", "p_value", "slope_per_hour", "time_to_oom_hours")

HOUR_S = 3600.0
_TROUGH_WINDOWS = [pd.Timedelta(v) for v in ("5min", "10min", "15min", "20min", "30min", "1h", "2h")]
#: warm-up time constants tried (hours): warm-ups that settle within a day
_WARMUP_TAUS_H = np.geomspace(0.25, 6.0, 10)


class MemoryLeakDetector(BaseEstimator):
    """Detect a leak in memory in use (bytes) and when it reaches ``limit`` (bytes).

    Fitted attributes: ``is_leak_``, ``p_value_`` (Mann-Kendall, None when too little data since the
    restart), ``slope_per_hour_`` (bytes/hour of the troughs, beyond any warm-up), ``time_to_oom_hours_``
    (None unless leaking), ``oom_at_``, ``current_usage_``, ``level_`` (trough level now),
    ``min_slope_`` (the practical minimum, bytes/hour), ``trough_window_`` (Timedelta for
    ``min_over_time``), ``window_`` (Timedelta of history the verdict used), ``restart_at_`` (latest
    restart seen, or None), ``healthy_slope_bound_`` (bytes/hour: troughs of this process, averaged over
    ``slope_window_``, rise no faster than this when healthy; a rule alerts above it), ``slope_window_``,
    ``profile_`` (daily shape of the troughs), ``leak_since_`` (when a leak that began in a running
    process began, or None) and ``last_timestamp_``.
    """

    def __init__(self, limit: float, *, alpha: float = 0.01, min_growth: float = 0.01, min_history: str = "12h",
                 max_history: str = "14d", restart_drop: float = 0.25, max_extrapolation: float = 4.0):
        self.limit = limit
        self.alpha = alpha
        self.min_growth = min_growth
        self.min_history = min_history
        self.max_history = max_history
        self.restart_drop = restart_drop
        self.max_extrapolation = max_extrapolation

    # ---- fitting -------------------------------------------------------------------------------
    def fit(self, series: pd.Series) -> "MemoryLeakDetector":
        """Judge ``series`` (bytes in use, indexed by UTC timestamps); returns ``self``."""
        limit = positive_number(self.limit, what="memory limit")
        values = usage_series(series, what="memory series", min_history=self.min_history)
        current = float(values.iloc[-1])
        if current > limit:
            raise InputError(
                f"memory limit {limit:g} is below the current usage {current:g}: give the process's limit in bytes "
                "(e.g. the container's memory limit)"
            )
        values = values[values.index >= values.index[-1] - as_duration(self.max_history, what="maximum history")]
        self.limit_ = limit
        self.current_usage_ = current
        self.last_timestamp_ = values.index[-1]
        self._now_s = float(seconds(pd.DatetimeIndex([self.last_timestamp_]))[0])
        self.trough_window_ = _trough_window(values)
        hour = pd.Timedelta("1h")
        troughs_all = bin_stat(values, hour, "min")
        self.profile_ = daily_profile(troughs_all, hour)
        self.restart_at_ = _last_restart(troughs_all, self.restart_drop)
        start = self.restart_at_ if self.restart_at_ is not None else values.index[0]
        regime = values[values.index >= start]
        self.window_ = nice_window(self.last_timestamp_ - start)
        self.is_leak_ = False
        self.p_value_ = None
        self.slope_per_hour_ = 0.0
        self.time_to_oom_hours_ = None
        self.oom_at_ = None
        troughs = bin_stat(regime, hour, "min")
        peaks = bin_stat(regime, hour, "max")
        x = (seconds(troughs.index) - self._now_s) / HOUR_S  # hours, 0 = now
        z = troughs.to_numpy(dtype=float) - self.profile_.at(seconds(troughs.index))
        self.level_ = float(np.median(z[x >= x[-1] - 6.0])) if len(z) else current
        self.min_slope_ = float(self.min_growth) * max(self.level_, 1.0) / 24.0
        if len(z) < 6:
            self._bounds(x, z)
            return self
        self._judge(x, z)
        self.leak_since_ = None
        onset = 0
        if not self.is_leak_:
            # a leak that began recently in a long-running process: judge the latest growth regime alone
            onset = _leak_onset(x, z)
            if onset:
                self._judge(x[onset:], z[onset:])
                if self.is_leak_:
                    self.leak_since_ = troughs.index[onset] - pd.Timedelta("30min")
                    self.window_ = nice_window(self.last_timestamp_ - self.leak_since_)
                else:
                    self._judge(x, z)
                    onset = 0
        rates = []
        if self.restart_at_ is not None:
            # restarts split the process into runs: a leak that deploys keep cutting short shows in every
            # run at a similar rate, even when the current run is too short to prove it alone
            rates = _earlier_run_rates(troughs_all, self.restart_drop, self.profile_, self.restart_at_,
                                       self.min_slope_)
            c = self._criteria
            earlier = float(np.median(rates)) if rates else 0.0
            if (not self.is_leak_ and rates and c["p"] < 0.05 and c["recent"] > self.min_slope_
                    and 0.25 * earlier <= c["beyond"] <= 4.0 * earlier):
                self.is_leak_ = True
                self.slope_per_hour_ = earlier
        if self.is_leak_:
            self._time_to_oom(x, z, troughs, peaks, onset)
            # growth seen in earlier runs counts as evidence too
            observed_h = (x[-1] - x[onset] if not rates
                          else (self.last_timestamp_ - troughs_all.index[0]) / pd.Timedelta("1h"))
            if self.time_to_oom_hours_ is None or self.time_to_oom_hours_ > self.max_extrapolation * observed_h:
                # growth seen over a short window, extrapolated far: not evidence enough to call a leak
                self.is_leak_ = False
                self.leak_since_ = None
                self.time_to_oom_hours_ = None
                self.oom_at_ = None
        self._bounds(x, z)
        return self

    def _judge(self, x: np.ndarray, z: np.ndarray) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mk = pymannkendall.hamed_rao_modification_test(z)
            if not np.isfinite(mk.p):  # residuals without variance (a perfect line): no correction needed
                mk = pymannkendall.original_test(z)
        p = float(mk.p) if np.isfinite(mk.p) else 1.0
        self.p_value_ = p
        whole = sen_slope(x, z)
        half = len(z) // 2
        older, recent = sen_slope(x[:half], z[:half]), sen_slope(x[half:], z[half:])
        beyond, t_beyond, tau = _beyond_warmup(x, z)
        self.warmup_tau_hours_ = tau
        settled = x >= x[0] + 3.0 * tau if tau else np.ones(len(x), bool)
        slope = sen_slope(x[settled], z[settled]) if settled.sum() >= max(6, len(x) // 3) else beyond
        m = self.min_slope_
        # the numbers behind the verdict (the restart pooling reads them)
        self._criteria = dict(p=p, whole=whole, older=older, recent=recent, beyond=beyond, t=t_beyond,
                              slope=slope, m=m, tau=tau)
        self.is_leak_ = bool(
            p < self.alpha and mk.trend == "increasing"
            and whole > m and older > m and recent > m
            and beyond > m and t_beyond > 3.0 and slope > m
        )
        self.slope_per_hour_ = float(slope if self.is_leak_ else whole)

    def _time_to_oom(self, x, z, troughs: pd.Series, peaks: pd.Series, onset: int = 0) -> None:
        slope = self.slope_per_hour_
        recent = x >= x[-1] - max(6.0, 0.25 * (x[-1] - x[onset]))
        level = float(np.median(z[recent] - slope * x[recent]))
        # the peaks' height above the troughs is learned where the trend holds (since the onset)
        x, troughs = x[onset:], troughs.iloc[onset:]
        t = seconds(troughs.index)
        line = level + slope * x + self.profile_.at(t)
        above = peaks.reindex(troughs.index).to_numpy(dtype=float) - line
        span_days = (x[-1] - x[0]) / 24.0
        if span_days >= 2.0:
            slots = (np.mod(t, 86400.0) // HOUR_S).astype(int)
            table = pd.Series(above).groupby(slots).median().reindex(range(24))
            offsets = table.interpolate(limit_direction="both").fillna(float(np.median(above))).to_numpy()
        else:
            offsets = np.full(24, float(np.quantile(above, 0.9)))
        ceiling = Profile(HOUR_S, self.profile_.at(np.arange(24) * HOUR_S + 1.0) + offsets)
        at = first_crossing(self._now_s, level, slope, 0.0, ceiling, self.limit_, unit_s=HOUR_S)
        if at is None:
            return
        self.time_to_oom_hours_ = max(0.0, (at - self._now_s) / HOUR_S)
        self.oom_at_ = self.last_timestamp_ + pd.Timedelta(hours=self.time_to_oom_hours_)

    def _bounds(self, x: np.ndarray, z: np.ndarray) -> None:
        """The slope a healthy version of this process stays under, for rules.

        ``healthy_slope_bound_``: the 99th percentile of the troughs' least-squares slope over
        sliding ``slope_window_`` windows (one day with two days of data, else six hours), after
        the first six hours since the start (or, for a leaking process, three warm-up time constants
        when a warm-up was fitted) and with any leak's own trend removed, and at
        least the practical minimum. A rule alerting when
        ``deriv(min_over_time(mem[trough_window])[slope_window:])`` exceeds it does not fire on this
        process's normal daily swings.
        """
        keep = x >= x[0] + 6.0 if len(x) and x[-1] - x[0] > 24.0 else np.ones(len(x), bool)
        tau = getattr(self, "warmup_tau_hours_", 0.0) or 0.0
        settled = x >= x[0] + 3.0 * tau
        if self.is_leak_ and tau and np.sum(keep & settled) >= 12:
            # a young leaking process: its warm-up would lift the bound over the leak (a healthy one keeps
            # it: warm-ups after restarts recur and must not page)
            keep &= settled
        xs, ys = x[keep], z[keep] - (self.slope_per_hour_ * x[keep] if self.is_leak_ else 0.0)
        span_h = float(xs[-1] - xs[0]) if len(xs) else 0.0
        self.slope_window_ = pd.Timedelta(days=1) if span_h >= 48.0 else pd.Timedelta("6h")
        per = int(self.slope_window_ / pd.Timedelta("1h"))
        starts = range(0, max(0, len(ys) - per + 1), max(1, per // 4))
        slopes = [np.polyfit(xs[i:i + per], ys[i:i + per], 1)[0] for i in starts]
        observed = float(np.quantile(slopes, 0.99)) if slopes else 0.0
        self.healthy_slope_bound_ = max(self.min_slope_, observed)

    # ---- results -------------------------------------------------------------------------------
    def _check(self) -> None:
        if not hasattr(self, "last_timestamp_"):
            raise NotFittedError("MemoryLeakDetector is not fitted yet; call fit(series) first")

    def result(self) -> dict:
        """The design's JSON fields: ``is_leak, p_value, slope_per_hour, time_to_oom_hours``."""
        self._check()
        return {
            "is_leak": bool(self.is_leak_),
            "p_value": None if self.p_value_ is None else float(f"{self.p_value_:.4g}"),
            "slope_per_hour": float(f"{self.slope_per_hour_:.6g}"),
            "time_to_oom_hours": None if self.time_to_oom_hours_ is None else round(self.time_to_oom_hours_, 2),
        }

    def projection(self, horizon: str | pd.Timedelta | None = None, *, max_points: int = 2000) -> pd.Series:
        """Projected trough-to-peak ceiling from now until the OOM (or ``horizon``; 1 day when healthy)."""
        self._check()
        start = self.last_timestamp_
        if horizon is not None:
            end = start + as_duration(horizon, what="horizon")
        elif self.oom_at_ is not None:
            end = self.oom_at_
        else:
            end = start + pd.Timedelta(days=1)
        if self.oom_at_ is not None and start < self.oom_at_ < end:
            end = self.oom_at_
        step = max(pd.Timedelta("5min"), pd.Timedelta((end - start) / max_points).ceil("1min"))
        index = pd.date_range(start, end, freq=step)
        hours = (seconds(index) - self._now_s) / HOUR_S
        slope = self.slope_per_hour_ if self.is_leak_ else 0.0
        values = np.clip(self.level_ + slope * hours + self.profile_.at(seconds(index)), 0.0, self.limit_)
        values[0] = self.current_usage_
        out = pd.Series(values, index=index, name="projection")
        if self.oom_at_ is not None and start < self.oom_at_ <= end:
            out = out[out.index < self.oom_at_]
            out.loc[self.oom_at_] = self.limit_
        out.index.name = "timestamp"
        return out


def _trough_window(values: pd.Series) -> pd.Timedelta:
    """A ``min_over_time`` window spanning about three GC cycles (and at least six samples)."""
    step = sampling_step(values)
    v = values.to_numpy(dtype=float)
    d = np.diff(v)
    scale = float(np.median(np.abs(d))) if len(d) else 0.0
    target = 6 * step
    if scale > 0:
        drops = int(np.sum(d < -4.0 * scale))
        span = values.index[-1] - values.index[0]
        # a sawtooth drops regularly; a few big drops are restarts, and many mean it is aliased
        if max(4, span / pd.Timedelta("6h")) <= drops < 0.3 * len(d):
            target = max(target, 3 * span / drops)
    else:
        target = max(target, pd.Timedelta("30min"))
    for w in _TROUGH_WINDOWS:
        if w >= target:
            return w
    return _TROUGH_WINDOWS[-1]


def _earlier_run_rates(troughs: pd.Series, drop: float, profile: Profile, current: pd.Timestamp,
                       min_slope: float) -> list[float]:
    """Growth rates (bytes/hour beyond warm-up) of the runs before ``current`` that leaked on their own.

    Empty unless every earlier run of six hours or more grew significantly (t > 3) above ``min_slope``.
    """
    starts = [troughs.index[0] - pd.Timedelta("30min"), *_restarts(troughs, drop)]
    starts = [st for st in starts if st < current]
    rates = []
    for a, b in zip(starts, [*starts[1:], current]):
        run = troughs[(troughs.index > a) & (troughs.index < b)]
        if len(run) < 6:
            continue
        x = (seconds(run.index) - seconds(run.index[:1])[0]) / HOUR_S
        z = run.to_numpy(dtype=float) - profile.at(seconds(run.index))
        c, t, _ = _beyond_warmup(x, z)
        if not (c > min_slope and t > 3.0):
            return []
        rates.append(float(c))
    return rates


def _restarts(troughs: pd.Series, drop: float) -> list[pd.Timestamp]:
    """Starts of every hour whose troughs fell ``drop`` or more below the two hours before (one per run)."""
    y = troughs.to_numpy(dtype=float)
    if len(y) < 4:
        return []
    before = np.maximum(np.r_[np.nan, y[:-1]], np.r_[np.nan, np.nan, y[:-2]])
    after = np.maximum(y, np.r_[y[1:], y[-1]])
    with np.errstate(invalid="ignore"):
        hit = np.flatnonzero(after < (1.0 - drop) * before)
    half = (troughs.index[1] - troughs.index[0]) / 2
    out = []
    for k in hit:
        if not out or troughs.index[k] - out[-1] > pd.Timedelta("3h"):
            out.append(troughs.index[int(k)] - half)
    return out


def _last_restart(troughs: pd.Series, drop: float) -> pd.Timestamp | None:
    """Start of the latest hour whose troughs fell ``drop`` or more below the two hours before it.

    A GC collection never takes the *troughs* down by a quarter; an OOM kill or a restart does. The
    drop must hold for the next hour too (one odd scrape is not a restart).
    """
    y = troughs.to_numpy(dtype=float)
    if len(y) < 4:
        return None
    before = np.maximum(np.r_[np.nan, y[:-1]], np.r_[np.nan, np.nan, y[:-2]])
    after = np.maximum(y, np.r_[y[1:], y[-1]])
    with np.errstate(invalid="ignore"):
        hit = np.flatnonzero(after < (1.0 - drop) * before)
    if not len(hit):
        return None
    return troughs.index[int(hit[-1])] - (troughs.index[1] - troughs.index[0]) / 2


def _leak_onset(x: np.ndarray, z: np.ndarray, *, min_hours: float = 8.0) -> int:
    """Index where the latest growth regime of the hourly troughs ``z(x)`` began (0: no break).

    A leak that began a day ago in a process that ran flat for a week is a small share of the window,
    so a trend test over the whole window misses it; the regime since the break is judged alone. The
    break must leave at least ``min_hours`` of troughs (a few GC cycles, and several hours of them)
    and the troughs must rise faster after it than before.
    """
    if len(z) < 2 * int(min_hours) or x[-1] - x[0] < 2 * min_hours:
        return 0
    regime = last_regime(x, z, min_points=int(min_hours), f_crit=12.0, hac_lags=3)
    k = regime.start
    if k <= 0 or len(z) - k < min_hours:
        return 0
    before = sen_slope(x[:k], z[:k])
    after = sen_slope(x[k:], z[k:])
    return k if after > 0 and after > 2.0 * max(before, 0.0) else 0


def _beyond_warmup(x: np.ndarray, z: np.ndarray) -> tuple[float, float, float]:
    """Fit ``a - b exp(-(x - x0) / tau) + c x`` (``b >= 0``) over a grid of ``tau``.

    Returns ``(c, t statistic of c, tau)``: the growth left once a warm-up curve is allowed for
    (tau 0 when no warm-up term helps). The t statistic is deflated by the residuals' lag-1
    autocorrelation.
    """
    n = len(z)
    x0 = x[0]
    ones = np.ones(n)
    best = None
    candidates = [(0.0, np.column_stack([ones, x - x0]))]
    for tau in _WARMUP_TAUS_H:
        if tau * 3 > x[-1] - x0 + 1.0 and tau > 0.25:
            break
        candidates.append((float(tau), np.column_stack([ones, x - x0, -np.exp(-(x - x0) / tau)])))
    for tau, design in candidates:
        coef, *_ = np.linalg.lstsq(design, z, rcond=None)
        if tau and coef[2] < 0:
            continue
        resid = z - design @ coef
        sse = float(resid @ resid)
        if best is None or sse < best[0] - 1e-12 * max(1.0, abs(best[0])):
            best = (sse, tau, coef, design, resid)
    sse, tau, coef, design, resid = best
    dof = max(1, n - design.shape[1])
    r = resid - resid.mean()
    denom = float(r @ r)
    rho = float(np.clip(r[1:] @ r[:-1] / denom, 0.0, 0.95)) if denom > 0 and n > 2 else 0.0
    s2 = sse / dof * (1 + rho) / (1 - rho)
    try:
        cov = np.linalg.inv(design.T @ design) * s2
        se = math.sqrt(max(cov[1, 1], 0.0))
    except np.linalg.LinAlgError:
        se = 0.0
    c = float(coef[1])
    t = c / se if se > 0 else (math.inf if c > 0 else 0.0)
    return c, float(t), tau

