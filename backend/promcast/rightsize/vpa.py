"""The Kubernetes VPA recommender's published method, as a baseline to measure right-sizing against.

From the VPA recommender (``pkg/recommender/util/histogram.go``, ``decaying_histogram.go``,
``logic/recommender.go``, ``model/aggregate_container_state.go``):

- usage goes into **exponential histograms** (bucket ``i`` starts at ``first * (ratio**i - 1) /
  (ratio - 1)``, ``ratio`` 1.05; the first bucket is 0.01 cores for CPU, 1e7 bytes for memory);
- every sample's weight **decays** with a 24 h half-life (``2 ** ((t - ref) / half_life)``), so
  yesterday counts half as much as today;
- CPU: every usage sample is added; memory: one sample per 24 h aggregation interval, that
  interval's **peak**, keeping the latest 8 intervals;
- a **percentile** is the *end* of the bucket where the cumulative weight first reaches it (the start
  of the last bucket when it is the last); target = 90th percentile, lower bound 50th, upper bound 95th;
- a **safety margin** of 15 % on top, and minimums of 25 millicores and 250 MiB per pod;
- with the default ``controlledValues: RequestsAndLimits`` the requests become the target and the
  limits keep the pod's original limit-to-request ratio.

Left out: the confidence multipliers of the lower and upper bounds (the target, which becomes the
request, has none) and the OOM bump (an OOM adds a memory sample of 1.2x the usage), which needs the
recommender to run on after the OOM; the benchmark applies both methods' numbers once and watches.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from ..errors import InputError

MIB = 2.0**20


class DecayingHistogram:
    """VPA's exponential histogram with exponentially decaying sample weights."""

    def __init__(self, first_bucket: float, ratio: float = 1.05, max_value: float = 1e3,
                 half_life: pd.Timedelta = pd.Timedelta("24h")) -> None:
        self.first_bucket = float(first_bucket)
        self.ratio = float(ratio)
        self.half_life_s = pd.Timedelta(half_life).total_seconds()
        self.buckets = self.bucket_of(max_value) + 1
        self.weights = np.zeros(self.buckets)
        self.reference_s: float | None = None

    def bucket_start(self, bucket: int) -> float:
        return self.first_bucket * (self.ratio ** bucket - 1.0) / (self.ratio - 1.0)

    def bucket_of(self, value: float) -> int:
        if value < self.first_bucket:
            return 0
        bucket = int(math.floor(math.log(value * (self.ratio - 1.0) / self.first_bucket + 1.0, self.ratio)))
        # floating point: a value on a bucket's start belongs to that bucket
        while bucket > 0 and self.bucket_start(bucket) > value:
            bucket -= 1
        while self.bucket_start(bucket + 1) <= value:
            bucket += 1
        return min(bucket, getattr(self, "buckets", bucket + 1) - 1)

    def add(self, value: float, weight: float, time_s: float) -> None:
        """Add ``weight`` at ``value``, scaled by ``2 ** ((time - reference) / half_life)``."""
        if self.reference_s is None:
            self.reference_s = float(time_s)
        self.weights[self.bucket_of(max(0.0, float(value)))] += weight * 2.0 ** ((time_s - self.reference_s)
                                                                                  / self.half_life_s)

    def percentile(self, p: float) -> float:
        """End of the bucket where the cumulative weight first reaches ``p`` of the total (VPA's rule)."""
        total = self.weights.sum()
        if total <= 0:
            return 0.0
        cumulative = np.cumsum(self.weights)
        bucket = int(np.searchsorted(cumulative, p * total - 1e-12 * total))
        bucket = min(bucket, self.buckets - 1)
        if bucket < self.buckets - 1:
            return self.bucket_start(bucket + 1)
        return self.bucket_start(bucket)


class VpaRecommender(BaseEstimator):
    """VPA's target (and bounds) for one resource of one container from its usage history.

    ``resource`` is ``"cpu"`` (cores) or ``"memory"`` (bytes). Fitted: ``target_``, ``lower_bound_``,
    ``upper_bound_``.
    """

    def __init__(self, resource: str = "cpu", target_percentile: float = 0.9, safety_margin: float = 0.15,
                 half_life: str = "24h", memory_interval: str = "24h", memory_intervals: int = 8,
                 min_cpu: float = 0.025, min_memory: float = 250 * MIB):
        self.resource = resource
        self.target_percentile = target_percentile
        self.safety_margin = safety_margin
        self.half_life = half_life
        self.memory_interval = memory_interval
        self.memory_intervals = memory_intervals
        self.min_cpu = min_cpu
        self.min_memory = min_memory

    def fit(self, usage: pd.Series) -> "VpaRecommender":
        values = usage.dropna().astype(float)
        if values.empty:
            raise InputError("no usage samples to recommend from")
        times = np.asarray(pd.DatetimeIndex(values.index).as_unit("ns").asi8, dtype=np.int64) / 1e9
        if self.resource == "cpu":
            hist = DecayingHistogram(0.01, max_value=1000.0, half_life=pd.Timedelta(self.half_life))
            for value, t in zip(values.to_numpy(), times):
                hist.add(value, 1.0, t)
            floor = self.min_cpu
        elif self.resource == "memory":
            hist = DecayingHistogram(1e7, max_value=1e12, half_life=pd.Timedelta(self.half_life))
            interval = pd.Timedelta(self.memory_interval)
            peaks = values.resample(interval, origin="epoch").max().dropna().iloc[-int(self.memory_intervals):]
            for start, peak in peaks.items():
                hist.add(peak, 1.0, (start + interval).value / 1e9)
            floor = self.min_memory
        else:
            raise InputError(f"unknown resource {self.resource!r}: choose cpu or memory")
        self.histogram_ = hist
        margin = 1.0 + float(self.safety_margin)
        self.target_ = max(floor, hist.percentile(self.target_percentile) * margin)
        self.lower_bound_ = max(floor, hist.percentile(0.5) * margin)
        self.upper_bound_ = max(floor, hist.percentile(0.95) * margin)
        return self

    @property
    def recommendation(self) -> float:
        if not hasattr(self, "target_"):
            raise NotFittedError("VpaRecommender is not fitted yet; call fit(usage) first")
        return self.target_
