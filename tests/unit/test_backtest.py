"""Rolling-origin backtest: origins, MASE against the seasonal naive, and excluded windows."""

import numpy as np
import pandas as pd
import pytest

from promcast.evaluation.backtest import backtest, rolling_origins


def daily_series(days=8, shift_at=None):
    index = pd.date_range("2024-01-01", periods=days * 288, freq="5min", tz="UTC")
    t = np.arange(len(index))
    values = 10 + 3 * np.sin(2 * np.pi * t / 288) + np.random.default_rng(3).normal(0, 0.3, len(t))
    if shift_at is not None:
        values[shift_at:shift_at + 36] += 20  # a 3-hour incident
    return pd.Series(values, index=index)


def test_origins_are_a_horizon_apart_and_leave_a_full_test_day():
    index = daily_series().index
    origins = rolling_origins(index, horizon=pd.Timedelta(days=1), min_train=pd.Timedelta(days=3), max_folds=4)
    assert len(origins) == 4
    assert all(b - a == pd.Timedelta(days=1) for a, b in zip(origins, origins[1:]))
    assert origins[-1] + pd.Timedelta(days=1) == index[-1]


def test_seasonal_naive_mase_is_about_one_on_stationary_data():
    result = backtest("s", daily_series(), "seasonal_naive")
    assert len(result.folds) == 4
    assert result.mase == pytest.approx(1.0, abs=0.15)
    assert result.relative_mae == pytest.approx(1.0, abs=0.05)


def test_excluded_window_is_not_scored():
    series = daily_series(shift_at=7 * 288 + 100)
    start, end = series.index[7 * 288 + 100], series.index[7 * 288 + 135]
    plain = backtest("s", series, "holt_winters")
    normal = backtest("s", series, "holt_winters", exclude=[(start, end)])
    assert sum(f.points for f in plain.folds) - sum(f.points for f in normal.folds) == 36
    assert normal.mase < plain.mase
