"""``artime`` and ``cad_ose`` on hand-made series: what each should flag, and that they are causal.

Every series is a 2-hour sine at 5-minute steps with a little noise; the model is fitted on the first
day (its warm-up) and scores the next two days; the anomaly starts at row ``ONSET``. "Flags" means the
highest score in the 4 hours after the onset is above 0.5 and above the highest score the clean series
gets over the same rows (so a test fails when the detector ignores the anomaly). Each case is checked
on the learner alone (``spatial_tolerance=None``), so the spatial check cannot do the learner's work.
"""

from __future__ import annotations

import copy
from functools import partial

import numpy as np
import pandas as pd
import pytest

from promcast.models import get_model
from promcast.models.online import RangeRebuild, SpatialCheck, spatial_scores

STEP = pd.Timedelta(minutes=5)
FIT = 288  # one day
ONSET = 600
AFTER = 48  # four hours
NAMES = ["artime", "cad_ose"]


def base(n: int = 864, period: int = 24, seed: int = 0) -> pd.Series:
    index = pd.date_range("2024-01-01", periods=n, freq=STEP, tz="UTC")
    t = np.arange(n)
    noise = np.random.default_rng(seed).normal(0, 0.2, n)
    return pd.Series(10 + 3 * np.sin(2 * np.pi * t / period) + noise, index=index)


def anomalous(kind: str) -> pd.Series:
    x = base()
    t = np.arange(len(x))
    if kind == "spike":
        x.iloc[ONSET] += 8.0
    elif kind == "level_shift":
        x.iloc[ONSET:] += 4.0
    elif kind == "frequency_change":
        x.iloc[ONSET:] = 10 + 3 * np.sin(2 * np.pi * t[ONSET:] / 6) + np.random.default_rng(1).normal(0, 0.2, len(x) - ONSET)
    elif kind == "flat_line":  # the metric stops updating: its last value repeats
        x.iloc[ONSET:] = x.iloc[ONSET - 1]
    return x


def scores_after_fit(name: str, x: pd.Series, **params) -> np.ndarray:
    model = get_model(name, spatial_tolerance=None, **params).fit(x.iloc[:FIT])
    return model.score(x.iloc[FIT:]).to_numpy()


def window_max(scores: np.ndarray) -> float:
    start = ONSET - FIT
    return float(scores[start:start + AFTER].max())


CASES = ["spike", "level_shift", "frequency_change", "flat_line"]
#: known weakness, measured: CAD predicts a level it has seen often, so a flat line at an ordinary value
#: scores 0.49 where the clean series' noise reaches 0.68 over the same rows. And with its range rebuilt on
#: exceedance (the default), the learner alone misses a level shift just beyond the range: the rebuilt
#: learner (as if built on the new range from the start, like NAB's whole-file range) replayed the sine
#: and its last surprise (>= 0.75) holds its scores at 0 for the rest period; the spatial check, on by
#: default, flags the shift (``test_level_shift_flagged_by_default``)
WEAK = {("cad_ose", "flat_line"), ("cad_ose", "level_shift")}


@pytest.mark.parametrize("name,kind", [
    pytest.param(n, k, marks=pytest.mark.xfail(strict=True, reason="documented weakness")) if (n, k) in WEAK else (n, k)
    for n in NAMES for k in CASES])
def test_hand_made_anomaly_is_flagged(name, kind):
    clean = window_max(scores_after_fit(name, base()))
    flagged = window_max(scores_after_fit(name, anomalous(kind)))
    assert flagged > 0.5
    assert flagged > clean


@pytest.mark.parametrize("name", NAMES)
def test_level_shift_flagged_by_default(name):
    """With the default settings (spatial check on) a level shift beyond the range seen scores 1 within
    its first rows (the shift starts at a trough of the sine: its first row is still inside the range)."""
    x = anomalous("level_shift")
    model = get_model(name).fit(x.iloc[:FIT])
    scores = model.score(x.iloc[FIT:]).to_numpy()
    assert scores[ONSET - FIT:ONSET - FIT + 4].max() == 1.0


@pytest.mark.parametrize("name", NAMES)
def test_quiet_before_the_anomaly(name):
    """Before the onset the clean sine raises at most a couple of alerts above 0.75."""
    scores = scores_after_fit(name, anomalous("level_shift"))
    assert (scores[: ONSET - FIT] > 0.75).sum() <= 2


@pytest.mark.parametrize("name", NAMES)
def test_gap_then_spike(name):
    """Rows missing for 2.5 hours: no crash, scores aligned, and a spike after the gap still scores 1
    (spatial check on, the default)."""
    x = anomalous("spike")
    x = x.drop(x.index[ONSET - 40:ONSET - 10])
    model = get_model(name).fit(x.iloc[:FIT])
    later = x.iloc[FIT:]
    scores = model.score(later)
    assert scores.index.equals(later.index)
    assert np.all((scores >= 0) & (scores <= 1))
    assert scores.loc[base().index[ONSET]] == 1.0


@pytest.mark.parametrize("name", NAMES)
def test_scores_up_to_k_do_not_depend_on_later_rows(name):
    x = anomalous("frequency_change")
    model = get_model(name).fit(x.iloc[:FIT])
    k = ONSET - FIT + 20
    later = x.iloc[FIT:].copy()
    full = model.score(later)
    changed = later.copy()
    changed.iloc[k + 1:] = np.random.default_rng(5).normal(50, 10, len(changed) - k - 1)
    pd.testing.assert_series_equal(model.score(changed).iloc[:k + 1], full.iloc[:k + 1])
    # and fitted rows keep the score the learner gave them when they arrived
    np.testing.assert_array_equal(model.score(x.iloc[:FIT]).to_numpy(), model.fit_scores_.to_numpy())
    assert not model.score(changed).iloc[k + 1:].equals(full.iloc[k + 1:]), "later rows must matter to later scores"


def test_spatial_check_matches_its_vectorised_form():
    rng = np.random.default_rng(1)
    for _ in range(20):
        history, values = rng.normal(size=rng.integers(0, 5)), rng.normal(size=30) * rng.uniform(0.5, 3)
        check = SpatialCheck(0.05)
        for v in history:
            check.step(v)
        expected = [1.0 if check.step(v) else 0.0 for v in values]
        assert spatial_scores(values, 0.05, history).tolist() == expected
    assert spatial_scores(np.array([1.0, 2.0, 2.04, 2.2]), 0.05).tolist() == [0.0, 1.0, 0.0, 1.0]


@pytest.mark.parametrize("name", NAMES)
def test_fitted_rows_on_another_grid_keep_their_alerts(name):
    """A panel on a coarser grid than the fit's shows each recorded alert once, at or after its row."""
    x = anomalous("spike")
    model = get_model(name).fit(x)  # the spike is in the fitted history: its score was recorded
    assert model.fit_scores_.iloc[ONSET] == 1.0
    coarse = x.iloc[::3]  # 15-minute panel
    scores = model.score(coarse)
    at = coarse.index.searchsorted(x.index[ONSET])
    assert scores.iloc[at] == 1.0
    exact = model.score(x)
    np.testing.assert_array_equal(exact.to_numpy(), model.fit_scores_.to_numpy())


def _beyond_range_once() -> tuple[pd.Series, int]:
    """The clean sine, later rows clipped to the first day's range, one spike above it at ``ONSET``."""
    x = base()
    low, high = x.iloc[:FIT].min(), x.iloc[:FIT].max()
    x.iloc[FIT:] = x.iloc[FIT:].clip(low, high)
    x.iloc[ONSET] = high + 8.0
    return x, ONSET - FIT


@pytest.mark.parametrize("name", NAMES)
def test_rebuild_keeps_earlier_scores_and_fires_once(name):
    """A value beyond the learner's range rebuilds it exactly once (range: every row seen so far); rows
    before it keep the scores the first learner gave them, and rows from it on are scored as by a learner
    built on that range from the start."""
    x, at = _beyond_range_once()
    params = {"spatial_tolerance": None, "rebuild_margin": 0.0, "rebuild_pad": 0.0}
    model = get_model(name, **params).fit(x.iloc[:FIT])
    plain = get_model(name, spatial_tolerance=None, rebuild_margin=None).fit(x.iloc[:FIT])
    later = x.iloc[FIT:]
    rebuilt, kept = model.score(later).to_numpy(), plain.score(later).to_numpy()
    np.testing.assert_array_equal(rebuilt[:at], kept[:at])
    assert model.learner_.rebuilds == 0  # fitted rows are inside the fitted range
    learner = copy.deepcopy(model.learner_)
    again = [learner.step(v) for v in later.to_numpy()]
    np.testing.assert_array_equal(again, rebuilt)
    assert learner.rebuilds == 1
    assert (learner.low, learner.high) == (x.min(), x.max())
    fresh = learner.factory(x.min(), x.max())
    from_start = [fresh.step(v) for v in x.to_numpy()]
    np.testing.assert_array_equal(from_start[FIT + at:], rebuilt[at:])


class _Counting:
    """A learner that records its range and adds each step to ``steps`` (a list shared by the learners one
    test makes, so the replay work can be counted without state shared between tests)."""

    def __init__(self, low, high, steps: list | None = None):
        self.range = (low, high)
        self.steps = steps if steps is not None else []

    def step(self, value):
        self.steps.append(value)
        return 0.0


def test_rebuild_waits_for_the_rows_seen_to_double():
    """At most one rebuild per doubling of the rows seen: an earlier exceedance waits for the next
    allowed row, and a padded rebuild widens the range by ``pad`` of the span each side."""
    wrapper = RangeRebuild(_Counting, 0.0, 1.0, rows=10, margin=0.05, pad=0.2)
    for v in [0.5] * 10:
        wrapper.step(v)
    wrapper.step(1.04)  # within the margin: nothing
    assert not wrapper.pending
    wrapper.step(2.0)  # row 12 of 20 needed: remembered
    assert wrapper.pending and wrapper.rebuilds == 0
    for v in [0.5] * 7:
        wrapper.step(v)
    assert wrapper.rebuilds == 0
    wrapper.step(0.5)  # row 20: rebuilt on [0.5, 2.0] padded by 0.2 * 1.5
    assert wrapper.rebuilds == 1 and not wrapper.pending
    assert wrapper.learner.range == pytest.approx((0.5 - 0.3, 2.0 + 0.3))


def test_rebuild_at_once_when_the_range_at_least_doubles():
    """A level shift far outside the learner's range is learnt at once, not clipped to the edge level
    until the rows seen double (which may never come): the range seen so far reaching twice the
    learner's allows a rebuild before the doubling."""
    wrapper = RangeRebuild(_Counting, 0.0, 1.0, rows=10, margin=0.0)
    for v in [0.5] * 10:
        wrapper.step(v)
    wrapper.step(1.5)  # range seen [0.5, 1.5]: once the learner's width, waits for row 20
    assert wrapper.pending and wrapper.rebuilds == 0
    wrapper.step(2.6)  # range seen [0.5, 2.6]: 2.1 times the learner's width, rebuilt now (row 12)
    assert wrapper.rebuilds == 1 and not wrapper.pending
    assert wrapper.learner.range == (0.5, 2.6)
    wrapper.step(3.0)  # [0.5, 3.0] is 1.19 times [0.5, 2.6]: waits for the rows to double again
    assert wrapper.pending and wrapper.rebuilds == 1


def test_rebuild_at_exactly_twice_the_range_and_from_a_zero_width_range():
    wrapper = RangeRebuild(_Counting, 0.0, 1.0, rows=100, margin=0.0)
    for v in [0.5] * 10:
        wrapper.step(v)
    wrapper.step(1.999)  # range seen [0.5, 1.999]: 1.499 wide, not yet twice 1.0
    assert wrapper.pending and wrapper.rebuilds == 0
    wrapper.step(-0.001)  # [-0.001, 1.999]: exactly twice: rebuilt
    assert wrapper.rebuilds == 1 and (wrapper.low, wrapper.high) == (-0.001, 1.999)
    flat = RangeRebuild(_Counting, 3.0, 3.0, rows=100, margin=0.0)  # a flat first day
    for v in [3.0] * 10:
        flat.step(v)
    assert flat.rebuilds == 0, "values on a zero-width range do not leave it"
    flat.step(3.001)
    assert flat.rebuilds == 1 and flat.learner.range == (3.0, 3.001)


def test_replays_stay_within_the_budget():
    """A metric flat for 1,000 rows that then grows doubles its range at every row: the rebuilds stop
    once the rows replayed reach ``REPLAY_BUDGET`` times the rows seen, and resume as rows accumulate."""
    steps: list = []
    wrapper = RangeRebuild(partial(_Counting, steps=steps), 5.0, 5.0, rows=1000, margin=0.0)
    for _ in range(1000):
        wrapper.step(5.0)
    for k in range(1, 41):
        wrapper.step(5.0 + 2.0 ** k)
    rows = 1040
    assert wrapper.replayed <= RangeRebuild.REPLAY_BUDGET * rows
    assert 1 <= wrapper.rebuilds <= RangeRebuild.REPLAY_BUDGET + 1
    assert len(steps) == rows + wrapper.replayed  # every step is a learnt row or a replayed one
    assert wrapper.pending, "the last exits wait for the budget"
    unlimited = RangeRebuild(_Counting, 5.0, 5.0, rows=1000, margin=0.0)
    unlimited.REPLAY_BUDGET = float("inf")
    for v in [5.0] * 1000 + [5.0 + 2.0 ** k for k in range(1, 41)]:
        unlimited.step(v)
    assert unlimited.rebuilds == 40, "without the budget every row would replay the history"


@pytest.mark.parametrize("name", NAMES)
def test_range_rebuild_is_the_default_and_learns_a_level_shift(name):
    """The members rebuild their range by default, and a shift far outside it is learnt at once, long
    before the rows seen double: right after a shift to five times the fitted range the learner
    quantises on a range that includes the new level (not the edge level), and its scores differ from
    those of ``rebuild_margin=None``, which keeps the fitted range (cad_ose)."""
    x = base()
    x.iloc[ONSET:] += 30.0
    model = get_model(name, spatial_tolerance=None).fit(x.iloc[:FIT])
    kept = get_model(name, spatial_tolerance=None, rebuild_margin=None).fit(x.iloc[:FIT])
    assert isinstance(model.learner_, RangeRebuild) and not isinstance(kept.learner_, RangeRebuild)
    learner = copy.deepcopy(model.learner_)
    for v in x.iloc[FIT:ONSET + 1].to_numpy():  # 601 rows seen: the rows have not doubled since the fit
        learner.step(v)
    assert learner.rebuilds == 1 and learner.high >= x.iloc[ONSET]
    later = x.iloc[FIT:]
    if name == "cad_ose":  # artime, spatial check off, scores 0 after this shift either way (measured)
        assert not np.array_equal(model.score(later).to_numpy(), kept.score(later).to_numpy())
