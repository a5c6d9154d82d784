"""``mad``: robust z-score against the median and MAD of the same seasonal slot (e.g. hour of day).

The simplest useful detector: it needs one point, ignores order, and cannot be fooled by the outliers
it is looking for (median and MAD have a 50% breakdown point). It also forecasts: the slot's median,
with a band of ``z`` robust standard deviations, so it is the last fallback of every forecaster.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd

from .base import Forecaster, robust_scale, tail_score, to_timedelta
from .prepare import seasonal_slot
from .registry import register

#: a slot's scale is never below this fraction of the overall residual scale (a quiet hour in the
#: history must not make every normal wiggle at that hour an anomaly)
_SLOT_SCALE_FLOOR = 0.5


@register("mad")
class MadModel(Forecaster):
    """Per-slot median/MAD; slots with fewer than ``min_slot_points`` points use the global values.

    Seasonal slots are used only when the history covers at least ``min_seasons`` seasons.
    """

    min_points: ClassVar[int] = 1
    fallback: ClassVar[str | None] = None

    def __init__(self, season: str = "1d", slot: str = "1h", min_seasons: int = 2, min_slot_points: int = 5):
        self.season = season
        self.slot = slot
        self.min_seasons = min_seasons
        self.min_slot_points = min_slot_points

    def _fit(self, y: pd.Series) -> None:
        season = to_timedelta(self.season, what="season")
        slot = min(to_timedelta(self.slot, what="slot"), season)
        values = y.to_numpy(dtype=float)
        n_slots = max(1, int(round(season / slot)))
        span = self.last_timestamp_ - self.first_timestamp_ + self.step_
        self.seasonal_ = bool(span >= season * self.min_seasons and n_slots > 1)
        center = float(np.median(values))
        medians = np.full(n_slots, center)
        if self.seasonal_:
            slots = seasonal_slot(y.index, season, slot)
            for k in range(n_slots):
                in_slot = values[slots == k]
                if len(in_slot) >= self.min_slot_points:
                    medians[k] = np.median(in_slot)
            resid = values - medians[slots]
        else:
            slots = np.zeros(len(values), dtype=np.int64)
            resid = values - center
        overall = robust_scale(resid, level=center)
        scales = np.full(n_slots, overall)
        if self.seasonal_:
            for k in range(n_slots):
                in_slot = resid[slots == k]
                if len(in_slot) >= self.min_slot_points:
                    scales[k] = max(robust_scale(in_slot, level=center), _SLOT_SCALE_FLOOR * overall)
        self.season_ = season
        self.slot_ = slot
        self.medians_ = medians
        self.scales_ = scales
        self._learn_residuals(resid, level=center)

    def _slots(self, index: pd.DatetimeIndex) -> np.ndarray:
        if not self.seasonal_:
            return np.zeros(len(index), dtype=np.int64)
        return seasonal_slot(index, self.season_, self.slot_)

    def _predict_mean(self, index: pd.DatetimeIndex) -> np.ndarray:
        return self.medians_[self._slots(index)]

    def _band(self, index, yhat, interval):
        from .base import interval_z

        spread = interval_z(interval) * self.scales_[self._slots(index)]
        return yhat - spread, yhat + spread

    def _score(self, x: pd.Series) -> pd.Series:
        slots = self._slots(x.index)
        z = (x.to_numpy(dtype=float) - self.medians_[slots]) / self.scales_[slots]
        return pd.Series(tail_score(z), index=x.index)
