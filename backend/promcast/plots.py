"""``--plot`` pictures: history, forecast band and anomalies, drawn with matplotlib's Agg backend."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from .atomic import atomic_open
from .errors import InputError

ACTUAL = "#1f77b4"
FORECAST = "#ff7f0e"
ANOMALY = "#d62728"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: str | os.PathLike) -> None:
    """Write a figure as PNG atomically; a bad path is a clear InputError."""
    plt = _pyplot()
    try:
        with atomic_open(path, "wb") as handle:
            fig.savefig(handle, format="png", dpi=110, bbox_inches="tight")
    except (FileNotFoundError, NotADirectoryError, PermissionError, IsADirectoryError) as exc:
        raise InputError(f"cannot write plot {path}: {exc.strerror or exc}") from exc
    finally:
        plt.close(fig)


def plot_forecast(panels: list[tuple[str, pd.Series, pd.DataFrame]], path, *, title: str = "") -> None:
    """One axis per series: the actual values, ``yhat`` and the shaded band up to the horizon."""
    plt = _pyplot()
    fig, axes = plt.subplots(len(panels), 1, figsize=(11, 3.2 * len(panels)), squeeze=False, sharex=True)
    for ax, (name, actual, forecast) in zip(axes[:, 0], panels):
        ax.plot(actual.index, actual.to_numpy(), color=ACTUAL, lw=1, label="actual")
        ax.fill_between(forecast.index, forecast["yhat_lower"], forecast["yhat_upper"], color=FORECAST,
                        alpha=0.25, lw=0, label="band")
        ax.plot(forecast.index, forecast["yhat"], color=FORECAST, lw=1.2, label="yhat")
        ax.axvline(actual.index[-1], color="grey", lw=0.8, ls=":")
        ax.set_title(name, fontsize=9, loc="left")
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize=8)
    if title:
        fig.suptitle(title, y=1.01)
    fig.autofmt_xdate()
    save_figure(fig, path)


def plot_anomalies(panels: list[tuple[str, pd.Series, pd.Series]], path, *, threshold: float, title: str = "") -> None:
    """Per series: values with anomalous rows marked, and the anomaly score below with the threshold."""
    plt = _pyplot()
    fig, axes = plt.subplots(2 * len(panels), 1, figsize=(11, 4.2 * len(panels)), squeeze=False, sharex=True,
                             gridspec_kw={"height_ratios": [3, 1] * len(panels)})
    for i, (name, values, scores) in enumerate(panels):
        top, bottom = axes[2 * i, 0], axes[2 * i + 1, 0]
        top.plot(values.index, values.to_numpy(), color=ACTUAL, lw=1, label="value")
        flagged = scores.to_numpy() >= threshold
        if np.any(flagged):
            top.scatter(values.index[flagged], values.to_numpy()[flagged], color=ANOMALY, s=12, zorder=3,
                        label=f"anomaly (score >= {threshold:g})")
        top.set_title(name, fontsize=9, loc="left")
        top.grid(alpha=0.3)
        top.legend(loc="upper left", fontsize=8)
        bottom.plot(scores.index, scores.to_numpy(), color=ANOMALY, lw=0.8)
        bottom.axhline(threshold, color="grey", ls="--", lw=0.8)
        bottom.set_ylim(0, 1.02)
        bottom.set_ylabel("score", fontsize=8)
        bottom.grid(alpha=0.3)
    if title:
        fig.suptitle(title, y=1.01)
    fig.autofmt_xdate()
    save_figure(fig, path)
