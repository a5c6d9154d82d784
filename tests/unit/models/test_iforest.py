"""iforest: causal window features, calibrated scores, and joint scoring of several series."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from promcast.errors import InputError
from promcast.models import get_model, load_model
from promcast.models.iforest import EmpiricalTail, cyclic_time, time_features, window_features

from .conftest import PER_DAY, STEP, daily_series


def correlated_frame(n: int = 4000, seed: int = 2) -> tuple[pd.DataFrame, slice]:
    """CPU and latency that move together (a sine, 5-minute steps); in ``segment`` latency mirrors CPU.

    The segment starts and ends at zero crossings, so latency alone stays a smooth sine-like curve in
    its usual range with usual steps: only the pair (busy CPU, low latency) is abnormal.
    """
    index = pd.date_range("2024-01-01", periods=n, freq="5min", tz="UTC")
    rng = np.random.default_rng(seed)
    wave = np.sin(2 * np.pi * np.arange(n) / 500)
    cpu = wave + 0.05 * rng.standard_normal(n)
    latency = wave + 0.05 * rng.standard_normal(n)
    segment = slice(3250, 3500)
    latency[segment] = -latency[segment]
    return pd.DataFrame({"cpu": cpu, "latency": latency}, index=index), segment


def test_scores_are_calibrated_against_training_rows():
    series = daily_series(days=7, seed=1)
    scores = get_model("iforest").fit(series).score(series)
    assert scores.between(0.0, 1.0).all()
    # an empirical tail probability: about 1% of the training rows score above 0.99, half above 0.5
    assert 0.003 <= (scores > 0.99).mean() <= 0.03
    assert 0.4 <= scores.mean() <= 0.6


def test_a_spike_scores_near_one():
    series = daily_series(days=7, seed=1)
    model = get_model("iforest").fit(series)
    later = daily_series(days=8, seed=1).iloc[-PER_DAY:].copy()
    later.iloc[50] += 15.0
    context = model.score_context()  # as walk-forward detection does: the rolling windows start full
    scores = model.score(pd.concat([series.iloc[-context:], later])).iloc[context:]
    assert scores.iloc[50] > 0.995
    assert scores.iloc[50] == scores.max()
    assert scores.drop(later.index[50:56]).max() < scores.iloc[50]


def test_calibration_is_monotone_and_continuous():
    model = get_model("iforest").fit(daily_series(days=4))
    cal = model.calibration_
    raw = np.linspace(cal.quantiles[0] - 0.1, cal.quantiles[-1] + 0.3, 2001)
    calibrated = model.calibrate(raw)
    assert np.all(np.diff(calibrated) >= -1e-12)
    assert calibrated[0] == 0.0 and 0.999 < calibrated[-1] < 1.0  # the tail still ranks extreme rows
    at_tail = model.calibrate(np.array([cal.tail_start - 1e-9, cal.tail_start + 1e-9]))
    assert abs(at_tail[1] - at_tail[0]) < 1e-3


def test_empirical_tail_is_uniform_on_its_reference_and_ranks_beyond_it():
    rng = np.random.default_rng(0)
    reference = rng.standard_t(2, 20_000)  # heavy tails: a Gaussian z would flag far more than 1%
    tail = EmpiricalTail.fit(reference)
    fresh = tail(rng.standard_t(2, 20_000))
    assert 0.007 < np.mean(fresh > 0.99) < 0.013
    assert 0.45 < np.mean(fresh > 0.5) < 0.55
    beyond = tail(tail.tail_start + tail.tail_scale * np.array([1.0, 5.0, 20.0]))
    assert np.all(np.diff(beyond) > 0) and beyond[0] > 0.99 and beyond[-1] < 1.0
    small = EmpiricalTail.fit(np.arange(20.0))  # few references: the tail starts lower
    assert small.tail_p == pytest.approx(0.25)


def test_same_input_same_output_and_seed_matters():
    series = daily_series(days=3)
    first = get_model("iforest").fit(series).score(series)
    again = get_model("iforest").fit(series).score(series)
    other = get_model("iforest", seed=1).fit(series).score(series)
    pd.testing.assert_series_equal(first, again)
    assert not np.allclose(first, other)


def test_scores_are_causal_prefix_does_not_change():
    model = get_model("iforest").fit(daily_series(days=3))
    later = daily_series(days=5, seed=4).iloc[-2 * PER_DAY:].copy()
    later.iloc[-10] += 20.0  # a late anomaly must not reach back
    full = model.score(later)
    cut = len(later) - 30
    pd.testing.assert_series_equal(model.score(later.iloc[:cut]), full.iloc[:cut])


def test_window_features_use_only_earlier_rows():
    index = pd.date_range("2024-01-01", periods=50, freq="1min", tz="UTC")
    frame = pd.DataFrame({"a": np.arange(50.0) ** 1.5}, index=index)
    full = window_features(frame, pd.Timedelta(minutes=1), [5, 20], np.array([1e-6]))
    part = window_features(frame.iloc[:30], pd.Timedelta(minutes=1), [5, 20], np.array([1e-6]))
    pd.testing.assert_frame_equal(part, full.iloc[:30])
    assert full["a:diff"].iloc[10] == pytest.approx(frame["a"].iloc[10] - frame["a"].iloc[9])
    assert full["a:spread5"].iloc[10] == pytest.approx(frame["a"].iloc[6:11].std())


def test_time_features_are_cyclic():
    index = pd.DatetimeIndex(["2024-01-01 06:00", "2024-01-02 06:00", "2024-01-08 06:00"], tz="UTC")
    feats = time_features(index)
    assert feats.shape == (3, 4)
    np.testing.assert_allclose(feats[0, :2], [1.0, 0.0], atol=1e-12)  # 06:00 is a quarter of the day
    np.testing.assert_allclose(feats[0, :2], feats[1, :2], atol=1e-12)  # same hour, next day
    np.testing.assert_allclose(feats[0], feats[2], atol=1e-9)  # same hour and weekday, a week later
    assert not np.allclose(feats[0, 2:], feats[1, 2:])
    assert cyclic_time(np.zeros((2, 3))).shape == (2, 3, 4)


def test_time_features_need_enough_history():
    assert not get_model("iforest").fit(daily_series(days=1)).hour_feature_
    model = get_model("iforest").fit(daily_series(days=3))
    assert model.hour_feature_ and not model.weekday_feature_


def test_several_series_are_scored_jointly():
    frame, segment = correlated_frame()
    train = frame.iloc[:3000]
    joint = get_model("iforest").fit(train).score(frame)
    alone = get_model("iforest").fit(train["latency"]).score(frame["latency"])
    inside = slice(segment.start + 20, segment.stop - 20)
    before = slice(3000, segment.start)
    assert joint.index.equals(frame.index)
    # jointly the mirrored stretch is plainly anomalous; latency alone looks ordinary
    assert joint.iloc[inside].mean() > 0.9
    assert joint.iloc[before].mean() < 0.7
    assert alone.iloc[inside].mean() < 0.75
    assert joint.iloc[inside].mean() - joint.iloc[before].mean() > 0.25


def test_frame_scoring_checks_columns():
    frame, _ = correlated_frame(n=600)
    model = get_model("iforest").fit(frame)
    assert model.columns_ == ["cpu", "latency"]
    # column order does not matter, names do
    pd.testing.assert_series_equal(model.score(frame[["latency", "cpu"]]), model.score(frame))
    with pytest.raises(InputError, match="latency"):
        model.score(frame[["cpu"]])
    with pytest.raises(InputError, match="DataFrame"):
        model.score(frame["cpu"])
    single = get_model("iforest").fit(frame["cpu"])
    with pytest.raises(InputError, match="one series"):
        single.score(frame)


def test_flat_history_then_a_change_is_flagged():
    index = pd.date_range("2024-01-01", periods=3 * PER_DAY, freq=STEP, tz="UTC")
    model = get_model("iforest").fit(pd.Series(5.0, index=index))
    later = pd.Series(5.0, index=index[-1] + STEP * np.arange(1, 21))
    later.iloc[10:] = 5.5
    scores = model.score(later)
    assert scores.iloc[10] > 0.99
    assert scores.iloc[:10].max() < scores.iloc[10]


def test_bad_windows_are_input_errors():
    with pytest.raises(InputError, match="windows"):
        get_model("iforest", windows=(1,)).fit(daily_series(days=1))
    with pytest.raises(InputError, match="windows"):
        get_model("iforest", windows=("x",)).fit(daily_series(days=1))


def test_serialisation_round_trip_is_identical():
    frame, _ = correlated_frame(n=800)
    model = get_model("iforest").fit(frame.iloc[:600])
    restored = load_model(model.to_bytes())
    pd.testing.assert_series_equal(restored.score(frame), model.score(frame))
    assert restored.columns_ == model.columns_


def test_a_week_at_one_minute_fits_and_scores():
    """The benchmark's size (10,080 points); speed is measured in benchmarks/, not asserted here."""
    series = daily_series(days=7, step=pd.Timedelta(minutes=1), seed=5)
    series.iloc[9000:9005] += 10.0
    scores = get_model("iforest").fit(series).score(series)
    assert len(scores) == 10_080
    assert scores.iloc[9000:9005].min() > 0.99
