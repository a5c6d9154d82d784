"""knn: nearest-neighbour distance of recent windows, conformally calibrated."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from promcast.errors import InputError
from promcast.models import InsufficientHistory, get_model
from promcast.models.knn import embed

from .conftest import PER_DAY, daily_series


def later_with_shift(at: int = 40, size: float = 6.0) -> pd.Series:
    later = daily_series(days=6, seed=3).iloc[-PER_DAY:].copy()
    later.iloc[at:] += size
    return later


def test_embed_windows_end_at_each_value():
    windows = embed(np.arange(5.0), 3)
    np.testing.assert_array_equal(windows, [[0, 1, 2], [1, 2, 3], [2, 3, 4]])


def test_a_level_shift_scores_from_its_first_row():
    model = get_model("knn").fit(daily_series(days=4))
    scores = model.score(later_with_shift(at=40))
    assert scores.iloc[40] > 0.999 and scores.iloc[:40].max() < 0.999


def test_the_spike_row_outranks_the_rows_whose_windows_still_contain_it():
    later = daily_series(days=6, seed=3).iloc[-PER_DAY:].copy()
    later.iloc[40] += 6.0
    scores = get_model("knn").fit(daily_series(days=4)).score(later)
    assert scores.iloc[40] > 0.999 and scores.iloc[40] == scores.max()
    # without the decay every window holding the spike is as far from normal: the onset is not singled out
    flat = get_model("knn", decay=1.0).fit(daily_series(days=4)).score(later)
    assert flat.iloc[41:52].max() >= flat.iloc[40] - 1e-4


def test_ordinary_rows_are_calibrated():
    model = get_model("knn").fit(daily_series(days=4))
    scores = model.score(daily_series(days=6, seed=5).iloc[-PER_DAY:])
    assert np.median(scores) < 0.9 and scores.max() < 0.999


def test_a_flat_history_flags_any_departure():
    index = daily_series(days=2).index
    model = get_model("knn").fit(pd.Series(5.0, index=index))
    later = pd.Series(5.0, index=index[-10:] + pd.Timedelta("2D"))
    later.iloc[5] = 5.5
    scores = model.score(later)
    assert scores.iloc[5] > 0.99 and scores.iloc[:5].max() < 0.99


def test_scores_are_causal():
    model = get_model("knn").fit(daily_series(days=3))
    later = later_with_shift(at=60)
    full = model.score(later)
    pd.testing.assert_series_equal(model.score(later.iloc[:50]), full.iloc[:50])


def test_short_history_is_insufficient():
    with pytest.raises(InsufficientHistory, match="knn"):
        get_model("knn").fit(daily_series(days=0.3))


@pytest.mark.parametrize("params, needle", [
    ({"window": 0}, "window"), ({"k": "x"}, "whole numbers"), ({"decay": 0.0}, "decay"), ({"decay": 2}, "decay"),
])
def test_bad_parameters_are_user_errors(params, needle):
    with pytest.raises(InputError, match=needle):
        get_model("knn", **params).fit(daily_series(days=2))
