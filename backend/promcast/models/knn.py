"""``knn``: k-nearest-neighbour conformal detector on windows of recent values (like NAB's KNN CAD).

Every row is represented by the window of the last ``window`` values ending at it (the series
standardised by the training median and interquartile range), each older step weighted by
``decay`` so the newest values count most: the row where a departure starts scores highest, not the
rows after it whose windows still contain it (NAB rewards the earliest detection). Its
nonconformity is the mean distance to its ``k`` nearest windows of the training history: a shape the
series has never shown (a spike, a level it has not been at, a daily cycle with a piece missing) is
far from all of them. Measured walk-forward on the 28 NAB files (daily refits, onset emphasis of 1d):
decay 1.0 scores 38.1 alone, 0.8 54.8, 0.6 51.4; window 24 instead of 12: 52.9.
Why it complements ``iforest``: the forest's isolation depth saturates after a few splits, so every
clearly novel row scores about the same, whereas a distance keeps growing with the size of the
departure; ranks stay meaningful far out in the tail.

Calibration (conformal): the last ``calibration_rows`` training windows are scored against the
windows before them (held out, so their distances are honest), and a row's score is one minus its
empirical tail probability among those (:class:`.calibration.EmpiricalTail`). Scoring then uses all
training windows (the most recent ``max_reference``) as neighbours. Causal: a row's window holds
rows up to it, and the neighbours come from the fitted history.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd

from ..errors import InputError
from .base import InsufficientHistory, PromcastModel
from .calibration import EmpiricalTail
from .registry import register


def embed(values: np.ndarray, window: int) -> np.ndarray:
    """Sliding windows ``(len(values) - window + 1, window)``: row ``i`` ends at value ``i + window - 1``."""
    return np.lib.stride_tricks.sliding_window_view(np.asarray(values, dtype=float), int(window))


@register("knn")
class KnnModel(PromcastModel):
    """Mean distance to the ``k`` nearest training windows, calibrated on held-out windows."""

    min_points: ClassVar[int] = 32
    fallback: ClassVar[str | None] = "mad"
    fast_params: ClassVar[dict] = {"max_reference": 1000}

    def __init__(self, window: int = 12, k: int = 5, calibration_rows: int = 288, max_reference: int = 3000,
                 decay: float = 0.8):
        self.window = window
        self.decay = decay
        self.k = k
        self.calibration_rows = calibration_rows
        self.max_reference = max_reference

    def _check_params(self) -> tuple[int, int, int, int]:
        try:
            values = tuple(int(v) for v in (self.window, self.k, self.calibration_rows, self.max_reference))
        except (TypeError, ValueError) as exc:
            raise InputError(f"bad knn parameters: {exc}; expected whole numbers") from exc
        window, k, calibration, reference = values
        try:
            decay = float(self.decay)
        except (TypeError, ValueError):
            decay = float("nan")
        if not 0.0 < decay <= 1.0:
            raise InputError(f"bad knn decay {self.decay!r}: expected a number in (0, 1]")
        if window < 1 or k < 1 or calibration < 1 or reference < k:
            raise InputError(
                f"bad knn parameters window={window}, k={k}, calibration_rows={calibration}, "
                f"max_reference={reference}: expected window, k, calibration_rows >= 1 and max_reference >= k"
            )
        return values

    def _embed(self, standardised: np.ndarray) -> np.ndarray:
        """Windows of standardised values, each older step weighted by ``decay`` (newest: 1)."""
        w = self.window_
        weights = np.sqrt(float(self.decay) ** np.arange(w - 1, -1, -1.0))
        return embed(standardised, w) * weights

    def _standardise(self, values: np.ndarray) -> np.ndarray:
        return (np.asarray(values, dtype=float) - self.center_) / self.scale_

    def _distances(self, reference: np.ndarray, queries: np.ndarray) -> np.ndarray:
        """Mean Euclidean distance of each query window to its ``k`` nearest reference windows."""
        from sklearn.neighbors import NearestNeighbors

        k = min(self.k_, len(reference))
        nn = NearestNeighbors(n_neighbors=k, algorithm="brute").fit(reference)
        return nn.kneighbors(queries)[0].mean(axis=1)

    def _fit(self, y: pd.Series) -> None:
        window, k, calibration, max_reference = self._check_params()
        values = y.to_numpy(dtype=float)
        self.center_ = float(np.median(values))
        q75, q25 = np.percentile(values, [75, 25])
        spread = float(q75 - q25) or float(np.std(values))
        self.scale_ = spread if spread > 1e-12 * max(1.0, abs(self.center_)) else max(1e-9, 1e-6 * abs(self.center_))
        self.window_ = int(min(window, max(1, len(values) // 8)))
        self.k_ = k
        windows = self._embed(self._standardise(values))
        held_out = int(min(calibration, len(windows) // 3))
        if len(windows) - held_out < k or held_out < 5:
            raise InsufficientHistory(f"knn needs at least {self.window_ + 3 * max(k, 5)} points, got {len(values)}")
        before = windows[:-held_out][-max_reference:]
        self.calibration_ = EmpiricalTail.fit(self._distances(before, windows[-held_out:]))
        self.reference_ = np.ascontiguousarray(windows[-max_reference:])

    def _score(self, x: pd.Series) -> pd.Series:
        values = self._standardise(x.to_numpy(dtype=float))
        w = self.window_
        # the first rows lack a full window: pad with their own first value (the walk-forward driver
        # passes score_context() rows before them, so only a series' very first rows are affected)
        padded = np.concatenate([np.full(w - 1, values[0]), values]) if w > 1 else values
        scores = self.calibration_(self._distances(self.reference_, self._embed(padded)))
        return pd.Series(scores, index=x.index)

    def score_context(self) -> int:
        """Rows before a row that its window reads."""
        return int(self.window_) - 1 if hasattr(self, "window_") else int(self.window) - 1
