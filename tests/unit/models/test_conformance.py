"""The model contract, checked for every registered model (a new model is picked up automatically).

Each model runs with its ``fast_params`` on small seeded series (15-minute steps, a few days), so the
suite stays quick. A name whose module does not exist yet is skipped, not failed.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from promcast.errors import InputError, UnknownNameError
from promcast.models import fit_with_fallback, get_model, get_model_class, load_model, model_names
from promcast.models.walkforward import walk_forward_scores

from .conftest import PER_DAY, STEP, daily_series

NAMES = model_names()


def model_class(name: str):
    return get_model_class(name)  # a registered model whose module is missing is a failure, not a skip


def new(name: str, **extra):
    cls = model_class(name)
    return get_model(name, **{**cls.fast_params, **extra})


@functools.lru_cache(maxsize=None)
def fitted(name: str):
    """One fitted model per name on the 4-day reference series (tests must not mutate it)."""
    model = new(name)
    assert model.fit(daily_series()) is model, "fit must return self"
    return model


def assert_scores(scores: pd.Series, series: pd.Series) -> None:
    assert isinstance(scores, pd.Series)
    assert scores.index.equals(series.index), "scores must be aligned to the input's index"
    values = scores.to_numpy(dtype=float)
    assert np.all(np.isfinite(values))
    assert np.all((values >= 0.0) & (values <= 1.0)), "scores must lie in [0, 1]"


def assert_forecast(frame: pd.DataFrame) -> None:
    assert list(frame.columns) == ["yhat", "yhat_lower", "yhat_upper"]
    assert isinstance(frame.index, pd.DatetimeIndex) and str(frame.index.tz) == "UTC"
    values = frame.to_numpy(dtype=float)
    assert np.all(np.isfinite(values))
    assert np.all(frame["yhat_lower"] <= frame["yhat"]) and np.all(frame["yhat"] <= frame["yhat_upper"])


# ---- estimator conventions -------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_registry_name_and_flags(name):
    cls = model_class(name)
    assert cls.name == name
    assert cls.is_forecaster or cls.is_detector
    assert cls.min_points >= 1
    assert cls.fallback is None or cls.fallback in NAMES


@pytest.mark.parametrize("name", NAMES)
def test_init_stores_hyper_parameters_only(name):
    model = new(name)
    params = model.get_params(deep=False)
    assert set(vars(model)) == set(params), "__init__ must store its arguments and nothing else"
    copy = clone(model)
    assert copy is not model and copy.get_params(deep=False) == params
    assert model.set_params(**params) is model


@pytest.mark.parametrize("name", NAMES)
def test_unknown_parameter_is_a_clear_error(name):
    model_class(name)
    with pytest.raises(InputError, match="unknown parameter"):
        get_model(name, no_such_parameter=1)


@pytest.mark.parametrize("name", NAMES)
def test_fit_sets_trailing_underscore_attributes(name):
    model = fitted(name)
    learned = set(vars(model)) - set(model.get_params(deep=False))
    assert learned and all(k.endswith("_") or k.startswith("_") for k in learned)
    series = daily_series()
    assert model.step_ == STEP
    assert model.last_timestamp_ == series.index[-1]


@pytest.mark.parametrize("name", NAMES)
def test_unfitted_model_refuses_to_score(name):
    with pytest.raises(NotFittedError):
        new(name).score(daily_series(days=1))


@pytest.mark.parametrize("name", NAMES)
def test_deterministic(name):
    series = daily_series()
    a, b = fitted(name), new(name).fit(series)
    later = daily_series(days=5).iloc[-PER_DAY:]
    pd.testing.assert_series_equal(a.score(later), b.score(later))
    if a.is_forecaster:
        pd.testing.assert_frame_equal(a.predict("6h"), b.predict("6h"))


# ---- scores ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_scores_in_unit_interval_and_aligned(name):
    model = fitted(name)
    for series in (daily_series(), daily_series(days=5).iloc[-PER_DAY:]):
        assert_scores(model.score(series), series)


@pytest.mark.parametrize("name", NAMES)
def test_spike_scores_high(name):
    model = fitted(name)
    later = daily_series(days=5).iloc[-PER_DAY:].copy()
    later.iloc[50] += 8.0  # 16 noise standard deviations
    scores = model.score(later)
    others = scores.drop(later.index[50])
    assert scores.iloc[50] >= others.quantile(0.95)
    assert scores.iloc[50] > 0.9


@pytest.mark.parametrize("name", NAMES)
def test_score_is_causal(name):
    model = fitted(name)
    later = daily_series(days=5).iloc[-PER_DAY:].copy()
    later.iloc[70] += 8.0
    full = model.score(later)
    prefix = model.score(later.iloc[:60])
    pd.testing.assert_series_equal(prefix, full.iloc[:60], check_exact=False, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_walk_forward_is_causal(name):
    model_class(name)
    series = daily_series(days=4)
    series.iloc[-30] += 8.0  # a late anomaly must not leak into earlier scores
    params = model_class(name).fast_params
    full = walk_forward_scores(name, series, refit_every="1d", min_history="2d", params=params)
    cut = int(3.5 * PER_DAY)
    prefix = walk_forward_scores(name, series.iloc[:cut], refit_every="1d", min_history="2d", params=params)
    assert_scores(full, series)
    assert (full.iloc[: 2 * PER_DAY] == 0.0).all(), "rows before min_history are probationary"
    pd.testing.assert_series_equal(prefix, full.iloc[:cut], check_exact=False, rtol=1e-9, atol=1e-12)


# ---- forecasts -------------------------------------------------------------------------------------
def forecaster(name: str):
    if not model_class(name).is_forecaster:
        pytest.skip(f"{name} does not forecast")
    return fitted(name)


@pytest.mark.parametrize("name", NAMES)
def test_forecast_shape_and_band(name):
    model = forecaster(name)
    frame = model.predict("6h", interval=0.95)
    assert_forecast(frame)
    assert len(frame) == 24
    assert frame.index[0] == model.last_timestamp_ + STEP
    narrow = model.predict("6h", interval=0.5)
    assert np.all(narrow["yhat_upper"] - narrow["yhat_lower"] <= frame["yhat_upper"] - frame["yhat_lower"] + 1e-9)
    with pytest.raises(InputError):
        model.predict("6h", interval=1.5)


@pytest.mark.parametrize("name", NAMES)
def test_predict_at_in_sample(name):
    model = forecaster(name)
    series = daily_series()
    frame = model.predict_at(series.index[-PER_DAY:])
    assert_forecast(frame)
    assert frame.index.equals(series.index[-PER_DAY:])


@pytest.mark.parametrize("name", NAMES)
def test_forecast_skill_and_coverage_on_noisy_data(name):
    model = forecaster(name)
    truth = daily_series(days=5).iloc[-PER_DAY:]  # the same noise process, one day further
    frame = model.predict("1d").reindex(truth.index)
    error = np.mean(np.abs(truth - frame["yhat"]))
    assert error < np.mean(np.abs(truth - daily_series().mean())), "worse than forecasting the mean"
    covered = np.mean((truth >= frame["yhat_lower"]) & (truth <= frame["yhat_upper"]))
    assert 0.8 <= covered <= 1.0
    assert np.mean(frame["yhat_upper"] - frame["yhat_lower"]) < 8 * 0.5, "band implausibly wide"


# ---- robustness ------------------------------------------------------------------------------------
def _messy(kind: str) -> pd.Series:
    s = daily_series(days=3, seed=3)
    rng = np.random.default_rng(7)
    if kind == "nans":
        s = s.copy()
        s.iloc[rng.choice(len(s), 30, replace=False)] = np.nan
        s.iloc[100:110] = np.nan
        s.iloc[0] = np.nan
    elif kind == "gap":
        s = s.drop(s.index[120:150])
    elif kind == "duplicates":
        dup = s.iloc[40:60] + 0.3
        s = pd.concat([s, dup]).sort_index(kind="stable")
    elif kind == "unsorted":
        s = s.iloc[rng.permutation(len(s))]
    elif kind == "irregular":
        jitter = pd.to_timedelta(rng.integers(-180, 180, len(s)), unit="s")
        s = pd.Series(s.to_numpy(), index=s.index + jitter).sort_index()
    elif kind == "flat":
        s = pd.Series(5.0, index=s.index)
    elif kind == "naive_index":
        s = pd.Series(s.to_numpy(), index=s.index.tz_localize(None))
    elif kind == "short":
        s = s.iloc[:5]
    elif kind == "single":
        s = s.iloc[:1]
    elif kind == "inf_and_strings":
        s = s.astype(object)
        s.iloc[5] = np.inf
        s.iloc[6] = "n/a"
    return s


@pytest.mark.parametrize("kind", ["nans", "gap", "duplicates", "unsorted", "irregular", "flat", "naive_index",
                                  "short", "single", "inf_and_strings"])
@pytest.mark.parametrize("name", NAMES)
def test_messy_input_never_crashes(name, kind):
    cls = model_class(name)
    series = _messy(kind)
    try:
        model = fit_with_fallback(name, series, **cls.fast_params)
    except InputError:
        assert kind in ("short", "single"), "only too little history may be refused"
        return
    assert_scores(model.score(series), series)
    if model.is_forecaster:
        assert_forecast(model.predict("1h"))


@pytest.mark.parametrize("name", NAMES)
def test_empty_and_all_nan_are_input_errors(name):
    cls = model_class(name)
    empty = pd.Series([], index=pd.DatetimeIndex([], tz="UTC"), dtype=float)
    all_nan = pd.Series(np.nan, index=pd.date_range("2024-01-01", periods=50, freq="1min", tz="UTC"))
    for series in (empty, all_nan):
        with pytest.raises(InputError):
            fit_with_fallback(name, series, **cls.fast_params)


@pytest.mark.parametrize("name", NAMES)
def test_flat_history_then_change_scores_the_change(name):
    cls = model_class(name)
    index = pd.date_range("2024-01-01", periods=3 * PER_DAY, freq=STEP, tz="UTC")
    model = fit_with_fallback(name, pd.Series(5.0, index=index), **cls.fast_params)
    later = pd.Series(5.0, index=index[-1] + STEP * np.arange(1, 41))
    later.iloc[30:] = 9.0
    scores = model.score(later)
    assert_scores(scores, later)
    assert scores.iloc[30] > scores.iloc[:30].max()


# ---- serialisation ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_serialisation_round_trip(name, tmp_path):
    model = fitted(name)
    later = daily_series(days=5).iloc[-PER_DAY:]
    restored = load_model(model.to_bytes())
    assert type(restored) is type(model)
    assert restored.get_params(deep=False) == model.get_params(deep=False)
    pd.testing.assert_series_equal(restored.score(later), model.score(later))
    if model.is_forecaster:
        pd.testing.assert_frame_equal(restored.predict("6h"), model.predict("6h"))
    path = tmp_path / f"{name}.model"
    model.save(path)
    pd.testing.assert_series_equal(type(model).load(path).score(later), model.score(later))


def test_unknown_model_lists_known_names():
    with pytest.raises(UnknownNameError) as info:
        get_model("arima")
    for name in NAMES:
        assert name in str(info.value)
