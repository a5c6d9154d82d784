"""Input checks shared by the disk, memory and capacity predictors.

What a user can hand us, and what they get back:

- NaN samples are gaps (Prometheus has gaps too) and are skipped; a series with no number at all is
  an :class:`InputError`. Infinite values are an error (a broken exporter or a division by zero).
- Negative values are an error: usage, bytes and load are never below zero (a common cause is
  passing a rate of change, or ``avail`` where ``used`` was meant).
- A series covering less than ``min_history`` (one day for disks and capacity, twelve hours for
  memory) is an error naming how much history to fetch: a trend from a few hours cannot see
  through a daily cycle, so any answer would be a guess dressed as a number.
- A constant series is *not* an error: it is a disk that is not filling, a process that is not
  leaking, a load that does not grow.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd

from ..durations import format_duration, parse_duration
from ..errors import InputError
from ..models.prepare import clean, epoch_seconds, infer_step

#: fewest samples any predictor accepts, whatever the span
MIN_SAMPLES = 6


def as_duration(value: str | int | float | timedelta, *, what: str) -> pd.Timedelta:
    """``"1d"``, seconds or a timedelta as a Timedelta; InputError otherwise."""
    return pd.Timedelta(parse_duration(value, what=what))


def positive_number(value, *, what: str) -> float:
    """A finite number > 0 (accepts strings such as ``"100"``); InputError otherwise."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(f"bad {what} {value!r}: expected a positive number") from None
    if not np.isfinite(number) or number <= 0:
        raise InputError(f"bad {what} {value!r}: expected a positive number")
    return number


def usage_series(series: pd.Series, *, what: str = "series", min_history: pd.Timedelta | str = "1d") -> pd.Series:
    """Clean ``series``: sorted unique UTC index, finite non-negative floats, NaN gaps dropped.

    Raises :class:`InputError` for infinite or negative values, no values at all, fewer than
    :data:`MIN_SAMPLES` samples or less than ``min_history`` of history.
    """
    if not isinstance(series, pd.Series):
        raise InputError(f"bad {what}: expected a pandas Series indexed by timestamps, got {type(series).__name__}")
    raw = pd.to_numeric(series, errors="coerce").astype(float)
    if np.isinf(raw.to_numpy()).any():
        raise InputError(f"{what} has infinite values: remove them or fix the query")
    if raw.empty:
        raise InputError(f"{what} is empty: give at least a day of timestamp,value rows")
    values = clean(raw, what=what).dropna()
    if values.empty:
        raise InputError(f"{what} has no numeric values: give at least a day of timestamp,value rows")
    if (values < 0).any():
        first = values[values < 0]
        raise InputError(
            f"{what} has negative values ({first.iloc[0]:g} at {first.index[0].isoformat()}): "
            "give usage (space or bytes in use, load), which is never negative"
        )
    min_history = as_duration(min_history, what="minimum history")
    span = values.index[-1] - values.index[0]
    if span < min_history:
        raise InputError(
            f"{what} covers only {format_duration(span) if span > pd.Timedelta(0) else 'one instant'} of history; "
            f"this prediction needs at least {format_duration(min_history)} (use a longer history: "
            "--history on the command line, payload.history on a panel)"
        )
    if len(values) < MIN_SAMPLES:
        raise InputError(f"{what} has only {len(values)} samples; give at least {MIN_SAMPLES}")
    return values


def seconds(index: pd.DatetimeIndex) -> np.ndarray:
    """Epoch seconds of a tz-aware ``index`` as floats (pandas 2 and 3 alike, any resolution)."""
    index = pd.DatetimeIndex(index)
    if index.tz is None:
        return epoch_seconds(index)
    return index.as_unit("ns").asi8 / 1e9


def to_timestamp(epoch_s: float) -> pd.Timestamp:
    """UTC timestamp of epoch seconds, rounded to the second."""
    return pd.Timestamp(round(float(epoch_s)), unit="s", tz="UTC")


def iso(ts: pd.Timestamp | None) -> str | None:
    """ISO 8601 UTC with a ``Z`` (``2024-05-01T12:00:00Z``), or None."""
    if ts is None:
        return None
    return pd.Timestamp(ts).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def sampling_step(values: pd.Series) -> pd.Timedelta:
    """Median spacing between samples."""
    return infer_step(values.index)


def bin_stat(values: pd.Series, width: pd.Timedelta, how: str = "mean") -> pd.Series:
    """``how`` (mean/min/max) per bin of ``width`` anchored at the epoch (deterministic), empty bins dropped.

    The result is indexed by each bin's centre, so a trend fitted on it has no half-bin offset.
    """
    out = getattr(values.resample(width, origin="epoch", label="left", closed="left"), how)().dropna()
    out.index = out.index + width / 2
    return out


def nice_window(td: pd.Timedelta, *, floor: pd.Timedelta = pd.Timedelta("5min")) -> pd.Timedelta:
    """Round a learned window to what a Prometheus rule would spell: minutes, hours or whole days."""
    td = max(pd.Timedelta(td), floor)
    if td >= pd.Timedelta(days=2):
        return td.round("1D")
    if td >= pd.Timedelta("2h"):
        return td.round("1h")
    return max(td.round("5min"), floor)
