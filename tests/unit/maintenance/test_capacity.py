"""CapacityPlanner: planning against the forecast's upper band (fast models here, Prophet once)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from benchmarks.scenarios import DAY, make_capacity
from promcast.errors import InputError, UnknownNameError
from promcast.maintenance.capacity import CAPACITY_FIELDS, CapacityPlanner


def daily_load(days: float = 14, level: float = 1000.0, amplitude: float = 300.0, seed: int = 0) -> pd.Series:
    index = pd.date_range("2024-01-01", periods=int(days * 24), freq="1h", tz="UTC")
    phase = 2 * np.pi * np.asarray((index - index[0]).total_seconds(), dtype=float) / 86400.0
    noise = np.random.default_rng(seed).normal(0, 10.0, len(index))
    return pd.Series(level + amplitude * np.sin(phase) + noise, index=index)


def test_flat_load_far_below_capacity_never_needs_scaling():
    plan = CapacityPlanner(5000, headroom=0.2, horizon="7d", model="seasonal_naive").fit(daily_load())
    result = plan.result()
    assert tuple(result) == CAPACITY_FIELDS
    assert result["scale_up_date"] is None
    assert 1300 <= result["peak_forecast"] <= 1450  # the daily peak plus the band
    assert result["recommended_capacity"] == pytest.approx(result["peak_forecast"] * 1.2, rel=1e-4)
    assert plan.forecast_.index[0] > plan.last_timestamp_
    assert plan.forecast_.index[-1] <= plan.last_timestamp_ + pd.Timedelta(days=7)


def test_daily_peaks_crossing_the_headroom_line_set_the_scale_up_date():
    # peaks ~1300: the line at capacity * 0.8 = 1280 is crossed by the first forecast peak
    plan = CapacityPlanner(1600, headroom=0.2, horizon="3d", model="seasonal_naive").fit(daily_load())
    assert plan.scale_up_date_ is not None
    assert plan.scale_up_date_ - plan.last_timestamp_ <= pd.Timedelta(days=1)
    hour = (plan.scale_up_date_.hour + plan.scale_up_date_.minute / 60)
    assert 3 <= hour <= 9  # the sine peaks at 06:00 UTC


def test_load_already_above_the_line_means_scale_up_now():
    load = daily_load()
    plan = CapacityPlanner(500, model="seasonal_naive", horizon="2d").fit(load)
    assert plan.scale_up_date_ == load.index[-1]


def test_short_history_falls_back_to_a_simpler_model():
    load = daily_load(days=1)[:12]  # 12 hourly points: too few for Prophet (24), enough for Holt-Winters
    plan = CapacityPlanner(5000, horizon="6h", min_history="6h").fit(load)
    assert plan.model_name_ == "holt_winters"
    assert "prophet" in plan.fallback_reason_


@pytest.mark.parametrize("kwargs,error,needle", [
    ({"headroom": 1.0}, InputError, "headroom"),
    ({"headroom": "x"}, InputError, "headroom"),
    ({"horizon": "soon"}, InputError, "horizon"),
    ({"model": "crystal_ball"}, UnknownNameError, "unknown model"),
])
def test_bad_options_are_clear_errors(kwargs, error, needle):
    with pytest.raises(error, match=needle):
        CapacityPlanner(5000, **kwargs).fit(daily_load())


def test_prophet_finds_the_crossing_of_a_growing_seasonal_load():
    case = make_capacity("seasonal_growth", 0)
    plan = CapacityPlanner(case.capacity, headroom=case.headroom, horizon=case.horizon).fit(case.series)
    assert plan.model_name_ == "prophet"
    assert plan.scale_up_date_ is not None
    error_days = (plan.scale_up_date_ - case.crossing_at) / DAY
    assert -8 <= error_days <= 3  # the upper band errs early, the safe side


# ------------------------------------------------------------------------------ cost and scaling down
def test_without_a_unit_cost_the_cost_fields_are_null():
    result = CapacityPlanner(5000, horizon="7d", model="seasonal_naive").fit(daily_load()).result()
    assert result["current_cost"] is None and result["recommended_cost"] is None and result["monthly_delta"] is None


def test_costs_are_per_30_days_whatever_the_price_period():
    # 12.5 per unit per 30 days; the same price given per day is 30 times more per month
    monthly = CapacityPlanner(5000, horizon="7d", model="seasonal_naive", unit_cost=12.5).fit(daily_load())
    result = monthly.result()
    assert result["current_cost"] == pytest.approx(5000 * 12.5)
    assert result["recommended_cost"] == pytest.approx(monthly.recommended_capacity_ * 12.5, abs=0.01)
    assert result["monthly_delta"] == pytest.approx(result["recommended_cost"] - result["current_cost"], abs=0.01)
    assert result["monthly_delta"] < 0  # peaks near 1,400 against 5,000 paid for: a saving
    daily = CapacityPlanner(5000, horizon="7d", model="seasonal_naive", unit_cost=12.5, cost_period="1d")
    assert daily.fit(daily_load()).result()["current_cost"] == pytest.approx(5000 * 12.5 * 30)


def test_far_below_capacity_recommends_scaling_down_now():
    load = daily_load()
    plan = CapacityPlanner(5000, headroom=0.2, horizon="7d", model="seasonal_naive").fit(load)
    # peak ~1,400 * 1.2 is far below 0.7 * 5,000: safe from the latest sample on
    assert plan.scale_down_date_ == load.index[-1]
    assert plan.result()["scale_down_date"] == load.index[-1].strftime("%Y-%m-%dT%H:%M:%SZ")


def test_near_capacity_does_not_recommend_scaling_down():
    # peaks ~1,400 * 1.2 = 1,680 against 0.7 * 2,200 = 1,540: cutting 30 % would not be safe
    plan = CapacityPlanner(2200, headroom=0.2, horizon="7d", model="seasonal_naive").fit(daily_load())
    assert plan.scale_down_date_ is None and plan.scale_up_date_ is None


def test_scale_down_date_waits_for_a_forecast_drop():
    from promcast.maintenance.capacity import _scale_down_date

    index = pd.date_range("2024-01-02", periods=6, freq="1D", tz="UTC")
    needed = np.array([900.0, 950.0, 400.0, 420.0, 380.0, 410.0])  # a campaign ends after day 2
    last = index[0] - pd.Timedelta("1D")
    assert _scale_down_date(needed, 880.0, 700.0, index, last) == index[2]
    assert _scale_down_date(needed[2:], 400.0, 700.0, index[2:], last) == last  # already low: now
    assert _scale_down_date(needed[2:], 900.0, 700.0, index[2:], last) == index[2]  # high now, low from then on
    assert _scale_down_date(needed[::-1], 400.0, 700.0, index, last) is None  # the horizon ends high


@pytest.mark.parametrize("kwargs,needle", [
    ({"unit_cost": -1}, "unit cost"), ({"unit_cost": "x"}, "unit cost"),
    ({"unit_cost": 1, "cost_period": "0s"}, "cost period"), ({"scale_down_below": 0}, "scale_down_below"),
])
def test_bad_cost_options_are_clear_errors(kwargs, needle):
    with pytest.raises(InputError, match=needle):
        CapacityPlanner(5000, horizon="1d", model="seasonal_naive", **kwargs).fit(daily_load())
