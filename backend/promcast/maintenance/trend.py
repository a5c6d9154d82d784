"""Robust trend tools shared by the disk and memory predictors.

- :func:`daily_profile`: the typical shape of a day (classical decomposition: detrend by a centred
  one-day moving average, take the per-time-of-day median), so trends are fitted through daily
  cycles and log rotations instead of chasing them.
- :func:`last_regime`: where the latest regime starts (a cleanup drop, a fill that started, a rate
  that changed), by repeated two-segment least-squares splits with an autocorrelation-aware F test.
- :func:`theil_sen` / :func:`pooled_sen_slope`: Sen's slope, optionally pooled over segments that
  differ only by a jump.
- :func:`first_crossing`: when ``polynomial trend + daily profile`` first reaches a limit.
- :func:`rolling_origin_ratios`: how the series' own past forecasts came true (for intervals).
- :func:`cleanup_cycles`: periodic cleanups and when the peak before one reaches a limit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import theilslopes

DAY_S = 86400.0


# ---- daily profile ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Profile:
    """A daily shape: ``values[k]`` is the offset at time of day ``k * slot_s`` (mean zero), or flat."""

    slot_s: float
    values: np.ndarray

    @classmethod
    def flat(cls) -> "Profile":
        return cls(DAY_S, np.zeros(1))

    @property
    def is_flat(self) -> bool:
        return not np.any(self.values)

    def at(self, epoch_s: np.ndarray) -> np.ndarray:
        """Offset at each epoch second."""
        slots = (np.mod(np.asarray(epoch_s, dtype=float), DAY_S) // self.slot_s).astype(np.int64)
        return self.values[np.clip(slots, 0, len(self.values) - 1)]

    @property
    def peak(self) -> float:
        return float(self.values.max())

    @property
    def trough(self) -> float:
        return float(self.values.min())


def daily_profile(grid: pd.Series, slot: pd.Timedelta, *, min_days: float = 2.0, significance: float = 6.0) -> Profile:
    """The daily shape of ``grid`` (values on bins of ``slot``, indexed by bin centre).

    Detrends by a centred one-day moving average, so any trend (or a slow regime change) does not leak
    into the shape, then takes the median per time-of-day slot (robust to a few odd days). Returns a
    flat profile when there are fewer than ``min_days`` days or the shape is not ``significance``
    standard errors tall (noise would otherwise pass for a cycle).
    """
    slot_s = slot.total_seconds()
    span_days = (grid.index[-1] - grid.index[0]).total_seconds() / DAY_S if len(grid) else 0.0
    per_day = int(round(DAY_S / slot_s))
    if span_days < min_days or per_day < 4:
        return Profile.flat()
    full = grid.reindex(pd.date_range(grid.index[0], grid.index[-1], freq=slot))
    trend = full.rolling(per_day, center=True, min_periods=max(2, int(0.8 * per_day))).mean()
    resid = (full - trend).dropna()
    if len(resid) < per_day:
        return Profile.flat()
    t = np.mod(np.asarray((resid.index - pd.Timestamp(0, tz="UTC")).total_seconds(), dtype=float), DAY_S)
    slots = np.minimum((t // slot_s).astype(np.int64), per_day - 1)
    r = resid.to_numpy(dtype=float)
    med = pd.Series(r).groupby(slots).median()
    counts = pd.Series(r).groupby(slots).size()
    values = med.reindex(range(per_day)).to_numpy(dtype=float)
    if np.isnan(values).any():  # slots never observed: interpolate around the clock
        known = np.flatnonzero(~np.isnan(values))
        values = np.interp(np.arange(per_day), known, values[known], period=per_day)
    # a circular 3-slot median removes single-slot noise but keeps a rotation's sharp edge
    values = np.median(np.stack([np.roll(values, 1), values, np.roll(values, -1)]), axis=0)
    values = values - values.mean()
    noise = 1.4826 * np.median(np.abs(r - values[slots] - np.median(r - values[slots])))
    stderr = 1.25 * noise / math.sqrt(max(1.0, float(counts.median())))
    floor = 1e-9 * float(np.median(np.abs(grid.to_numpy(dtype=float))))  # float noise of a perfect line
    if np.ptp(values) <= max(significance * stderr, floor):
        return Profile.flat()
    return Profile(slot_s, values)


# ---- regimes ---------------------------------------------------------------------------------------
class _Sums:
    """Cumulative sums for O(1) least-squares line fits on any slice ``[i, j)``."""

    def __init__(self, x: np.ndarray, y: np.ndarray):
        z = lambda a: np.concatenate([[0.0], np.cumsum(a)])  # noqa: E731
        self.n, self.x, self.y = z(np.ones_like(x)), z(x), z(y)
        self.xx, self.xy, self.yy = z(x * x), z(x * y), z(y * y)

    def centred(self, i, j):
        n = self.n[j] - self.n[i]
        sx, sy = self.x[j] - self.x[i], self.y[j] - self.y[i]
        sxx = self.xx[j] - self.xx[i] - sx * sx / n
        sxy = self.xy[j] - self.xy[i] - sx * sy / n
        syy = self.yy[j] - self.yy[i] - sy * sy / n
        return sxx, sxy, syy

    def sse(self, i, j):
        """Residual sum of squares of the least-squares line on ``[i, j)``."""
        sxx, sxy, syy = self.centred(i, j)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = syy - np.where(sxx > 0, sxy * sxy / np.where(sxx > 0, sxx, 1.0), 0.0)
        return np.maximum(out, 0.0)


def _ar1_inflation(resid: np.ndarray) -> float:
    """Variance inflation ``(1 + rho) / (1 - rho)`` of a mean under lag-1 autocorrelation ``rho``."""
    r = resid - resid.mean()
    denom = float(np.dot(r, r))
    if len(r) < 3 or denom <= 0:
        return 1.0
    rho = float(np.clip(np.dot(r[1:], r[:-1]) / denom, 0.0, 0.95))
    return (1.0 + rho) / (1.0 - rho)


def variance_inflation(resid: np.ndarray, lags: int) -> float:
    """Long-run variance over plain variance of ``resid`` (Newey-West, Bartlett weights, ``lags`` lags).

    Residuals of a trend wander smoothly (busy days, weekends); an F or t statistic that treats them
    as independent finds breaks and curvature everywhere. Dividing it by this factor does not.
    """
    r = resid - resid.mean()
    denom = float(np.dot(r, r))
    n = len(r)
    if n < 3 or denom <= 0:
        return 1.0
    lags = max(1, min(int(lags), n // 3))
    total = 1.0
    for k in range(1, lags + 1):
        rho = float(np.dot(r[k:], r[:-k])) / denom
        total += 2.0 * (1.0 - k / (lags + 1.0)) * rho
    return float(np.clip(total, 1.0, 100.0))


def _two_line_resid(x, y, b):
    out = np.empty_like(y)
    for sl in (slice(0, b), slice(b, None)):
        coef = np.polyfit(x[sl], y[sl], 1)
        out[sl] = y[sl] - np.polyval(coef, x[sl])
    return out


@dataclass(frozen=True)
class Regime:
    """The latest regime of a series: it starts at ``start`` (index); ``joined`` when it was extended
    back over a pure jump to ``joined_start`` (same slope before and after, e.g. a cleanup drop)."""

    start: int
    breaks: tuple[int, ...]
    joined_start: int | None = None
    #: index of the latest break where the level jumps (a cleanup, a copy), 0 when none
    last_jump: int = 0


def last_regime(x: np.ndarray, y: np.ndarray, *, min_points: int, f_crit: float = 12.0,
                slope_points: int | None = None, join_f: float = 4.0, jump_sigmas: float = 6.0,
                hac_lags: int = 1) -> Regime:
    """Find where the latest linear regime of ``y(x)`` starts.

    Repeatedly splits the latest segment at the least-squares best break (two independent lines)
    while the split is significant: an F statistic, deflated by the residuals' long-run variance
    (:func:`variance_inflation` over ``hac_lags`` lags), above ``f_crit``. When the latest segment is shorter than ``slope_points`` and
    the lines before and after its break share a slope (F below ``join_f``), it was a jump (a cleanup,
    a one-off copy): the slope may be pooled over both segments. ``last_jump`` is the latest break
    whose neighbouring lines disagree by more than ``jump_sigmas`` residual scales (a curvature is
    only fitted after it).
    """
    n = len(y)
    scale = float(np.std(y)) or 1.0
    yn = (y - float(np.median(y))) / scale
    xn = x - float(x[0])
    sums = _Sums(xn, yn)
    breaks: list[int] = []
    lo = 0
    while n - lo >= 2 * min_points:
        cand = np.arange(lo + min_points, n - min_points + 1)
        cost = sums.sse(lo, cand) + sums.sse(cand, n)
        k = int(np.argmin(cost))
        b, s2 = int(cand[k]), float(cost[k])
        s1 = float(sums.sse(lo, n))
        m = n - lo
        if s2 <= 1e-12 * m:
            significant = s1 > 1e-9 * m
        else:
            f = ((s1 - s2) / 2.0) / (s2 / max(1, m - 4))
            infl = variance_inflation(_two_line_resid(xn[lo:], yn[lo:], b - lo), hac_lags)
            significant = f / infl > f_crit
        if not significant:
            break
        breaks.append(b)
        lo = b
    joined = None
    if breaks and slope_points and n - breaks[-1] < slope_points:
        prev = breaks[-2] if len(breaks) > 1 else 0
        b = breaks[-1]
        parts = [sums.centred(prev, b), sums.centred(b, n)]
        sxx = sum(p[0] for p in parts)
        sxy = sum(p[1] for p in parts)
        sep = float(sums.sse(prev, b) + sums.sse(b, n))
        common = float(sum(p[2] for p in parts) - (sxy * sxy / sxx if sxx > 0 else 0.0))
        m = n - prev
        if sep <= 1e-12 * m:
            same_slope = common <= 1e-9 * m
        else:
            f = (common - sep) / (sep / max(1, m - 4))
            infl = variance_inflation(_two_line_resid(xn[prev:], yn[prev:], b - prev), hac_lags)
            same_slope = f / infl < join_f
        if same_slope:
            joined = prev
    return Regime(start=breaks[-1] if breaks else 0, breaks=tuple(breaks), joined_start=joined,
                  last_jump=_last_jump(xn, yn, breaks, jump_sigmas))


def _last_jump(x: np.ndarray, y: np.ndarray, breaks: list[int], sigmas: float) -> int:
    """The latest break where the two neighbouring lines disagree by more than ``sigmas`` residual scales."""
    bounds = [0, *breaks, len(y)]
    lines, resid = [], []
    for a, b in zip(bounds[:-1], bounds[1:]):
        coef = np.polyfit(x[a:b], y[a:b], 1)
        lines.append(coef)
        resid.append(y[a:b] - np.polyval(coef, x[a:b]))
    r = np.concatenate(resid)
    scale = 1.4826 * float(np.median(np.abs(r - np.median(r)))) or float(np.std(r)) or 1e-12
    for k in range(len(breaks) - 1, -1, -1):
        at = 0.5 * (x[breaks[k] - 1] + x[breaks[k]])
        if abs(np.polyval(lines[k + 1], at) - np.polyval(lines[k], at)) > sigmas * scale:
            return breaks[k]
    return 0


# ---- slopes ----------------------------------------------------------------------------------------
def theil_sen(x: np.ndarray, y: np.ndarray, confidence: float = 0.9) -> tuple[float, float, float, float]:
    """``(slope, intercept, slope_low, slope_high)``: Sen's slope with its ``confidence`` interval."""
    if len(x) < 2 or np.ptp(x) == 0:
        return 0.0, float(np.median(y)) if len(y) else 0.0, 0.0, 0.0
    res = theilslopes(y, x, alpha=confidence)
    return float(res[0]), float(res[1]), float(res[2]), float(res[3])


def sen_slope(x: np.ndarray, y: np.ndarray) -> float:
    """Sen's slope (median of pairwise slopes) without an interval: cheap, for backtests."""
    if len(x) < 2:
        return 0.0
    i, j = np.triu_indices(len(x), 1)
    dx = x[j] - x[i]
    ok = dx != 0
    return float(np.median((y[j] - y[i])[ok] / dx[ok])) if ok.any() else 0.0


def pooled_sen_slope(x: np.ndarray, y: np.ndarray, groups: np.ndarray) -> float:
    """Median slope over pairs of points in the same group (segments that differ by a jump)."""
    slopes = []
    for g in np.unique(groups):
        xs, ys = x[groups == g], y[groups == g]
        if len(xs) < 2:
            continue
        i, j = np.triu_indices(len(xs), 1)
        dx = xs[j] - xs[i]
        ok = dx != 0
        slopes.append((ys[j] - ys[i])[ok] / dx[ok])
    if not slopes:
        return 0.0
    return float(np.median(np.concatenate(slopes)))


def binned_slope_interval(x: np.ndarray, y: np.ndarray, *, bins: int = 12, confidence: float = 0.9):
    """Sen's slope interval from ``bins`` equal-count bin means.

    Neighbouring samples are correlated, so an interval from every sample is far too narrow; bin means
    are much closer to independent. Returns ``(low, high)``.
    """
    bins = max(3, min(bins, len(x) // 2))
    if len(x) < 6:
        _, _, lo, hi = theil_sen(x, y, confidence)
        return lo, hi
    edges = np.linspace(0, len(x), bins + 1).astype(int)
    xm = np.array([x[a:b].mean() for a, b in zip(edges[:-1], edges[1:]) if b > a])
    ym = np.array([y[a:b].mean() for a, b in zip(edges[:-1], edges[1:]) if b > a])
    _, _, lo, hi = theil_sen(xm, ym, confidence)
    return lo, hi


def quadratic_acceleration(x: np.ndarray, y: np.ndarray, *, bins: int = 16) -> tuple[np.ndarray, float]:
    """Least-squares quadratic ``[c, b, a]`` of ``y(x)`` and the t statistic of its curvature ``c``.

    The t statistic comes from ``bins`` bin means, so correlated neighbours do not inflate it.
    """
    coef = np.polyfit(x, y, 2)
    bins = max(5, min(bins, len(x) // 2))
    edges = np.linspace(0, len(x), bins + 1).astype(int)
    xm = np.array([x[a:b].mean() for a, b in zip(edges[:-1], edges[1:]) if b > a])
    ym = np.array([y[a:b].mean() for a, b in zip(edges[:-1], edges[1:]) if b > a])
    if len(xm) < 5:
        return coef, 0.0
    cm, cov = np.polyfit(xm, ym, 2, cov="unscaled")
    resid = ym - np.polyval(cm, xm)
    dof = len(xm) - 3
    s2 = float(np.dot(resid, resid)) / dof * _ar1_inflation(resid)
    se = math.sqrt(max(cov[0, 0] * s2, 0.0))
    if se == 0:
        return coef, (math.inf if cm[0] > 0 else 0.0)
    return coef, float(cm[0] / se)


# ---- crossings -------------------------------------------------------------------------------------
def _poly_reach(level: float, slope: float, curv: float, target: float) -> float:
    """Smallest ``tau >= 0`` with ``level + slope tau + curv tau^2 >= target`` (inf when never).

    Assumes ``slope >= 0`` and ``curv >= 0`` (a non-decreasing trend ahead).
    """
    gap = target - level
    if gap <= 0:
        return 0.0
    if curv > 0:
        return (-slope + math.sqrt(slope * slope + 4.0 * curv * gap)) / (2.0 * curv)
    if slope > 0:
        return gap / slope
    return math.inf


def first_crossing(now_s: float, level: float, slope: float, curv: float, profile: Profile, limit: float,
                   *, unit_s: float = DAY_S, max_tau: float = math.inf, max_points: int = 400_000) -> float | None:
    """Time (epoch seconds) when ``level + slope tau + curv tau^2 + profile(t)`` first reaches ``limit``.

    ``tau`` is measured in ``unit_s`` seconds from ``now_s``. None when it never does within
    ``max_tau``. The trend must be non-decreasing (``slope, curv >= 0``).
    """
    slope, curv = max(slope, 0.0), max(curv, 0.0)
    earliest = _poly_reach(level + profile.peak, slope, curv, limit)
    if earliest > max_tau:
        return None
    latest = min(_poly_reach(level + profile.trough, slope, curv, limit), max_tau)
    if profile.is_flat or earliest == latest:
        return now_s + earliest * unit_s
    step = profile.slot_s / unit_s
    if (latest - earliest) / step > max_points:
        step = (latest - earliest) / max_points
    taus = np.arange(earliest, latest + step, step)
    curve = level + slope * taus + curv * taus * taus + profile.at(now_s + taus * unit_s)
    hit = np.flatnonzero(curve >= limit)
    if not len(hit):
        return None if latest >= max_tau else now_s + latest * unit_s
    k = int(hit[0])
    tau = float(taus[k])
    if k > 0 and curve[k] > curve[k - 1]:  # between grid points, the trend part is linear enough
        tau = float(taus[k - 1] + (taus[k] - taus[k - 1]) * (limit - curve[k - 1]) / (curve[k] - curve[k - 1]))
    return now_s + tau * unit_s


# ---- rolling origins -------------------------------------------------------------------------------
def rolling_origin_ratios(x: np.ndarray, y: np.ndarray, *, window: float = 2.0, step: float = 0.25,
                          anchor: float = 0.5, near: float = 0.25, min_slope: float = 0.0) -> dict[float, np.ndarray]:
    """How the series' own past forecasts came true: realised over predicted growth, by horizon.

    ``x`` is in days (0 = now), ``y`` deseasonalised. At origins every ``step`` days, Sen's slope of the
    ``window`` days before the origin (as long as the current fit's), anchored on its last ``anchor`` days,
    predicts the level ``h`` days later; the ratio of the growth that came (the mean within ``near``
    days of the target) to the growth predicted is kept per horizon ``h`` (1, 2, 3, 5, 7, 10 days).
    Origins whose slope is at most ``min_slope`` predicted no fill and are skipped.
    Growth that varies from day to day, weekends and rate changes all show up here, so an interval
    built from these ratios holds as well as the past predicted the past.
    """
    out: dict[float, list[float]] = {}
    if len(x) < 8:
        return {}
    horizons = (1.0, 2.0, 3.0, 5.0, 7.0, 10.0)
    for origin in np.arange(x[-1] - 1.0, x[0] + window - 1e-9, -step):
        past = (x <= origin) & (x > origin - window)
        if past.sum() < 6:
            continue
        slope = sen_slope(x[past], y[past])
        if slope <= min_slope:  # the past did not predict a fill from here
            continue
        recent = past & (x > origin - anchor)
        level = float(np.median(y[recent] - slope * (x[recent] - origin))) if recent.any() else float(y[past][-1])
        for h in horizons:
            target = origin + h
            if target > x[-1] - near:
                break
            at = np.abs(x - target) <= near
            if not at.any():
                continue
            realised = float(np.mean(y[at])) - level
            out.setdefault(h, []).append(realised / (slope * h))
    return {h: np.asarray(v) for h, v in out.items()}


# ---- cleanup cycles --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Cleanups:
    """Periodic cleanups seen in a deseasonalised series (days, 0 = now): usage ramps at ``gross`` per
    day between them (``gross_low``..``gross_high`` over the ramps seen), a cleanup every ``period``
    days (the latest at ``last``) takes ``drop`` away, so the peaks rise by ``gross * period - drop``
    per cycle."""

    period: float
    last: float
    gross: float
    gross_low: float
    gross_high: float
    drop: float
    drops: int

    def days_to_reach(self, level: float, limit: float, *, gross: float | None = None,
                      max_days: float = math.inf) -> float | None:
        """Days from now until the ramp from ``level`` first reaches ``limit`` (None: not within ``max_days``).

        The crossing comes at a peak: in the current cycle when the ramp gets there before the next
        cleanup, else in the first later cycle whose peak reaches the limit. A cleanup due (up to a
        quarter period late) is taken to happen now.
        """
        g = self.gross if gross is None else gross
        if g <= 0:
            return None
        if level >= limit:
            return 0.0
        t_next = self.last + self.period
        if t_next <= 0:
            if t_next < -0.25 * self.period:  # overdue: the cleanups may have stopped, nothing to add
                return None
            level, t_next = level - self.drop, self.period
        if level + g * t_next >= limit:
            return (limit - level) / g
        peak = level + g * t_next
        rise = g * self.period - self.drop
        if rise <= 0:
            return None
        cycles = math.ceil((limit - peak) / rise)
        at = t_next + cycles * self.period - (peak + rise * cycles - limit) / g
        return at if at <= max_days else None


def cleanup_cycles(x: np.ndarray, y: np.ndarray, *, sigmas: float = 8.0, min_share: float = 0.05,
                   min_period: float = 1.5, max_cv: float = 0.25) -> Cleanups | None:
    """Periodic cleanups in ``y(x)`` (days, deseasonalised), or None.

    A cleanup is a fall between neighbouring points of more than ``sigmas`` robust scales of the
    point-to-point changes and ``min_share`` of the series' range. Two or more, ``min_period`` days or
    more apart with regular spacing (coefficient of variation up to ``max_cv``), make a cycle: a daily
    one is already the daily profile, and a single cleanup may be a one-off. Mean growth averages the
    sawtooth, so a disk that fills at the peak before a weekly cleanup would be called late, and the
    ramp since the last cleanup alone would be called early; the cycle says when.
    """
    if len(y) < 24 or x[-1] - x[0] < 2 * min_period:
        return None
    d = np.diff(y)
    scale = 1.4826 * float(np.median(np.abs(d - np.median(d)))) or float(np.std(d)) or 0.0
    big = np.flatnonzero(d < -max(sigmas * scale, min_share * float(np.ptp(y))))
    if len(big) < 2:
        return None
    groups: list[list[int]] = []
    for k in big:  # a cleanup spread over a few neighbouring points is one
        if groups and x[k] - x[groups[-1][-1]] <= 0.25:
            groups[-1].append(int(k))
        else:
            groups.append([int(k)])
    at = np.array([0.5 * (x[g[0]] + x[g[-1] + 1]) for g in groups])
    if len(at) < 2:
        return None
    gaps = np.diff(at)
    period = float(np.median(gaps))
    if period < min_period or (len(gaps) > 1 and float(np.std(gaps)) > max_cv * period):
        return None
    # the ramps between cleanups (and the current one, when it is long enough to measure)
    bounds = [x[0] - 1e-9, *at, x[-1] + 1e-9]
    slopes = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        m = (x > a) & (x < b)
        if m.sum() >= 6 and x[m][-1] - x[m][0] >= 0.5:
            slopes.append(sen_slope(x[m], y[m]))
    drops = []
    for g in groups:  # level just before and just after, a couple of hours each side
        before = (x <= x[g[0]]) & (x > x[g[0]] - 0.1)
        after = (x >= x[g[-1] + 1]) & (x < x[g[-1] + 1] + 0.1)
        drops.append(float(np.median(y[before]) - np.median(y[after])) if before.any() and after.any()
                     else float(-np.sum(d[g])))
    if not slopes:
        return None
    return Cleanups(period=period, last=float(at[-1]), gross=float(np.median(slopes)), gross_low=float(min(slopes)),
                    gross_high=float(max(slopes)), drop=float(np.median(drops)), drops=len(at))
