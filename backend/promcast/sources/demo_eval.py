"""A small PromQL range evaluator for the demo source, over promql-parser's AST.

The demo stores no samples: every series is a function of time. So that presets and dashboards that use
``rate``, ``sum by``, ratios and ``histogram_quantile`` work on ``--source demo``, this evaluates the subset
of PromQL they use, on the demo's one-sample-per-minute data, at every step of a range query:

- selectors (the sample at or before each step), ``rate``/``increase`` over a range (counter resets
  handled; the rate is the increase between the first and last sample of the window over the time
  between them, which is what Prometheus's extrapolation comes to on evenly scraped data);
- ``sum``/``avg``/``min``/``max``/``count`` with ``by``/``without``;
- arithmetic and comparisons (``bool`` too) between vectors and numbers, and between two vectors with
  ``on``/``ignoring`` and ``group_left``/``group_right``;
- ``histogram_quantile`` with Prometheus's interpolation inside the bucket.

Anything else is a :class:`~promcast.errors.BadQueryError` that names the construct and says a real
Prometheus is needed. Values are numpy arrays over the steps, NaN where a series has no value.
"""

from __future__ import annotations

import math
import operator
import warnings
from datetime import timedelta
from typing import Callable, Mapping, Sequence

import numpy as np
import promql_parser

from ..durations import human_duration
from ..errors import BadQueryError
from ..promql_selector import Selector, describe_node, node_selector

#: what the evaluator answers, for the refusal message
SUPPORTED = ("selectors, rate()/increase(), sum/avg/min/max/count by/without, arithmetic and comparisons "
             "(with on/ignoring/group_left), histogram_quantile()")
MINUTE_S = 60

Labels = Mapping[str, str]
#: one series of an instant vector: its labels and its values at every step
Series = tuple[dict, np.ndarray]
#: answers a selector with the demo's per-minute samples: ``sample(selector, minutes) -> [(labels, values)]``
Sampler = Callable[[Selector, np.ndarray], list[Series]]

_ARITHMETIC = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
               "%": np.fmod, "^": np.power}
_COMPARISON = {"==": operator.eq, "!=": operator.ne, ">": operator.gt, "<": operator.lt, ">=": operator.ge,
               "<=": operator.le}


def short(expr: str, limit: int = 200) -> str:
    """``expr`` on one line, cut to ``limit`` characters for an error message."""
    flat = " ".join(expr.split())
    return flat if len(flat) <= limit else flat[:limit] + f"... ({len(flat)} characters)"


def refuse(expr: str, what: str) -> BadQueryError:
    return BadQueryError(
        f"{short(expr)!r} uses {what}: the demo source evaluates {SUPPORTED} only; "
        "a real Prometheus is needed for that expression (--prometheus-url)")


class Evaluator:
    """Evaluates one expression at the steps ``times_ns`` (int64 nanoseconds since the epoch)."""

    def __init__(self, expr: str, times_ns: np.ndarray, sample: Sampler,
                 max_range_s: float | None = None) -> None:
        self.expr = expr
        self.times_ns = np.asarray(times_ns, dtype=np.int64)
        self.sample = sample
        self.max_range_s = max_range_s  # the longest range window answered (the data's history)

    def vector(self, node) -> list[Series]:
        """An instant vector; a number is refused (a query_range answers series)."""
        value = self.eval(node)
        if not isinstance(value, list):
            raise refuse(self.expr, "a literal number on its own")
        return value

    # ------------------------------------------------------------------ dispatch
    def eval(self, node):
        if isinstance(node, promql_parser.ParenExpr):
            return self.eval(node.expr)
        if isinstance(node, promql_parser.NumberLiteral):
            return float(node.val)
        if isinstance(node, promql_parser.UnaryExpr):
            value = self.eval(node.expr)
            return -value if isinstance(value, float) else [(_drop_name(l), -v) for l, v in value]
        if isinstance(node, promql_parser.VectorSelector):
            minutes = np.floor_divide(self.times_ns, MINUTE_S * 1_000_000_000)
            return self.sample(self._selector(node), minutes)
        if isinstance(node, promql_parser.Call):
            return self._call(node)
        if isinstance(node, promql_parser.AggregateExpr):
            return self._aggregate(node)
        if isinstance(node, promql_parser.BinaryExpr):
            return self._binary(node)
        raise refuse(self.expr, describe_node(node))

    def _selector(self, node) -> Selector:
        if node.offset is not None:
            raise refuse(self.expr, "an offset modifier")
        if node.at is not None:
            raise refuse(self.expr, "an @ modifier")
        if node.matchers.or_matchers:
            raise refuse(self.expr, "'or' inside a selector")
        return node_selector(node)

    # ------------------------------------------------------------------ functions
    def _call(self, node):
        name = node.func.name
        if name in ("rate", "increase"):
            (arg,) = node.args
            if not isinstance(arg, promql_parser.MatrixSelector):
                raise refuse(self.expr, f"{name}() of something other than a range selector")
            return self._rate(arg, per_second=name == "rate")
        if name == "histogram_quantile":
            phi, vector = node.args
            phi = self.eval(phi)
            if not isinstance(phi, float):
                raise refuse(self.expr, "histogram_quantile() with a quantile that is not a number")
            return histogram_quantile(phi, self.vector(vector))
        raise refuse(self.expr, f"the function {name}()")

    def _rate(self, matrix, *, per_second: bool) -> list[Series]:
        window_s = matrix.range.total_seconds()
        window = human_duration(matrix.range)
        if window_s < 2 * MINUTE_S:
            raise BadQueryError(f"{short(self.expr)!r}: a range of {window} does not always hold two demo "
                                "samples (one a minute); use at least [2m]")
        if self.max_range_s is not None and window_s > self.max_range_s:
            history = human_duration(timedelta(seconds=self.max_range_s))
            raise BadQueryError(f"{short(self.expr)!r}: a range of {window} is longer than the demo's history "
                                f"({history}); use at most [{history}]")
        minute_ns = MINUTE_S * 1_000_000_000
        last = np.floor_divide(self.times_ns, minute_ns)  # the newest sample in each window
        first = np.floor_divide(self.times_ns - int(window_s * 1e9), minute_ns) + 1  # the oldest, (t-range, t]
        if not last.size:
            return []
        lo = int(first.min())
        minutes = np.arange(lo, int(last.max()) + 1, dtype=np.int64)
        t_s = self.times_ns / 1e9
        return [(_drop_name(labels), extrapolated_rate(values, minutes, first - lo, last - lo, t_s, window_s,
                                                       per_second=per_second))
                for labels, values in self.sample(self._selector(matrix.vector_selector), minutes)]

    # ------------------------------------------------------------------ aggregation
    def _aggregate(self, node) -> list[Series]:
        op = str(node.op)
        if op not in _AGGREGATIONS or node.param is not None:
            raise refuse(self.expr, f"the aggregation {op}")
        modifier = node.modifier
        names = list(modifier.labels) if modifier is not None else []
        without = modifier is not None and str(modifier.type).endswith("Without")
        groups: dict[tuple, tuple[dict, list[np.ndarray]]] = {}
        for labels, values in self.vector(node.expr):
            if without:
                key_labels = {k: v for k, v in labels.items() if k not in names and k != "__name__"}
            else:
                key_labels = {k: labels[k] for k in names if k in labels}
            key = tuple(sorted(key_labels.items()))
            groups.setdefault(key, (key_labels, []))[1].append(values)
        return [(labels, _AGGREGATIONS[op](np.vstack(rows))) for labels, rows in groups.values()]

    # ------------------------------------------------------------------ binary operators
    def _binary(self, node):
        op = str(node.op)
        modifier = node.modifier
        if op in _COMPARISON:
            func, is_bool = _COMPARISON[op], bool(modifier is not None and modifier.return_bool)
        elif op in _ARITHMETIC:
            func, is_bool = _ARITHMETIC[op], False
        else:
            raise refuse(self.expr, f"the operator {op}")
        lhs, rhs = self.eval(node.lhs), self.eval(node.rhs)
        comparison = op in _COMPARISON

        def apply(a, b, keep):
            with np.errstate(all="ignore"):
                result = func(a, b)
                if not comparison:
                    return result
                if is_bool:
                    return np.where(np.isnan(a) | np.isnan(b), np.nan, result.astype(float))
                return np.where(result, keep, np.nan)

        if isinstance(lhs, float) and isinstance(rhs, float):
            if comparison and not is_bool:
                raise refuse(self.expr, "a comparison between two numbers without bool")
            return float(apply(np.float64(lhs), np.float64(rhs), lhs))
        if isinstance(rhs, float):
            return [(_result_labels(l, comparison and not is_bool), apply(v, rhs, v)) for l, v in lhs]
        if isinstance(lhs, float):
            return [(_result_labels(l, comparison and not is_bool), apply(lhs, v, v)) for l, v in rhs]
        return self._vectors(lhs, rhs, modifier, apply, keep_name=comparison and not is_bool)

    def _vectors(self, lhs, rhs, modifier, apply, *, keep_name: bool) -> list[Series]:
        """Two vectors matched as Prometheus's ``VectorBinop`` does, at every step: the "one" side may hold
        one series per signature at a step, one-to-one results one per signature, and grouped results one
        per label set; the value kept by a filtering comparison is the left-hand operand's."""
        card = str(modifier.card).rsplit(".", 1)[-1] if modifier is not None else "OneToOne"
        matching = modifier.matching if modifier is not None else None
        on = matching is not None and str(matching.type).endswith("Include")
        names = set(matching.labels) if matching is not None else set()
        extra = list(modifier.group_labels or ()) if modifier is not None else []

        def signature(labels):
            if on:
                return tuple(sorted((k, v) for k, v in labels.items() if k in names))
            return tuple(sorted((k, v) for k, v in labels.items() if k not in names and k != "__name__"))

        def result_labels(many_labels, one_labels):
            base = dict(many_labels) if keep_name else _drop_name(many_labels)
            if card == "OneToOne":
                if on:
                    return {k: v for k, v in base.items() if k in names}
                return {k: v for k, v in base.items() if k not in names}
            for name in extra:
                if name in one_labels:
                    base[name] = one_labels[name]
                else:
                    base.pop(name, None)
            return base

        swap = card == "OneToMany"  # group_right: the right side is the "many" side
        many, one = (rhs, lhs) if swap else (lhs, rhs)
        ones: dict[tuple, list[Series]] = {}
        for labels, values in one:
            ones.setdefault(signature(labels), []).append((labels, values))
        for sig, group in ones.items():
            if len(group) > 1:
                present = np.vstack([~np.isnan(v) for _, v in group]).sum(axis=0)
                self._check_unique(present, "many-to-many matching not allowed: matching labels must be unique "
                                            f"on one side; the {'left' if swap else 'right'} side has several "
                                            f"series for {dict(sig)}")
        pairs: list[tuple[tuple, dict, np.ndarray]] = []  # (what must be unique at a step, labels, values)
        for labels, values in many:
            sig = signature(labels)
            for other_labels, other in ones.get(sig, ()):
                # the left-hand operand stays on the left (and is what a filter keeps), whichever side is "many"
                a, b = (other, values) if swap else (values, other)
                out_labels = result_labels(labels, other_labels)
                unique = sig if card == "OneToOne" else (sig, tuple(sorted(out_labels.items())))
                pairs.append((unique, out_labels, apply(a, b, a)))
        by_unique: dict[tuple, list[np.ndarray]] = {}
        for unique, _labels, values in pairs:
            by_unique.setdefault(unique, []).append(values)
        for unique, rows in by_unique.items():
            if len(rows) > 1:
                present = np.vstack([~np.isnan(r) for r in rows]).sum(axis=0)
                if card == "OneToOne":
                    self._check_unique(present, "multiple matches for labels: many-to-one matching must be "
                                                f"explicit (group_left/group_right); several series match {dict(unique)}")
                else:
                    self._check_unique(present, "multiple matches for labels: grouping labels must ensure unique "
                                                f"matches; several results have the labels {dict(unique[1])}")
        merged: dict[tuple, tuple[dict, np.ndarray]] = {}
        for _unique, labels, values in pairs:  # one series per label set, from pairs present at other steps
            key = tuple(sorted(labels.items()))
            if key in merged:
                values = np.where(np.isnan(merged[key][1]), values, merged[key][1])
            merged[key] = (labels, values)
        return list(merged.values())

    def _check_unique(self, present: np.ndarray, message: str) -> None:
        """An error naming the first step where more than one series is ``present``."""
        clash = np.flatnonzero(present > 1)
        if clash.size:
            at = np.datetime64(int(self.times_ns[clash[0]]), "ns").astype("datetime64[s]")
            raise BadQueryError(f"{short(self.expr)!r}: {message} at {at}Z")


def extrapolated_rate(values: np.ndarray, minutes: np.ndarray, i0: np.ndarray, i1: np.ndarray,
                      t_s: np.ndarray, window_s: float, *, per_second: bool) -> np.ndarray:
    """Prometheus's ``rate``/``increase`` (``extrapolatedRate`` in promql/functions.go) at every step.

    ``values`` are a counter's samples at ``minutes``; the window of step ``k`` holds the samples
    ``i0[k]..i1[k]`` and ends at ``t_s[k]`` (seconds). Only samples with a value count (NaN is no
    sample): the increase runs from the first to the last valid sample of the window, a drop is a
    counter reset, and it is extrapolated towards the window's edges by at most 1.1 average sample
    intervals (else half an interval) and not past the counter's zero point. Fewer than two samples
    give NaN.
    """
    m = len(values)
    out = np.full(len(t_s), np.nan)
    if m < 2 or not len(t_s):
        return out
    valid = ~np.isnan(values)
    with np.errstate(invalid="ignore"):
        delta = np.diff(values)
        increments = np.where(delta >= 0, delta, values[1:])  # a drop is a counter reset
    increments = np.where(valid[:-1] & valid[1:], increments, 0.0)
    total = np.concatenate([[0.0], np.cumsum(increments)])
    index = np.arange(m)
    following = np.minimum.accumulate(np.where(valid, index, m)[::-1])[::-1]  # first valid at or after
    preceding = np.maximum.accumulate(np.where(valid, index, -1))  # last valid at or before
    f = following[np.clip(i0, 0, m - 1)]
    l = preceding[np.clip(i1, 0, m - 1)]
    ok = (f < l) & (l >= 0) & (f < m)
    f, l = np.where(ok, f, 0), np.where(ok, l, 0)
    counted = np.cumsum(valid)
    samples = counted[l] - counted[f] + 1
    first_t = minutes[f] * float(MINUTE_S)
    last_t = minutes[l] * float(MINUTE_S)
    with np.errstate(all="ignore"):
        result = total[l] - total[f]
        sampled = last_t - first_t
        average = sampled / (samples - 1)
        to_start = first_t - (t_s - window_s)  # seconds from the window's start to the first sample
        to_end = t_s - last_t
        first_value = values[f]
        to_zero = np.where((result > 0) & (first_value >= 0), sampled * (first_value / result), np.inf)
        to_start = np.minimum(to_start, to_zero)
        threshold = average * 1.1
        to_start = np.where(to_start >= threshold, average / 2, to_start)
        to_end = np.where(to_end >= threshold, average / 2, to_end)
        factor = (sampled + to_start + to_end) / sampled
        if per_second:
            factor = factor / window_s
        out = np.where(ok, result * factor, np.nan)
    return out


def _sum(rows: np.ndarray) -> np.ndarray:
    present = ~np.isnan(rows)
    return np.where(present.any(axis=0), np.nansum(rows, axis=0), np.nan)


def _count(rows: np.ndarray) -> np.ndarray:
    counts = (~np.isnan(rows)).sum(axis=0).astype(float)
    return np.where(counts > 0, counts, np.nan)


def _reduce(func) -> Callable[[np.ndarray], np.ndarray]:
    """``nanmean``/``nanmax``/``nanmin`` per step; a step where no series has a value stays NaN."""
    def reduce(rows: np.ndarray) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN steps
            return func(rows, axis=0)

    return reduce


_AGGREGATIONS = {"sum": _sum, "count": _count, "avg": _reduce(np.nanmean), "max": _reduce(np.nanmax),
                 "min": _reduce(np.nanmin)}


def _drop_name(labels: Labels) -> dict:
    return {k: v for k, v in labels.items() if k != "__name__"}


def _result_labels(labels: Labels, keep_name: bool) -> dict:
    return dict(labels) if keep_name else _drop_name(labels)


# ------------------------------------------------------------------ histogram_quantile
def histogram_quantile(phi: float, vector: Sequence[Series]) -> list[Series]:
    """Prometheus's ``histogram_quantile`` over classic ``le`` buckets, at every step.

    Buckets are grouped by their labels other than ``le``; buckets with the same bound (``le="1"`` and
    ``le="1.0"``) are added up; counts are made monotonic; the quantile is interpolated linearly inside
    its bucket (the first bucket starts at 0); a rank in the ``+Inf`` bucket answers the highest finite
    bound; a NaN ``phi`` gives NaN, ``phi < 0`` -Inf and ``phi > 1`` +Inf (whatever the buckets); fewer
    than two buckets, no ``+Inf`` bucket or no observations give no value. A step where the group has no
    bucket sample at all gives no value either.
    """
    groups: dict[tuple, tuple[dict, dict[float, list[np.ndarray]]]] = {}
    for labels, values in vector:
        if "le" not in labels:
            continue
        try:
            bound = float(labels["le"])
        except ValueError:
            continue
        rest = {k: v for k, v in labels.items() if k not in ("le", "__name__")}
        groups.setdefault(tuple(sorted(rest.items())), (rest, {}))[1].setdefault(bound, []).append(values)
    out = []
    for labels, by_bound in groups.values():
        bounds = np.array(sorted(by_bound))
        counts = np.vstack([_sum(np.vstack(by_bound[b])) for b in bounds])  # same bound: added up
        sampled = ~np.isnan(counts).all(axis=0)
        if math.isnan(phi) or phi < 0 or phi > 1:
            value = np.full(counts.shape[1], np.nan if math.isnan(phi) else (-np.inf if phi < 0 else np.inf))
        elif len(bounds) < 2 or not math.isinf(bounds[-1]):
            value = np.full(counts.shape[1], np.nan)
        else:
            value = _quantile(phi, bounds, np.fmax.accumulate(counts, axis=0))
        out.append((labels, np.where(sampled, value, np.nan)))
    return out


def _quantile(phi: float, bounds: np.ndarray, counts: np.ndarray) -> np.ndarray:
    steps = counts.shape[1]
    total = counts[-1]
    rank = phi * total
    # the first bucket whose cumulative count reaches the rank
    index = np.argmax(counts >= rank[None, :], axis=0)
    cols = np.arange(steps)
    upper = bounds[index]
    lower = np.where(index > 0, bounds[np.maximum(index - 1, 0)], 0.0)
    below = np.where(index > 0, counts[np.maximum(index - 1, 0), cols], 0.0)
    inside = counts[index, cols] - below
    with np.errstate(all="ignore"):
        value = lower + (upper - lower) * ((rank - below) / inside)  # 0/0 (phi 0, empty bucket): NaN
    value = np.where(np.isinf(upper), bounds[-2], value)  # the +Inf bucket: the highest finite bound
    value = np.where((index == 0) & (bounds[0] <= 0), bounds[0], value)
    return np.where(np.isnan(total) | (total <= 0), np.nan, value)


def is_plain_selector(node) -> bool:
    """Whether ``node`` is a selector the demo answers directly (no offset or @ modifier)."""
    while isinstance(node, promql_parser.ParenExpr):
        node = node.expr
    return isinstance(node, promql_parser.VectorSelector) and node.offset is None and node.at is None


__all__ = ["Evaluator", "SUPPORTED", "histogram_quantile", "is_plain_selector", "refuse"]
