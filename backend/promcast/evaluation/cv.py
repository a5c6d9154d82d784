"""Grouped K-fold cross-validation of NAB scores: every setting chosen by score is chosen on other files.

NAB sweeps one threshold over the corpus it reports on, and a detector's settings (members, windows,
margins) are usually picked the same way, so an in-sample NAB score measures the fit to those files.
Here the files are split into ``k`` folds (grouped: a file is never split; deterministic: sorted paths
dealt round-robin, so every folder is spread over the folds). For each fold, the candidate (a detector
or a setting of one) and its threshold that score best on the *other* folds are applied, unchanged, to
the held-out fold. The held-out raw scores of all folds are then summed and normalised together, as NAB
normalises one corpus: ``100 * (raw - null) / (perfect - null)`` over all files.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from ..errors import InputError
from . import nab

DEFAULT_FOLDS = 4


def assign_folds(paths: Sequence[str], k: int = DEFAULT_FOLDS) -> dict[str, int]:
    """Fold number of every file: sorted paths dealt round-robin (same files, same split)."""
    paths = sorted(set(paths))
    if isinstance(k, bool) or not isinstance(k, int) or k < 2:
        raise InputError(f"bad number of folds {k!r}: expected a whole number of 2 or more, e.g. 4")
    if k > len(paths):
        raise InputError(f"cannot make {k} folds of {len(paths)} files: use at most {len(paths)} folds")
    return {path: i % k for i, path in enumerate(paths)}


@dataclass(frozen=True)
class FoldResult:
    """One held-out fold: what the training folds chose and what it scored on the held-out files."""

    fold: int
    files: tuple[str, ...]
    candidate: str
    threshold: float
    train_score: float
    held_out: nab.RawScore


@dataclass(frozen=True)
class CvResult:
    """Held-out score of one profile, normalised over all folds together."""

    profile: str
    folds: tuple[FoldResult, ...]

    @property
    def total(self) -> nab.RawScore:
        out = nab.RawScore(0.0, 0.0, 0.0)
        for f in self.folds:
            out = out + f.held_out
        return out

    @property
    def normalized(self) -> float:
        return self.total.normalized

    @property
    def chosen(self) -> list[str]:
        """The candidate each fold's training files chose (one name per fold)."""
        return [f.candidate for f in self.folds]


def cross_validate(candidates: Mapping[str, Mapping[str, pd.Series]], windows: Mapping[str, Sequence[tuple]],
                   k: int = DEFAULT_FOLDS, profile: str = "standard",
                   folds: Mapping[str, int] | None = None) -> CvResult:
    """Held-out NAB score of choosing among ``candidates`` (name -> scores by file) by training score.

    With one candidate only the threshold is chosen on the training folds. Ties between candidates go
    to the earlier one (list the default first). ``folds`` (file -> fold number below ``k``) replaces the
    deterministic split, e.g. to see how much the score depends on it.
    """
    if not candidates:
        raise InputError("cross-validation needs at least one candidate detector")
    folds = assign_folds(list(windows), k) if folds is None else dict(folds)
    if set(folds) != set(windows) or not set(folds.values()) <= set(range(k)):
        raise InputError(f"bad fold split: expected every scored file once, each in a fold from 0 to {k - 1}")
    prepared = {name: nab.prepare(scores, windows) for name, scores in candidates.items()}
    results = []
    for fold in range(k):
        train = [p for p in sorted(windows) if folds[p] != fold]
        test = [p for p in sorted(windows) if folds[p] == fold]
        if not any(windows[p] for p in train):
            raise InputError(f"fold {fold}: the training files have no labelled window; use fewer folds")
        best_name, best = None, None
        for name, files in prepared.items():
            result = nab.optimise([files[p] for p in train], profile)
            if best is None or result.normalized > best.normalized + 1e-9:
                best_name, best = name, result
        held = nab.raw_at_threshold([prepared[best_name][p] for p in test], best.threshold, profile)
        results.append(FoldResult(fold, tuple(test), best_name, best.threshold, best.normalized, held))
    return CvResult(nab.get_profile(profile).name, tuple(results))


def cross_validate_profiles(candidates: Mapping[str, Mapping[str, pd.Series]],
                            windows: Mapping[str, Sequence[tuple]], k: int = DEFAULT_FOLDS) -> dict[str, CvResult]:
    """:func:`cross_validate` for every NAB profile (each chooses its own candidate and threshold)."""
    return {name: cross_validate(candidates, windows, k, name) for name in nab.PROFILES}
