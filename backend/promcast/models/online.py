"""Online detectors (``cad_ose``, ``artime``): learners that score each row as they learn from it.

Such a learner's score of row ``i`` is produced when row ``i`` arrives, from what it learnt on rows
before ``i``: causal by construction, like NAB's detectors. Fitting replays the history through a fresh
learner and keeps the scores it gave (``fit_scores_``); scoring a row at or before the end of the
history returns that recorded score (what the learner said then, not a second look at a row it has
already learnt), and rows after it continue a copy of the learner from the end of the history.

The spatial check (:class:`SpatialCheck`) is the one Numenta added to HTM for NAB: a value beyond the
range seen so far by more than ``tolerance`` of that range scores 1. A learner quantises values on a range,
so a value beyond it lands in the edge level however far out it is; this check sees how far. The learners'
range itself follows the values seen (:class:`RangeRebuild`, the members' default), rebuilt as rationed there:
between rebuilds, values outside it still land in the edge level.
"""

from __future__ import annotations

import copy
import inspect
from typing import Any, Callable, ClassVar

import numpy as np
import pandas as pd

from ..errors import InputError
from .base import PromcastModel

#: NAB's numenta detector's ``spatialTolerance``: 5% of the range seen so far
SPATIAL_TOLERANCE = 0.05


class SpatialCheck:
    """Running min/max of the values seen so far; ``step(v)`` is True when ``v`` leaves that range by more
    than ``tolerance`` times its width (then the range grows to include ``v``)."""

    def __init__(self, tolerance: float = SPATIAL_TOLERANCE):
        self.tolerance = float(tolerance)
        self.low = np.inf
        self.high = -np.inf

    def step(self, value: float) -> bool:
        fired = False
        if self.high >= self.low:
            margin = self.tolerance * (self.high - self.low)
            fired = value > self.high + margin or value < self.low - margin
        self.low = min(self.low, value)
        self.high = max(self.high, value)
        return bool(fired)


def spatial_scores(values: np.ndarray, tolerance: float = SPATIAL_TOLERANCE, history: np.ndarray | None = None
                   ) -> np.ndarray:
    """1 where a value leaves the range of ``history`` and the values before it (causal), else 0
    (vectorised :class:`SpatialCheck`)."""
    v = np.asarray(values, dtype=float)
    if not len(v):
        return np.zeros(0)
    h = np.asarray(history if history is not None else [], dtype=float)
    start_hi = float(h.max()) if len(h) else -np.inf
    start_lo = float(h.min()) if len(h) else np.inf
    hi = np.maximum.accumulate(np.concatenate([[start_hi], v[:-1]]))
    lo = np.minimum.accumulate(np.concatenate([[start_lo], v[:-1]]))
    seen = hi >= lo
    margin = np.where(seen, float(tolerance) * (hi - lo), 0.0)
    with np.errstate(invalid="ignore"):
        fired = seen & ((v > hi + margin) | (v < lo - margin))
    return fired.astype(float)


class RangeRebuild:
    """A learner whose value range follows the values seen so far: rebuilt, then replayed, on exceedance.

    ``factory(low, high)`` makes a learner quantising values on ``[low, high]``. When a value leaves the
    current learner's range by more than ``margin`` times its width, a fresh learner is built on the range
    of every row seen so far (that row included), widened by ``pad`` times its width on each side, and the
    earlier rows are replayed through it; the row is then scored by the new learner. The earlier rows'
    scores are what the old learner said (recorded already): causal.

    A rebuild replays every row so far, so they are rationed: one is allowed once the rows seen have
    doubled since the last build (``rows``: those the first range came from; a slowly trending series
    replays about twice its length), or as soon as the range seen so far is at least ``RANGE_GROWTH``
    (2) times the learner's (a level shift far outside the range is learnt at once instead of being
    clipped to the edge level until the rows double, which may never come; a zero-width range, e.g. a
    flat first day, counts as doubled by any exit), and only while the rows replayed in all stay within
    ``REPLAY_BUDGET`` (4) times the rows seen: whatever the series, a learner does at most 5 steps per
    row (4 replayed, 1 learnt), so a metric flat for 5,000 rows that then grows costs 4 replays, not one
    per row. An exceedance before a rebuild is allowed is remembered and rebuilt at the first allowed
    row. The rows seen are kept for the replays (8 bytes each).
    """

    #: the range seen so far must be this many times the learner's to rebuild before the rows double
    RANGE_GROWTH: ClassVar[float] = 2.0
    #: rows replayed in all, at most this many times the rows seen (past it the range waits; the spatial
    #: check still flags values leaving it)
    REPLAY_BUDGET: ClassVar[float] = 4.0
    #: rows replayed so far (a class default for learners stored before it was counted)
    replayed: int = 0

    def __init__(self, factory: Callable[[float, float], Any], low: float, high: float, rows: int,
                 margin: float = 0.0, pad: float = 0.0):
        self.factory = factory
        self.margin, self.pad = float(margin), float(pad)
        self.learner = factory(low, high)
        self.low, self.high = low, high  # the learner's range
        self.seen_low, self.seen_high = np.inf, -np.inf
        self.built_at = max(1, int(rows))
        self.values: list[float] = []
        self.pending = False
        self.rebuilds = 0
        self.replayed = 0

    def step(self, value: float) -> float:
        if np.isfinite(value):
            self.seen_low, self.seen_high = min(self.seen_low, value), max(self.seen_high, value)
            slack = self.margin * (self.high - self.low)
            if value > self.high + slack or value < self.low - slack:
                self.pending = True
        seen = len(self.values)
        if self.pending and self.replayed + seen <= self.REPLAY_BUDGET * (seen + 1) and (
                seen + 1 >= 2 * self.built_at
                or self.seen_high - self.seen_low >= self.RANGE_GROWTH * (self.high - self.low)):
            self._rebuild()
        self.values.append(value)
        return self.learner.step(value)

    def _rebuild(self) -> None:
        pad = self.pad * (self.seen_high - self.seen_low)
        low, high = self.seen_low - pad, self.seen_high + pad
        learner = self.factory(low, high)
        for v in self.values:
            learner.step(v)
        self.learner, self.low, self.high = learner, low, high
        self.built_at = len(self.values) + 1
        self.pending = False
        self.rebuilds += 1
        self.replayed += len(self.values)


def check_tolerance(value, what: str) -> float | None:
    """``None`` (off) or a number >= 0."""
    if value is None:
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        out = float("nan")
    if not (np.isfinite(out) and out >= 0):
        raise InputError(f"bad {what} {value!r}: expected a number >= 0 (e.g. 0.05) or null to turn it off")
    return out


class OnlineDetector(PromcastModel):
    """Template for online learners: subclasses implement ``_factory(y)``, a callable ``(low, high)`` making
    a learner that quantises values on that range and whose ``step(value) -> float`` returns the row's score
    in [0, 1] and then learns the row. The first learner gets the fitted history's range; with
    ``rebuild_margin`` set (not None; the members' default is 0) it is a :class:`RangeRebuild`, rebuilt on
    the range seen so far when a value leaves its range by more than that fraction of it."""

    max_fit_points: ClassVar[int | None] = 200_000
    online: ClassVar[bool] = True
    #: a value range learnt from fewer rows means little
    min_points: ClassVar[int] = 16
    fallback: ClassVar[str | None] = "mad"
    #: hyper-parameter holding the spatial tolerance (None: no spatial check)
    spatial_param: ClassVar[str] = "spatial_tolerance"

    def cv_threshold_applies(self) -> bool:
        """``cv_threshold`` was measured with every hyper-parameter at its default (e.g. not with
        ``rebuild_margin=None``, whose scores are distributed differently)."""
        defaults = {name: param.default for name, param in inspect.signature(type(self).__init__).parameters.items()
                    if name != "self"}
        return self.get_params(deep=False) == defaults

    def _factory(self, y: pd.Series) -> Callable[[float, float], Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _new_learner(self, y: pd.Series) -> Any:
        """The learner for history ``y``: on its range, rebuilt on exceedance when ``rebuild_margin`` is set."""
        factory = self._factory(y)
        values = y.to_numpy(dtype=float)
        low, high = float(np.nanmin(values)), float(np.nanmax(values))
        margin = check_tolerance(getattr(self, "rebuild_margin", None), "rebuild_margin")
        if margin is None:
            return factory(low, high)
        pad = check_tolerance(getattr(self, "rebuild_pad", 0.0) or 0.0, "rebuild_pad")
        return RangeRebuild(factory, low, high, len(values), margin, pad)

    def _fit(self, y: pd.Series) -> None:
        tolerance = check_tolerance(getattr(self, self.spatial_param), self.spatial_param)
        learner = self._new_learner(y)
        spatial = SpatialCheck(tolerance) if tolerance is not None else None
        scores = self._run(learner, spatial, y.to_numpy(dtype=float))
        self.learner_ = learner
        self.spatial_ = spatial
        self.fit_scores_ = pd.Series(scores, index=y.index)

    @staticmethod
    def _run(learner, spatial: SpatialCheck | None, values: np.ndarray) -> np.ndarray:
        out = np.empty(len(values))
        for i, v in enumerate(values.tolist()):
            score = learner.step(v)
            if spatial is not None and spatial.step(v):
                score = 1.0
            out[i] = score
        return out

    def _recorded(self, index: pd.DatetimeIndex) -> np.ndarray:
        """Scores the learner gave the fitted rows, each placed on the first row of ``index`` at or after
        it (the largest when several land on one row): a panel on another grid than the fit's still
        shows every alert once, never earlier than it happened."""
        out = np.zeros(len(index))
        fitted = self.fit_scores_
        first = fitted.index > index[0] - (index[1] - index[0]) if len(index) > 1 else fitted.index >= index[0]
        fitted = fitted[first & (fitted.index <= index[-1])]
        if len(fitted):
            pos = index.searchsorted(fitted.index, side="left")
            np.maximum.at(out, pos, fitted.to_numpy())
        return out

    def _score(self, x: pd.Series) -> pd.Series:
        later = x.index > self.last_timestamp_
        out = np.zeros(len(x))
        if (~later).any():
            out[~later] = self._recorded(x.index[~later])
        if later.any():
            learner, spatial = copy.deepcopy((self.learner_, self.spatial_))
            out[later] = self._run(learner, spatial, x.to_numpy(dtype=float)[later])
        return pd.Series(out, index=x.index)
