"""The candidate forecasters ``auto`` chooses from: plain functions on a regular numpy grid.

Each candidate is ``fn(y, h, period) -> ndarray`` (``h`` future values; estimated ones take and return
their fitted model too, see :func:`forecast`) where ``y`` is the history
on the coarse grid ``auto`` fits on and ``period`` the number of grid points per day. A candidate
that cannot run on ``y`` (too short for its season, a failed optimiser) raises :class:`Skip`; ``auto``
leaves it out of the comparison for that series. Functions, not estimator classes, because ``auto``
fits each of them at several rolling origins per series and must stay fast (issue 14: fit + 1-day
forecast within 1 s on 10,080 points): the heavy lifting is statsforecast's (AutoETS, AutoTheta)
and statsmodels' (Holt-Winters); the seasonal profiles are medians, which past incidents barely move.

Seasonal candidates need two whole seasons of history (one for seasonal naive), so which
seasonality a series has (daily, weekly, none) is decided by which candidates win on its own past.
"""

from __future__ import annotations

import warnings
from typing import Callable

import numpy as np

#: days a seasonal median profile looks back over (at most)
PROFILE_DAYS = 7


class Skip(Exception):
    """This candidate cannot forecast this history."""


def _tile(profile: np.ndarray, h: int) -> np.ndarray:
    reps = int(np.ceil(h / len(profile)))
    return np.tile(profile, reps)[:h]


def _need(y: np.ndarray, points: int) -> None:
    if points < 2 or len(y) < points:
        raise Skip(f"needs {points} points, has {len(y)}")


def naive_day(y: np.ndarray, h: int, period: int) -> np.ndarray:
    """Tomorrow is today (on the coarse grid: today's bin means)."""
    _need(y, period)
    return _tile(y[-period:], h)


def naive_week(y: np.ndarray, h: int, period: int) -> np.ndarray:
    """Next week is this week."""
    _need(y, 7 * period)
    return _tile(y[-7 * period:], h)


def _profile(y: np.ndarray, season: int, max_cycles: int) -> np.ndarray:
    """Median of each slot over the last whole cycles (at least 2): robust to one bad day."""
    cycles = min(max_cycles, len(y) // season)
    if season < 2 or cycles < 2:
        raise Skip("needs two whole seasons")
    return np.median(y[-cycles * season:].reshape(cycles, season), axis=0)


def seasonal_median(y: np.ndarray, h: int, period: int) -> np.ndarray:
    """Each slot of the day: its median over the last days."""
    return _tile(_profile(y, period, PROFILE_DAYS), h)


def seasonal_median_level(y: np.ndarray, h: int, period: int) -> np.ndarray:
    """The daily median profile moved to the level of the last eighth of a day (follows level shifts)."""
    profile = _profile(y, period, PROFILE_DAYS)
    recent = max(2, period // 8)
    offset = float(np.median(y[-recent:] - profile[-recent:]))
    return _tile(profile, h) + offset


def seasonal_median_week(y: np.ndarray, h: int, period: int) -> np.ndarray:
    """Each slot of the week: its median over the last weeks (two or more)."""
    return _tile(_profile(y, 7 * period, 4), h)


def level(y: np.ndarray, h: int, period: int) -> np.ndarray:
    """Flat at the median of the last eighth of a day."""
    recent = max(3, period // 8)
    return np.full(h, float(np.median(y[-recent:])))


def day_median(y: np.ndarray, h: int, period: int) -> np.ndarray:
    """Flat at the median of the last day: no season, a stable level."""
    return np.full(h, float(np.median(y[-max(3, period):])))


def ets(y: np.ndarray, h: int, period: int, fitted=None):
    """statsforecast AutoETS without season (error/trend chosen by AICc)."""
    from statsforecast.models import AutoETS

    return _statsforecast(lambda: AutoETS(model="ZZN"), y, h, fitted)


def mstl_ets(y: np.ndarray, h: int, period: int, fitted=None):
    """MSTL-style: a robust daily (and weekly, with two weeks) profile, AutoETS on what remains."""
    seasonal, future = _seasonal_component(y, period, h)
    path, fitted = ets(y - seasonal, h, period, fitted)
    return path + future, fitted


def theta(y: np.ndarray, h: int, period: int, fitted=None):
    """statsforecast AutoTheta on the seasonally adjusted series (the profile added back)."""
    from statsforecast.models import AutoTheta

    seasonal, future = _seasonal_component(y, period, h)
    path, fitted = _statsforecast(lambda: AutoTheta(season_length=1), y - seasonal, h, fitted)
    return path + future, fitted


def holt_winters(y: np.ndarray, h: int, period: int, fitted=None):
    """statsmodels Holt-Winters: damped additive trend, additive daily season (two days needed)."""
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    _need(y, 2 * period)
    if np.ptp(y) == 0.0:
        return np.full(h, float(y[-1])), fitted
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            model = ExponentialSmoothing(y, trend="add", damped_trend=True, seasonal="add", seasonal_periods=period,
                                         initialization_method="heuristic")
            if fitted is None:
                result = model.fit(use_brute=False)
                fitted = {k: result.params[k] for k in
                          ("smoothing_level", "smoothing_trend", "smoothing_seasonal", "damping_trend")}
            else:
                result = model.fit(optimized=False, **fitted)
        except (ValueError, np.linalg.LinAlgError) as exc:
            raise Skip(str(exc)) from exc
    return _finite(np.asarray(result.forecast(h), dtype=float)), fitted


def _season_len(y: np.ndarray, period: int) -> int:
    return 7 * period if len(y) >= 14 * period else period


def _seasonal_component(y: np.ndarray, period: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    """Zero-mean repeating profile over ``y`` and over the ``h`` points after it (weekly with two
    weeks of history, else daily)."""
    season_len = _season_len(y, period)
    _need(y, 2 * season_len)
    profile = _profile(y, season_len, PROFILE_DAYS if season_len == period else 4)
    profile = profile - np.mean(profile)
    n = len(y)
    # slot of each point, counting back from the end (the profile's last slot is y[-1]'s)
    return profile[(np.arange(n) - n) % season_len], profile[np.arange(h) % season_len]


def _statsforecast(make, y: np.ndarray, h: int, fitted):
    """Fit ``make()`` on ``y`` (or run an already fitted model forward over ``y``) and forecast ``h``."""
    if np.ptp(y) == 0.0:
        return np.full(h, float(y[-1])), fitted
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if fitted is None:
                fitted = make().fit(y=np.ascontiguousarray(y, dtype=float))
                out = fitted.predict(h=h)
            else:
                out = fitted.forward(y=np.ascontiguousarray(y, dtype=float), h=h)
        except (ValueError, ZeroDivisionError, FloatingPointError, np.linalg.LinAlgError) as exc:
            raise Skip(str(exc)) from exc
    return _finite(np.asarray(out["mean"], dtype=float)), fitted


def _finite(path: np.ndarray) -> np.ndarray:
    if not np.all(np.isfinite(path)):
        raise Skip("non-finite forecast")
    return path


def prophet(y: np.ndarray, h: int, period: int, fitted=None):
    """promcast's Prophet (slow: ~0.2 s a fit; in the pool only when asked for)."""
    import pandas as pd

    from .prophet import ProphetModel

    step = pd.Timedelta(days=1) / period
    index = pd.date_range("2024-01-01", periods=len(y), freq=step, tz="UTC")
    model = ProphetModel(shift_points=None).fit(pd.Series(y, index=index))
    return model._predict_mean(index[-1] + step * np.arange(1, h + 1)), None


CANDIDATES: dict[str, Callable[[np.ndarray, int, int], np.ndarray]] = {
    "naive_day": naive_day,
    "naive_week": naive_week,
    "seasonal_median": seasonal_median,
    "seasonal_median_level": seasonal_median_level,
    "seasonal_median_week": seasonal_median_week,
    "level": level,
    "day_median": day_median,
    "ets": ets,
    "mstl_ets": mstl_ets,
    "theta": theta,
    "holt_winters": holt_winters,
    "prophet": prophet,
}
#: the default pool: everything fast enough to fit at several origins within the 1 s budget
DEFAULT_POOL = ("naive_day", "naive_week", "seasonal_median", "seasonal_median_level", "seasonal_median_week",
                "level", "day_median", "ets", "mstl_ets", "theta", "holt_winters")
#: which seasonality each candidate models (for ``auto``'s ``seasonality_``)
SEASONALITY = {"naive_day": "daily", "naive_week": "weekly", "seasonal_median": "daily",
               "seasonal_median_level": "daily", "seasonal_median_week": "weekly", "level": "none",
               "day_median": "none", "ets": "none", "mstl_ets": "daily", "theta": "daily",
               "holt_winters": "daily", "prophet": "daily"}


#: candidates whose parameters are estimated (the others are closed-form on the history)
ESTIMATED = ("ets", "mstl_ets", "theta", "holt_winters", "prophet")


def forecast(name: str, y: np.ndarray, h: int, period: int, fitted=None):
    """Run candidate ``name``: ``(path, fitted)``; raises :class:`Skip` when it cannot.

    ``fitted`` (from an earlier call on a shorter history of the same series) reuses the estimated
    parameters and only runs the model forward over ``y``: rolling origins cost one estimation.
    """
    fn = CANDIDATES[name]
    y = np.asarray(y, dtype=float)
    if name in ESTIMATED:
        return fn(y, int(h), int(period), fitted)
    return fn(y, int(h), int(period)), None
