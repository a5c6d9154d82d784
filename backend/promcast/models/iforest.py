"""``iforest``: scikit-learn IsolationForest on causal features of the recent window.

Each row becomes a feature vector built from rows at or before it only: the value, its first
difference, and for a few trailing windows the rolling level, the rolling spread and the deviation
from that level in units of the spread; plus hour of day and day of week as cyclic encodings. With a
DataFrame (several aligned series, e.g. CPU, memory and latency of one service) the features of all
columns sit side by side in one vector, plus each column's standardised residual against a linear
fit on the other columns (learnt on the training rows), so a row can be isolated by a *combination*
of values that each look normal alone: the multi-dimensional case.

A value feature that never varied in training (a flat series) cannot be split on, so a departure
from its constant value scores at least as high as the top 1% of training rows, more the further.

Time features are only used when the history can teach them: hour of day from two days of history,
day of week from two weeks (otherwise every new weekday would look novel).

Scores are calibrated against the training rows' own isolation scores: a row scores ``1 - p`` where
``p`` is the fraction of training rows more anomalous than it (the empirical tail probability),
extended past the most extreme training rows by an exponential tail. That is the same meaning as the
forecasters' ``tail_score`` (one minus a tail probability), so the ensemble can mix them.
"""

from __future__ import annotations

from typing import ClassVar, Sequence

import numpy as np
import pandas as pd

from ..errors import InputError
from .base import PromcastModel
from .calibration import _TAIL_P, EmpiricalTail, pareto_survival  # noqa: F401 - re-exported
from .prepare import epoch_seconds
from .registry import register

#: training rows scored to learn the calibration (evenly spaced when there are more)
_CALIBRATION_ROWS = 4096


def window_features(frame: pd.DataFrame, step: pd.Timedelta, windows: Sequence[int],
                    spread_floor: np.ndarray) -> pd.DataFrame:
    """Causal features of every row of ``frame`` (one block per column), windows in multiples of ``step``.

    Rolling windows are time-based (``(t - w*step, t]``) so irregular or gappy rows still see the
    intended span; ``spread_floor`` (one per column) keeps the standardised deviation finite on a
    flat stretch while still making any departure from it large.
    """
    out: dict[str, np.ndarray] = {}
    for j, column in enumerate(frame.columns):
        v = frame[column].astype(float)
        out[f"{column}:value"] = v.to_numpy()
        out[f"{column}:diff"] = v.diff().fillna(0.0).to_numpy()
        for w in windows:
            roll = v.rolling(pd.Timedelta(step * int(w)), min_periods=1)
            level = roll.mean().to_numpy()
            spread = np.nan_to_num(roll.std().to_numpy(), nan=0.0)
            out[f"{column}:spread{w}"] = spread
            out[f"{column}:dev{w}"] = (v.to_numpy() - level) / (spread + spread_floor[j])
    return pd.DataFrame(out, index=frame.index)


def time_features(index: pd.DatetimeIndex, hour: bool = True, weekday: bool = True) -> np.ndarray:
    """Hour of day and day of week (UTC) as points on circles: ``(n, 2 * (hour + weekday))``."""
    return cyclic_time(epoch_seconds(index), hour, weekday)


def cyclic_time(seconds: np.ndarray, hour: bool = True, weekday: bool = True) -> np.ndarray:
    """:func:`time_features` from epoch seconds of any shape: ``seconds.shape + (features,)``."""
    t = np.asarray(seconds, dtype=float)
    cols = []
    if hour:
        day = 2 * np.pi * np.mod(t, 86_400.0) / 86_400.0
        cols += [np.sin(day), np.cos(day)]
    if weekday:
        week = 2 * np.pi * np.mod(t + 3 * 86_400.0, 7 * 86_400.0) / (7 * 86_400.0)  # epoch was a Thursday
        cols += [np.sin(week), np.cos(week)]
    return np.stack(cols, axis=-1) if cols else np.empty(t.shape + (0,))


def fit_cross(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares fit of each column from the others (with intercept): ``(coefs (k, k+1), scales (k,))``.

    The standardised residual of a column against this fit is large when the columns stop moving
    together, even if every value is normal on its own (CPU busy while latency drops).
    """
    n, k = values.shape
    coefs = np.zeros((k, k + 1))
    scales = np.ones(k)
    for j in range(k):
        design = np.column_stack([np.ones(n), np.delete(values, j, axis=1)])
        beta, *_ = np.linalg.lstsq(design, values[:, j], rcond=None)
        coefs[j] = np.insert(beta, j + 1, 0.0)
        resid = values[:, j] - design @ beta
        mad = 1.4826 * np.median(np.abs(resid - np.median(resid)))
        scales[j] = max(mad, float(np.std(resid)) * 0.1, 1e-9 + 1e-6 * float(np.median(np.abs(values[:, j]))))
    return coefs, scales


def cross_features(values: np.ndarray, coefs: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """Standardised residual of each column against the others (see :func:`fit_cross`): ``(n, k)``."""
    design = np.column_stack([np.ones(len(values)), values])
    return (values - design @ coefs.T) / scales


@register("iforest")
class IsolationForestModel(PromcastModel):
    """Isolation forest over window features of one or several aligned series (a detector only)."""

    min_points: ClassVar[int] = 16
    fallback: ClassVar[str | None] = "mad"
    multivariate: ClassVar[bool] = True
    fast_params: ClassVar[dict] = {"n_estimators": 25}

    def __init__(self, n_estimators: int = 100, max_samples: int = 256, windows: tuple = (5, 30, 120),
                 time_features: bool = True, seed: int = 0):
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.windows = windows
        self.time_features = time_features
        self.seed = seed

    # ---- features ------------------------------------------------------------------------------
    def _windows(self) -> list[int]:
        try:
            windows = sorted({int(w) for w in self.windows})
        except (TypeError, ValueError) as exc:
            raise InputError(f"bad iforest windows {self.windows!r}: expected whole numbers of steps") from exc
        if not windows or windows[0] < 2:
            raise InputError(f"bad iforest windows {self.windows!r}: expected whole numbers of steps >= 2")
        return windows

    def _as_frame(self, x: pd.Series | pd.DataFrame) -> pd.DataFrame:
        if isinstance(x, pd.Series):
            return x.to_frame("value")
        return x

    def _features(self, frame: pd.DataFrame) -> np.ndarray:
        """One row of features per row of ``frame``: value features first, then time features."""
        blocks = [window_features(frame, self.step_, self.windows_, self.spread_floor_).to_numpy(dtype=float)]
        if self.cross_coefs_ is not None:
            blocks.append(cross_features(frame.to_numpy(dtype=float), self.cross_coefs_, self.cross_scales_))
        if self.hour_feature_ or self.weekday_feature_:
            blocks.append(time_features(frame.index, self.hour_feature_, self.weekday_feature_))
        return np.nan_to_num(np.hstack(blocks), nan=0.0, posinf=1e12, neginf=-1e12)

    def _n_value_features(self) -> int:
        n_columns = len(self.spread_floor_)
        per_column = 2 + 2 * len(self.windows_)
        return n_columns * per_column + (n_columns if self.cross_coefs_ is not None else 0)

    # ---- fit / score ---------------------------------------------------------------------------
    def _fit(self, y: pd.Series | pd.DataFrame) -> None:
        from sklearn.ensemble import IsolationForest

        frame = self._as_frame(y)
        self.windows_ = self._windows()
        self.columns_ = [str(c) for c in frame.columns] if isinstance(y, pd.DataFrame) else None
        frame = frame.set_axis([str(c) for c in frame.columns], axis=1)
        values = frame.to_numpy(dtype=float)
        level = np.nanmedian(np.abs(values), axis=0)
        self.spread_floor_ = 1e-9 + 1e-3 * np.nanstd(values, axis=0) + 1e-6 * level
        self.cross_coefs_, self.cross_scales_ = fit_cross(values) if values.shape[1] > 1 else (None, None)
        span = self.last_timestamp_ - self.first_timestamp_
        self.hour_feature_ = bool(self.time_features and span >= pd.Timedelta(days=2))
        self.weekday_feature_ = bool(self.time_features and span >= pd.Timedelta(days=14))
        features = self._features(frame)
        forest = IsolationForest(
            n_estimators=int(self.n_estimators), max_samples=min(int(self.max_samples), len(features)),
            random_state=int(self.seed), n_jobs=1,
        )
        forest.fit(features)
        # A feature that never varied in training is never split on, so the forest is blind to it
        # changing (a flat series that jumps): remember such features and flag any departure.
        value_features = features[:, : self._n_value_features()]
        low, high = value_features.min(axis=0), value_features.max(axis=0)
        tolerance = 1e-9 + 1e-6 * np.maximum(np.abs(high), np.abs(low))
        constant = np.flatnonzero(high - low <= tolerance)
        self.constant_features_ = constant
        self.constant_values_ = high[constant]
        self.constant_tolerance_ = tolerance[constant]
        rows = features
        if len(rows) > _CALIBRATION_ROWS:
            rows = rows[np.linspace(0, len(rows) - 1, _CALIBRATION_ROWS).astype(int)]
        self.forest_ = forest
        self.calibration_ = EmpiricalTail.fit(-forest.score_samples(rows))  # negated: higher is more anomalous

    def calibrate(self, raw: np.ndarray) -> np.ndarray:
        """Map raw isolation scores (higher: more anomalous) to ``1 - tail probability`` in [0, 1]."""
        return self.calibration_(raw)

    def _score(self, x: pd.Series | pd.DataFrame) -> pd.Series:
        frame = self._as_frame(x)
        if self.columns_ is not None:
            if not isinstance(x, pd.DataFrame):
                raise InputError(
                    f"this iforest model was fitted on columns {', '.join(self.columns_)}; score a DataFrame "
                    "with the same columns"
                )
            missing = [c for c in self.columns_ if c not in [str(k) for k in frame.columns]]
            if missing:
                raise InputError(
                    f"cannot score: column(s) {', '.join(missing)} missing; the model was fitted on "
                    f"{', '.join(self.columns_)}"
                )
            frame = frame.set_axis([str(c) for c in frame.columns], axis=1)[self.columns_]
        elif frame.shape[1] != 1:
            raise InputError(f"this iforest model was fitted on one series; got {frame.shape[1]} columns")
        features = self._features(frame)
        scores = self.calibrate(-self.forest_.score_samples(features))
        if len(self.constant_features_):
            departure = np.abs(features[:, self.constant_features_] - self.constant_values_) / self.constant_tolerance_
            excess = np.max(departure, axis=1) - 1.0
            # beyond the tolerance: at least as anomalous as the top tail of the training rows
            novelty = np.where(excess > 0, 1.0 - _TAIL_P * pareto_survival(np.maximum(excess, 0.0)), 0.0)
            scores = np.maximum(scores, novelty)
        return pd.Series(scores, index=frame.index)

    def score_context(self) -> int:
        """Rows a score looks back at: the longest rolling window."""
        return int(max(self._windows()))
