"""PeakForecaster and Rightsizer: requests and limits from the forecast, and the risk they carry."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from promcast.errors import InputError
from promcast.rightsize.peaks import PeakForecaster
from promcast.rightsize.recommend import MIB, Resources, Rightsizer, hourly

END = pd.Timestamp("2024-03-04T00:00:00Z")


def container(days=14, cpu_growth=0.0, leak_per_day=0.0, seed=0):
    index = pd.date_range(END - pd.Timedelta(days=days), END, freq="5min", tz="UTC", inclusive="left")
    t = np.asarray((index - index[0]) / pd.Timedelta(days=1), dtype=float)
    hour = np.asarray(index.hour, dtype=float)
    busy = 0.5 * (1 + np.cos(2 * np.pi * (hour - 14) / 24))
    rng = np.random.default_rng(seed)
    cpu = (0.1 + 0.3 * busy) * (1 + cpu_growth * t) * (1 + 0.05 * rng.normal(0, 1, len(t)))
    memory = 400 * MIB + 20 * MIB * busy + 2 * MIB * rng.normal(0, 1, len(t)) + leak_per_day * np.clip(t - days / 2, 0, None)
    return pd.Series(np.clip(cpu, 0.001, None), index=index), pd.Series(memory, index=index)


def test_stable_container_gets_its_busy_hours_not_more():
    cpu, memory = container()
    sizer = Rightsizer(horizon="28d").fit(cpu, memory)
    rec = sizer.recommended_
    means = hourly(cpu, "mean")
    assert sizer.cpu_growth_ == 0 and sizer.memory_growth_ == 0
    assert np.quantile(means, 0.8) <= rec.cpu_request <= means.max() * 1.05
    assert rec.cpu_request <= rec.cpu_limit <= cpu.max() * 1.3
    assert memory.max() <= rec.memory_limit <= memory.max() * 1.2
    assert rec.memory_request <= rec.memory_limit
    assert sizer.risk(rec) == {"throttled_hours": 0, "oom_risk_hours": 0, "oom_at": None}


def test_growth_is_planned_for():
    cpu, memory = container(cpu_growth=0.02)  # +2 % of the start a day
    sizer = Rightsizer(horizon="28d").fit(cpu, memory)
    assert sizer.cpu_growth_ > 0
    last_week = hourly(cpu, "mean").iloc[-168:]
    assert sizer.recommended_.cpu_request > last_week.quantile(0.9) * 1.2  # four weeks of growth ahead


def test_a_leak_is_followed_and_the_current_limit_gets_an_oom_date():
    cpu, memory = container(leak_per_day=40 * MIB)  # leaking for the last 7 days: ~700 MiB now
    sizer = Rightsizer(horizon="28d").fit(cpu, memory)
    assert sizer.memory_growth_ == pytest.approx(40 * MIB, rel=0.15)
    risk = sizer.risk(Resources(1.0, 2.0, 1024 * MIB, 1024 * MIB))
    # ~720 MiB at the end growing 40 MiB a day: the limit is reached in about 7.5 days
    assert risk["oom_at"] is not None
    assert pd.Timedelta(days=5) <= risk["oom_at"] - END <= pd.Timedelta(days=10)
    assert risk["oom_risk_hours"] > 0
    assert sizer.recommended_.memory_limit > memory.iloc[-1] + 25 * 40 * MIB


def test_risk_counts_throttled_hours_over_the_horizon():
    cpu, memory = container()
    sizer = Rightsizer(horizon="7d").fit(cpu, memory)
    tight = Resources(0.1, 0.2, None, None)  # busy hours reach ~0.4 cores
    assert 7 * 4 <= sizer.risk(tight)["throttled_hours"] <= 7 * 16


def test_weekly_profile_with_two_weeks_and_daily_with_less():
    cpu, _memory = container(days=14)
    assert PeakForecaster().fit(hourly(cpu, "mean")).period_ == 168
    cpu, _memory = container(days=3)
    assert PeakForecaster().fit(hourly(cpu, "mean")).period_ == 24


def test_too_little_history_is_an_input_error():
    cpu, memory = container(days=14)
    with pytest.raises(InputError, match="six hours"):
        Rightsizer().fit(cpu.iloc[:36], memory.iloc[:36])
    with pytest.raises(InputError, match="horizon"):
        Rightsizer(horizon="soon").fit(cpu, memory)
