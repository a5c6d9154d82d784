"""NAB scoring: the Numenta Anomaly Benchmark's method, reimplemented with numpy.

Conventions follow NAB v1.1 (``nab/sweeper.py``, ``nab/runner.py``), so scores are comparable with the
published ones:

* probation: the first ``min(floor(0.15 * rows), 0.15 * 5000)`` rows of each file are not scored at all
  (neither detections nor windows; a window only partly in probation is scored on its later rows);
* a row is a detection when ``score >= threshold``;
* inside a window of ``W`` rows ending at row ``R`` a detection at row ``i`` is worth
  ``tp * S(-(R - i + 1) / W) / S(-1)`` with ``S(x) = 2 * sigmoid(-5 x) - 1``, so the left edge is worth
  exactly ``tp``; only the best (earliest) detection of a window counts, a window without one costs ``-fn``;
* a detection outside windows is worth ``fp * S((i - R) / (W - 1))`` measured from the last window that
  ended before it (``S(x) = -1`` for ``x > 3``), or ``-fp`` when no window came before;
* one threshold for the whole corpus, chosen by sweeping every distinct score (the best summed raw score
  wins; ties go to the higher threshold, as in NAB's stable sort);
* ``normalized = 100 * (raw - null) / (perfect - null)`` with ``null = -fn * scored windows`` (the null
  detector's score) and ``perfect = tp * all windows`` (NAB counts every labelled window).

Deviations, only where NAB crashes or silently misbehaves: a window edge that is not an exact row
timestamp is snapped inward to the rows it covers (NAB never enters such a window); a false positive after
a one-row window uses a distance denominator of 1 (NAB divides by zero); NaN scores never detect.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import InputError, UnknownNameError

PROBATION_FRACTION = 0.15
_TIE = 1e-9  # raw scores closer than this are a tie; NAB compares exact floats


@dataclass(frozen=True)
class Profile:
    """Cost matrix of an application profile (NAB's ``config/profiles.json``)."""

    name: str
    tp: float
    fp: float
    fn: float


PROFILES: dict[str, Profile] = {
    "standard": Profile("standard", 1.0, 0.11, 1.0),
    "reward_low_FP_rate": Profile("reward_low_FP_rate", 1.0, 0.22, 1.0),
    "reward_low_FN_rate": Profile("reward_low_FN_rate", 1.0, 0.11, 2.0),
}


@dataclass(frozen=True)
class FileScore:
    """One file at the corpus threshold; tp/fp/tn/fn count scored rows, as NAB's score files do."""

    path: str
    score: float
    tp: int
    fp: int
    tn: int
    fn: int
    windows: int
    detected: int


@dataclass(frozen=True)
class NabResult:
    """Corpus score for one profile; ``threshold`` is ``inf`` when never alerting scores best."""

    profile: Profile
    threshold: float
    raw: float
    null: float
    perfect: float
    normalized: float
    files: dict[str, FileScore] = field(repr=False)

    def total(self, count: str) -> int:
        """Sum of one per-file count (``tp``, ``fp``, ``tn``, ``fn``, ``windows``, ``detected``)."""
        return sum(getattr(f, count) for f in self.files.values())


def probation_length(rows: int, fraction: float = PROBATION_FRACTION) -> int:
    """Rows at the start of a file that are not scored (750 at most with the default fraction)."""
    return min(math.floor(fraction * rows), math.ceil(fraction * 5000))


def scaled_sigmoid(x: np.ndarray | float) -> np.ndarray:
    """``2 * sigmoid(-5 x) - 1``, and exactly -1 beyond ``x > 3`` (a false positive far from any window)."""
    x = np.asarray(x, dtype=float)
    inner = 2.0 / (1.0 + np.exp(5.0 * np.minimum(x, 3.0))) - 1.0
    return np.where(x > 3.0, -1.0, inner)


_MAX_TP = float(scaled_sigmoid(-1.0))


@dataclass(frozen=True)
class _File:
    """Scored rows of one file (probation removed) with the profile-free parts of their NAB values."""

    path: str
    scores: np.ndarray  # NaN mapped to -inf: never a detection
    window: np.ndarray  # local window number, -1 outside windows
    tp_unit: np.ndarray  # S(position) / S(-1) inside windows, 0 outside
    fp_unit: np.ndarray  # S(distance past the last window) or -1 outside windows, 0 inside
    all_windows: int
    scored_windows: int


def score_corpus(detections: Mapping[str, pd.Series], windows: Mapping[str, Sequence[tuple]],
                 profile: str | Profile = "standard", *,
                 probation_fraction: float = PROBATION_FRACTION) -> NabResult:
    """Score anomaly scores (one Series per file, one value per CSV row) with the optimised threshold."""
    files = _prepare(detections, windows, probation_fraction)
    return _optimise(files, get_profile(profile))


def score_profiles(detections: Mapping[str, pd.Series], windows: Mapping[str, Sequence[tuple]], *,
                   probation_fraction: float = PROBATION_FRACTION) -> dict[str, NabResult]:
    """All three NAB profiles, each with its own optimised threshold (as NAB reports them)."""
    files = _prepare(detections, windows, probation_fraction)
    return {name: _optimise(files, prof) for name, prof in PROFILES.items()}


def score_at_threshold(detections: Mapping[str, pd.Series], windows: Mapping[str, Sequence[tuple]],
                       threshold: float, profile: str | Profile = "standard", *,
                       probation_fraction: float = PROBATION_FRACTION) -> NabResult:
    """Score with a given threshold, e.g. one chosen on other data (no optimisation)."""
    files = _prepare(detections, windows, probation_fraction)
    return _result(files, get_profile(profile), float(threshold))


@dataclass(frozen=True)
class RawScore:
    """Un-normalised parts of a NAB score, summable over disjoint sets of files (held-out folds)."""

    raw: float
    null: float
    perfect: float

    def __add__(self, other: "RawScore") -> "RawScore":
        return RawScore(self.raw + other.raw, self.null + other.null, self.perfect + other.perfect)

    @property
    def normalized(self) -> float:
        """NAB's ``100 * (raw - null) / (perfect - null)``; NaN without any labelled window."""
        span = self.perfect - self.null
        return 100.0 * (self.raw - self.null) / span if span > 0 else float("nan")


def prepare(detections: Mapping[str, pd.Series], windows: Mapping[str, Sequence[tuple]], *,
            probation_fraction: float = PROBATION_FRACTION) -> dict[str, "_File"]:
    """Files ready for :func:`optimise` and :func:`raw_at_threshold` (prepare once, score subsets often)."""
    return {f.path: f for f in _prepare(detections, windows, probation_fraction)}


def optimise(files: Sequence["_File"], profile: str | Profile = "standard") -> NabResult:
    """The best threshold and its score over ``files`` (output of :func:`prepare`)."""
    return _optimise(list(files), get_profile(profile))


def raw_at_threshold(files: Sequence["_File"], threshold: float, profile: str | Profile = "standard") -> RawScore:
    """Raw, null and perfect scores of prepared ``files`` at a given threshold; unlike
    :func:`score_at_threshold` files without any window are fine (a held-out fold may have none)."""
    prof = get_profile(profile)
    raw = math.fsum(_score_file(f, prof, float(threshold)).score for f in files)
    return RawScore(raw, -prof.fn * sum(f.scored_windows for f in files), prof.tp * sum(f.all_windows for f in files))


def get_profile(profile: str | Profile) -> Profile:
    """A profile by name (or itself); unknown names are a clear error."""
    if isinstance(profile, Profile):
        return profile
    try:
        return PROFILES[profile]
    except KeyError:
        raise UnknownNameError(f"unknown NAB profile {profile!r}; choose one of {', '.join(PROFILES)}") from None


def _optimise(files: list[_File], prof: Profile) -> NabResult:
    thresholds, totals = _sweep(files, prof)
    best = totals.max()
    pick = int(np.argmax(totals >= best - _TIE * max(1.0, abs(best))))  # first = highest threshold
    return _result(files, prof, float(thresholds[pick]))


def _sweep(files: list[_File], prof: Profile) -> tuple[np.ndarray, np.ndarray]:
    """Raw corpus score for every candidate threshold, highest first; the first candidate is ``inf``.

    Lowering the threshold past a row adds its false-positive value, or raises its window's value to the
    best detection seen so far; summing those increments in score order gives every threshold's total.
    """
    base = -prof.fn * sum(f.scored_windows for f in files)
    offsets = np.cumsum([0] + [f.all_windows for f in files[:-1]])
    scores = np.concatenate([f.scores for f in files])
    window = np.concatenate([np.where(f.window >= 0, f.window + off, -1) for f, off in zip(files, offsets)])
    value = np.concatenate([f.tp_unit * prof.tp + f.fp_unit * prof.fp for f in files])
    keep = np.isfinite(scores)
    scores, window, value = scores[keep], window[keep], value[keep]
    if scores.size == 0:
        return np.array([math.inf]), np.array([base])
    order = np.argsort(-scores, kind="stable")
    scores, window, value = scores[order], window[order], value[order]

    increment = np.where(window < 0, value, 0.0)
    inside = np.flatnonzero(window >= 0)
    if inside.size:
        groups = pd.Series(value[inside]).groupby(window[inside], sort=False)
        best = groups.cummax().to_numpy()
        before = pd.Series(best).groupby(window[inside], sort=False).shift(1).fillna(-prof.fn).to_numpy()
        increment[inside] = np.maximum(best, -prof.fn) - np.maximum(before, -prof.fn)
    totals = base + np.cumsum(increment)

    last_of_run = np.flatnonzero(np.append(scores[1:] != scores[:-1], True))
    return (np.concatenate([[math.inf], scores[last_of_run]]),
            np.concatenate([[base], totals[last_of_run]]))


def _result(files: list[_File], prof: Profile, threshold: float) -> NabResult:
    per_file = {f.path: _score_file(f, prof, threshold) for f in files}
    all_windows = sum(f.all_windows for f in files)
    if all_windows == 0:
        raise InputError("the corpus has no labelled anomaly window; NAB's normalised score needs at least one")
    raw = math.fsum(s.score for s in per_file.values())
    null = -prof.fn * sum(f.scored_windows for f in files)
    perfect = prof.tp * all_windows
    normalized = 100.0 * (raw - null) / (perfect - null)
    return NabResult(prof, threshold, raw, null, perfect, normalized, per_file)


def _score_file(f: _File, prof: Profile, threshold: float) -> FileScore:
    """Direct (non-sweep) NAB score of one file at one threshold."""
    detected = f.scores >= threshold
    outside = f.window < 0
    score = prof.fp * math.fsum(f.fp_unit[detected & outside])
    hits = 0
    for k in np.unique(f.window[~outside]):
        found = detected & (f.window == k)
        if found.any():
            hits += 1
            score += prof.tp * float(f.tp_unit[found].max())
        else:
            score -= prof.fn
    return FileScore(f.path, score, tp=int((detected & ~outside).sum()), fp=int((detected & outside).sum()),
                     tn=int((~detected & outside).sum()), fn=int((~detected & ~outside).sum()),
                     windows=f.all_windows, detected=hits)


def _prepare(detections: Mapping[str, pd.Series], windows: Mapping[str, Sequence[tuple]],
             probation_fraction: float) -> list[_File]:
    missing = sorted(set(windows) - set(detections))
    extra = sorted(set(detections) - set(windows))
    if missing:
        raise InputError(f"no anomaly scores for {missing[0]} ({len(missing)} labelled file(s) unscored)")
    if extra:
        raise InputError(f"no label windows for {extra[0]} ({len(extra)} scored file(s) unlabelled)")
    if not 0.0 <= probation_fraction < 1.0:
        raise InputError(f"probation fraction must be in [0, 1), got {probation_fraction}")
    return [_prepare_file(path, detections[path], windows[path], probation_fraction) for path in sorted(windows)]


def _prepare_file(path: str, series: pd.Series, limits: Sequence[tuple], fraction: float) -> _File:
    if not isinstance(series, pd.Series) or not isinstance(series.index, pd.DatetimeIndex):
        raise InputError(f"{path}: anomaly scores must be a pandas Series indexed by timestamps")
    index = series.index.tz_localize("UTC") if series.index.tz is None else series.index.tz_convert("UTC")
    if not index.is_monotonic_increasing:
        raise InputError(f"{path}: anomaly score timestamps must be in time order")
    try:
        scores = series.to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{path}: anomaly scores must be numbers ({exc})") from exc
    if np.isposinf(scores).any():
        raise InputError(f"{path}: anomaly scores must be finite (found +inf)")
    scores = np.where(np.isnan(scores), -np.inf, scores)

    rows = len(scores)
    window = np.full(rows, -1)
    tp_unit = np.zeros(rows)
    fp_unit = np.full(rows, -1.0)  # before any window
    bounds = _window_rows(path, index, limits)
    for k, (left, right) in enumerate(bounds):
        width = right - left + 1
        pos = np.arange(left, right + 1)
        window[left:right + 1] = k
        tp_unit[left:right + 1] = scaled_sigmoid(-(right - pos + 1) / width) / _MAX_TP
        fp_unit[left:right + 1] = 0.0
        stop = bounds[k + 1][0] if k + 1 < len(bounds) else rows
        after = np.arange(right + 1, stop)
        fp_unit[right + 1:stop] = scaled_sigmoid((after - right) / max(width - 1, 1))

    start = probation_length(rows, fraction)
    scored_windows = sum(1 for _, right in bounds if right >= start)
    return _File(path, scores[start:], window[start:], tp_unit[start:], fp_unit[start:],
                 all_windows=len(bounds), scored_windows=scored_windows)


def _window_rows(path: str, index: pd.DatetimeIndex, limits: Sequence[tuple]) -> list[tuple[int, int]]:
    """Row bounds (inclusive) of each window: the first row at ``start`` (NAB enters a window on it) to
    the first row at ``end`` (NAB leaves on it), or the last row before ``end`` when none is exactly on it."""
    bounds: list[tuple[int, int]] = []
    for limit in limits:
        try:
            start, end = (_utc(pd.Timestamp(t)) for t in limit)
        except (TypeError, ValueError) as exc:
            raise InputError(f"{path}: a window must be a (start, end) pair of timestamps ({exc})") from exc
        left = int(index.searchsorted(start, "left"))
        right = int(index.searchsorted(end, "left"))
        if right >= len(index) or index[right] != end:
            right -= 1
        if right < left:
            raise InputError(f"{path}: window [{start}, {end}] contains no scored row")
        if bounds and left <= bounds[-1][1]:
            raise InputError(f"{path}: windows must be sorted and must not overlap (at {start})")
        bounds.append((left, right))
    return bounds


def _utc(ts: pd.Timestamp) -> pd.Timestamp:
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
