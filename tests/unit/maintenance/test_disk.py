"""DiskUsagePredictor: each scenario family once with a clear expected outcome, plus the edge cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from benchmarks.scenarios import DAY, history, make_disk
from promcast.errors import InputError
from promcast.maintenance.disk import DISK_FIELDS, DiskUsagePredictor

STEP = pd.Timedelta("5min")


def ramp(days: float = 3.0, start: float = 10.0, per_day: float = 10.0, step: pd.Timedelta = STEP) -> pd.Series:
    index = pd.date_range("2024-01-01", periods=int(days * DAY / step), freq=step, tz="UTC")
    t = (index - index[0]) / DAY
    return pd.Series(start + per_day * np.asarray(t, dtype=float), index=index)


def fit_at(scenario, at):
    return DiskUsagePredictor(scenario.capacity).fit(history(scenario.series, at))


def rel_error(pred, truth):
    return abs(pred - truth) / truth


@pytest.mark.parametrize("family,seed", [("linear_fill", 4), ("rotation_fill", 1), ("quiet_then_fill", 1)])
def test_filling_disk_is_predicted_a_week_and_a_day_ahead(family, seed):
    # one typical disk per family; benchmarks/maintenance.py measures the spread over 160 of them
    disk = make_disk(family, seed)
    for truth in (7.0, 1.0):
        at = disk.full_at - truth * DAY
        fit = fit_at(disk, at)
        assert fit.days_to_full_ is not None, (family, at)
        assert rel_error(fit.days_to_full_, truth) < 0.25, (family, truth, fit.days_to_full_)
        assert fit.days_to_full_lower_ <= fit.days_to_full_ <= (fit.days_to_full_upper_ or np.inf)


def test_rotation_sawtooth_is_learned_as_a_daily_profile_not_a_trend():
    disk = make_disk("rotation_fill", 0)
    fit = fit_at(disk, disk.full_at - 7 * DAY)
    assert not fit.profile_.is_flat
    assert fit.cycle_peak_ > 0 and 0 < fit.cycle_peak_fraction_ < 0.2
    # the net growth, far below the within-day growth a 6h window would see
    assert 0 < fit.daily_growth_ < 0.05 * disk.capacity


def test_accelerating_fill_uses_the_curvature():
    disk = make_disk("accelerating_fill", 7)  # quadratic: the rate grows threefold over the history
    fit = fit_at(disk, disk.full_at - 7 * DAY)
    linear_days = (disk.capacity - fit.cycle_peak_ - fit.level_) / fit.daily_growth_
    assert fit.curvature_ > 0
    assert fit.days_to_full_ < linear_days  # not underestimating growth
    assert rel_error(fit.days_to_full_, 7.0) < 0.25


def test_fill_after_quiet_period_uses_only_the_recent_regime():
    disk = make_disk("quiet_then_fill", 1)
    at = disk.full_at - 7 * DAY
    fit = fit_at(disk, at)
    h = history(disk.series, at)
    assert fit.regime_start_ > h.index[0] + pd.Timedelta(days=3)
    assert fit.window_ < h.index[-1] - h.index[0]


def test_cleanup_drop_then_fill_keeps_predicting_from_the_new_level():
    index = pd.date_range("2024-01-01", periods=int(10 * DAY / STEP), freq=STEP, tz="UTC")
    days = np.asarray((index - index[0]) / DAY, dtype=float)
    used = 30.0 + 4.0 * days - np.where(days >= 7.0, 20.0, 0.0)  # 4 %/day, 20 % freed on day 7
    fit = DiskUsagePredictor(100).fit(pd.Series(used, index=index))
    expected = (100 - used[-1]) / 4.0
    assert fit.days_to_full_ == pytest.approx(expected, rel=0.05)


@pytest.mark.parametrize("family", ["stable_cycles", "stable_nearly_full"])
def test_stable_disks_are_never_said_to_fill(family):
    for seed in range(3):
        disk = make_disk(family, seed)
        for at in disk.eval_times[::4]:
            fit = fit_at(disk, at)
            assert fit.days_to_full_ is None or fit.days_to_full_ > 30, (family, seed, at)
            assert fit.result()["full_at"] is None or fit.days_to_full_ > 30


def test_result_has_the_design_fields_and_projection_reaches_capacity():
    fit = DiskUsagePredictor(100).fit(ramp())
    result = fit.result()
    assert tuple(result) == DISK_FIELDS
    assert result["current_usage"] == pytest.approx(40.0, abs=0.1)
    assert result["daily_growth"] == pytest.approx(10.0, rel=0.01)
    assert result["days_to_full"] == pytest.approx(6.0, rel=0.01)
    assert result["full_at"].endswith("Z")
    proj = fit.projection()
    assert proj.index[0] == fit.last_timestamp_
    assert proj.index[-1] == fit.full_at_ and proj.iloc[-1] == 100
    assert (proj.iloc[:-1] < 100).all() and proj.is_monotonic_increasing
    assert isinstance(fit.window_, pd.Timedelta) and fit.window_ >= pd.Timedelta("1h")


def test_constant_usage_is_not_filling():
    series = pd.Series(42.0, index=ramp().index)
    result = DiskUsagePredictor(100).fit(series).result()
    assert result["daily_growth"] == 0.0
    assert result["days_to_full"] is None and result["full_at"] is None and result["days_to_full_upper"] is None


def test_disk_already_full_says_since_when():
    series = ramp().clip(upper=30.0)  # reached 30 (the capacity) after two days
    fit = DiskUsagePredictor(30).fit(series)
    assert fit.days_to_full_ == 0.0
    assert fit.full_at_ == series.index[np.argmax(series.to_numpy() >= 30.0)]


def test_bytes_and_percent_give_the_same_days():
    pct = ramp()
    size = 500 * 2**30
    a = DiskUsagePredictor(100).fit(pct).days_to_full_
    b = DiskUsagePredictor(size).fit(pct / 100 * size).days_to_full_
    assert a == pytest.approx(b, rel=1e-3)


@pytest.mark.parametrize("bad,needle", [
    (lambda s: s * 4, "above the capacity"),
    (lambda s: s.where(s.index != s.index[10], -1.0), "negative"),
    (lambda s: s.iloc[:100], "needs at least 1d"),
    (lambda s: s * np.nan, "no numeric values"),
    (lambda s: s.where(s.index != s.index[5], np.inf), "infinite"),
])
def test_bad_input_is_a_clear_input_error(bad, needle):
    with pytest.raises(InputError, match=needle):
        DiskUsagePredictor(100).fit(bad(ramp()))


@pytest.mark.parametrize("capacity", [0, -5, "lots", float("nan")])
def test_bad_capacity_is_an_input_error(capacity):
    with pytest.raises(InputError, match="capacity"):
        DiskUsagePredictor(capacity).fit(ramp())


def test_nan_samples_are_gaps():
    series = ramp()
    holes = series.copy()
    holes.iloc[::5] = np.nan
    assert DiskUsagePredictor(100).fit(holes).days_to_full_ == pytest.approx(
        DiskUsagePredictor(100).fit(series).days_to_full_, rel=0.01)


def test_same_input_same_output():
    disk = make_disk("rotation_fill", 3)
    h = history(disk.series, disk.eval_times[0])
    assert DiskUsagePredictor(disk.capacity).fit(h).result() == DiskUsagePredictor(disk.capacity).fit(h.copy()).result()


def test_interval_covers_a_future_the_past_did_not_quite_predict():
    # rolling-origin errors of the disk's own past widen the interval where growth varies day to day
    disk = make_disk("linear_fill", 2)  # daily jitter 0.24, weekend growth x0.71
    fit = fit_at(disk, disk.full_at - 7 * DAY)
    assert fit.growth_ratios_ and all(len(v) for v in fit.growth_ratios_.values())
    assert fit.days_to_full_lower_ <= 7.0 <= fit.days_to_full_upper_


def test_weekly_cleanup_cron_fills_at_the_peak_before_a_cleanup():
    disk = make_disk("cleanup_fill", 5)  # weekly cleanup removes 77 %; full just before one
    fit = fit_at(disk, disk.full_at - 3 * DAY)
    assert fit.cleanups_ is not None and fit.cleanups_.period == pytest.approx(7.0, abs=0.5)
    assert fit.cleanups_.drops == 2 and fit.cleanups_.gross > 0
    assert fit.days_to_full_lower_ <= 3.0 <= (fit.days_to_full_upper_ or np.inf)


@pytest.mark.parametrize("family,seed", [("messy_fill", 1), ("messy_fill", 3), ("resize_fill", 2)])
def test_messy_scrapes_and_a_resized_volume_still_predict(family, seed):
    # irregular 1-15 minute steps, hour-long gaps, duplicated timestamps; a percent that drops on a resize
    disk = make_disk(family, seed)
    fit = fit_at(disk, disk.full_at - 7 * DAY)
    assert rel_error(fit.days_to_full_, 7.0) < 0.25, (family, seed, fit.days_to_full_)


@pytest.mark.parametrize("family", ["stable_batch", "stable_messy"])
def test_batch_write_delete_and_messy_stable_disks_do_not_fill(family):
    for seed in range(2):
        disk = make_disk(family, seed)
        for at in disk.eval_times[::6]:
            fit = fit_at(disk, at)
            assert fit.days_to_full_ is None or fit.days_to_full_ > 30, (family, seed, at)
