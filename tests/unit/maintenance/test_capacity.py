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
