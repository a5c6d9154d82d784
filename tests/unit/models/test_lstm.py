"""lstm: deterministic Keras training, NumPy inference equal to Keras, honest bands, causal scores."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pandas as pd
import pytest

from promcast.models import InsufficientHistory, fit_with_fallback, get_model, load_model
from promcast.models.lstm import initial_weights, lstm_forward

from .conftest import PER_DAY, STEP, daily_series


@pytest.fixture(scope="module")
def model():
    """The default lstm fitted on 4 days at 15 minutes (384 points)."""
    return get_model("lstm").fit(daily_series(days=4))


def test_fitted_state(model):
    assert model.window_ == 24
    assert 1 <= model.epochs_trained_ <= 10
    assert model.hour_feature_ and not model.weekday_feature_  # 4 days: hours yes, weekdays no
    assert [w.shape for w in model.weights_] == [(5, 64), (16, 64), (64,), (16, 1), (1,)]
    # one-step errors on held-out windows are close to the noise (sd 0.5), far below the series' spread
    assert 0.3 < model.resid_scale_ < 0.9
    assert model.widen_[0] == 1.0 and np.all(np.diff(model.widen_) >= 0)


def test_same_input_same_output_even_after_other_fits(model):
    series = daily_series(days=4)
    get_model("lstm", seed=3).fit(daily_series(days=3, seed=9))  # reuses the compiled trainer
    again = get_model("lstm").fit(series)
    for a, b in zip(model.weights_, again.weights_):
        np.testing.assert_array_equal(a, b)
    pd.testing.assert_frame_equal(again.predict("6h"), model.predict("6h"))


def test_seed_changes_the_network(model):
    other = get_model("lstm", seed=1).fit(daily_series(days=4))
    assert not np.allclose(other.weights_[0], model.weights_[0])


def test_fit_leaves_global_random_state_alone():
    np.random.seed(5)
    expected = np.random.rand()
    np.random.seed(5)
    get_model("lstm", epochs=1).fit(daily_series(days=1))
    assert np.random.rand() == expected


def test_numpy_inference_matches_keras(model):
    series = daily_series(days=4)
    seconds = (series.index - pd.Timestamp(0, tz="UTC")).total_seconds().to_numpy()
    inputs = model._inputs(series.to_numpy(), seconds)
    windows = np.stack([inputs[i:i + model.window_] for i in range(0, 200, 7)])
    keras_out = model.network().predict(windows.astype("float32"), verbose=0)[:, 0]
    np.testing.assert_allclose(lstm_forward(model.weights_, windows), keras_out, rtol=1e-4, atol=1e-5)


def test_initial_weights_follow_keras_defaults():
    kernel, recurrent, bias, dense, dense_bias = initial_weights(np.random.default_rng(0), 5, 16)
    np.testing.assert_allclose(recurrent @ recurrent.T, np.eye(16), atol=1e-9)  # orthogonal rows
    assert np.all(bias[16:32] == 1.0) and np.all(bias[:16] == 0.0) and np.all(dense_bias == 0.0)
    assert np.abs(kernel).max() <= np.sqrt(6 / (5 + 64))


def test_forecast_follows_the_daily_cycle_and_band_widens(model):
    frame = model.predict("1d")
    assert len(frame) == PER_DAY and frame.index[0] == model.last_timestamp_ + STEP
    truth = daily_series(days=5).iloc[-PER_DAY:]
    error = np.mean(np.abs(truth.to_numpy() - frame["yhat"].to_numpy()))
    assert error < 0.8  # the cycle has amplitude 3 and noise 0.5: a flat forecast errs by ~2
    width = (frame["yhat_upper"] - frame["yhat_lower"]).to_numpy()
    assert width[-1] >= width[0] and np.all(np.diff(width) >= -1e-9)
    assert width[-1] < 8.0  # never beyond the series' own spread


def test_in_sample_prediction_is_one_step_ahead(model):
    series = daily_series(days=4)
    fitted = model.predict_at(series.index[-PER_DAY:])
    expected = model._one_step(
        (series.index[-PER_DAY:] - pd.Timestamp(0, tz="UTC")).total_seconds().to_numpy(),
        (series.index - pd.Timestamp(0, tz="UTC")).total_seconds().to_numpy(),
        series.to_numpy(),
    )
    np.testing.assert_allclose(fitted["yhat"].to_numpy(), expected)


def test_a_spike_scores_high_and_scores_are_causal(model):
    later = daily_series(days=6, seed=2).iloc[-2 * PER_DAY:].copy()
    later.iloc[40] += 6.0
    later.iloc[-5] += 6.0
    scores = model.score(later)
    assert scores.iloc[40] > 0.999
    assert scores.iloc[:40].max() < 0.999
    cut = len(later) - 20
    pd.testing.assert_series_equal(model.score(later.iloc[:cut]), scores.iloc[:cut])


def test_scoring_right_after_the_fit_uses_the_fitted_history(model):
    later = daily_series(days=5).iloc[-PER_DAY:]
    assert model.score_context() == 24
    alone = model.score(later)
    with_context = model.score(pd.concat([daily_series(days=4).iloc[-24:], later])).iloc[24:]
    pd.testing.assert_series_equal(alone, with_context)


def test_short_history_shrinks_the_window_and_too_short_falls_back():
    short = get_model("lstm").fit(daily_series(days=0.5))  # 48 points
    assert short.window_ == 12
    with pytest.raises(InsufficientHistory):
        get_model("lstm").fit(daily_series(days=0.3))
    assert fit_with_fallback("lstm", daily_series(days=0.3)).name != "lstm"


def test_flat_series_is_left_to_a_simpler_model():
    flat = pd.Series(3.0, index=daily_series(days=2).index)
    with pytest.raises(InsufficientHistory, match="flat"):
        get_model("lstm").fit(flat)
    fallback = fit_with_fallback("lstm", flat)
    assert fallback.name == "holt_winters" and "flat" in fallback.fallback_reason_


def test_serialisation_is_keras_plus_json_and_round_trips_exactly(model):
    state = model._dump_state()
    assert zipfile.ZipFile(io.BytesIO(state["keras"])).namelist()  # a .keras file is a zip archive
    assert '"window_": 24' in state["config_json"]
    restored = load_model(model.to_bytes())
    for a, b in zip(model.weights_, restored.weights_):
        np.testing.assert_array_equal(a, b)
    later = daily_series(days=5).iloc[-PER_DAY:]
    pd.testing.assert_series_equal(restored.score(later), model.score(later))
    pd.testing.assert_frame_equal(restored.predict("1d"), model.predict("1d"))


@pytest.mark.slow
def test_trains_on_ten_thousand_points():
    """The benchmark's size (a week at 1m); speed is measured in benchmarks/, not asserted here."""
    series = daily_series(days=7, step=pd.Timedelta(minutes=1), seed=6, noise=0.2)[:10_000]
    model = get_model("lstm").fit(series)
    assert model.n_points_ == 10_000
    assert model.resid_scale_ < 0.4  # one-step error near the noise (0.2), far below the spread (2.1)
    frame = model.predict("1d")
    assert len(frame) == 1440 and np.isfinite(frame.to_numpy()).all()
