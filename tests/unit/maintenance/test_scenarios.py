"""The benchmark's labelled scenario generator and its PromQL baselines in numpy."""

from __future__ import annotations

import numpy as np
import pandas as pd

from benchmarks.maintenance import baseline_disk_alarm, rolling_regression, sustained_lead
from benchmarks.scenarios import (
    DAY,
    DISK_FAMILIES,
    PROCESS_FAMILIES,
    disk_scenarios,
    make_capacity,
    make_disk,
    make_process,
    process_scenarios,
)


def test_scenarios_are_deterministic():
    a, b = make_disk("rotation_fill", 5), make_disk("rotation_fill", 5)
    pd.testing.assert_series_equal(a.series, b.series)
    assert a.full_at == b.full_at
    c, d = make_process("leak", 9), make_process("leak", 9)
    pd.testing.assert_series_equal(c.series, d.series)
    assert not make_disk("rotation_fill", 6).series.equals(a.series)


def test_enough_scenarios_of_every_family():
    disks = disk_scenarios(per_family=34)
    procs = process_scenarios(leaks=2, per_healthy_family=1)
    assert len(disks) >= 200 and {d.family for d in disks} == set(DISK_FAMILIES)
    assert {p.family for p in procs} == set(PROCESS_FAMILIES)
    # the default process set is 270: 40 of each leaking family and 25 of each healthy one
    assert process_scenarios.__defaults__[:2] == (40, 25)


def test_filling_disk_truth_and_evaluation_times():
    disk = make_disk("linear_fill", 1)
    assert disk.series.index[-1] <= disk.full_at
    assert [(disk.full_at - t) / DAY for t in disk.eval_times] == [14.0, 7.0, 3.0, 1.0]
    assert disk.series.index[0] <= disk.eval_times[0] - 14 * DAY
    stable = make_disk("stable_nearly_full", 1)
    assert stable.full_at is None and stable.series.max() < stable.capacity


def test_leak_truth_is_when_the_peaks_reach_the_limit():
    leak = make_process("leak", 2)
    assert leak.series.index[-1] < leak.oom_at
    assert leak.series.iloc[-60:].max() > 0.9 * leak.limit
    assert leak.started_at < leak.eval_times[0] < leak.oom_at


def test_capacity_crossing_is_within_the_horizon():
    case = make_capacity("seasonal_growth", 3)
    threshold = case.capacity * (1 - case.headroom)
    assert case.series.index[-1] < case.crossing_at <= case.series.index[-1] + case.horizon
    assert case.future[:case.crossing_at].iloc[:-1].max() < threshold <= case.future.max()
    assert make_capacity("seasonal_flat", 3).crossing_at is None


def test_rolling_regression_matches_least_squares_on_each_window():
    index = pd.date_range("2024-01-01", periods=200, freq="5min", tz="UTC")
    y = pd.Series(np.random.default_rng(0).normal(size=200).cumsum(), index=index)
    slope, at_t = rolling_regression(y, pd.Timedelta("1h"))
    t = np.asarray((index - index[0]).total_seconds(), dtype=float)
    window = (t > t[150] - 3600) & (t <= t[150])
    coef = np.polyfit(t[window], y.to_numpy()[window], 1)
    assert abs(slope[150] - coef[0]) < 1e-9
    assert abs(at_t[150] - np.polyval(coef, t[150])) < 1e-6


def test_baseline_alarm_fires_on_a_steep_daily_ramp_of_a_stable_disk():
    index = pd.date_range("2024-01-01", periods=3 * 288, freq="5min", tz="UTC")
    hours = np.asarray((index - index[0]).total_seconds(), dtype=float) / 3600
    used = pd.Series(80 + 15 * np.sin(2 * np.pi * hours / 24), index=index)  # stable, +-15 %
    assert baseline_disk_alarm(used, 100).any()


def test_sustained_lead_counts_from_the_last_switch_on():
    t = [pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(hours=h) for h in range(5)]
    end = t[-1] + pd.Timedelta("1h")
    assert sustained_lead(t, [True, False, True, True, True], end) == 3.0
    assert sustained_lead(t, [True, True, True, True, False], end) == 0.0


def test_messy_disks_have_irregular_steps_gaps_and_duplicates():
    disk = make_disk("messy_fill", 3)
    gaps = disk.series.index.to_series().diff().dropna()
    assert disk.series.index.has_duplicates and gaps.max() >= pd.Timedelta("1h") and gaps.std() > pd.Timedelta(0)


def test_a_fill_that_has_not_begun_is_not_evaluated():
    disk = make_disk("quiet_then_fill", 0)
    assert 14 not in disk.eval_leads and disk.eval_leads == (7, 3, 1)


def test_recent_and_restarting_leaks_reach_their_limit_after_the_onset():
    recent = make_process("recent_leak", 1)
    assert recent.started_at < recent.eval_times[0] < recent.oom_at
    assert recent.series[: recent.started_at].max() < 0.6 * recent.limit
    restarting = make_process("restarting_leak", 1)
    assert restarting.eval_times[-1] < restarting.oom_at
