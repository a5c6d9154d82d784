"""Choosing the ensemble's members and combination inside cross-validation.

Each candidate ensemble is a deterministic function of its members' walk-forward scores (combine the
rows, then the onset filter, then the spatial check), so the members are run once per file and every
candidate is built from their scores offline. :func:`.cv.cross_validate` then picks, for each held-out
fold, the candidate (and threshold) that scores best on the other folds: the held-out score measures the
*procedure* that chose the default, not the default itself after it was chosen.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..models.ensemble import combine_scores
from ..models.online import spatial_scores
from ..models.postprocess import onset_scores


@dataclass(frozen=True)
class Candidate:
    """An ensemble setting: score weights, combine rule, onset span (rows at the file's step) and margin,
    spatial tolerance (None: off)."""

    weights: tuple[tuple[str, float], ...]
    combine: str = "max"
    onset: str | None = None
    onset_margin: float = 0.0
    spatial_tolerance: float | None = None

    @property
    def label(self) -> str:
        members = "+".join(f"{k}:{w:g}" for k, w in self.weights)
        parts = [members, self.combine]
        if self.onset:
            parts.append(f"onset={self.onset}/{self.onset_margin:g}")
        if self.spatial_tolerance is not None:
            parts.append(f"spatial={self.spatial_tolerance:g}")
        return " ".join(parts)


def build(candidate: Candidate, members: Mapping[str, Mapping[str, pd.Series]], values: Mapping[str, pd.Series],
          first_scored: Mapping[str, int]) -> dict[str, pd.Series]:
    """The candidate's scores for every file, from its members' walk-forward scores."""
    weights = dict(candidate.weights)
    total = sum(weights.values())
    weights = {k: w / total for k, w in weights.items()}
    out = {}
    for path, series in values.items():
        rows = {k: members[k][path].to_numpy(dtype=float) for k in weights}
        combined = combine_scores(rows, weights, candidate.combine)
        if candidate.onset:
            step = pd.Series(series.index).diff().median()
            span = max(1, int(np.ceil(pd.Timedelta(candidate.onset) / step - 1e-9)))
            combined = onset_scores(combined, span, candidate.onset_margin)
        if candidate.spatial_tolerance is not None:
            spatial = spatial_scores(series.to_numpy(dtype=float), candidate.spatial_tolerance)
            combined = np.where(spatial > 0, 1.0, combined)
        combined[: first_scored[path]] = 0.0
        out[path] = pd.Series(combined, index=series.index)
    return out
