"""Walk-forward detection: score every row using only the rows up to it, as NAB requires.

The timeline is cut into blocks of ``refit_every``. Before each block the model is refitted on the
history before it (all of it, or a trailing ``train_window``), then the block's rows are scored with
``score(context + block)``, where the context is the few preceding rows the model's score looks at.
A row's score therefore depends on the rows before its block (the fit and the context) and on the
rows of its block up to itself (the score contract): never on a later row. Rows before
``min_history`` score 0 (the probationary period).

Online models (``online = True``: they learn from every row they score, like NAB's detectors) are
fitted once, on the history before the first scored row, and then score all later rows in one pass;
refitting them would only replay the same rows.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError
from .base import clean_index, to_timedelta
from .prepare import clean, valid_rows
from .registry import fit_with_fallback, get_model, get_model_class

log = logging.getLogger("promcast.models")


def walk_forward_scores(
    model_name: str,
    series: pd.Series | pd.DataFrame,
    refit_every: str | pd.Timedelta = "1d",
    min_history: str | pd.Timedelta | int | None = None,
    params: dict[str, Any] | None = None,
    train_window: str | pd.Timedelta | None = None,
) -> pd.Series:
    """Causal anomaly scores in [0, 1] for every row of ``series`` (indexed like ``series``).

    ``min_history``: a duration, or a number of rows; default one ``refit_every`` (and at least the
    model's ``min_points``). ``train_window`` bounds each fit to the most recent history (speed).
    Models too short for the named one fall back to simpler ones (logged once per run).
    """
    cls = get_model_class(model_name)
    params = {**cls.score_only_params, **(params or {})}
    online = bool(get_model(model_name, **params).online)  # an ensemble is online when its members are
    refit = to_timedelta(refit_every, what="refit_every")
    window = to_timedelta(train_window, what="train_window") if train_window is not None else None
    if isinstance(series, pd.DataFrame) and not cls.multivariate and series.shape[1] != 1:
        raise InputError(f"model {model_name!r} scores one series at a time, got {series.shape[1]}")
    data = clean(series)
    if isinstance(data, pd.DataFrame) and not cls.multivariate:
        data = data.iloc[:, 0]
    observed = valid_rows(data)
    if not observed.any():
        raise InputError("the series has no numeric values (all NaN): nothing to score")
    times = data.index
    start = _first_scored_time(data[observed], min_history, refit, cls.min_points)

    scores = pd.Series(0.0, index=times)
    notes: list[str] = []
    block_start = start
    while block_start is not None:
        block_end = block_start + refit if not online else times[-1] + refit
        history = data[times < block_start]
        if window is not None:
            history = history[history.index >= block_start - window]
        block = data[(times >= block_start) & (times < block_end)]
        try:
            model = fit_with_fallback(model_name, history, warn=False, **params)
        except InputError as exc:  # e.g. a trailing window that falls entirely in a gap
            model, reason = None, f"rows from {block_start} score 0: {exc}"
        else:
            reason = model.fallback_reason_
        if reason and reason not in notes:
            notes.append(reason)
        if model is not None:
            n_context = model.score_context()
            context = history.iloc[-n_context:] if n_context > 0 else history.iloc[:0]
            scored = model.score(pd.concat([context, block]) if len(context) else block)
            scores.loc[block.index] = scored.loc[block.index].to_numpy()
        following = times[times >= block_end]  # after a gap, the next block starts at the next row
        block_start = following[0] if len(following) else None
    for note in notes:
        log.warning("walk-forward %s: %s", model_name, note)
    index = clean_index(series.index)
    return pd.Series(scores.reindex(index).fillna(0.0).to_numpy(), index=series.index, name="anomaly_score")


def _first_scored_time(observed: pd.Series | pd.DataFrame, min_history, refit: pd.Timedelta, min_points: int):
    """Timestamp of the first row that gets a real score (earlier rows are probationary)."""
    times = observed.index
    if isinstance(min_history, (int, np.integer)) and not isinstance(min_history, bool):
        rows = max(int(min_history), min_points, 1)
        return times[rows] if rows < len(times) else None
    span = to_timedelta(min_history, what="min_history") if min_history is not None else refit
    by_time = times[0] + span
    rows = max(min_points, 1)
    by_rows = times[rows] if rows < len(times) else None
    if by_rows is None:
        return None
    return max(by_time, by_rows)
