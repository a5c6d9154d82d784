"""Onset emphasis: keep a score only when it is a new high for its recent past (causal).

NAB, like an on-call engineer, rewards the *first* alert of an anomaly and charges every further
alert outside the anomaly's window. A detector's score stays high for as long as the anomaly lasts
(and a daily-recurring oddity scores high every day), so thresholding the raw score raises the same
alarm many times. :func:`onset_scores` keeps a row's score only where it beats every score of the
preceding ``window`` rows by ``margin`` (on the log scale of :func:`.calibration.surprise`), and
zeroes it otherwise: one alert at the onset, renewed only when things get clearly worse. Row ``i``
uses rows ``i - window .. i`` only, so walk-forward results stay causal.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .calibration import from_surprise, surprise


def onset_scores(scores, window: int, margin: float = 0.0) -> np.ndarray:
    """``scores`` (in [0, 1]) with every row that is not a new high of the last ``window`` rows set to 0.

    ``margin`` is in decades of tail probability: 0.3 asks a new alert to be twice as improbable as
    the worst row of the window.
    """
    s = np.nan_to_num(np.asarray(scores, dtype=float), nan=0.0)
    if window <= 0 or not len(s):
        return s
    bits = surprise(s)
    previous = pd.Series(bits).shift(1).rolling(int(window), min_periods=1).max().fillna(0.0).to_numpy()
    return np.where(bits > previous + float(margin), s, 0.0)


__all__ = ["from_surprise", "onset_scores", "surprise"]
