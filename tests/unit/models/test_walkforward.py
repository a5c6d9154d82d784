"""Walk-forward detection: probation, refits on a cadence, causality, messy input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from promcast.errors import InputError, UnknownNameError
from promcast.models.walkforward import walk_forward_scores

from .conftest import PER_DAY, daily_series


def test_probation_then_scores():
    series = daily_series(days=4)
    scores = walk_forward_scores("mad", series, refit_every="1d", min_history="2d")
    assert (scores.iloc[: 2 * PER_DAY] == 0).all() and (scores.iloc[2 * PER_DAY:] > 0).any()
    by_rows = walk_forward_scores("mad", series, refit_every="1d", min_history=10)
    assert (by_rows.iloc[:10] == 0).all() and (by_rows.iloc[10:] > 0).any()


def test_refits_adapt_to_a_level_shift():
    series = daily_series(days=6, seed=1)
    series.iloc[3 * PER_DAY:] += 20.0  # a permanent shift at the start of day 4
    scores = walk_forward_scores("seasonal_naive", series, refit_every="1d", min_history="1d")
    day4, day5, day6 = (scores.iloc[d * PER_DAY:(d + 1) * PER_DAY] for d in (3, 4, 5))
    assert day4.iloc[0] > 0.999  # the shift itself is anomalous
    assert day6.mean() < 0.8  # two refits later, the new level is normal
    assert day5.mean() >= day6.mean() - 0.2


def test_train_window_bounds_the_history_and_stays_causal():
    series = daily_series(days=4)
    full = walk_forward_scores("holt_winters", series, min_history="2d", train_window="2d")
    part = walk_forward_scores("holt_winters", series.iloc[:300], min_history="2d", train_window="2d")
    pd.testing.assert_series_equal(part, full.iloc[:300])


def test_messy_input_is_scored_row_for_row():
    series = daily_series(days=3)
    series.iloc[150:160] = np.nan
    messy = pd.concat([series.drop(series.index[200:230]), series.iloc[[5]]]).iloc[::-1]
    scores = walk_forward_scores("mad", messy, min_history="1d")
    assert scores.index.equals(messy.index)
    assert np.all((scores >= 0) & (scores <= 1))
    assert (scores.loc[series.index[150:160]] == 0).all()  # rows without a value score 0


def test_short_history_falls_back_and_logs_once(caplog):
    series = daily_series(days=2)
    # a 1h training window holds 4 points: too few for prophet on every refit
    scores = walk_forward_scores("prophet", series, refit_every="6h", min_history="1d", train_window="1h")
    assert len(scores) == len(series) and (scores.iloc[PER_DAY:] > 0).any()
    assert caplog.text.count("fell back from prophet to seasonal_naive") == 1


def test_bad_arguments():
    with pytest.raises(UnknownNameError):
        walk_forward_scores("arima", daily_series(days=1))
    with pytest.raises(InputError, match="refit_every"):
        walk_forward_scores("mad", daily_series(days=1), refit_every="soon")
    with pytest.raises(InputError, match="all NaN"):
        walk_forward_scores("mad", pd.Series(np.nan, index=daily_series(days=1).index))
    two = pd.DataFrame({"a": daily_series(days=1), "b": daily_series(days=1)})
    with pytest.raises(InputError, match="one series"):
        walk_forward_scores("mad", two)


def test_online_models_are_fitted_once_and_then_learn_as_they_score():
    from promcast.models import get_model

    series = daily_series(days=4)
    series.iloc[-30] += 8.0
    walked = walk_forward_scores("artime", series, refit_every="1d", min_history="1d")
    start = series.index[0] + pd.Timedelta("1D")
    model = get_model("artime").fit(series[series.index < start])
    expected = model.score(series[series.index >= start])
    np.testing.assert_array_equal(walked[series.index >= start].to_numpy(), expected.to_numpy())
    assert (walked[series.index < start] == 0).all()
