"""Rolling-origin forecast backtests: MASE against the 1-day seasonal naive and band coverage.

For each origin the model is fitted on everything before it and forecasts ``horizon`` ahead. MASE
divides the forecast's mean absolute error by the in-sample mean absolute error of the seasonal naive
forecast with a 1-day season (Hyndman & Koehler), so MASE < 1 means better than "same time
yesterday". ``relative_mae`` also compares against that naive forecast on the same test window.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..durations import parse_duration
from ..models.prepare import infer_step
from ..models.registry import fit_with_fallback

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BacktestFold:
    origin: pd.Timestamp
    mae: float
    naive_mae: float
    scale: float
    covered: int
    points: int
    model: str

    @property
    def mase(self) -> float:
        return self.mae / self.scale if self.scale > 0 else float("nan")


@dataclass(frozen=True)
class BacktestResult:
    name: str
    folds: tuple[BacktestFold, ...]

    @property
    def mase(self) -> float:
        values = [f.mase for f in self.folds if np.isfinite(f.mase)]
        return float(np.mean(values)) if values else float("nan")

    @property
    def relative_mae(self) -> float:
        mae = sum(f.mae * f.points for f in self.folds)
        naive = sum(f.naive_mae * f.points for f in self.folds)
        return mae / naive if naive > 0 else float("nan")

    @property
    def coverage(self) -> float:
        points = sum(f.points for f in self.folds)
        return sum(f.covered for f in self.folds) / points if points else float("nan")


def rolling_origins(index: pd.DatetimeIndex, *, horizon: pd.Timedelta, min_train: pd.Timedelta,
                    max_folds: int) -> list[pd.Timestamp]:
    """Origins spaced one horizon apart, the last leaving one full horizon of test data."""
    last = index[-1] - horizon
    first = index[0] + min_train
    if last < first:
        return []
    origins = []
    origin = last
    while origin >= first and len(origins) < max_folds:
        origins.append(origin)
        origin -= horizon
    return sorted(origins)


def backtest(name: str, series: pd.Series, model: str, *, horizon: str = "1d", interval: float = 0.95,
             min_train: str = "3d", max_folds: int = 4, season: str = "1d", exclude=(), **params) -> BacktestResult:
    """Backtest ``model`` on ``series`` at rolling origins; folds that cannot fit are skipped.

    ``exclude``: (start, end) windows (e.g. labelled anomalies) left out of every error, coverage and
    MASE-scale computation, so the score measures forecasts of normal behaviour; the model still sees
    them in its training data, as it would in production.
    """
    series = series[~series.index.duplicated(keep="last")].sort_index().dropna()
    normal = np.ones(len(series), dtype=bool)
    for start, end in exclude:
        normal &= ~((series.index >= start) & (series.index <= end))
    normal = pd.Series(normal, index=series.index)
    horizon_td = pd.Timedelta(parse_duration(horizon, what="horizon"))
    season_td = pd.Timedelta(parse_duration(season, what="season"))
    step = infer_step(series.index)
    folds = []
    for origin in rolling_origins(series.index, horizon=horizon_td, min_train=pd.Timedelta(parse_duration(min_train, what="min_train")),
                                  max_folds=max_folds):
        train = series[series.index <= origin]
        test = series[(series.index > origin) & (series.index <= origin + horizon_td)]
        test = test[normal.reindex(test.index).to_numpy()]
        if len(test) == 0 or len(train) < 10:
            continue
        fitted = fit_with_fallback(model, train, warn=False, **params)
        forecast = fitted.predict_at(test.index, interval=interval)
        naive = _seasonal_naive(series, test.index, season_td, step)
        scale = _naive_scale(train, season_td, step, normal)
        err = np.abs(test.to_numpy() - forecast["yhat"].to_numpy())
        naive_err = np.abs(test.to_numpy() - naive)
        ok = np.isfinite(naive_err)
        covered = int(np.sum((test.to_numpy() >= forecast["yhat_lower"].to_numpy())
                             & (test.to_numpy() <= forecast["yhat_upper"].to_numpy())))
        folds.append(BacktestFold(
            origin=origin, mae=float(np.mean(err)), naive_mae=float(np.mean(naive_err[ok])) if ok.any() else float("nan"),
            scale=scale, covered=covered, points=len(test), model=fitted.name,
        ))
    return BacktestResult(name=name, folds=tuple(folds))


def _seasonal_naive(series: pd.Series, index: pd.DatetimeIndex, season: pd.Timedelta, step: pd.Timedelta) -> np.ndarray:
    """Value one season earlier (nearest sample within half a step), for the naive benchmark."""
    lagged = series.reindex(index - season, method="nearest", tolerance=step / 2)
    return lagged.to_numpy(dtype=float)


def _naive_scale(train: pd.Series, season: pd.Timedelta, step: pd.Timedelta, normal: pd.Series) -> float:
    """In-sample MAE of the seasonal naive forecast over ``normal`` rows (both ends): MASE's denominator."""
    lagged = train.reindex(train.index - season, method="nearest", tolerance=step / 2).to_numpy(dtype=float)
    err = np.abs(train.to_numpy() - lagged)
    lagged_normal = normal.astype(float).reindex(train.index - season, method="nearest", tolerance=step / 2)
    keep = normal.reindex(train.index).to_numpy() & (lagged_normal.to_numpy() == 1.0)  # NaN (no row) is False
    err = err[np.isfinite(err) & keep]
    return float(np.mean(err)) if len(err) else float("nan")
