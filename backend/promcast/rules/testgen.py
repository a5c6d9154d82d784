"""Building blocks of the generated ``promtool test rules`` files.

- :class:`Wave`: a piecewise-linear series on the test's sample grid, written in promtool's expanding
  notation (``100+5x287 40+5x287 ...``), so a month of samples stays a few lines.
- :func:`synthesize`: the *input* series that make an expression produce a wanted output. promtool
  needs raw series, but a target's ``expr`` may be ``sum(rate(http_requests_total[5m]))``; this inverts
  the common shapes (selectors, ``rate``/``irate``/``increase`` of counters, ``sum``/``avg``/``min``/
  ``max`` aggregations, arithmetic with a number). Anything else raises :class:`NotInvertible` and the
  test file keeps only the cases that need no input.
- :func:`expand_labels`: the ``{{ $labels.x }}`` templates of annotations, as Prometheus expands them,
  for the expected alerts.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import promql_parser

from .model import InputSeries
from ..promql import escape_string as _escape
from ..promql import match_op
from ..promql import parse as parse_promql

_TEMPLATE = re.compile(r"\{\{\s*\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")


class NotInvertible(Exception):
    """promcast cannot write input series for this expression."""


def fmt(value: float) -> str:
    """Exact text of a float for promtool (integers without a fraction)."""
    value = float(value)
    if value == int(value) and abs(value) < 2**53:
        return str(int(value))
    return repr(value)


@dataclass(frozen=True)
class Segment:
    """``count`` samples ``start, start + step, ...``."""

    start: float
    step: float
    count: int

    def values(self) -> np.ndarray:
        # promtool adds the step cumulatively; the values here are only used for sizing and checks
        return self.start + self.step * np.arange(self.count, dtype=float)


class Wave:
    """A piecewise-linear series sampled every test interval."""

    def __init__(self, segments: Sequence[Segment] = ()):
        self.segments: list[Segment] = [s for s in segments if s.count > 0]

    def __len__(self) -> int:
        return sum(s.count for s in self.segments)

    def then(self, start: float, step: float, count: int) -> "Wave":
        if count > 0:
            self.segments.append(Segment(float(start), float(step), int(count)))
        return self

    def values(self) -> np.ndarray:
        return np.concatenate([s.values() for s in self.segments]) if self.segments else np.empty(0)

    def map(self, scale: float, shift: float = 0.0) -> "Wave":
        """``value * scale + shift`` (a linear map keeps segments linear)."""
        return Wave([Segment(s.start * scale + shift, s.step * scale, s.count) for s in self.segments])

    def add_from(self, index: int, delta: float) -> "Wave":
        """A copy with ``delta`` added to every sample from ``index`` on (a step; splits a segment)."""
        out, i = Wave(), 0
        for s in self.segments:
            if i + s.count <= index:
                out.then(s.start, s.step, s.count)
            elif i >= index:
                out.then(s.start + delta, s.step, s.count)
            else:
                head = index - i
                out.then(s.start, s.step, head)
                out.then(s.start + s.step * head + delta, s.step, s.count - head)
            i += s.count
        return out

    def notation(self) -> str:
        parts = []
        for s in self.segments:
            if s.count == 1:
                parts.append(fmt(s.start))
            elif s.step == 0:
                parts.append(f"{fmt(s.start)}+0x{s.count - 1}")
            elif s.step > 0:
                parts.append(f"{fmt(s.start)}+{fmt(s.step)}x{s.count - 1}")
            else:
                parts.append(f"{fmt(s.start)}-{fmt(-s.step)}x{s.count - 1}")
        return " ".join(parts)

    @staticmethod
    def constant(value: float, count: int) -> "Wave":
        return Wave().then(value, 0.0, count)

    @staticmethod
    def sawtooth(low: float, high: float, period: int, count: int, *, drift: float = 0.0, phase: int = 0) -> "Wave":
        """Rises from ``low`` to ``high`` over ``period`` samples, drops back; ``drift`` is added per sample."""
        wave = Wave()
        rise = (high - low) / max(1, period - 1)
        i = 0
        while i < count:
            n = min(period - ((i + phase) % period), count - i)
            start = low + rise * ((i + phase) % period) + drift * i
            wave.then(start, rise + drift, n)
            i += n
        return wave


# ------------------------------------------------------------------------------------------ inversion
def synthesize(expr: str, labels: Mapping[str, str], wave: Wave, interval: pd.Timedelta) -> list[InputSeries]:
    """Input series that make ``expr`` return ``wave`` for the series labelled ``labels``.

    Raises :class:`NotInvertible` for shapes promcast cannot invert.
    """
    node = parse_promql(expr)
    out = _invert(node, {k: v for k, v in labels.items() if k != "__name__"}, wave, interval.total_seconds())
    return [InputSeries(text, w.notation()) for text, w in out]


def _invert(node, labels: dict, wave: Wave, dt: float) -> list[tuple[str, Wave]]:
    if isinstance(node, promql_parser.ParenExpr):
        return _invert(node.expr, labels, wave, dt)
    if isinstance(node, promql_parser.VectorSelector):
        return [(_series_text(node, labels), wave)]
    if isinstance(node, promql_parser.AggregateExpr):
        op = str(node.op).lower()
        if op not in ("sum", "avg", "min", "max") or node.param is not None:
            raise NotInvertible(f"aggregation {op}")
        return _invert(node.expr, labels, wave, dt)
    if isinstance(node, promql_parser.Call):
        name = node.func.name
        if name in ("rate", "irate", "increase") and len(node.args) == 1 \
                and isinstance(node.args[0], promql_parser.MatrixSelector):
            matrix = node.args[0]
            if matrix.vector_selector.offset is not None or matrix.vector_selector.at is not None:
                raise NotInvertible("offset inside rate")
            rng = matrix.range.total_seconds()
            if rng < 2 * dt:
                raise NotInvertible(f"range {rng:g}s shorter than two test samples")
            per_second = wave.map(1.0 / rng) if name == "increase" else wave
            return [(_series_text(matrix.vector_selector, labels), _counter(per_second, dt))]
        raise NotInvertible(f"function {name}")
    if isinstance(node, promql_parser.BinaryExpr):
        op = str(node.op)
        lhs, rhs = node.lhs, node.rhs
        if isinstance(rhs, promql_parser.NumberLiteral) and not isinstance(lhs, promql_parser.NumberLiteral):
            c = float(rhs.val)
            inverse = {"*": (1 / c, 0.0) if c else None, "/": (c, 0.0), "+": (1.0, -c), "-": (1.0, c)}.get(op)
            if inverse is None:
                raise NotInvertible(f"operator {op}")
            return _invert(lhs, labels, wave.map(*inverse), dt)
        if isinstance(lhs, promql_parser.NumberLiteral) and not isinstance(rhs, promql_parser.NumberLiteral):
            c = float(lhs.val)
            inverse = {"*": (1 / c, 0.0) if c else None, "+": (1.0, -c)}.get(op)
            if inverse is None:
                raise NotInvertible(f"operator {op}")
            return _invert(rhs, labels, wave.map(*inverse), dt)
        raise NotInvertible(f"operator {op} between two vectors")
    raise NotInvertible(type(node).__name__)


def _counter(rate: Wave, dt: float) -> Wave:
    """A counter whose per-second rate is ``rate`` (which must be piecewise constant)."""
    out = Wave()
    total = 0.0
    for seg in rate.segments:
        if seg.step != 0:
            raise NotInvertible("a rate that is not piecewise constant")
        inc = seg.start * dt
        if inc < 0:
            raise NotInvertible("a negative rate")
        out.then(total + inc, inc, seg.count)
        total += inc * seg.count
    return out


def _series_text(selector, labels: Mapping[str, str]) -> str:
    out = dict(labels)
    for m in selector.matchers.matchers:
        op = match_op(m)
        if m.name == "__name__":
            continue
        if op == "=":
            out.setdefault(m.name, m.value)
        elif op == "=~" and m.name not in out:
            alternatives = m.value.split("|")
            if not re.fullmatch(r"[A-Za-z0-9_:./\- ]*", alternatives[0]):
                raise NotInvertible(f"regex matcher {m.name}=~{m.value!r}")
            out[m.name] = alternatives[0]
    if selector.matchers.or_matchers:
        raise NotInvertible("'or' matchers")
    name = selector.name
    if not name:
        raise NotInvertible("a selector without a metric name")
    return series_text(name, out)


def series_text(name: str, labels: Mapping[str, str]) -> str:
    inner = ", ".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()) if k != "__name__")
    return f"{name}{{{inner}}}" if inner else name


# ------------------------------------------------------------------------------------------ annotations
def expandable(text: str) -> bool:
    """Whether promcast can expand ``text`` like Prometheus does (only ``{{ $labels.x }}`` templates)."""
    return "{{" not in _TEMPLATE.sub("", text)


def expand_labels(text: str, labels: Mapping[str, str]) -> str:
    """Expand ``{{ $labels.x }}`` (a missing label expands to ``<no value>``, as in Go templates)."""
    return _TEMPLATE.sub(lambda m: str(labels.get(m.group(1), "<no value>")), text)


def samples(duration: pd.Timedelta, interval: pd.Timedelta) -> int:
    """Samples from time 0 to ``duration`` inclusive."""
    return int(math.floor(duration / interval)) + 1


__all__ = ["NotInvertible", "Segment", "Wave", "expand_labels", "expandable", "fmt", "samples", "series_text",
           "synthesize"]
