"""``cad_ose``: the Contextual Anomaly Detector, open-source edition (M. Smirnov, NAB 2016), reimplemented.

The idea, as its author describes it: each value is quantised to a few bits (``bits`` = 3: 8 levels of
the value range) and written as "facts" (bit position, bit value). A *context* pairs a set of facts seen
at one step (the left side: the previous step's facts plus the "neurons" that fired there) with the facts
of the next step (the right side). Contexts are remembered as they occur; contexts that keep coming
true become active and fire as neurons, so longer and longer sequences get a name. Each step:

1. the contexts whose left side fully matched the previous step are checked against the new facts:
   ``selected`` (left side matched) and ``active`` (right side matched too); partly matching ones
   propose new, narrower contexts (intersections of left and right facts, left side at most
   ``max_left`` facts);
2. the anomaly is ``(1 - active/selected + new/proposed) / 2``: a surprise when few remembered
   contexts came true and most of what was proposed was new; but 0 when the new facts were all among
   those predicted (the right sides of the most reliable fully matched contexts);
3. the ``max_active`` most-confirmed active contexts fire as neurons into the next left side.

After a score of ``threshold`` (0.75) or more, scores are held at 0 for ``rest_period`` rows: one alert
per event. Defaults are the algorithm's published constants (``bits`` 3, ``threshold`` 0.75, ``max_left``
7, ``max_active`` 15); ``rest_period`` is the one NAB derives from the probation period (rows / 5 with the
15% probation of a 4,032-row file: 120 rows), see README's Accuracy section for the CV check.
Deviation for causality: NAB hands CAD the whole file's min and max before the first row; here the
range is the one seen so far: the learner starts on the fitted history's range and is rebuilt on the
range of every row seen (the earlier rows replayed) when a value leaves it (``rebuild_margin`` 0, no
``rebuild_pad``; :class:`.online.RangeRebuild`, which rations the rebuilds: a small exit waits until the
rows seen double, one that doubles the range is learnt at once; ``None`` keeps the fitted range, values
outside it then fall in the edge levels). The spatial check (:mod:`.online`, ``spatial_tolerance``, NAB's 5%) flags
values beyond the range seen so far. Rebuilding was chosen by CV (README "Accuracy"): threshold-only CV
standard 72.7 with it against 65.6 without.
"""

from __future__ import annotations

import bisect
from collections import deque
from functools import partial
from typing import ClassVar

import numpy as np
import pandas as pd

from ..errors import InputError
from .online import SPATIAL_TOLERANCE, OnlineDetector
from .registry import register

#: neuron facts are numbered from here (sensor facts are small numbers)
_NEURON = 1 << 31


class ContextLearner:
    """The CAD OSE context memory and its per-step anomaly (see the module docstring).

    Only left sides contained in a step's facts (fully matched) update statistics and predict; partly
    matched ones matter only for proposals, and only for zero-level contexts (those seen as a plain
    "previous step -> this step" pair) at steps that created a new one. So full matches are found
    through an index on each left side's largest fact, and partial matches are looked for among the
    left sides holding a zero-level context, on those steps only: the same result as crossing every
    remembered context every step, at a fraction of the cost.
    """

    def __init__(self, low: float, high: float, bits: int = 3, rest_period: int = 120, threshold: float = 0.75,
                 max_left: int = 7, max_active: int = 15):
        self.bits = bits
        self.levels = 2 ** bits - 1
        span = high - low
        self.low = low
        self.width = (span if span > 0 else float(self.levels)) / self.levels
        self.threshold = threshold
        self.max_left = max_left
        self.max_active = max_active
        self.left_ids: dict[tuple, int] = {}
        self.left_of: list[tuple] = []  # left id -> its facts
        self.by_top_fact: dict[int, list[int]] = {}  # largest fact -> left ids
        self.zero_lefts: list[int] = []  # left ids holding a zero-level context, sorted
        self.is_zero_left: set[int] = set()
        self.right_ids: dict[tuple, int] = {}
        self.right_size: list[int] = []
        self.right_by_fact: dict[int, list[int]] = {}
        self.left_contexts: list[dict] = []  # left id -> {right id: context id}
        # contexts: [predicted total, hits, confirmations, right facts, zero-level flag]
        self.contexts: list[list] = []
        self.left_facts: tuple = ()
        self.full_left: list[int] = []  # left sides contained in left_facts
        self.predicted: frozenset = frozenset()
        self.recent = deque([1.0], maxlen=max(1, int(rest_period)))

    def facts(self, value: float) -> tuple:
        level = int(np.floor((value - self.low) / self.width)) if np.isfinite(value) else 0
        level = min(max(level, 0), self.levels)
        return tuple(2 * s + ((level >> s) & 1) for s in range(self.bits))

    def _remember(self, left: tuple, right: tuple, zero_level: bool) -> tuple[int, bool]:
        """Context id of (left, right), created when new; returns (id, created)."""
        lid = self.left_ids.get(left)
        if lid is None:
            lid = self.left_ids[left] = len(self.left_of)
            self.left_of.append(left)
            self.left_contexts.append({})
            self.by_top_fact.setdefault(left[-1], []).append(lid)
        rid = self.right_ids.get(right)
        if rid is None:
            rid = self.right_ids[right] = len(self.right_size)
            self.right_size.append(len(right))
            for f in right:
                self.right_by_fact.setdefault(f, []).append(rid)
        if zero_level and lid not in self.is_zero_left:
            self.is_zero_left.add(lid)
            bisect.insort(self.zero_lefts, lid)
        cid = self.left_contexts[lid].get(rid)
        if cid is None:
            cid = self.left_contexts[lid][rid] = len(self.contexts)
            self.contexts.append([0, 0, 0, right, zero_level])
            return cid, True
        if zero_level:
            self.contexts[cid][4] = True
        return cid, False

    def _contained(self, facts: tuple) -> list[int]:
        """Left sides whose every fact is in ``facts``, in id order."""
        have = frozenset(facts)
        left_of, by_top = self.left_of, self.by_top_fact
        out = [lid for f in facts for lid in by_top.get(f, ()) if have.issuperset(left_of[lid])]
        out.sort()
        return out

    def step(self, value: float) -> float:
        current = self.facts(value)
        surprise = any(f not in self.predicted for f in current)
        proposed: set = set()
        created_zero, new_context = False, -1
        if self.left_facts:
            pair = (self.left_facts, current)
            proposed.add(pair)
            cid, created_zero = self._remember(*pair, zero_level=True)
            new_context = cid if created_zero else -1
        shared_right: dict[int, list] = {}
        for f in current:
            for rid in self.right_by_fact.get(f, ()):
                shared_right.setdefault(rid, []).append(f)
        right_size = self.right_size
        active, selected, candidates = [], 0, []
        for lid in self.full_left:
            left = self.left_of[lid]
            short_left = len(left) <= self.max_left
            for rid, cid in self.left_contexts[lid].items():
                if cid == new_context:
                    continue
                ctx = self.contexts[cid]
                selected += 1
                ctx[0] += right_size[rid]
                shared = shared_right.get(rid)
                if shared:
                    ctx[1] += len(shared)
                    if len(shared) == right_size[rid]:
                        ctx[2] += 1
                        active.append((ctx[2], lid, rid, cid))
                    elif ctx[4] and created_zero and short_left:
                        candidates.append((left, tuple(shared)))
        if created_zero:
            have, full = set(self.left_facts), set(self.full_left)
            left_of, left_contexts, contexts, max_left = self.left_of, self.left_contexts, self.contexts, self.max_left
            for lid in self.zero_lefts:
                if lid in full:
                    continue
                shared_left = [f for f in left_of[lid] if f in have]
                if not shared_left or len(shared_left) > max_left:
                    continue
                for rid, cid in left_contexts[lid].items():
                    if rid in shared_right and cid != new_context and contexts[cid][4]:
                        candidates.append((tuple(shared_left), tuple(shared_right[rid])))
        proposed.update(candidates)
        active.sort()
        neurons = [_NEURON + a[3] for a in active[-self.max_active:]]
        self.left_facts = tuple(sorted(set(current).union(neurons)))
        added = sum(self._remember(left, right, zero_level=False)[1] for left, right in candidates)
        added += 1 if created_zero else 0
        self.full_left = self._contained(self.left_facts)
        best, chosen = 0.0, []
        for lid in self.full_left:
            for cid in self.left_contexts[lid].values():
                total, hits = self.contexts[cid][0], self.contexts[cid][1]
                weight = hits / total if total > 0 else 0.0
                if weight > best:
                    best, chosen = weight, [cid]
                elif weight == best:
                    chosen.append(cid)
        self.predicted = frozenset(f for cid in chosen for f in self.contexts[cid][3])
        active_share = len(active) / selected if selected else 0.0
        new_share = added / len(proposed) if created_zero and proposed else 0.0
        raw = (1.0 - active_share + new_share) / 2.0 if surprise else 0.0
        out = raw if max(self.recent) < self.threshold else 0.0
        self.recent.append(raw)
        return out


@register("cad_ose")
class CadOseModel(OnlineDetector):
    """Contextual Anomaly Detector (OSE) over the values, plus the spatial check; online (see :mod:`.online`)."""

    #: median of the standard profile's training-fold thresholds (``promcast evaluate --nab
    #: ../shared/data/nab --model cad_ose --cv 4``: 0.7754, 0.7754, 0.7775, 0.7754)
    cv_threshold: ClassVar[float | None] = 0.7754

    def __init__(self, rest_period: int = 120, bits: int = 3, threshold: float = 0.75, max_left: int = 7,
                 max_active: int = 15, spatial_tolerance: float | None = SPATIAL_TOLERANCE,
                 rebuild_margin: float | None = 0.0, rebuild_pad: float = 0.0):
        self.rest_period = rest_period
        self.bits = bits
        self.threshold = threshold
        self.max_left = max_left
        self.max_active = max_active
        self.spatial_tolerance = spatial_tolerance
        self.rebuild_margin = rebuild_margin
        self.rebuild_pad = rebuild_pad

    def _factory(self, y: pd.Series):
        try:
            rest, bits, max_left, max_active = (int(v) for v in (self.rest_period, self.bits, self.max_left,
                                                                  self.max_active))
            threshold = float(self.threshold)
        except (TypeError, ValueError) as exc:
            raise InputError(f"bad cad_ose parameters: {exc}") from exc
        if rest < 1 or not 1 <= bits <= 16 or max_left < 1 or max_active < 1 or not 0 < threshold <= 1:
            raise InputError(f"bad cad_ose parameters rest_period={rest}, bits={bits}, max_left={max_left}, "
                             f"max_active={max_active}, threshold={threshold}: expected whole numbers >= 1, "
                             "bits at most 16 and a threshold in (0, 1]")
        return partial(ContextLearner, bits=bits, rest_period=rest, threshold=threshold, max_left=max_left,
                       max_active=max_active)
