"""Labelled scenarios with known truth for the predictive-maintenance benchmark and tests.

Every scenario is a pure function of ``(family, seed)``: the same seed gives the same series, truth
and evaluation times on any machine. Truth is computed from the noise-free signal, the series the
predictors see has noise added.

Disks (values are space used; half in percent with capacity 100, half in bytes with the disk size):

- ``linear_fill``: steady fill; some with a cleanup drop or a rate change earlier in the history.

  Every fill grows slower at weekends (x0.5-1) and by up to +-25 % from day to day (smooth), so
  the future's rate is never exactly the past's.
- ``accelerating_fill``: growth that speeds up (quadratic or exponential).
- ``quiet_then_fill``: flat for a while, then filling (starts 9-13 days before full).
- ``rotation_fill``: logs grow all day and the nightly rotation removes most but not all of it.
- ``stable_cycles``: no trend; daily business-hours cycle, rotation sawtooth or nightly backup
  dump, some with a one-off step or a slight decline.
- ``stable_nearly_full``: 88-95 % used with small cycles, not growing.
- ``cleanup_fill``: a cleanup (daily, every 2 days or weekly) removes 40-90 % of what was written since
  the last one; net growth remains and the disk fills at a peak just before a cleanup.
- ``messy_fill``: a fill scraped every 1-15 minutes with jittered timestamps, 1-4 gaps of 1-8 hours
  and duplicated timestamps (half the ``rotation_fill`` disks are scraped every 15 minutes likewise).
- ``resize_fill``: percent of a volume resized by x1.25-2 during the history: the percent drops, then
  fills more slowly.
- ``stable_batch``: a batch job writes 5-30 % over a few hours every day and a later one deletes it.
- ``stable_messy``: ``stable_cycles`` scraped like ``messy_fill``.

Filling disks carry ``full_at`` (the noise-free usage's first touch of the capacity, the daily peak
included) and are evaluated 14, 7, 3 and 1 days before it (``eval_leads``; those before a fill began
are left out); stable disks are evaluated every 6 hours over their last 3 days and must never be said
to fill within 30 days.

Processes (values are resident bytes, GC sawtooth with periods of 3-30 minutes, sampled every 1, 2
or 5 minutes):

- ``leak``: troughs climb linearly until the peaks reach the limit (OOM) 2-21 days after the process
  started; half have the previous incarnation (which OOM-ed into this start) in their history.
- ``healthy_daily``: long-running, daily (and weekly) load, no trend.
- ``warmup_flat``: restart, warm-up curve (time constant 0.5-4 h) to a plateau, flat after.
- ``deploy_step``: flat, then a deploy: a restart and warm-up to a higher plateau, or a step up
  without restart; flat after.
- ``recent_leak``: a long-running healthy process starts leaking 1.5-4.5 days before its OOM.
- ``restarting_leak``: deploys restart the process every 0.3-0.9 of its lifetime; the latest run
  leaks into an OOM 1.5-6 days after it started.
- (40 % of the recent and restarting leaks have a strong daily load, so the OOM comes at a peak.)
- ``jvm_heap``: the sawtooth's peaks grow towards a max heap over hours or days, troughs flat.
- ``nightly_restart``: restarted every night, the same warm-up to the same plateau each day.
- ``weekly_cycle``: strong daily load, 30-60 % of it at weekends, no trend.
- A quarter of the recent/restarting leaks, weekly cycles and nightly restarts are scraped irregularly.

Leaks carry ``oom_at`` and are evaluated 72, 48, 24 and 12 hours before it (the ones at least 6 hours
after the process started, or 12 hours after a recent leak began: its ``started_at``); healthy
processes at the times in ``eval_times``.

Capacity (hourly load with daily and weekly seasonality, 28 days of history): ``seasonal_growth`` with
a known date when the noise-free load first crosses ``capacity * (1 - headroom)`` 4-25 days after the
history ends, and ``seasonal_flat`` that never crosses.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

DAY = pd.Timedelta(days=1)
HOUR = pd.Timedelta("1h")
MIB = 2.0**20
GIB = 2.0**30
_ANCHOR = pd.Timestamp("2024-03-04", tz="UTC")

FILLING_FAMILIES = ("linear_fill", "accelerating_fill", "quiet_then_fill", "rotation_fill", "cleanup_fill",
                    "messy_fill", "resize_fill")
STABLE_FAMILIES = ("stable_cycles", "stable_nearly_full", "stable_batch", "stable_messy")
DISK_FAMILIES = FILLING_FAMILIES + STABLE_FAMILIES
LEAK_FAMILIES = ("leak", "recent_leak", "restarting_leak")
HEALTHY_FAMILIES = ("healthy_daily", "warmup_flat", "deploy_step", "jvm_heap", "nightly_restart", "weekly_cycle")
PROCESS_FAMILIES = LEAK_FAMILIES + HEALTHY_FAMILIES
#: days before the true time to full at which filling disks are evaluated
DISK_LEADS = (14, 7, 3, 1)
CAPACITY_FAMILIES = ("seasonal_growth", "seasonal_flat")


@dataclass(frozen=True)
class DiskScenario:
    name: str
    family: str
    seed: int
    capacity: float
    series: pd.Series = field(repr=False)
    #: noise-free time the usage first reaches the capacity (None: never)
    full_at: pd.Timestamp | None
    #: where evaluations end their history
    eval_times: tuple[pd.Timestamp, ...]
    notes: str = ""
    #: days before full of each evaluation time (filling disks; evaluations before the fill began are left out)
    eval_leads: tuple[int, ...] = ()

    @property
    def filling(self) -> bool:
        return self.full_at is not None


@dataclass(frozen=True)
class ProcessScenario:
    name: str
    family: str
    seed: int
    limit: float
    series: pd.Series = field(repr=False)
    #: noise-free time the peaks reach the limit (None: healthy)
    oom_at: pd.Timestamp | None
    #: when the current process started
    started_at: pd.Timestamp
    eval_times: tuple[pd.Timestamp, ...]
    notes: str = ""

    @property
    def leaking(self) -> bool:
        return self.oom_at is not None


@dataclass(frozen=True)
class CapacityScenario:
    name: str
    family: str
    seed: int
    capacity: float
    headroom: float
    horizon: pd.Timedelta
    #: observed history (ends "now")
    series: pd.Series = field(repr=False)
    #: the noise-free load after the history (for plots and checks)
    future: pd.Series = field(repr=False)
    #: first time the noise-free load crosses capacity * (1 - headroom) (None: not within the horizon)
    crossing_at: pd.Timestamp | None
    notes: str = ""


def history(series: pd.Series, end: pd.Timestamp, length: pd.Timedelta = pd.Timedelta(days=14)) -> pd.Series:
    """The part of ``series`` an evaluation at ``end`` sees: ``(end - length, end]``."""
    length = pd.Timedelta(length)
    return series[(series.index > end - length) & (series.index <= end)]


# ---- helpers -------------------------------------------------------------------------------------
def _rng(kind: str, family: str, seed: int) -> np.random.Generator:
    return np.random.default_rng([zlib.crc32(f"{kind}/{family}".encode()), seed])


def _grid(start: pd.Timestamp, end: pd.Timestamp, step: pd.Timedelta) -> pd.DatetimeIndex:
    return pd.date_range(start, end, freq=step)


def _secs(index: pd.DatetimeIndex) -> np.ndarray:
    return np.asarray((index - pd.Timestamp(0, tz="UTC")).total_seconds(), dtype=float)


def _hour(t: np.ndarray) -> np.ndarray:
    return np.mod(t, 86400.0) / 3600.0


def _bell(t: np.ndarray, peak_hour: float, sharpness: float = 1.0) -> np.ndarray:
    """Daily cycle in [0, 1], 1 at ``peak_hour`` UTC (sharper with ``sharpness`` > 1)."""
    return (0.5 * (1.0 + np.cos(2 * np.pi * (_hour(t) - peak_hour) / 24.0))) ** sharpness


def _weekly(t: np.ndarray, weekend: float) -> np.ndarray:
    """1 on weekdays, ``weekend`` on Saturday and Sunday (epoch day 0 is a Thursday)."""
    dow = np.mod(np.floor(t / 86400.0) + 3, 7)  # 0 = Monday
    return np.where(dow >= 5, weekend, 1.0)


def _rotation(t: np.ndarray, hour: float, busy: float) -> np.ndarray:
    """Log volume since the last rotation at ``hour`` UTC, in [0, 1]: grows faster in busy hours."""
    phase = np.mod(t - hour * 3600.0, 86400.0) / 86400.0
    return phase - busy * np.sin(2 * np.pi * phase) / (2 * np.pi)


def _smooth(rng: np.random.Generator, t: np.ndarray, knot_s: float) -> np.ndarray:
    """Smooth standard-normal-ish wander with knots ``knot_s`` apart."""
    k = (t - t[0]) / knot_s
    knots = rng.standard_normal(int(np.ceil(k[-1])) + 2)
    i = np.floor(k).astype(int)
    f = k - i
    w = f * f * (3 - 2 * f)
    return knots[i] * (1 - w) + knots[i + 1] * w


def _first_reach(index: pd.DatetimeIndex, values: np.ndarray, limit: float) -> pd.Timestamp | None:
    """First time ``values`` (on ``index``) reaches ``limit``, linearly interpolated between points."""
    hit = np.flatnonzero(values >= limit)
    if not len(hit):
        return None
    k = int(hit[0])
    if k == 0:
        return index[0]
    v0, v1 = values[k - 1], values[k]
    frac = (limit - v0) / (v1 - v0) if v1 > v0 else 1.0
    return index[k - 1] + (index[k] - index[k - 1]) * float(frac)


# ---- disks ---------------------------------------------------------------------------------------
def make_disk(family: str, seed: int) -> DiskScenario:
    """One disk scenario of ``family`` (see the module docstring)."""
    if family not in DISK_FAMILIES:
        raise ValueError(f"unknown disk family {family!r}")
    rng = _rng("disk", family, seed)
    in_bytes = bool(rng.integers(2)) and family != "resize_fill"  # a resize shows as a percent drop
    capacity = float(rng.choice([50, 100, 200, 500, 1000, 2000]) * GIB) if in_bytes else 100.0
    step = pd.Timedelta("5min")
    start = _ANCHOR + pd.Timedelta(days=int(rng.integers(0, 60)), minutes=int(rng.integers(0, 1440)))
    filling = family in FILLING_FAMILIES
    span = pd.Timedelta(days=30) if filling else pd.Timedelta(days=17)
    index = _grid(start, start + span, step)
    t = _secs(index)
    s = (t - t[0]) / 86400.0  # days since start
    notes = []

    # daily cycle (fractions of capacity), peak offset above the trend
    cycle_kind = family_cycle = "none"
    if family == "rotation_fill":
        family_cycle = "rotation"
    elif family == "cleanup_fill":
        family_cycle = "none"  # the cleanups draw the sawtooth
    elif family == "stable_batch":
        family_cycle = "batch"
    elif family in ("stable_cycles", "stable_messy"):
        family_cycle = rng.choice(["bell", "rotation", "backup"], p=[0.4, 0.4, 0.2])
    elif family == "stable_nearly_full":
        family_cycle = rng.choice(["none", "bell", "rotation"], p=[0.2, 0.5, 0.3])
    else:
        family_cycle = rng.choice(["none", "bell", "rotation"], p=[0.5, 0.35, 0.15])
    cycle_kind = str(family_cycle)
    if cycle_kind == "bell":
        amp = {"stable_cycles": (0.02, 0.15), "stable_messy": (0.02, 0.15),
               "stable_nearly_full": (0.005, 0.04)}.get(family, (0.005, 0.03))
        cycle = rng.uniform(*amp) * _bell(t, rng.uniform(9, 20), rng.choice([1.0, 3.0]))
    elif cycle_kind == "rotation":
        amp = {"stable_cycles": (0.05, 0.25), "stable_messy": (0.05, 0.25), "stable_nearly_full": (0.005, 0.04),
               "rotation_fill": (0.03, 0.25)}.get(family, (0.01, 0.04))
        cycle = rng.uniform(*amp) * _rotation(t, float(rng.integers(0, 6)), rng.uniform(0.0, 0.8))
    elif cycle_kind == "backup":
        start_h, hours = rng.uniform(0, 4), rng.uniform(1, 3)
        in_dump = np.mod(_hour(t) - start_h, 24.0) < hours
        cycle = np.where(in_dump, rng.uniform(0.05, 0.15), 0.0)
    elif cycle_kind == "batch":
        # a batch job writes its output over a few hours every day and a later job deletes it
        start_h, hours, keep = rng.uniform(0, 24), rng.uniform(2, 8), rng.uniform(2, 10)
        into = np.mod(_hour(t) - start_h, 24.0)
        ramp = np.clip(into / hours, 0.0, 1.0) * (into < hours + keep)
        cycle = rng.uniform(0.05, 0.3) * ramp
    else:
        cycle = np.zeros_like(t)
    peak = float(cycle.max())
    notes.append(f"cycle={cycle_kind}")

    end_day = span / DAY - 2.0  # target full time, days after start (the series stops at the truth)
    u_end = 1.0 - peak
    fill_start = 0.0  # when the current fill began (days after start)
    if filling:
        # real fills do not grow at a constant rate: slower at weekends, busier some days than others
        weekend, jitter = rng.uniform(0.5, 1.0), rng.uniform(0.0, 0.25)
        factor = _weekly(t, weekend) * np.clip(1 + jitter * _smooth(rng, t, 86400.0), 0.2, None)
        notes.append(f"weekend growth x{weekend:.2f}, daily jitter {jitter:.2f}")
    scale_to_full = None  # (floor, shape): usage = floor + k * shape with k so that it first touches 1 near end_day
    if family == "linear_fill":
        u_s = rng.uniform(0.1, 0.6)
        variant = rng.choice(["plain", "cleanup", "rate_change"], p=[0.45, 0.3, 0.25])
        if variant == "cleanup":
            s_drop = rng.uniform(2.0, end_day - 8.5)
            drop = rng.uniform(0.05, 0.15)
            rate = (u_end - u_s + drop) / end_day
            trend = u_end - rate * (end_day - s) + np.where(s < s_drop, drop, 0.0)
        elif variant == "rate_change":
            s_c = rng.uniform(3.0, end_day - 9.0)
            rate = (u_end - u_s) / end_day * rng.uniform(1.2, 1.6)
            rate1 = rate * rng.uniform(0.2, 0.6)
            at_c = u_end - rate * (end_day - s_c)
            trend = np.where(s >= s_c, u_end - rate * (end_day - s), at_c - rate1 * (s_c - s))
        else:
            rate = (u_end - u_s) / end_day
            trend = u_end - rate * (end_day - s)
        notes.append(f"variant={variant}")
    elif family == "accelerating_fill":
        u_s = rng.uniform(0.1, 0.5)
        if rng.integers(2):
            k = rng.uniform(2.0, 5.0)  # final rate / initial rate
            r0 = (u_end - u_s) / (end_day * (k + 1) / 2.0)
            trend = u_s + r0 * s + (k - 1) * r0 * s * s / (2 * end_day)
            notes.append(f"quadratic k={k:.1f}")
        else:
            tau = rng.uniform(8.0, 20.0)
            amp = (u_end - u_s) / np.expm1(end_day / tau)
            trend = u_s + amp * np.expm1(s / tau)
            notes.append(f"exponential tau={tau:.1f}d")
    elif family == "quiet_then_fill":
        u_q = rng.uniform(0.15, 0.6)
        s_f = end_day - 7.0 - rng.uniform(2.0, 6.0)
        rate = (u_end - u_q) / (end_day - s_f)
        trend = np.where(s < s_f, u_q, u_q + rate * (s - s_f))
        fill_start = s_f
        notes.append(f"fill starts {end_day - s_f:.1f}d before full")
    elif family == "cleanup_fill":
        # a cleanup (a daily batch, or a weekly cron) removes a share of what was written since the last
        # one: usage saws up and fills at a peak just before a cleanup
        period = float(rng.choice([1.0, 1.0, 2.0, 7.0]))
        share = rng.uniform(0.4, 0.9)
        at = rng.uniform(0.0, period)
        gross = np.concatenate([[0.0], np.cumsum(factor[1:] * np.diff(s))])
        last = np.floor((s - at) / period) * period + at  # latest cleanup (days after start)
        gross_at_last = np.interp(np.clip(last, 0.0, None), s, gross)
        scale_to_full = (rng.uniform(0.2, 0.5), gross - share * gross_at_last)
        notes.append(f"cleanup every {period:g}d removes {share:.0%}")
    elif family == "messy_fill":
        u_s = rng.uniform(0.1, 0.6)
        rate = (u_end - u_s) / end_day
        trend = u_s + rate * s
    elif family == "resize_fill":
        # used bytes grow steadily; the volume is resized by k at s_r, so the percent drops and then
        # keeps filling k times slower
        k = rng.uniform(1.25, 2.0)
        s_r = rng.uniform(3.0, end_day - 10.0)
        u_s = rng.uniform(0.3, 0.6)
        rate = (k * u_end - u_s) / end_day
        if u_s + rate * s_r > 0.97 - peak:
            s_r = (0.97 - peak - u_s) / rate
        grown = u_s + rate * s
        trend = np.where(s >= s_r, grown / k, grown)
        cycle = np.where(s >= s_r, cycle / k, cycle)
        notes.append(f"resized x{k:.2f} at day {s_r:.1f}")
    elif family == "rotation_fill":
        u_s = rng.uniform(0.2, 0.6)
        rate = (u_end - u_s) / end_day
        trend = u_s + rate * s
    elif family in ("stable_cycles", "stable_messy", "stable_batch"):
        level = rng.uniform(0.3, 0.93 - peak)
        trend = np.full_like(s, level)
        if rng.random() < 0.3:
            s_step, height = rng.uniform(1.0, span / DAY - 0.5), rng.uniform(-0.05, 0.05)
            trend = trend + np.where(s >= s_step, height, 0.0)
            notes.append(f"step {height:+.3f} at day {s_step:.1f}")
        if rng.random() < 0.2:
            trend = trend - rng.uniform(0.0005, 0.003) * s
            notes.append("slight decline")
    else:  # stable_nearly_full
        level = min(rng.uniform(0.88, 0.95), 0.975 - peak)
        trend = np.full_like(s, level)
        if rng.random() < 0.25:
            s_step, height = rng.uniform(1.0, span / DAY - 0.5), rng.uniform(-0.02, 0.015)
            height = min(height, 0.975 - peak - level)
            trend = trend + np.where(s >= s_step, height, 0.0)
            notes.append(f"step {height:+.3f} at day {s_step:.1f}")

    if scale_to_full is not None:
        floor, shape = scale_to_full
        k = (1.0 - floor) / float(shape[s <= end_day].max())
        trend = floor + k * shape
    elif filling:
        steps = np.diff(trend)
        growth = steps > 0
        f = factor[1:] / np.mean(factor[1:][growth])  # same total growth, so the fill date stays put
        trend = trend[0] + np.concatenate([[0.0], np.cumsum(np.where(growth, steps * f, steps))])
    clean = trend + cycle
    white = rng.uniform(0.0002, 0.002) * rng.standard_normal(len(t))
    wander = rng.uniform(0.0, 0.003) * _smooth(rng, t, rng.uniform(1, 6) * 3600.0)
    if family == "stable_nearly_full":
        wander *= 0.5
    observed = np.clip(clean + white + wander, 0.0, 1.0)
    full_at = _first_reach(index, clean, 1.0) if filling else None
    if filling:
        if full_at is None:  # pragma: no cover - parameters above always reach it
            raise AssertionError(f"{family}/{seed} never fills")
        keep = index <= full_at
        index, observed = index[keep], observed[keep]
        # a fill that has not begun cannot be foreseen: evaluate from a day after it began
        began = index[0] + pd.Timedelta(days=fill_start + 1.0)
        leads = tuple(d for d in DISK_LEADS if full_at - d * DAY >= began)
        evals = tuple(full_at - d * DAY for d in leads)
    else:
        leads = ()
        end = index[-1]
        evals = tuple(end - k * pd.Timedelta("6h") for k in range(12, -1, -1))
    series = pd.Series(observed * capacity, index=index, name="used")
    series.index.name = "timestamp"
    if family in ("messy_fill", "stable_messy") or (family == "rotation_fill" and rng.random() < 0.5):
        series = messy(rng, series, steps=(1, 2, 5, 10, 15) if family != "rotation_fill" else (15,))
        notes.append(f"messy sampling, median step {series.index.to_series().diff().median()}")
    return DiskScenario(name=f"{family}-{seed}", family=family, seed=seed, capacity=capacity, series=series,
                        full_at=full_at, eval_times=tuple(evals), notes=", ".join(notes), eval_leads=leads)


def messy(rng: np.random.Generator, series: pd.Series, *, steps=(1, 2, 5, 10, 15)) -> pd.Series:
    """``series`` as a real scrape would deliver it: a step of 1-15 minutes with jittered timestamps,
    a few multi-hour gaps and some duplicated timestamps (values read off the regular series)."""
    step = float(rng.choice(steps)) * 60.0
    t0, t1 = _secs(series.index[[0, -1]])
    n = int((t1 - t0) / step * 1.5) + 2
    t = t0 + np.cumsum(step * rng.uniform(0.6, 1.4, n))
    t = t[t <= t1]
    for _ in range(int(rng.integers(1, 5))):  # gaps of 1-8 hours, not in the last day
        a = rng.uniform(t0, max(t0, t1 - 86400.0 * 1.5))
        t = t[(t < a) | (t > a + rng.uniform(1, 8) * 3600.0)]
    dup = rng.random(len(t)) < 0.01
    t = np.sort(np.concatenate([t, t[dup]]))
    src = _secs(series.index)
    values = np.interp(t, src, series.to_numpy(dtype=float))
    noise = 1e-4 * float(np.median(np.abs(values))) * rng.standard_normal(len(t))
    index = pd.to_datetime(np.round(t * 1000).astype("int64"), unit="ms", utc=True)
    out = pd.Series(np.clip(values + noise, 0.0, None), index=index, name=series.name)
    out.index.name = "timestamp"
    return out


def disk_scenarios(per_family: int = 30, seed: int = 0) -> list[DiskScenario]:
    """``per_family`` disks of each family (330 by default)."""
    return [make_disk(f, seed * 100_000 + i) for f in DISK_FAMILIES for i in range(per_family)]


# ---- processes -----------------------------------------------------------------------------------
def make_process(family: str, seed: int) -> ProcessScenario:
    """One process scenario of ``family`` (see the module docstring)."""
    if family not in PROCESS_FAMILIES:
        raise ValueError(f"unknown process family {family!r}")
    rng = _rng("process", family, seed)
    step = pd.Timedelta(minutes=int(rng.choice([1, 2, 5])))
    level = float(rng.uniform(200, 2048)) * MIB
    limit = float(np.round(level * rng.uniform(2.0, 4.0) / MIB) * MIB)
    gc_period = rng.uniform(3, 30) * 60.0
    gc_amp = rng.uniform(0.05, 0.3) * level
    load_amp = rng.uniform(0.0, 0.2) * level
    load_peak, sharp, weekend = rng.uniform(9, 20), rng.choice([1.0, 2.0]), rng.uniform(0.6, 1.0)
    warm_frac, warm_tau = rng.uniform(0.2, 0.6), rng.uniform(0.5, 4.0) * 3600.0
    gc_phase = rng.uniform(0, gc_period)
    notes = [f"step={step}"]
    now = _ANCHOR + pd.Timedelta(days=int(rng.integers(20, 80)), minutes=int(rng.integers(0, 1440)))

    def warm(age_s):
        return np.where(age_s >= 0, 1.0 - warm_frac * np.exp(-np.clip(age_s, 0, None) / warm_tau), 1.0)

    oom_at = None
    onset = None  # recent_leak: when the leak began in a long-running process
    restarts: list[pd.Timestamp] = []  # restarting_leak / nightly_restart: earlier restarts in the history
    if family in ("recent_leak", "restarting_leak") and rng.random() < 0.4:
        load_amp = rng.uniform(0.2, 0.45) * level  # a busy day: the OOM comes at its peak
        notes.append("strong daily load")
    if family == "leak":
        lifetime = float(np.exp(rng.uniform(np.log(2.0), np.log(21.0))))
        started = now
        prior = rng.random() < 0.5
        hist_start = started - pd.Timedelta(days=float(rng.uniform(1.0, 4.0))) if prior else started
        rate = (limit - level - gc_amp - load_amp) / (lifetime * 86400.0)  # bytes per second
        end = started + pd.Timedelta(days=lifetime + 3.0)  # a weekend's lower peaks may delay the OOM
        notes.append(f"lifetime={lifetime:.1f}d prior={prior}")
    elif family == "recent_leak":
        # a long-running, healthy process starts leaking: a code path that began to be hit, a cache
        # without eviction; the OOM comes 1.5-4.5 days later
        lifetime = float(rng.uniform(1.5, 4.5))
        onset = now
        started = now - pd.Timedelta(days=30)
        hist_start = onset - pd.Timedelta(days=float(rng.uniform(5.0, 12.0)))
        rate = (limit - level - gc_amp - load_amp) / (lifetime * 86400.0)
        end = onset + pd.Timedelta(days=lifetime + 3.0)
        notes.append(f"leak began {lifetime:.1f}d before the OOM")
    elif family == "restarting_leak":
        # deploys restart the process every so often, before the leak kills it; the latest run lives long
        # enough to be OOM-killed
        lifetime = float(rng.uniform(1.5, 6.0))
        started = now
        hist_start = started - pd.Timedelta(days=float(rng.uniform(3.0, 8.0)))
        at = started
        while at > hist_start:
            at = at - pd.Timedelta(days=float(rng.uniform(0.3, 0.9) * lifetime))
            restarts.append(at)
        rate = (limit - level - gc_amp - load_amp) / (lifetime * 86400.0)
        end = started + pd.Timedelta(days=lifetime + 3.0)
        notes.append(f"lifetime={lifetime:.1f}d, {len(restarts)} earlier restarts")
    elif family in ("healthy_daily", "weekly_cycle"):
        load_amp = rng.uniform(0.05, 0.3) * level
        if family == "weekly_cycle":
            load_amp, weekend = rng.uniform(0.2, 0.5) * level, rng.uniform(0.3, 0.6)
        end = now
        hist_start = end - pd.Timedelta(days=float(rng.uniform(10, 16)))
        started = hist_start - pd.Timedelta(days=30)
        rate = 0.0
    elif family == "warmup_flat":
        started = now
        hist_start = started - pd.Timedelta(days=float(rng.uniform(0.0, 2.0)))
        end = started + pd.Timedelta(days=3)
        rate = 0.0
        notes.append(f"warm-up tau={warm_tau / 3600:.1f}h frac={warm_frac:.2f}")
    elif family == "jvm_heap":
        # the heap grows towards its maximum: the sawtooth's peaks rise for hours or days, its troughs
        # (the live set) stay flat
        started = now
        hist_start = started - pd.Timedelta(days=float(rng.uniform(0.0, 3.0)))
        end = started + pd.Timedelta(days=3)
        rate = 0.0
        heap_tau = rng.uniform(4.0, 36.0) * 3600.0
        heap_max = min(rng.uniform(0.3, 1.0) * level, 0.85 * limit - level - gc_amp - load_amp)
        notes.append(f"heap grows to +{heap_max / level:.0%} (tau {heap_tau / 3600:.0f}h)")
    elif family == "nightly_restart":
        end = now
        hist_start = end - pd.Timedelta(days=float(rng.uniform(5.0, 12.0)))
        hour = float(rng.uniform(0, 6))
        first = hist_start.floor("D") + pd.Timedelta(hours=hour)
        restarts = list(pd.date_range(first, end, freq="1D"))
        started = restarts.pop() if restarts[-1] <= end else restarts[-1]
        rate = 0.0
        notes.append(f"restarts daily at {hour:.1f}h")
    else:  # deploy_step
        started = now
        hist_start = started - pd.Timedelta(days=float(rng.uniform(2.0, 7.0)))
        end = started + pd.Timedelta(days=3)
        rate = 0.0
    index = _grid(hist_start, end, step)
    t = _secs(index)
    t_start = _secs(pd.DatetimeIndex([started]))[0]
    age = t - t_start
    daily = load_amp * _bell(t, load_peak, sharp) * _weekly(t, weekend)
    run_age = age.copy()  # age of the incarnation each sample belongs to
    for r in sorted(restarts):
        r_s = _secs(pd.DatetimeIndex([r]))[0]
        run_age = np.where((t >= r_s) & (age < 0), t - r_s, run_age)
    if family == "leak":
        prev_age = age + lifetime * 86400.0  # the previous incarnation OOM-ed into this start
        cur_age = np.where(age >= 0, age, prev_age)
        base = level * warm(cur_age) + rate * cur_age
    elif family == "recent_leak":
        base = level + rate * np.clip(age - (_secs(pd.DatetimeIndex([onset]))[0] - t_start), 0.0, None)
    elif family == "restarting_leak":
        base = level * warm(run_age) + rate * np.clip(run_age, 0.0, None)
    elif family == "nightly_restart":
        base = level * warm(run_age)
    elif family == "jvm_heap":
        base = np.full_like(t, level)
    elif family in ("healthy_daily", "weekly_cycle"):
        base = np.full_like(t, level)
    elif family == "warmup_flat":
        base = level * warm(age)
    else:
        higher = level * rng.uniform(1.1, 1.6)
        if rng.random() < 0.5:
            base = np.where(age < 0, level, higher * warm(age))
            notes.append(f"deploy restart, plateau x{higher / level:.2f}")
        else:
            ramp = np.clip(age / (rng.uniform(10, 30) * 60.0), 0.0, 1.0)
            base = level + (higher - level) * ramp
            notes.append(f"deploy step x{higher / level:.2f} without restart")
    saw = np.mod(t + gc_phase, gc_period) / gc_period
    amp = gc_amp
    if family == "jvm_heap":
        heap_age = np.where(age >= 0, age, age + 5 * 86400.0)  # the previous run had reached its max heap
        amp = gc_amp + heap_max * (1.0 - np.exp(-np.clip(heap_age, 0, None) / heap_tau))
    clean = base + daily + amp * saw
    noise = 0.005 * level * rng.standard_normal(len(t)) + 0.01 * level * _smooth(rng, t, 3 * 3600.0)
    observed = np.clip(clean + noise, 0.0, None)
    if family in LEAK_FAMILIES:
        # the continuous envelope on a one-minute grid: the sampled sawtooth may miss the exact peak
        grow_from = onset if onset is not None else started
        fine = _grid(grow_from, end, pd.Timedelta("1min"))
        ft = _secs(fine)
        fage = ft - t_start
        leak_age = ft - _secs(pd.DatetimeIndex([grow_from]))[0]
        fenv = (level * (warm(fage) if onset is None else 1.0) + rate * leak_age
                + load_amp * _bell(ft, load_peak, sharp) * _weekly(ft, weekend) + gc_amp)
        oom_at = _first_reach(fine, fenv, limit)
        if oom_at is None:  # pragma: no cover - the rate above always gets there
            raise AssertionError(f"leak {seed} never reaches its limit")
        keep = index < oom_at
        index, observed = index[keep], observed[keep]
        # a leak is judged from 6 hours into the process (12 hours after a leak began in a running one)
        first = grow_from + pd.Timedelta("12h" if onset is not None else "6h")
        evals = tuple(oom_at - pd.Timedelta(hours=h) for h in (72, 48, 24, 12)
                      if oom_at - pd.Timedelta(hours=h) >= first)
        if onset is not None:
            started = onset  # what "lifetime" measures for the benchmark: how long the leak ran
    elif family in ("healthy_daily", "weekly_cycle", "nightly_restart"):
        evals = tuple(end - k * pd.Timedelta("12h") for k in range(5, -1, -1))
    else:
        evals = tuple(started + pd.Timedelta(hours=h) for h in (12, 24, 48, 72))
    series = pd.Series(observed, index=index, name="resident_bytes")
    series.index.name = "timestamp"
    if family in ("recent_leak", "restarting_leak", "weekly_cycle", "nightly_restart") and rng.random() < 0.25:
        series = messy(rng, series, steps=(1, 2, 5))
        notes.append("messy sampling")
    return ProcessScenario(name=f"{family}-{seed}", family=family, seed=seed, limit=limit, series=series,
                           oom_at=oom_at, started_at=started, eval_times=evals, notes=", ".join(notes))


def process_scenarios(leaks: int = 40, per_healthy_family: int = 25, seed: int = 0) -> list[ProcessScenario]:
    """``leaks`` processes of each leaking family and ``per_healthy_family`` of each healthy family
    (270 by default)."""
    out = []
    for family in LEAK_FAMILIES:
        out += [make_process(family, seed * 100_000 + i) for i in range(leaks)]
    for family in HEALTHY_FAMILIES:
        out += [make_process(family, seed * 100_000 + i) for i in range(per_healthy_family)]
    return out


# ---- capacity ------------------------------------------------------------------------------------
def make_capacity(family: str, seed: int, *, headroom: float = 0.2, horizon: pd.Timedelta = pd.Timedelta(days=30)) -> CapacityScenario:
    """One capacity scenario of ``family`` (see the module docstring)."""
    if family not in CAPACITY_FAMILIES:
        raise ValueError(f"unknown capacity family {family!r}")
    rng = _rng("capacity", family, seed)
    step = HOUR
    now = _ANCHOR + pd.Timedelta(days=int(rng.integers(30, 90)), hours=int(rng.integers(0, 24)))
    hist = _grid(now - pd.Timedelta(days=28) + step, now, step)
    fut = _grid(now + step, now + pd.Timedelta(days=60), step)
    full = hist.append(fut)
    t = _secs(full)
    days = (t - _secs(pd.DatetimeIndex([now]))[0]) / 86400.0
    peak_now = float(rng.uniform(500, 5000))
    peak_hour, weekend = rng.uniform(10, 20), rng.uniform(0.5, 0.9)
    night = rng.uniform(0.2, 0.5)
    shape = night + (1 - night) * _bell(t, peak_hour, rng.choice([1.0, 2.0])) * _weekly(t, weekend)
    if family == "seasonal_growth":
        monthly = rng.uniform(0.1, 0.6)
        growth = (1 + monthly) ** (days / 30.0) if rng.integers(2) else 1 + monthly * days / 30.0
    else:
        monthly = 0.0
        growth = np.ones_like(days)
    clean = peak_now * growth * shape
    noise = 1 + 0.03 * rng.standard_normal(len(t)) + 0.02 * _smooth(rng, t, 6 * 3600.0)
    observed = np.clip(clean * noise, 0, None)
    horizon_td = pd.Timedelta(horizon)
    future_mask = full > now
    if family == "seasonal_growth":
        # threshold crossed by the noise-free load 4-25 days ahead
        target_day = rng.uniform(4, 25)
        # the threshold sits just under the highest load up to the target day: that peak (a weekday
        # close to the target, since the load grows) is where it is first crossed
        upto = future_mask & (days <= target_day)
        threshold = float(clean[upto].max()) * 0.9995
        capacity = threshold / (1 - headroom)
    else:
        capacity = float(clean.max()) * rng.uniform(1.5, 2.0) / (1 - headroom)
    crossing = _first_reach(full[future_mask], clean[future_mask], capacity * (1 - headroom))
    if crossing is not None and crossing > now + horizon_td:
        crossing = None
    series = pd.Series(observed[~future_mask], index=full[~future_mask], name="load")
    series.index.name = "timestamp"
    future = pd.Series(clean[future_mask], index=full[future_mask], name="load")
    return CapacityScenario(name=f"{family}-{seed}", family=family, seed=seed, capacity=float(capacity),
                            headroom=headroom, horizon=horizon_td, series=series, future=future,
                            crossing_at=crossing, notes=f"growth {monthly:.0%}/month")


def capacity_scenarios(growing: int = 30, flat: int = 8, seed: int = 0) -> list[CapacityScenario]:
    """``growing`` seasonal growing loads with a known crossing and ``flat`` ones that never cross."""
    return ([make_capacity("seasonal_growth", seed * 100_000 + i) for i in range(growing)]
            + [make_capacity("seasonal_flat", seed * 100_000 + i) for i in range(flat)])
