"""The baselines' own behaviour: mad's seasonal slots, seasonal naive's repetition, Holt-Winters."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from promcast.models import get_model

from .conftest import PER_DAY, STEP, daily_series


# ---- mad -------------------------------------------------------------------------------------------
def test_mad_uses_hour_of_day_slots_with_enough_history():
    model = get_model("mad").fit(daily_series(days=4))
    assert model.seasonal_ and len(model.medians_) == 24
    assert model.medians_[6] == pytest.approx(10 + 3 * np.sin(2 * np.pi * 6.375 / 24), abs=0.5)
    # 10 is normal at midnight and at noon globally, but at 6h (peak ~13) it is a clear anomaly
    at_six = pd.Series([10.0], index=pd.DatetimeIndex(["2024-01-06 06:30"], tz="UTC"))
    at_midnight = pd.Series([10.0], index=pd.DatetimeIndex(["2024-01-06 00:10"], tz="UTC"))
    assert model.score(at_six).iloc[0] > 0.999 and model.score(at_midnight).iloc[0] < 0.9


def test_mad_is_global_with_short_history_and_ignores_outliers():
    series = daily_series(days=1)
    series.iloc[::10] += 50.0  # 10% outliers barely move median and MAD
    model = get_model("mad").fit(series)
    assert not model.seasonal_
    assert model.medians_[0] == pytest.approx(10.0, abs=1.0)
    assert model.score(series).iloc[0] > 0.999


def test_mad_band_is_per_slot():
    model = get_model("mad").fit(daily_series(days=4))
    frame = model.predict("1d")
    assert frame["yhat"].nunique() == 24
    assert frame["yhat"].max() - frame["yhat"].min() > 4.0


# ---- seasonal naive --------------------------------------------------------------------------------
def test_seasonal_naive_repeats_the_last_day():
    series = daily_series(days=3)
    model = get_model("seasonal_naive").fit(series)
    frame = model.predict("2d")
    assert np.allclose(frame["yhat"].iloc[:PER_DAY], series.iloc[-PER_DAY:])
    assert np.allclose(frame["yhat"].iloc[PER_DAY:], series.iloc[-PER_DAY:])


def test_seasonal_naive_without_a_full_season_repeats_the_last_value():
    series = daily_series(days=0.5)
    model = get_model("seasonal_naive").fit(series)
    assert not model.seasonal_
    assert (model.predict("3h")["yhat"] == series.iloc[-1]).all()


def test_seasonal_naive_scores_against_the_scored_series_own_past():
    series = daily_series(days=2)
    model = get_model("seasonal_naive").fit(series)
    later = daily_series(days=4).iloc[2 * PER_DAY:] + 5.0  # a level shift on day 3, kept on day 4
    scores = model.score(later)
    assert scores.iloc[:PER_DAY].mean() > 0.99  # day 3 compared with day 2: shifted
    assert scores.iloc[PER_DAY:].mean() < 0.7  # day 4 compared with day 3 (the scored rows): normal


# ---- holt-winters ----------------------------------------------------------------------------------
def test_holt_winters_is_seasonal_with_two_seasons_of_data():
    seasonal = get_model("holt_winters").fit(daily_series(days=4))
    assert seasonal.period_ == PER_DAY
    truth = daily_series(days=5).iloc[-PER_DAY:]
    assert np.mean(np.abs(seasonal.predict("1d")["yhat"].to_numpy() - truth.to_numpy())) < 1.0
    short = get_model("holt_winters").fit(daily_series(days=1.5))
    assert short.period_ == 0


def test_holt_winters_on_a_constant_series():
    index = pd.date_range("2024-01-01", periods=50, freq=STEP, tz="UTC")
    model = get_model("holt_winters").fit(pd.Series(3.0, index=index))
    frame = model.predict("1h")
    assert (frame["yhat"] == 3.0).all()
    assert (frame["yhat_upper"] - frame["yhat_lower"] < 1e-3).all()
