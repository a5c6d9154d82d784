"""Requests and limits for one container from the forecast of its usage (pure: series in, numbers out).

:class:`Rightsizer` forecasts with :class:`~promcast.rightsize.peaks.PeakForecaster` over the horizon:

- **CPU request**: the ``cpu_percentile`` (0.9, VPA's target percentile) of the forecast *hourly mean*
  over the horizon: VPA's rule applied to the weeks ahead (trend and busy hours included) instead of
  the days behind, so no safety margin for growth is needed. CPU is compressible: a busy minute above
  the request borrows idle cores;
- **CPU limit**: the highest *upper bound* of the forecast *hourly maximum*, plus ``limit_margin``:
  throttling only where even the upper bound is wrong;
- **memory request**: the highest forecast hourly maximum of the working set;
- **memory limit**: the highest upper bound of it, plus ``limit_margin``: memory cannot be throttled,
  a container above its limit is OOM-killed, so the limit follows the interval's upper bound.

Floors (10 millicores, 32 MiB) keep idle containers schedulable. :meth:`Rightsizer.risk` says what
a set of requests and limits would do over the horizon according to the forecast: hours of CPU
throttling (forecast hourly peak above the CPU limit), hours at OOM risk (upper bound above the
memory limit) and when the expected working set reaches the memory limit (``oom_at``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from ..errors import InputError
from ..maintenance.inputs import as_duration
from .peaks import HOUR, PeakForecaster

MIB = 2.0**20
GIB = 2.0**30


@dataclass(frozen=True)
class Resources:
    """Requests and limits of one container: cores and bytes (None: not set)."""

    cpu_request: float | None = None
    cpu_limit: float | None = None
    memory_request: float | None = None
    memory_limit: float | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def hourly(usage: pd.Series, how: str) -> pd.Series:
    """Hourly ``mean`` or ``max`` of ``usage`` (bins anchored at whole hours), empty hours dropped."""
    values = usage.dropna().astype(float)
    return getattr(values.resample(HOUR, origin="epoch", label="left", closed="left"), how)().dropna()


class Rightsizer(BaseEstimator):
    """Recommend requests and limits for one container from its CPU (cores) and memory (bytes) usage.

    Fitted: ``recommended_`` (:class:`Resources`), ``cpu_mean_``, ``cpu_peak_`` and ``memory_``
    (hourly forecasts, ``yhat, yhat_upper``), ``cpu_growth_`` (cores per day) and
    ``memory_growth_`` (bytes per day; both 0 when no growth is clear).
    """

    def __init__(self, horizon: str = "30d", interval: float = 0.95, limit_margin: float = 0.1,
                 cpu_percentile: float = 0.9, min_cpu: float = 0.01, min_memory: float = 32 * MIB):
        self.horizon = horizon
        self.cpu_percentile = cpu_percentile
        self.interval = interval
        self.limit_margin = limit_margin
        self.min_cpu = min_cpu
        self.min_memory = min_memory

    def fit(self, cpu: pd.Series, memory: pd.Series) -> "Rightsizer":
        horizon = as_duration(self.horizon, what="horizon")
        if horizon < HOUR:
            raise InputError(f"bad horizon {self.horizon!r}: right-sizing plans at least an hour ahead")
        margin = 1.0 + float(self.limit_margin)
        mean_model = PeakForecaster(self.interval).fit(hourly(cpu, "mean"))
        peak_model = PeakForecaster(self.interval).fit(hourly(cpu, "max"))
        memory_model = PeakForecaster(self.interval).fit(hourly(memory, "max"))
        self.cpu_mean_ = mean_model.predict(horizon)
        self.cpu_peak_ = peak_model.predict(horizon)
        self.memory_ = memory_model.predict(horizon)
        self.cpu_growth_ = mean_model.slope_
        self.memory_growth_ = memory_model.slope_
        self.last_ = memory_model.last_
        cpu_request = max(self.min_cpu, float(np.quantile(self.cpu_mean_["yhat"], self.cpu_percentile)))
        cpu_limit = max(cpu_request, float(self.cpu_peak_["yhat_upper"].max()) * margin)
        memory_request = max(self.min_memory, float(self.memory_["yhat"].max()))
        memory_limit = max(memory_request, float(self.memory_["yhat_upper"].max()) * margin)
        self.recommended_ = Resources(round_cpu(cpu_request), round_cpu(cpu_limit),
                                      round_memory(memory_request), round_memory(memory_limit))
        return self

    def risk(self, resources: Resources) -> dict:
        """Forecast trouble with ``resources`` over the horizon: ``throttled_hours``, ``oom_risk_hours``,
        ``oom_at`` (first hour the expected working set reaches the memory limit, None if never)."""
        if not hasattr(self, "recommended_"):
            raise NotFittedError("Rightsizer is not fitted yet; call fit(cpu, memory) first")
        throttled = 0
        if resources.cpu_limit:
            throttled = int((self.cpu_peak_["yhat"] > resources.cpu_limit).sum())
        risky, oom_at = 0, None
        if resources.memory_limit:
            risky = int((self.memory_["yhat_upper"] > resources.memory_limit).sum())
            over = np.flatnonzero(self.memory_["yhat"].to_numpy() >= resources.memory_limit)
            oom_at = self.memory_.index[over[0]] if len(over) else None
        return {"throttled_hours": throttled, "oom_risk_hours": risky, "oom_at": oom_at}


def round_cpu(cores: float) -> float:
    """Up to whole millicores (what a Kubernetes quantity like ``250m`` holds)."""
    return float(np.ceil(cores * 1000.0 - 1e-6) / 1000.0)


def round_memory(size: float) -> float:
    """Up to whole MiB."""
    return float(np.ceil(size / MIB - 1e-9) * MIB)
