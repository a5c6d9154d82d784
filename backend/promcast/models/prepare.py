"""Input cleaning shared by every model, so each model sees the same well-formed history.

Real Prometheus and CSV history is messy: NaNs, gaps, irregular sampling, duplicated or unsorted
timestamps, naive timestamps, flat series, a single point, months of 15-second samples. These helpers
turn any of that into what a model can fit (a regular, gap-filled grid at the inferred step,
downsampled when very long) or score (sorted unique rows, forward-filled so nothing looks ahead).
Nothing here raises for messy data; only empty or all-NaN input is an :class:`InputError`.

Every function accepts a Series (one metric) or a DataFrame (several metrics on one index, for
multi-series models such as ``iforest``).
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import InputError

log = logging.getLogger("promcast.models")

#: step assumed when it cannot be inferred (a single point): Prometheus' usual scrape interval.
DEFAULT_STEP = pd.Timedelta(minutes=1)
#: regular grids longer than this many times the number of samples are coarsened (a stray old point).
_MAX_GRID_RATIO = 20
_MAX_GRID_MIN = 1_000_000


def clean(data: pd.Series | pd.DataFrame, *, what: str = "series") -> pd.Series | pd.DataFrame:
    """Sorted, unique, tz-aware UTC index and float values; duplicates are averaged.

    NaNs are kept (rows whose timestamp cannot be parsed are dropped). A naive index is read as UTC.
    """
    if isinstance(data, pd.DataFrame):
        frame = data.apply(pd.to_numeric, errors="coerce").astype(float)
    elif isinstance(data, pd.Series):
        frame = pd.to_numeric(data, errors="coerce").astype(float)
    else:
        raise InputError(f"bad {what}: expected a pandas Series indexed by timestamps, got {type(data).__name__}")
    frame = frame.replace([np.inf, -np.inf], np.nan)
    frame.index = utc_index(data.index, what)
    frame = frame[~frame.index.isna()]
    if not frame.index.is_monotonic_increasing:
        frame = frame.sort_index(kind="stable")
    if frame.index.has_duplicates:
        frame = frame.groupby(level=0).mean()
    frame.index.name = "timestamp"
    return frame


def utc_index(index: pd.Index, what: str) -> pd.DatetimeIndex:
    if not isinstance(index, pd.DatetimeIndex):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # "could not infer format"
                index = pd.DatetimeIndex(pd.to_datetime(index, utc=True, errors="coerce"))
        except (TypeError, ValueError) as exc:
            raise InputError(f"bad {what}: its index must be timestamps") from exc
        if len(index) and index.isna().all():
            raise InputError(f"bad {what}: its index must be timestamps, none could be parsed")
    if index.tz is None:
        index = index.tz_localize("UTC")
    else:
        index = index.tz_convert("UTC")
    return index


def valid_rows(data: pd.Series | pd.DataFrame) -> pd.Series:
    """Boolean mask of rows with an observation (for a frame: at least one column observed)."""
    if isinstance(data, pd.DataFrame):
        return data.notna().any(axis=1)
    return data.notna()


def infer_step(index: pd.DatetimeIndex) -> pd.Timedelta:
    """The sampling step: the median positive difference between timestamps (1 minute for one point)."""
    if len(index) < 2:
        return DEFAULT_STEP
    diffs = index[1:] - index[:-1]
    diffs = diffs[diffs > pd.Timedelta(0)]
    if not len(diffs):
        return DEFAULT_STEP
    step = pd.Timedelta(diffs.median()).round("1ms")
    return step if step > pd.Timedelta(0) else DEFAULT_STEP


def regularize(data: pd.Series | pd.DataFrame, step: pd.Timedelta) -> pd.Series | pd.DataFrame:
    """Resample onto a grid of ``step`` anchored at the first timestamp, then fill gaps.

    Samples in one bin are averaged; empty bins are filled by time interpolation (a gap becomes a
    straight line), leading/trailing NaNs by the nearest value. Columns with no data at all become 0.
    """
    data = data[valid_rows(data)]
    span = data.index[-1] - data.index[0]
    if span / step > max(_MAX_GRID_MIN, _MAX_GRID_RATIO * len(data)):
        # one stray point far away would make a huge grid: coarsen the grid instead
        step = pd.Timedelta(span / (_MAX_GRID_RATIO * len(data))).ceil("1s")
        log.info("series spans %s with %d points; fitting on a %s grid", span, len(data), step)
    grid = data.resample(step, origin=data.index[0], label="left", closed="left").mean()
    grid.index.name = "timestamp"
    if grid.isna().to_numpy().any():
        grid = grid.interpolate(method="time", limit_direction="both")
        grid = grid.ffill().bfill().fillna(0.0)
    return grid


def downsample(grid: pd.Series | pd.DataFrame, step: pd.Timedelta, max_points: int | None):
    """Average ``grid`` into coarser bins when it has more than ``max_points`` rows.

    Returns ``(grid, step)``; logs a note naming the change so long fits are not a surprise.
    """
    if not max_points or len(grid) <= max_points:
        return grid, step
    factor = math.ceil(len(grid) / max_points)
    coarse = step * factor
    out = grid.resample(coarse, origin=grid.index[0], label="left", closed="left").mean()
    out = out.interpolate(method="time", limit_direction="both")
    out.index.name = "timestamp"
    log.info("downsampled %d points at %s to %d points at %s for fitting", len(grid), step, len(out), coarse)
    return out, coarse


@dataclass
class FitData:
    """What a model's ``_fit`` receives, plus the facts ``fit`` records as fitted attributes."""

    #: regular grid at ``fit_step``, no NaNs: the series (or frame) to fit on
    values: pd.Series | pd.DataFrame
    #: sampling step of the cleaned input (forecasts are produced at this step)
    step: pd.Timedelta
    #: grid step of ``values`` (coarser than ``step`` when downsampled)
    fit_step: pd.Timedelta
    first_timestamp: pd.Timestamp
    last_timestamp: pd.Timestamp
    #: observed (non-NaN) rows of the cleaned input
    n_points: int
    #: the regular grid at ``step`` before downsampling (``values`` itself when not downsampled)
    grid: pd.Series | pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)


def prepare_fit(
    data: pd.Series | pd.DataFrame, *, max_points: int | None = None, what: str = "series"
) -> FitData:
    """Clean ``data`` and put it on a regular, gap-free grid for fitting.

    Raises :class:`InputError` when there is nothing to fit (empty or all NaN).
    """
    cleaned = clean(data, what=what)
    observed = cleaned[valid_rows(cleaned)]
    if observed.empty:
        reason = "is empty" if cleaned.empty else "has no numeric values (all NaN)"
        raise InputError(f"the {what} {reason}: give at least one timestamp with a value")
    step = infer_step(observed.index)
    grid = regularize(observed, step)
    notes = []
    if len(grid) != len(observed):
        notes.append(f"regularised {len(observed)} samples onto {len(grid)} points at {step}")
    values, fit_step = downsample(grid, step, max_points)
    if fit_step != step:
        notes.append(f"downsampled {len(grid)} points at {step} to {len(values)} at {fit_step} for fitting")
    return FitData(
        values=values,
        step=step,
        fit_step=pd.Timedelta(fit_step),
        first_timestamp=observed.index[0],
        last_timestamp=observed.index[-1],
        n_points=len(observed),
        grid=grid,
        notes=notes,
    )


def prepare_score(data: pd.Series | pd.DataFrame, *, what: str = "series"):
    """Clean ``data`` for scoring: ``(filled, observed)``.

    ``filled`` has sorted unique rows from the first observation on, NaNs forward-filled (causal: a
    row never borrows a later value); ``observed`` marks rows that had a value (others score 0).
    """
    cleaned = clean(data, what=what)
    observed = valid_rows(cleaned)
    if not observed.any():
        return cleaned.iloc[:0], observed
    first = observed.to_numpy().argmax()
    filled = cleaned.iloc[first:].ffill()
    if isinstance(filled, pd.DataFrame):
        filled = filled.fillna(0.0)
    return filled, observed


def epoch_seconds(index: pd.DatetimeIndex) -> np.ndarray:
    """Seconds since the epoch, whatever the index's unit (pandas 2 ns, pandas 3 s/ms/us/ns)."""
    delta = pd.DatetimeIndex(index) - pd.Timestamp(0, tz="UTC")
    return np.asarray(delta.total_seconds(), dtype=float)


def seasonal_slot(index: pd.DatetimeIndex, season: pd.Timedelta, slot: pd.Timedelta) -> np.ndarray:
    """Slot number of each timestamp within ``season`` (UTC; ``1d``/``1h`` gives the hour of day)."""
    phase = np.mod(epoch_seconds(index), season.total_seconds())
    n_slots = max(1, int(round(season / slot)))
    return np.minimum((phase // slot.total_seconds()).astype(np.int64), n_slots - 1)


def grid_positions(index: pd.DatetimeIndex, origin: pd.Timestamp, step: pd.Timedelta) -> np.ndarray:
    """Fractional positions of ``index`` on the grid ``origin + k * step``."""
    return (epoch_seconds(index) - epoch_seconds(pd.DatetimeIndex([origin]))[0]) / step.total_seconds()
