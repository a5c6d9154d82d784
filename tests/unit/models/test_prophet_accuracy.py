"""Prophet's accuracy choices: trend kept only when the data trends, level shifts at the end followed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from promcast.models import get_model
from promcast.models.prophet import choose_growth, mann_kendall_p

from .conftest import PER_DAY, daily_series


def test_mann_kendall_sees_monotone_trends_and_not_noise():
    rng = np.random.default_rng(1)
    assert mann_kendall_p(np.arange(10.0) + rng.normal(0, 0.5, 10)) < 0.01
    assert mann_kendall_p(-np.arange(10.0)) < 0.01
    assert mann_kendall_p(rng.normal(0, 1, 10)) > 0.05
    assert mann_kendall_p(np.ones(10)) == 1.0
    assert mann_kendall_p([1.0, 2.0]) == 1.0


def test_growth_is_linear_only_for_a_trend_or_too_few_days():
    flat = daily_series(days=10, seed=3)
    growing = flat + np.arange(len(flat)) * (2.0 / PER_DAY)  # +2 a day
    assert choose_growth(flat, 0.05) == "flat"
    assert choose_growth(growing, 0.05) == "linear"
    assert choose_growth(daily_series(days=3), 0.05) == "linear"


def test_a_real_trend_is_extrapolated():
    history = daily_series(days=10, seed=4)
    history = history + np.arange(len(history)) * (2.0 / PER_DAY)
    model = get_model("prophet").fit(history)
    assert model.growth_ == "linear"
    # one day later the level has grown by ~2 more: the forecast's mean follows it
    forecast = model.predict("1d")["yhat"].mean()
    last_day = history.iloc[-PER_DAY:].mean()
    assert forecast - last_day == pytest.approx(2.0, abs=0.6)


def test_noise_without_trend_gets_a_flat_trend_and_calibrated_band():
    full = daily_series(days=11, seed=5)
    history, future = full.iloc[:-PER_DAY], full.iloc[-PER_DAY:]
    model = get_model("prophet").fit(history)
    assert model.growth_ == "flat"
    frame = model.predict_at(future.index)
    assert np.mean(np.abs(frame["yhat"] - future)) < 0.6  # noise sd 0.5: MAE ~0.4
    covered = np.mean((future >= frame["yhat_lower"]) & (future <= frame["yhat_upper"]))
    assert 0.88 <= covered <= 1.0


def _dropped_at_end(points: int) -> pd.Series:
    """Ten noisy days around 30 whose last ``points`` samples fell to ~1 (an instance went idle)."""
    history = daily_series(days=10, seed=6, level=30.0, noise=0.5)
    values = history.to_numpy().copy()
    values[-points:] = 1.0 + np.random.default_rng(7).normal(0, 0.2, points)
    return pd.Series(values, index=history.index)


def test_a_level_shift_at_the_end_of_the_history_is_followed():
    history = _dropped_at_end(4)
    model = get_model("prophet").fit(history)
    assert model.shift_points_ == 4
    assert model.predict("1d")["yhat"].median() == pytest.approx(1.0, abs=3.0)
    # without the rule the old level (the median of the last 2h) still dominates
    old = get_model("prophet", shift_points=None).fit(history)
    assert old.predict("1d")["yhat"].median() > 20.0


def test_one_or_two_odd_points_at_the_end_are_not_a_shift():
    history = _dropped_at_end(2)
    model = get_model("prophet").fit(history)
    assert model.shift_points_ == 2
    assert model.predict("1d")["yhat"].median() > 20.0


def test_hyper_parameters_survive_serialisation_and_bad_growth_is_clear():
    from promcast.errors import InputError
    from promcast.models import load_model

    history = _dropped_at_end(4)
    model = get_model("prophet").fit(history)
    restored = load_model(model.to_bytes())
    assert restored.growth_ == model.growth_ and restored.offset_ == model.offset_
    pd.testing.assert_frame_equal(restored.predict("2h"), model.predict("2h"))
    with pytest.raises(InputError, match="growth"):
        get_model("prophet", growth="logistic").fit(history)
