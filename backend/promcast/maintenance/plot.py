"""``--plot``: history, projection and the limit line in one picture, written atomically.

Uses matplotlib's object API with the Agg canvas (no pyplot, no display, no global backend switch),
so it is safe in the CLI, in tests and in a threaded server.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..atomic import atomic_open
from ..errors import InputError
from ..sources.base import History

_FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}


def plot_projection(history: pd.Series | History, projection: pd.Series | pd.DataFrame | None,
                    limit: float | None, path: str | os.PathLike, title: str | None = None, *,
                    limit_label: str = "limit", ylabel: str | None = None) -> Path:
    """Draw ``history`` (solid), ``projection`` (dashed; a ``yhat/yhat_lower/yhat_upper`` frame is drawn
    with its band) and a horizontal line at ``limit``; write it to ``path`` (PNG, SVG or PDF by suffix).

    The file is replaced atomically: a failed plot never leaves half an image.
    """
    path = Path(path)
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(f"plot file {path} must end in .png, .svg or .pdf")
    if not path.parent.is_dir():
        raise InputError(f"cannot write plot {path}: directory {path.parent} does not exist")
    if isinstance(history, History):
        title = title or history.legend
        history = history.values
    fig = Figure(figsize=(10, 4.5), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.plot(_naive(history.index), history.to_numpy(dtype=float), lw=1.0, color="tab:blue", label="history")
    if projection is not None and len(projection):
        if isinstance(projection, pd.DataFrame):
            x = _naive(projection.index)
            ax.plot(x, projection["yhat"].to_numpy(dtype=float), "--", lw=1.2, color="tab:orange", label="forecast")
            if {"yhat_lower", "yhat_upper"} <= set(projection.columns):
                ax.fill_between(x, projection["yhat_lower"].to_numpy(dtype=float),
                                projection["yhat_upper"].to_numpy(dtype=float), color="tab:orange", alpha=0.2,
                                lw=0, label="band")
        else:
            ax.plot(_naive(projection.index), projection.to_numpy(dtype=float), "--", lw=1.2, color="tab:orange",
                    label="projection")
    if limit is not None:
        ax.axhline(float(limit), color="tab:red", lw=1.0, label=f"{limit_label} {float(limit):g}")
    ax.set_title(title or "")
    ax.set_xlabel("time (UTC)")
    if ylabel:
        ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    with atomic_open(path, "wb") as handle:
        fig.savefig(handle, format=fmt, dpi=100)
    return path


def _naive(index: pd.DatetimeIndex):
    """Matplotlib wants naive datetimes; everything here is UTC."""
    index = pd.DatetimeIndex(index)
    return (index.tz_convert("UTC").tz_localize(None) if index.tz is not None else index).to_pydatetime()
