"""ensemble: weighted combination of members' scores and forecasts, robust to failing members."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from promcast.errors import InputError, UnknownNameError
from promcast.models import InsufficientHistory, fit_with_fallback, get_model, load_model
from promcast.models.ensemble import DEFAULT_SCORE_WEIGHTS, DEFAULT_WEIGHTS, combine_scores
from promcast.models.postprocess import onset_scores

from .conftest import PER_DAY, daily_series

#: quick members (no TensorFlow, no Stan) for most tests
QUICK = {"mad": 0.5, "seasonal_naive": 0.2, "iforest": 0.3}


def later_with_spike(at: int = 40) -> pd.Series:
    later = daily_series(days=6, seed=2).iloc[-PER_DAY:].copy()
    later.iloc[at] += 8.0
    return later


# ---- combination rule ------------------------------------------------------------------------------
def test_pvalue_combination_keeps_agreement_and_lets_a_confident_member_through():
    weights = {"a": 0.4, "b": 0.3, "c": 0.3}
    same = {k: np.array([0.2, 0.9, 0.99]) for k in weights}
    for method in ("mean", "pvalue"):
        np.testing.assert_allclose(combine_scores(same, weights, method), [0.2, 0.9, 0.99])
    one_sure = {"a": np.array([1 - 1e-6]), "b": np.array([0.5]), "c": np.array([0.5])}
    assert combine_scores(one_sure, weights, "pvalue")[0] > 0.98
    assert combine_scores(one_sure, weights)[0] == pytest.approx(0.4 * (1 - 1e-6) + 0.3)  # the function's default: mean
    assert combine_scores({"a": np.array([1.0])}, {"a": 1.0}, "pvalue")[0] == pytest.approx(1.0)


def test_combination_is_monotone_in_each_member():
    weights = {"a": 0.5, "b": 0.5}
    grid = np.linspace(0, 1, 101)
    for method in ("pvalue", "mean", "max"):
        out = combine_scores({"a": grid, "b": np.full(101, 0.7)}, weights, method)
        assert np.all(np.diff(out) >= 0) and out.min() >= 0 and out.max() <= 1


# ---- fitting and members ---------------------------------------------------------------------------
def test_default_members_and_weights():
    assert DEFAULT_WEIGHTS == {"prophet": 0.3, "lstm": 0.4, "iforest": 0.3}
    assert DEFAULT_SCORE_WEIGHTS == {"cad_ose": 1.0}
    model = get_model("ensemble", fast=True).fit(daily_series(days=3))
    # fit fits every member used, scoring and forecasting; iforest does not forecast, so it is not fitted
    assert set(model.members_) == {"prophet", "lstm", "cad_ose"}
    assert model.online, "an ensemble of online members is online"
    assert not get_model("ensemble", score_weights={"iforest": 1, "artime": 1}).online
    assert model.score_weights_ == pytest.approx(DEFAULT_SCORE_WEIGHTS)
    assert model.dropped_ == {}
    scores = model.score(later_with_spike())
    assert scores.iloc[40] > 0.99 and scores.iloc[40] == scores.max()
    fitted = dict(model.members_)
    model.predict("1h")
    assert model.members_ == fitted, "predict fits nothing"
    # weights_ reports what the forecast really uses: iforest cannot forecast, so its 0.3 is shared out
    assert model.weights_ == pytest.approx({"prophet": 0.3 / 0.7, "lstm": 0.4 / 0.7})


def test_member_that_cannot_fit_is_dropped_with_a_warning(caplog):
    flat = pd.Series(4.0, index=daily_series(days=2).index)
    with caplog.at_level(logging.WARNING, logger="promcast.models"):
        model = get_model("ensemble", score_weights={"lstm": 0.4, "mad": 0.6}, weights={"lstm": 0.4, "mad": 0.6}
                          ).fit(flat)
    assert list(model.members_) == ["mad"]
    assert model.score_weights_ == {"mad": 1.0}
    assert model.weights_ == {"mad": 1.0}, "weights_ reports the forecast weights really used"
    assert "flat" in model.dropped_["lstm"]
    assert any("lstm" in r.getMessage() and "dropping" in r.getMessage() for r in caplog.records)
    assert any("lstm" in note for note in model.notes_)


def test_too_short_members_are_dropped_and_weights_renormalised():
    short = daily_series(days=0.25)  # 24 points: iforest needs 16, lstm 32
    model = get_model("ensemble", score_weights={"lstm": 0.4, "iforest": 0.3, "mad": 0.3},
                      weights={"mad": 1.0}).fit(short)
    assert set(model.members_) == {"iforest", "mad"}
    assert model.score_weights_ == pytest.approx({"iforest": 0.5, "mad": 0.5})


def test_all_members_failing_falls_back_to_a_simpler_model():
    tiny = daily_series(days=0.1)  # 9 points
    with pytest.raises(InsufficientHistory, match="no ensemble scoring member"):
        get_model("ensemble", score_weights={"lstm": 1.0, "iforest": 1.0}, weights=QUICK).fit(tiny)
    model = fit_with_fallback("ensemble", tiny, score_weights={"lstm": 1.0, "iforest": 1.0}, weights=QUICK)
    assert model.name == "mad" and "ensemble" in model.fallback_reason_


@pytest.mark.parametrize("weights, error, needle", [
    ({"nope": 1.0}, UnknownNameError, "nope"),
    ({"ensemble": 1.0}, UnknownNameError, "ensemble"),
    ({"mad": -1.0}, InputError, "weight"),
    ({"mad": "x"}, InputError, "weight"),
    ({"mad": 0.0}, InputError, "above 0"),
    ([("mad", 1.0)], InputError, "mapping"),
])
@pytest.mark.parametrize("param", ["weights", "score_weights"])
def test_bad_weights_are_user_errors(weights, error, needle, param):
    with pytest.raises(error, match=needle):
        get_model("ensemble", **{param: weights}).fit(daily_series(days=1))


@pytest.mark.parametrize("params", [{"onset": "soon"}, {"onset_margin": -1}, {"onset_margin": "x"}])
def test_bad_onset_is_a_user_error(params):
    with pytest.raises(InputError, match="onset"):
        get_model("ensemble", score_weights=QUICK, weights=QUICK, **params).fit(daily_series(days=1))


def test_bad_combine_is_a_user_error():
    with pytest.raises(InputError, match="combine"):
        get_model("ensemble", score_weights=QUICK, weights=QUICK, combine="median").fit(daily_series(days=1))


def test_member_params_reach_the_member():
    model = get_model("ensemble", score_weights={"iforest": 1.0}, weights=QUICK,
                      member_params={"iforest": {"n_estimators": 7}})
    model.fit(daily_series(days=1))
    assert len(model.members_["iforest"].forest_.estimators_) == 7
    assert model.members_["iforest"].seed == 0


# ---- scores ----------------------------------------------------------------------------------------
def test_scores_combine_member_scores():
    model = get_model("ensemble", score_weights=QUICK, weights=QUICK, combine="mean", onset=None
                      ).fit(daily_series(days=4))
    later = later_with_spike()
    members = model.member_scores(later)
    assert list(members.columns) == list(QUICK)
    weighted_mean = (members * pd.Series(model.score_weights_)).sum(axis=1).to_numpy()
    np.testing.assert_allclose(model.score(later).to_numpy(), weighted_mean)
    pvalue = get_model("ensemble", score_weights=QUICK, weights=QUICK, onset=None).fit(daily_series(days=4)
                                                                                     ).score(later)
    expected = combine_scores({k: members[k].to_numpy() for k in members}, model.score_weights_, "pvalue")
    np.testing.assert_allclose(pvalue.to_numpy(), expected)
    # onset emphasis (the default) keeps the combined score only where it is a new high of the last 12h
    onset = get_model("ensemble", score_weights=QUICK, weights=QUICK).fit(daily_series(days=4)).score(later)
    np.testing.assert_allclose(onset.to_numpy(), onset_scores(expected, PER_DAY // 2, 0.0))


def test_onset_keeps_new_highs_only():
    scores = np.array([0.5, 0.99, 0.999, 0.99, 0.2, 0.999, 0.9999, 0.3, 0.99])
    np.testing.assert_allclose(onset_scores(scores, 3), [0.5, 0.99, 0.999, 0, 0, 0, 0.9999, 0, 0])
    # a margin (decades of tail probability) asks a renewed alert to be clearly worse
    np.testing.assert_allclose(onset_scores([0.9, 0.95, 0.999], 5, margin=0.5), [0.9, 0, 0.999])
    np.testing.assert_allclose(onset_scores(scores, 0), scores)


def test_scores_are_causal_and_deterministic():
    series = daily_series(days=4)
    model = get_model("ensemble", score_weights=QUICK, weights=QUICK).fit(series)
    later = later_with_spike(at=80)
    full = model.score(later)
    assert full.iloc[80] > 0.99
    pd.testing.assert_series_equal(model.score(later.iloc[:70]), full.iloc[:70])
    again = get_model("ensemble", score_weights=QUICK, weights=QUICK).fit(series).score(later)
    pd.testing.assert_series_equal(again, full)
    assert model.score_context() == max(m.score_context() for m in model.members_.values()) + PER_DAY // 2


# ---- forecasts -------------------------------------------------------------------------------------
def test_forecast_is_the_weighted_mean_of_forecasting_members():
    model = get_model("ensemble", weights=QUICK).fit(daily_series(days=4))
    frame = model.predict("6h")
    # iforest does not forecast: mad and seasonal_naive share the forecast 0.5 : 0.2
    mad = model.members_["mad"].predict("6h")
    naive = model.members_["seasonal_naive"].predict("6h")
    expected = (mad * 0.5 + naive * 0.2) / 0.7
    pd.testing.assert_frame_equal(frame, expected, check_freq=False, check_names=False)


def test_without_forecasting_members_predict_is_a_user_error():
    model = get_model("ensemble", weights={"iforest": 1.0}, score_weights={"iforest": 1.0}).fit(daily_series(days=2))
    with pytest.raises(InputError, match="cannot forecast"):
        model.predict("1h")


def test_scoring_only_ensemble_fits_no_forecast_member_and_scores_the_same():
    y = daily_series(days=3)
    lean = get_model("ensemble", weights={}).fit(y)
    full = get_model("ensemble", weights={"seasonal_naive": 1.0}).fit(y)
    assert set(lean.members_) == set(DEFAULT_SCORE_WEIGHTS) and lean.weights_ == {}
    assert "seasonal_naive" in full.members_
    pd.testing.assert_series_equal(lean.score(y), full.score(y))
    with pytest.raises(InputError, match="cannot forecast"):
        lean.predict("1h")


def test_walk_forward_scores_with_a_scoring_only_ensemble():
    from promcast.models.walkforward import walk_forward_scores

    y = daily_series(days=3)
    lean = walk_forward_scores("ensemble", y)  # score_only_params: weights {}
    full = walk_forward_scores("ensemble", y, params={"weights": {"seasonal_naive": 1.0}})
    pd.testing.assert_series_equal(lean, full)


# ---- serialisation ---------------------------------------------------------------------------------
def test_serialisation_stores_members_natively_and_round_trips():
    model = get_model("ensemble", weights={"lstm": 0.5, "iforest": 0.3, "mad": 0.2}).fit(daily_series(days=3))
    state = model._dump_state()
    assert set(state["members_"]) == {"lstm", "mad", "cad_ose"}
    assert all(isinstance(v, bytes) for v in state["members_"].values())
    restored = load_model(model.to_bytes())
    assert restored.weights_ == model.weights_
    later = later_with_spike()
    pd.testing.assert_series_equal(restored.score(later), model.score(later))
    pd.testing.assert_frame_equal(restored.predict("6h"), model.predict("6h"))


def test_an_ensemble_stored_before_weights_were_fitted_still_loads():
    """Ensembles stored by earlier versions have no ``weights_``: it is rebuilt from the members they hold."""
    model = get_model("ensemble", weights=QUICK, score_weights=QUICK).fit(daily_series(days=3))
    state = model._dump_state()
    del state["weights_"], state["members_"]["seasonal_naive"]  # an old store: a forecast member never fitted
    old = get_model("ensemble", weights=QUICK, score_weights=QUICK)
    old._load_state(state)
    assert old.weights_ == pytest.approx({"mad": 1.0})
    pd.testing.assert_frame_equal(old.predict("1h"), model.members_["mad"].predict("1h"), check_freq=False,
                                  check_names=False)
