"""Input cleaning: every kind of messy history becomes something a model can fit or score."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from promcast.errors import InputError
from promcast.models.prepare import (
    DEFAULT_STEP, clean, epoch_seconds, infer_step, prepare_fit, prepare_score, seasonal_slot,
)


def _idx(*stamps, tz="UTC"):
    return pd.DatetimeIndex(list(stamps), tz=tz)


def test_clean_sorts_averages_duplicates_and_reads_naive_as_utc():
    s = pd.Series([3.0, 1.0, 5.0], index=pd.DatetimeIndex(["2024-01-01 00:02", "2024-01-01 00:00", "2024-01-01 00:02"]))
    out = clean(s)
    assert str(out.index.tz) == "UTC"
    assert list(out.index.strftime("%H:%M")) == ["00:00", "00:02"]
    assert out.tolist() == [1.0, 4.0]


def test_clean_converts_other_timezones_and_bad_values():
    index = pd.date_range("2024-01-01 01:00", periods=4, freq="1min", tz="Europe/Paris")
    out = clean(pd.Series(["1", "x", np.inf, 2.5], index=index))
    assert out.index[0] == pd.Timestamp("2024-01-01 00:00", tz="UTC")
    assert np.isnan(out.iloc[1]) and np.isnan(out.iloc[2]) and out.iloc[3] == 2.5


def test_clean_rejects_what_is_not_a_time_series():
    with pytest.raises(InputError, match="Series"):
        clean([1, 2, 3])
    with pytest.raises(InputError, match="timestamps"):
        clean(pd.Series([1.0, 2.0], index=["a", "b"]))


def test_infer_step_is_the_median_difference():
    index = pd.date_range("2024-01-01", periods=100, freq="30s", tz="UTC")
    jittered = index + pd.to_timedelta(np.random.default_rng(0).integers(-3, 3, 100), unit="s")
    assert infer_step(index) == pd.Timedelta("30s")
    assert abs(infer_step(jittered.sort_values()) - pd.Timedelta("30s")) <= pd.Timedelta("3s")
    assert infer_step(index[:1]) == DEFAULT_STEP
    assert infer_step(index.delete(slice(10, 40))) == pd.Timedelta("30s")  # a gap does not change it


def test_prepare_fit_fills_nans_and_gaps_on_a_regular_grid():
    index = pd.date_range("2024-01-01", periods=10, freq="1min", tz="UTC").delete([4, 5])
    values = pd.Series([0.0, 1.0, np.nan, 3.0, 6.0, 7.0, 8.0, 9.0], index=index)
    data = prepare_fit(values)
    assert data.step == pd.Timedelta("1min") and len(data.values) == 10
    assert not data.values.isna().any()
    assert data.values.iloc[2] == pytest.approx(2.0)  # NaN interpolated
    assert data.values.iloc[4] == pytest.approx(4.0) and data.values.iloc[5] == pytest.approx(5.0)  # gap
    assert data.n_points == 7 and data.last_timestamp == index[-1]


def test_prepare_fit_single_point_and_flat_series():
    one = prepare_fit(pd.Series([4.0], index=_idx("2024-01-01")))
    assert len(one.values) == 1 and one.step == DEFAULT_STEP
    flat = prepare_fit(pd.Series(2.0, index=pd.date_range("2024-01-01", periods=50, freq="5min", tz="UTC")))
    assert (flat.values == 2.0).all()


@pytest.mark.parametrize("values", [[], [np.nan, np.nan]])
def test_prepare_fit_refuses_empty_or_all_nan(values):
    index = pd.date_range("2024-01-01", periods=len(values), freq="1min", tz="UTC")
    with pytest.raises(InputError, match="empty|all NaN"):
        prepare_fit(pd.Series(values, index=index, dtype=float))


def test_long_series_is_downsampled_with_a_note(caplog):
    index = pd.date_range("2024-01-01", periods=10_080, freq="1min", tz="UTC")
    series = pd.Series(np.arange(10_080, dtype=float), index=index)
    with caplog.at_level(logging.INFO, logger="promcast.models"):
        data = prepare_fit(series, max_points=2000)
    assert len(data.values) <= 2000 and data.fit_step == pd.Timedelta("6min")
    assert data.step == pd.Timedelta("1min") and len(data.grid) == 10_080
    assert data.values.iloc[0] == pytest.approx(2.5)  # the mean of the first bin
    assert "downsampled" in caplog.text and any("downsampled" in n for n in data.notes)


def test_a_stray_old_point_does_not_make_a_huge_grid():
    recent = pd.date_range("2024-01-01", periods=200, freq="1s", tz="UTC")
    index = recent.insert(0, pd.Timestamp("1990-01-01", tz="UTC"))
    data = prepare_fit(pd.Series(np.ones(len(index)), index=index))
    assert len(data.values) <= 20 * len(index) + 1


def test_prepare_score_forward_fills_and_marks_observed_rows():
    index = pd.date_range("2024-01-01", periods=5, freq="1min", tz="UTC")
    filled, observed = prepare_score(pd.Series([np.nan, 1.0, np.nan, 3.0, np.nan], index=index))
    assert filled.index.equals(index[1:])
    assert filled.tolist() == [1.0, 1.0, 3.0, 3.0]  # only earlier values are used
    assert observed.tolist() == [False, True, False, True, False]


def test_frames_are_cleaned_column_by_column():
    index = pd.date_range("2024-01-01", periods=6, freq="1min", tz="UTC")
    frame = pd.DataFrame({"cpu": [1, 2, np.nan, 4, 5, 6.0], "mem": [np.nan] * 5 + [1.0]}, index=index)
    data = prepare_fit(frame)
    assert list(data.values.columns) == ["cpu", "mem"] and not data.values.isna().any().any()
    filled, observed = prepare_score(frame)
    assert filled.notna().all().all()
    assert observed.tolist() == [True, True, False, True, True, True]


def test_seasonal_slot_and_epoch_seconds_any_unit():
    index = pd.DatetimeIndex(["2024-01-01 00:30", "2024-01-01 13:10", "2024-01-02 23:59"], tz="UTC")
    assert seasonal_slot(index, pd.Timedelta(days=1), pd.Timedelta(hours=1)).tolist() == [0, 13, 23]
    coarse = index.as_unit("s")
    assert np.allclose(epoch_seconds(coarse), epoch_seconds(index))
