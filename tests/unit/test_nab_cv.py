"""Cross-validation of NAB scores: the fold split, and choices made on training folds only."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from promcast.errors import InputError
from promcast.evaluation import cv, nab

T0 = pd.Timestamp("2024-01-01", tz="UTC")
N = 200  # rows per file; probation 30


def stamps(n: int = N) -> pd.DatetimeIndex:
    return pd.date_range(T0, periods=n, freq="1min")


def file_scores(hits: dict[int, float], n: int = N) -> pd.Series:
    values = np.zeros(n)
    for row, value in hits.items():
        values[row] = value
    return pd.Series(values, index=stamps(n))


def window(a: int, b: int) -> list[tuple]:
    idx = stamps()
    return [(idx[a], idx[b])]


def test_folds_are_deterministic_grouped_and_spread_over_folders():
    paths = [f"a/{i}.csv" for i in range(5)] + [f"b/{i}.csv" for i in range(3)]
    folds = cv.assign_folds(list(reversed(paths)), 4)
    assert folds == cv.assign_folds(paths, 4)
    assert set(folds) == set(paths) and set(folds.values()) == {0, 1, 2, 3}
    assert sorted(np.bincount(list(folds.values()))) == [2, 2, 2, 2]
    assert len({folds[f"a/{i}.csv"] for i in range(4)}) == 4, "one folder's files go to different folds"


@pytest.mark.parametrize("k", [1, 0, 9, 2.5, True])
def test_bad_fold_counts_are_input_errors(k):
    with pytest.raises(InputError):
        cv.assign_folds([f"f{i}" for i in range(8)], k)


def corpus():
    """Four files, one window each at rows 100..120; fold k holds file k."""
    windows = {f"f{i}.csv": window(100, 120) for i in range(4)}
    return windows


def test_threshold_is_chosen_on_training_folds_only():
    windows = corpus()
    # files 1..3 detect their window at 0.5 and have a false alarm at 0.4; file 0 detects at 0.3 only.
    scores = {f"f{i}.csv": file_scores({100: 0.5, 50: 0.4}) for i in (1, 2, 3)}
    scores["f0.csv"] = file_scores({100: 0.3})
    in_sample = nab.score_corpus(scores, windows)
    assert in_sample.threshold == pytest.approx(0.3)  # picks up file 0's window at the cost of three alarms
    result = cv.cross_validate({"d": scores}, windows, k=4)
    held_out_f0 = result.folds[0]
    assert held_out_f0.files == ("f0.csv",)
    assert held_out_f0.threshold == pytest.approx(0.5), "fold 0's threshold comes from files 1..3"
    assert held_out_f0.held_out.raw == pytest.approx(-1.0)  # its window is missed at 0.5
    assert result.normalized < in_sample.normalized


def test_candidate_is_chosen_on_training_folds_and_scored_held_out():
    windows = corpus()
    good = {p: file_scores({100: 0.9}) for p in windows}
    # "lucky" is perfect on f0 only, and misses elsewhere: in-sample choice would never be fooled, but
    # when f0 is held out the training folds must prefer "good", and when another file is held out
    # "good" still wins on the training folds (two misses outweigh one hit).
    lucky = {p: file_scores({} if p != "f0.csv" else {100: 1.0}) for p in windows}
    result = cv.cross_validate({"good": good, "lucky": lucky}, windows, k=4)
    assert result.chosen == ["good"] * 4
    assert result.normalized == pytest.approx(100.0)
    # a candidate only held-out data would favour is never chosen
    only_held_out = {p: file_scores({100: 0.9} if p == "f3.csv" else {}) for p in windows}
    none = {p: file_scores({}) for p in windows}
    result = cv.cross_validate({"none": none, "spy": only_held_out}, windows, k=4)
    assert result.folds[3].candidate == "none"
    assert result.folds[3].held_out.raw == pytest.approx(-1.0)


def test_held_out_scores_are_normalised_together():
    windows = corpus()
    windows["f4.csv"] = []  # a file without anomalies: only its false alarms count
    scores = {p: file_scores({100: 0.9}) for p in windows}
    scores["f4.csv"] = file_scores({150: 0.95})
    result = cv.cross_validate({"d": scores}, windows, k=5)
    total = result.total
    assert total.null == pytest.approx(-4.0) and total.perfect == pytest.approx(4.0)
    raws = [f.held_out.raw for f in result.folds]
    assert total.raw == pytest.approx(sum(raws))
    assert result.normalized == pytest.approx(100 * (sum(raws) + 4) / 8)
    by_profile = cv.cross_validate_profiles({"d": scores}, windows, k=5)
    assert set(by_profile) == set(nab.PROFILES)


def test_candidate_ensembles_are_built_from_member_scores():
    from promcast.evaluation.selection import Candidate, build

    idx = stamps()
    values = {"f0.csv": pd.Series(np.ones(N), index=idx)}
    a = np.zeros(N)
    a[[40, 41, 120]] = [0.9, 0.95, 0.5]
    b = np.zeros(N)
    b[[40, 150]] = [0.99, 0.7]
    members = {"a": {"f0.csv": pd.Series(a, index=idx)}, "b": {"f0.csv": pd.Series(b, index=idx)}}
    both = build(Candidate((("a", 1.0), ("b", 1.0)), "max"), members, values, {"f0.csv": 0})["f0.csv"]
    np.testing.assert_allclose(both.to_numpy(), np.maximum(a, b))
    # a 10-minute onset keeps only new highs of the last 10 rows (1-minute steps)
    onset = build(Candidate((("a", 1.0), ("b", 1.0)), "max", "10min"), members, values, {"f0.csv": 0})["f0.csv"]
    assert onset.iloc[40] == 0.99 and onset.iloc[41] == 0.0 and onset.iloc[120] == 0.5
    # rows before the first scored row stay 0; the spatial check marks a value leaving the range seen so far
    values["f0.csv"].iloc[100] = 5.0
    spatial = build(Candidate((("a", 1.0),), "max", spatial_tolerance=0.05), members, values, {"f0.csv": 50})["f0.csv"]
    assert spatial.iloc[:50].eq(0).all() and spatial.iloc[100] == 1.0 and spatial.iloc[120] == 0.5


def test_an_explicit_split_replaces_the_deterministic_one():
    """``folds`` (file -> fold) is used as given: the deterministic split passed explicitly scores the same,
    and another split holds out the files it names."""
    windows = corpus()
    windows["f4.csv"] = []
    scores = {p: file_scores({100: 0.9}) for p in windows}
    scores["f4.csv"] = file_scores({150: 0.95})
    paths = sorted(windows)
    default = cv.cross_validate({"d": scores}, windows, k=2)
    same = cv.cross_validate({"d": scores}, windows, k=2, folds=cv.assign_folds(paths, 2))
    assert same.normalized == default.normalized and [f.files for f in same.folds] == [f.files for f in default.folds]
    other = {p: int(i < 2) for i, p in enumerate(paths)}
    split = cv.cross_validate({"d": scores}, windows, k=2, folds=other)
    assert [f.files for f in split.folds] == [tuple(paths[2:]), tuple(paths[:2])]
    for bad in ({p: 0 for p in paths[1:]}, {**other, paths[0]: 2}):
        with pytest.raises(InputError, match="bad fold split"):
            cv.cross_validate({"d": scores}, windows, k=2, folds=bad)
