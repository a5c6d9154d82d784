"""``artime``: ARTime (M. Hampton, 2022), adaptive resonance theory over windows of a downsampled series.

How it works, per the author's description of the NAB entry:

- **Downsample** every ``sstep`` rows to one value (the window's max or min, whichever is further from a
  moving average, unless it is within 10% of the mean), **normalise** it to [0, 1] on the range of the
  history and **discretise** it to ``levels`` (80) levels, snapping to a running median level when within
  ``chomp`` (0.075): small wiggles around the usual level vanish.
- **Features**: the last ``window`` (8) downsampled values and their full Haar wavelet transform, each
  min-max scaled.
- **Distributed dual-vigilance fuzzy ART** (DVFA): categories are fuzzy hyper-boxes (complement coded);
  a window's match with a category is ``feature_similarity**3 * energy_similarity**2`` (energy: the
  current level alone). A match above the upper vigilance ``rho_ub`` learns into the category, one above
  the lower vigilance ``rho_lb`` starts a new category of a known cluster, and a window below both starts
  a new *cluster*: that is the anomaly.
- **Warm-up**: the first ``probation`` rows (15% of NAB's file, at most 750) are buffered; the initial
  vigilance is the mean match of those windows learnt (most typical first) at vigilance 0.8. Afterwards
  both vigilances track the match history (every half trend window, and after each anomaly).
- **Confidence**: a new cluster scores by how far its match falls below both vigilances and how far the
  current level is from its best category's; alerts are masked while categories keep being created
  after an anomaly, unless the match drops clearly below the last anomaly's.

Every constant is the published one. Deviations for causality (NAB gives each detector the whole file's
min, max and length): the value range is the one seen so far (the learner starts on the fitted history's
range and is rebuilt on the range of every row seen, earlier rows replayed, when a value leaves it:
``rebuild_margin`` 0, :class:`.online.RangeRebuild`, which rations the rebuilds: a small exit waits until
the rows seen double, one that doubles the range is learnt at once; ``None`` keeps the fitted range and
clips levels to [0, ``levels``]; chosen by CV: 67.1 with it against 65.7 without), the spatial check (:mod:`.online`)
flags values beyond the range seen so far, and the probation is the fitted history (at most 750 rows):
fit on the rows the service or walk-forward has, then run online.
"""

from __future__ import annotations

import math
from collections import deque
from functools import partial
from typing import ClassVar

import numpy as np
import pandas as pd

from ..errors import InputError
from .online import SPATIAL_TOLERANCE, OnlineDetector
from .registry import register

_SQRT2 = math.sqrt(2.0)


def haar(x: np.ndarray) -> np.ndarray:
    """Full orthonormal Haar transform of a power-of-two length vector: [approximation, coarsest .. finest
    details]."""
    out = []
    a = np.asarray(x, dtype=float)
    while len(a) > 1:
        even, odd = a[0::2], a[1::2]
        out.append((even - odd) / _SQRT2)
        a = (even + odd) / _SQRT2
    return np.concatenate([a] + out[::-1])


def _unit(x: np.ndarray) -> np.ndarray:
    x = x - x.min()
    top = x.max()
    return x / top if top != 0 else x


class DualVigilanceArt:
    """Distributed dual-vigilance fuzzy ART: categories (columns of ``w``) in complement code."""

    def __init__(self, dim: int, rho_lb: float = 0.0, rho_ub: float = 0.0):
        self.dim = dim
        self.rho_lb = rho_lb
        self.rho_ub = rho_ub
        self.w = np.empty((2 * dim, 0))
        self.cluster: list[int] = []
        self.clusters = 0

    def train(self, x: np.ndarray, learning: bool = True) -> tuple[int, float, float]:
        """``(cluster or -1 for a new one, best match, its energy similarity)``; learns unless told not to."""
        sample = np.concatenate([x, 1.0 - x])
        if self.w.shape[1] == 0:  # the first sample only creates the all-ones category
            self.w = np.ones((2 * self.dim, 1))
            self.cluster, self.clusters = [1], 1
            return 1, 0.0, 0.0
        em = np.minimum(sample[:, None], self.w)
        norm_w = self.w.sum(axis=0)
        feature = em.sum(axis=0) / np.where(norm_w == 0, 0.001, norm_w)
        e = self.dim - 1
        energy_w = self.w[e] + self.w[-1]
        energy = np.where(energy_w > 0, (em[e] + em[-1]) / np.where(energy_w > 0, energy_w, 1.0), 1.0)
        match = feature ** 3 * energy ** 2
        best = int(np.argmax(match))
        top, top_energy = float(match[best]), float(energy[best])
        if not learning:
            return -1, top, top_energy
        resonant = match >= self.rho_ub
        if resonant.any():
            self.w[:, resonant] = em[:, resonant]  # fast learning: shrink the boxes onto the sample
            return self.cluster[best], top, top_energy
        if top >= self.rho_lb:  # a new category of the best cluster
            self.w = np.hstack([self.w, sample[:, None]])
            self.cluster.append(self.cluster[best])
            return self.cluster[best], top, top_energy
        self.clusters += 1
        self.w = np.hstack([self.w, sample[:, None]])
        self.cluster.append(self.clusters)
        return -1, top, top_energy


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity, with ``1 - |other|`` when one vector is zero."""
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0.0:
        return 1.0 - nb
    if nb == 0.0:
        return 1.0 - na
    return float(a @ b) / (na * nb)


class ArtimeLearner:
    """ARTime's per-row state machine (see the module docstring)."""

    def __init__(self, low: float, high: float, probation: int, window: int = 8, windows_per_probation: int = 13,
                 levels: int = 80, chomp: float = 0.075, initial_rho: float = 0.8):
        probation = min(probation, 750)
        probation -= probation % 2
        self.low, self.span = low, high - low
        self.window, self.levels, self.chomp, self.initial_rho = window, levels, chomp, initial_rho
        self.sstep = max(1, probation // (window * windows_per_probation))
        self.trend_window = max(window, probation // self.sstep)
        self.mask = window * 1.5
        self.i = 1
        self.dsi = 1
        self.ds_window = deque([0.0] * self.sstep, maxlen=self.sstep)
        self.ds_average = 0.0
        self.median_bins = np.zeros(levels + 1, dtype=int)
        self.median_level = self.below = self.above = 0
        self.f_window = deque([0.0] * window, maxlen=window)
        self.art = DualVigilanceArt(2 * window)
        self.buffer: list[np.ndarray] = []
        self.last_anomaly_i = 0
        self.last_anomaly_sim = 0.0
        self.last_rho_update_i = 0
        self.mask_after_cat = False
        self.no_new_cat = 0
        self.sim_sum, self.sim_count = 0.0, 0
        self.anomaly_sims: list[float] = []
        self.sim_window = deque([1.0] * (self.trend_window // 2 + 1), maxlen=self.trend_window // 2 + 1)
        self.sim_diff_window = deque([0.0] * (self.trend_window + 1), maxlen=self.trend_window + 1)

    def step(self, value: float) -> float:
        self.ds_window.append(value)
        anomaly = 0.0
        if self.i % self.sstep == 0:
            anomaly = self._features(self._downsample())
            self.dsi += 1
        self.i += 1
        return anomaly

    def _downsample(self) -> float:
        values = np.fromiter(self.ds_window, float)
        mean, top, bottom = float(values.mean()), float(values.max()), float(values.min())
        if self.dsi == 1:
            self.ds_average = mean
        self.ds_average = (self.ds_average + mean) / 2.0
        ds = bottom if abs(top - self.ds_average) < abs(bottom - self.ds_average) else top
        if abs(ds - mean) < 0.1 * mean:  # a spike must stand 10% out of the window's mean
            ds = mean
        ds -= self.low
        if self.span != 0:
            ds /= self.span
        level = min(max(int(round(ds * self.levels)), 0), self.levels)
        return self._snap(level)

    def _snap(self, level: int) -> float:
        """The level, or the running median level when it is within ``chomp`` of it."""
        bins = self.median_bins
        bins[level] += 1
        half = self.dsi // 2
        if self.dsi == 1:
            self.median_level = level
        if self.median_level > level:
            self.below += 1
        elif self.median_level < level:
            self.above += 1
        if half < self.above:
            self.below += bins[self.median_level]
            self.median_level += 1
            while bins[self.median_level] == 0:
                self.median_level += 1
            self.above -= bins[self.median_level]
        elif half < self.below:
            self.above += bins[self.median_level]
            self.median_level -= 1
            while bins[self.median_level] == 0:
                self.median_level -= 1
            self.below -= bins[self.median_level]
        ds, median = level / self.levels, self.median_level / self.levels
        return median if abs(ds - median) < self.chomp else ds

    def _features(self, ds: float) -> float:
        self.f_window.append(ds)
        features = np.zeros(2 * self.window)
        if self.dsi >= self.window:
            recent = np.fromiter(self.f_window, float)
            features = np.concatenate([_unit(haar(_unit(recent))), recent])
        i = self.dsi
        if i > self.trend_window:
            return self._detect(features, i)
        self.buffer.append(features)
        if i == self.trend_window:  # the warm-up batch: set the vigilance, then learn it in order
            rho = self._initial_rho(np.array(self.buffer[self.window - 1:]))
            self.art.rho_lb = self.art.rho_ub = rho
            for k, f in enumerate(self.buffer, start=1):
                self._detect(f, k)
            self.buffer = []
        return 0.0

    def _initial_rho(self, x: np.ndarray) -> float:
        """Mean match of the warm-up windows learnt most typical first at vigilance ``initial_rho``."""
        n = len(x)
        sims = np.ones((n, n))
        for a in range(n):
            for b in range(a):
                sims[a, b] = sims[b, a] = similarity(x[a], x[b])
        order = np.argsort(sims.sum(axis=0), kind="stable")
        art = DualVigilanceArt(self.art.dim, self.initial_rho, self.initial_rho)
        matches = [art.train(x[k])[1] for k in order]
        return float(np.mean(matches[self.trend_window // 2 - 1:])) if len(matches) >= self.trend_window // 2 else \
            float(np.mean(matches))

    def _detect(self, f: np.ndarray, i: int) -> float:
        since = i - self.last_anomaly_i
        update_after_anomaly = since == self.mask
        update_for_trend = (i - self.last_rho_update_i) >= self.trend_window // 2
        mask_after_anomaly = since <= self.mask
        if i > self.trend_window + self.mask and self.mask_after_cat and self.no_new_cat >= self.mask:
            self.mask_after_cat = False
        cat, sim, energy = self.art.train(f, learning=i >= self.window)
        self.no_new_cat = 0 if cat == -1 else self.no_new_cat + 1
        self.sim_sum += sim
        self.sim_count += 1
        self.sim_window.append(sim)
        self.sim_diff_window.append(self.art.rho_ub - sim)
        if since < self.mask and self.anomaly_sims:
            self.anomaly_sims[-1] = min(self.anomaly_sims[-1], sim)
        masking = self.mask_after_cat or mask_after_anomaly
        below_last = sim < self.last_anomaly_sim * (0.90 if mask_after_anomaly else 0.70)
        anomaly = 0.0
        if i > self.trend_window and cat == -1 and (not masking or below_last):
            anomaly = self._confidence(sim, energy)
            self.anomaly_sims.append(sim)
            self.last_anomaly_sim = sim
            self.last_anomaly_i = i
        self.mask_after_cat = cat == -1 or self.mask_after_cat
        if i > self.trend_window and (update_after_anomaly or update_for_trend):
            self._update_vigilance(i)
        return anomaly

    def _confidence(self, sim: float, energy: float) -> float:
        sim = min(0.999, sim)
        upper = ((1 - sim) - (1 - self.art.rho_ub)) / (1 - sim)
        lower = ((1 - sim) - (1 - self.art.rho_lb)) / (1 - sim)
        return float(min(1.0, max(0.0, upper * 0.35 + lower * 0.65 + (1.0 - energy) * 1.5)))

    def _update_vigilance(self, i: int) -> None:
        lowest = min(self.sim_window)
        upper = min(0.97, self.sim_sum / self.sim_count)
        lower = self.art.rho_lb
        if lower <= lowest:
            lower += (lowest - lower) * 0.19
        else:
            decrease = 0.0
            if i > self.trend_window * 2:
                below = [min(0.37, d) for d in self.sim_diff_window if d > 0.05]
                if below:
                    decrease = float(np.mean(below))
            lower -= max(0.01, decrease) / 2
            if self.anomaly_sims:
                lower = max(float(np.mean(self.anomaly_sims)), lower)
        self.art.rho_lb, self.art.rho_ub = min(upper, lower), upper
        self.last_rho_update_i = i
        self.mask_after_cat = True


@register("artime")
class ArtimeModel(OnlineDetector):
    """ARTime over the values, plus the spatial check; online (see :mod:`.online`)."""

    #: median of the standard profile's training-fold thresholds (``promcast evaluate --nab
    #: ../shared/data/nab --model artime --cv 4``: 0.8976, 0.5602, 0.5602, 0.5602)
    cv_threshold: ClassVar[float | None] = 0.5602

    def __init__(self, window: int = 8, windows_per_probation: int = 13, levels: int = 80, chomp: float = 0.075,
                 initial_rho: float = 0.8, spatial_tolerance: float | None = SPATIAL_TOLERANCE,
                 rebuild_margin: float | None = 0.0, rebuild_pad: float = 0.0):
        self.window = window
        self.windows_per_probation = windows_per_probation
        self.levels = levels
        self.chomp = chomp
        self.initial_rho = initial_rho
        self.spatial_tolerance = spatial_tolerance
        self.rebuild_margin = rebuild_margin
        self.rebuild_pad = rebuild_pad

    def _factory(self, y: pd.Series):
        try:
            window, per, levels = int(self.window), int(self.windows_per_probation), int(self.levels)
            chomp, rho = float(self.chomp), float(self.initial_rho)
        except (TypeError, ValueError) as exc:
            raise InputError(f"bad artime parameters: {exc}") from exc
        if window < 2 or window & (window - 1) or per < 1 or levels < 2 or not 0 <= chomp < 1 or not 0 < rho <= 1:
            raise InputError(f"bad artime parameters window={window}, windows_per_probation={per}, levels={levels}, "
                             f"chomp={chomp}, initial_rho={rho}: window a power of two >= 2, levels >= 2, "
                             "chomp in [0, 1), initial_rho in (0, 1]")
        return partial(ArtimeLearner, probation=len(y), window=window, windows_per_probation=per, levels=levels,
                       chomp=chomp, initial_rho=rho)
