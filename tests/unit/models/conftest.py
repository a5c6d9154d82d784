"""Series generators shared by the model tests: small, seeded, with known structure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

STEP = pd.Timedelta(minutes=15)
PER_DAY = 96


def daily_series(days: float = 4, noise: float = 0.5, seed: int = 0, step: pd.Timedelta = STEP,
                 start: str = "2024-01-01", level: float = 10.0, amplitude: float = 3.0) -> pd.Series:
    """A daily sine around ``level`` plus Gaussian noise, sampled every ``step`` (UTC)."""
    n = int(round(pd.Timedelta(days=days) / step))
    index = pd.date_range(start, periods=n, freq=step, tz="UTC")
    phase = 2 * np.pi * (index - index[0]).total_seconds().to_numpy() / 86400.0
    rng = np.random.default_rng(seed)
    return pd.Series(level + amplitude * np.sin(phase) + rng.normal(0.0, noise, n), index=index, name="value")


@pytest.fixture
def series() -> pd.Series:
    return daily_series()
