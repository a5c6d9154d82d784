"""Parameter sets: series of a target that share what promcast learned, so they share rule terms.

Learned numbers are rounded onto short *ladders* (windows of 1h, 2h, 3h, 6h, ...; fractions of 1 %,
2 %, 3 %, 5 %, ...), so series that behave alike land on the same parameters. Each distinct parameter
tuple is a set; the largest set is the *default* (its rule terms carry no label matchers, so series
that appear after generation use it too), the others select their members by label.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Hashable, Mapping, Sequence

import numpy as np
import pandas as pd

#: learned windows are floored onto this (about doubling) ladder: series that behave alike share terms
WINDOWS = tuple(pd.Timedelta(hours=h) for h in (1, 3, 6, 12)) + tuple(
    pd.Timedelta(days=d) for d in (1, 2, 4, 7, 14, 28))
#: fractions (of a disk's size, ...) for thresholds rounded up: never tighter than what was learned
FRACTIONS = (0.0, 0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5,
             0.6, 0.7, 0.8, 0.9, 1.0)
#: E12 preferred numbers: a log ladder with steps of about 20 % for quantities of any magnitude
E12 = (1.0, 1.2, 1.5, 1.8, 2.2, 2.7, 3.3, 3.9, 4.7, 5.6, 6.8, 8.2)


def floor_window(value: pd.Timedelta, ladder: Sequence[pd.Timedelta] = WINDOWS) -> pd.Timedelta:
    """The longest ladder window not longer than ``value`` (the shortest one when all are longer)."""
    fitting = [w for w in ladder if w <= value]
    return fitting[-1] if fitting else ladder[0]


def up_fraction(value: float, ladder: Sequence[float] = FRACTIONS) -> float:
    """The smallest ladder fraction at or above ``value`` (capped at the top of the ladder)."""
    for step in ladder:
        if value <= step + 1e-12:
            return step
    return ladder[-1]


def e12(value: float, *, up: bool = False) -> float:
    """``value`` on the E12 ladder: nearest (in log terms), or the next one up with ``up``."""
    if not np.isfinite(value) or value <= 0:
        return 0.0
    decade = 10.0 ** np.floor(np.log10(value))
    candidates = [m * decade for m in E12] + [10.0 * decade]
    if up:
        for c in candidates:
            if value <= c * (1 + 1e-9):
                return float(f"{c:.6g}")
    best = min(candidates, key=lambda c: abs(np.log(c / value)))
    return float(f"{best:.6g}")


def round_sig(value: float, digits: int = 3) -> float:
    return float(f"{value:.{digits}g}") if value else 0.0


@dataclass(frozen=True)
class ParamSet:
    """Series that share ``params``; ``members`` are their labels (``__name__`` removed)."""

    params: Any
    members: tuple[Mapping[str, str], ...]
    default: bool

    @property
    def restrict(self) -> tuple[Mapping[str, str], ...] | None:
        """The members to restrict rule terms to; None for the default set (every series)."""
        return None if self.default else self.members


def partition(items: Sequence[tuple[Mapping[str, str], Hashable]]) -> list[ParamSet]:
    """Group ``(labels, params)`` pairs by params; the largest group (ties: first params) is the default, last."""
    groups: dict[Hashable, list[Mapping[str, str]]] = {}
    for labels, params in items:
        clean = {k: v for k, v in labels.items() if k != "__name__"}
        groups.setdefault(params, []).append(clean)
    if not groups:
        return []
    order = sorted(groups, key=_sort_key)
    default = max(order, key=lambda p: len(groups[p]))  # max keeps the first of equals
    out = [ParamSet(p, _sorted_members(groups[p]), False) for p in order if p != default]
    out.append(ParamSet(default, _sorted_members(groups[default]), True))
    return out


def _sorted_members(members: list[Mapping[str, str]]) -> tuple[Mapping[str, str], ...]:
    return tuple(sorted(members, key=lambda m: sorted(m.items())))


def _sort_key(params: Any):
    return repr(params)


__all__ = ["E12", "FRACTIONS", "ParamSet", "WINDOWS", "e12", "floor_window", "partition", "round_sig", "up_fraction"]
