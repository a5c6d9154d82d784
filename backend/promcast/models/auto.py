"""``auto``: per-series forecaster selection and combination by the series' own rolling origins.

Why: no single model wins on real metrics (issue 14: prophet scored MASE 1.166 on unseen NAB
series, the seasonal naive 1.156). So each series chooses for itself, from its own past only:

1. The history is averaged onto a coarse grid (``points_per_day`` bins a day): the forecast a day
   ahead does not need 5-minute detail, and every candidate fits in milliseconds there.
2. Spikes and outages are replaced by a rolling median before any candidate sees them (``outlier_z``
   robust standard deviations off it); a run at least half the median's window long survives, so a
   level shift is kept, a blip is not.
3. Every candidate of :mod:`.pool` (seasonal naive daily/weekly, seasonal medians, recent level,
   AutoETS, MSTL-style profile + AutoETS, Theta, Holt-Winters; Prophet on request) forecasts
   ``horizon`` ahead from ``n_origins`` rolling origins inside the history, never past its end. The
   ``top_k`` with the lowest mean absolute error (at the data's own step; default 1, the best) are
   combined by their median (or mean): the forecast. Which seasonality the winners model is
   ``seasonality_``.
4. The band is conformal (:mod:`.conformal`): quantiles of the combination's own errors at those
   origins, per horizon step, with the combination chosen without the origin it is scored on.
5. Level shifts right before the end (``shift_points`` raw points all ``shift_z`` noise standard
   deviations off the forecast's start, on one side) move the forecast to the new level.

``top_k``, ``combine``, ``outlier_z``, the level-shift constants and ``band_scale`` are global
settings, compared across all NAB backtest files (``promcast evaluate --backtest`` scores each
variant on every fold and reports the leave-one-file-out choice as the held-out score, see the
README); the defaults are the all-files choices, never a rule for one file. ``points_per_day``,
``n_origins`` and the pool were set by design (``n_origins`` 10 over 5 after a comparison on all
files).
"""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from ..errors import InputError
from .base import Forecaster, InsufficientHistory, robust_scale, to_timedelta
from .conformal import ConformalBands
from .pool import CANDIDATES, DEFAULT_POOL, SEASONALITY, Skip, forecast
from .prepare import epoch_seconds
from .registry import register

_DAY = pd.Timedelta(days=1)


def _import_statsforecast() -> None:
    """statsforecast's first import takes ~2 s (fugue, pyarrow): pay it when ``auto`` is loaded."""
    import statsforecast.models  # noqa: F401


_import_statsforecast()


def clean_outliers(y: np.ndarray, z: float | None, window: int = 5) -> np.ndarray:
    """``y`` with points more than ``z`` robust standard deviations off a rolling median replaced by it."""
    if z is None or len(y) < window:
        return y
    med = pd.Series(y).rolling(window, center=True, min_periods=1).median().to_numpy()
    resid = y - med
    scale = robust_scale(resid, float(np.median(y)))
    far = np.abs(resid - np.median(resid)) > float(z) * scale
    return np.where(far, med, y)


def _combine(paths: list[np.ndarray], how: str) -> np.ndarray:
    stacked = np.vstack(paths)
    return np.median(stacked, axis=0) if how == "median" else np.mean(stacked, axis=0)


@register("auto")
class AutoForecaster(Forecaster):
    """Per-series selection/combination over :mod:`.pool` by rolling origins, with conformal bands."""

    min_points: ClassVar[int] = 12
    fallback: ClassVar[str | None] = "seasonal_naive"
    fast_params: ClassVar[dict[str, Any]] = {"n_origins": 3}

    def __init__(self, horizon: str = "1d", n_origins: int = 10, top_k: int = 1, combine: str = "median",
                 pool: tuple | None = None, points_per_day: int = 48, outlier_z: float | None = 5.0,
                 shift_points: int | None = 6, shift_z: float = 4.0, band_scale: float = 1.8):
        self.horizon = horizon
        self.n_origins = n_origins
        self.top_k = top_k
        self.combine = combine
        self.pool = pool
        self.points_per_day = points_per_day
        self.outlier_z = outlier_z
        self.shift_points = shift_points
        self.shift_z = shift_z
        self.band_scale = band_scale

    # ---- fitting -------------------------------------------------------------------------------
    def _check_params(self) -> tuple[str, ...]:
        pool = tuple(DEFAULT_POOL if self.pool is None else
                     (self.pool.split(",") if isinstance(self.pool, str) else self.pool))
        unknown = [p for p in pool if p not in CANDIDATES]
        if unknown or not pool:
            raise InputError(f"bad pool for auto: unknown candidate(s) {', '.join(unknown) or '(none given)'}; "
                             f"known: {', '.join(CANDIDATES)}")
        if self.combine not in ("median", "mean"):
            raise InputError(f"bad combine {self.combine!r} for auto: expected median or mean")
        if int(self.top_k) < 1 or int(self.n_origins) < 1 or int(self.points_per_day) < 2:
            raise InputError("auto needs top_k, n_origins >= 1 and points_per_day >= 2")
        return pool

    def _fit(self, y: pd.Series) -> None:
        pool = self._check_params()
        raw = y.to_numpy(dtype=float)
        step = self.fit_step_
        factor = max(1, int((_DAY / self.points_per_day) // step))
        period = int(round(_DAY / (factor * step)))
        nc = len(raw) // factor
        if nc < 6:
            raise InsufficientHistory(f"auto needs at least {6 * factor} points at {step}, got {len(raw)}")
        drop = len(raw) - nc * factor
        raw = raw[drop:]
        coarse = raw.reshape(nc, factor).mean(axis=1)
        horizon = to_timedelta(self.horizon, what="horizon")
        h = max(1, int(np.ceil(horizon / (factor * step))))
        self.factor_, self.period_, self.end_ = factor, period, y.index[-1]
        self.noise_ = robust_scale(np.diff(raw), float(np.median(raw))) / np.sqrt(2.0) if len(raw) > 2 else 0.0

        hc = max(1, min(h, nc // 3))
        spacing = max(1, hc // 2)
        origins = [nc - hc - k * spacing for k in range(int(self.n_origins))]
        # seasonal candidates need two days before an origin: keep origins that give them that, when the
        # history allows (otherwise they would lose by default to the candidates that can always run)
        min_train = 2 * period if nc - hc >= 2 * period else nc // 3
        origins = [o for o in origins if o >= max(4, min_train)]
        if not origins:
            raise InsufficientHistory(f"auto needs more history for rolling origins ({len(raw)} points)")
        paths: dict[str, list] = {name: [] for name in pool}
        fitted: dict[str, Any] = {}
        # earliest origin first: parameters are estimated there once and reused (run forward) later
        for o in reversed(origins):
            hist = clean_outliers(coarse[:o], self.outlier_z)
            for name in pool:
                try:
                    path, fitted[name] = forecast(name, hist, hc, period, fitted.get(name))
                except Skip:
                    path = None
                paths[name].insert(0, path)
        actual = np.vstack([raw[o * factor:(o + hc) * factor] for o in origins])
        errors = {name: self._errors(ps, origins, raw, hc) for name, ps in paths.items()}
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: the candidate could not run there
            mae = {name: np.nanmean(np.abs(e), axis=1) for name, e in errors.items() if e is not None}
        if not mae:
            raise InsufficientHistory("no candidate of auto's pool could forecast this history")
        ranked = self._rank(mae, range(len(origins)))
        self.ranking_ = {name: float(np.mean(mae[name])) for name in ranked}
        self.winners_ = tuple(ranked[: int(self.top_k)])
        # conformal errors: each origin's combination is chosen without that origin
        conformal = []
        for i, o in enumerate(origins):
            others = [j for j in range(len(origins)) if j != i] or [i]
            chosen = [n for n in self._rank(mae, others) if paths[n][i] is not None][: int(self.top_k)]
            path = _combine([paths[n][i] for n in chosen], self.combine)
            path = path + self._shift(raw[: o * factor], path[0])
            conformal.append(actual[i] - self._to_raw(path, hc * factor))
        errs = np.vstack(conformal)
        self.bands_ = ConformalBands.fit(errs, min_samples=min(200, errs.size))
        self.clean_ = clean_outliers(coarse, self.outlier_z)
        self.offset_ = 0.0
        self.path_ = self._combined(max(h, period) + 2)
        self.offset_ = self._shift(raw, self.path_[0])
        self.seasonality_ = max(("weekly", "daily", "none"),
                                key=lambda s: sum(SEASONALITY[n] == s for n in self.winners_))
        self._learn_residuals(errs.ravel(), level=float(np.median(raw)))

    def _errors(self, paths: list, origins: list[int], raw: np.ndarray, hc: int):
        """(origins, steps) raw-step errors of one candidate; None when it could not run at the last origin."""
        if paths[0] is None:
            return None
        rows = []
        for o, path in zip(origins, paths):
            truth = raw[o * self.factor_:(o + hc) * self.factor_]
            rows.append(np.full(len(truth), np.nan) if path is None else truth - self._to_raw(path, len(truth)))
        return np.vstack(rows)

    @staticmethod
    def _rank(mae: dict[str, np.ndarray], origins) -> list[str]:
        """Candidates by mean MAE over the ``origins`` where they ran (those that ran at fewer than half last)."""
        idx = list(origins)

        def key(name):
            values = mae[name][idx]
            ran = int(np.isfinite(values).sum())
            if 2 * ran < len(values) or not ran:
                return (1, np.inf, name)
            return (0, float(np.nanmean(values)), name)

        return sorted(mae, key=key)

    def _to_raw(self, path: np.ndarray, n: int) -> np.ndarray:
        """A coarse-grid future path at the raw steps 1..n after the origin (linear between bin centres)."""
        f = self.factor_
        centres = np.arange(len(path)) * f + (f + 1) / 2.0
        return np.interp(np.arange(1, n + 1), centres, path)

    def _shift(self, raw_hist: np.ndarray, start: float) -> float:
        """Offset that moves the forecast to a level the history has just shifted to (0 when it has not)."""
        m = self.shift_points
        if not m or len(raw_hist) < int(m) + 1:
            return 0.0
        d = raw_hist[-int(m):] - start
        far = np.abs(d) > float(self.shift_z) * max(self.noise_, 1e-12)
        if far.all() and (np.all(d > 0) or np.all(d < 0)):
            return float(np.median(d))
        return 0.0

    def _combined(self, h: int) -> np.ndarray:
        paths = []
        for name in self.winners_:
            try:
                paths.append(forecast(name, self.clean_, h, self.period_)[0])
            except Skip:
                continue
        if not paths:  # pragma: no cover - the winners ran on shorter histories of the same series
            paths = [forecast("level", self.clean_, h, self.period_)[0]]
        return _combine(paths, self.combine)

    # ---- prediction ----------------------------------------------------------------------------
    def _steps(self, index: pd.DatetimeIndex) -> np.ndarray:
        """Position of each timestamp in fit steps after the end of the history (<= 0: in-sample)."""
        end = epoch_seconds(pd.DatetimeIndex([self.end_]))[0]
        return (epoch_seconds(index) - end) / self.fit_step_.total_seconds()

    def _predict_mean(self, index: pd.DatetimeIndex) -> np.ndarray:
        r = self._steps(index)
        out = np.empty(len(r))
        future = r > 0
        if future.any():
            need = int(np.ceil(r[future].max() / self.factor_)) + 1
            path = self.path_ if need <= len(self.path_) else self._combined(need)
            centres = np.arange(len(path)) * self.factor_ + (self.factor_ + 1) / 2.0
            out[future] = np.interp(r[future], centres, path) + self.offset_
        if (~future).any():
            nc = len(self.clean_)
            centres = (np.arange(nc) - nc) * self.factor_ + (self.factor_ + 1) / 2.0
            out[~future] = np.interp(r[~future], centres, self.clean_)
        return out

    def _band(self, index: pd.DatetimeIndex, yhat: np.ndarray, interval: float):
        lower, upper = super()._band(index, yhat, interval)
        r = self._steps(index)
        future = r > 0
        if future.any():
            steps = np.maximum(0, np.round(r[future]).astype(int) - 1)
            lo, hi = self.bands_.band(steps, interval)
            lo, hi = lo * float(self.band_scale), hi * float(self.band_scale)
            lower = np.asarray(lower, dtype=float).copy()
            upper = np.asarray(upper, dtype=float).copy()
            lower[future] = yhat[future] + lo
            upper[future] = yhat[future] + hi
        return lower, upper
