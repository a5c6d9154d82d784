"""Writing PromQL: literals, durations, label matchers and rule terms restricted to a set of series.

A target's series are split into *parameter sets* (series that share what promcast learned, see
:mod:`.sets`). A recording rule is one expression: the terms of every set joined with ``or``, the
unrestricted default set last, so the default also covers series that appear after generation and
``or`` hands each series to the first set that has it. This module builds those terms:

- a plain selector input gets the set's label matchers injected (``avail{mountpoint=~"/|/home"}[1d]``);
- any other expression is wrapped in a subquery when a range is needed and restricted afterwards
  with ``and on(<key labels>)`` against a small ``label_replace(vector(1), ...)`` table.

Everything here emits only what Prometheus 2.42 understands (see :data:`PROMETHEUS_2_42_FUNCTIONS`).
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

import pandas as pd
import promql_parser
from ..promql import parse as parse_promql
from ..promql import quote_string, regex_escape
from ..promql_selector import Matcher, plain_selector

#: every function Prometheus 2.42 knows; generated rules must stay within it (3.x renamed some)
PROMETHEUS_2_42_FUNCTIONS = frozenset("""
abs absent absent_over_time acos acosh asin asinh atan atanh avg_over_time ceil changes clamp clamp_max
clamp_min cos cosh count_over_time days_in_month day_of_month day_of_week day_of_year deg delta deriv exp
floor histogram_count histogram_fraction histogram_quantile histogram_sum holt_winters hour idelta
increase irate label_join label_replace last_over_time ln log10 log2 max_over_time min_over_time minute
month pi predict_linear present_over_time quantile_over_time rad rate resets round scalar sgn sin sinh
sort sort_desc sqrt stddev_over_time stdvar_over_time sum_over_time tan tanh time timestamp vector year
""".split())


# ------------------------------------------------------------------------------------------ literals
def num(value: float, sig: int = 12) -> str:
    """A deterministic PromQL number: whole numbers exactly, others to ``sig`` significant digits."""
    value = float(value)
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 2**53:
        return str(int(value))
    rounded = float(f"{value:.{sig}g}")
    if rounded == int(rounded) and abs(rounded) < 2**53:
        return str(int(rounded))
    return repr(rounded)


def dur(value: pd.Timedelta) -> str:
    """A PromQL duration in days, hours, minutes, seconds (``1d12h``); no weeks, so it reads at a glance."""
    ms = int(round(pd.Timedelta(value).total_seconds() * 1000))
    if ms <= 0:
        return "0s"
    out = []
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)):
        if ms >= size:
            count, ms = divmod(ms, size)
            out.append(f"{count}{unit}")
    return "".join(out)


def seconds(value: pd.Timedelta) -> str:
    """A duration as a number of seconds, for arithmetic (``predict_linear(..., 604800)``)."""
    return num(pd.Timedelta(value).total_seconds(), sig=12)


string = quote_string  # the rule kinds' short name for a double-quoted PromQL string


# ------------------------------------------------------------------------------------------ series keys
#: on a tie, the labels people recognise a series by come first
_PREFERRED = {name: i for i, name in enumerate(("instance", "mountpoint", "job", "namespace", "pod", "container",
                                                  "service", "node", "cluster"))}


def key_labels(label_sets: Sequence[Mapping[str, str]]) -> list[str]:
    """The fewest labels that tell the series apart.

    Greedy: add the label that separates the most series given those already chosen (on a tie, the
    labels people recognise series by first), then drop any label the others make redundant (a
    ``device`` that always goes with its ``mountpoint``). ``__name__`` is never a key (rules see series
    after functions drop it). Sorted for stable output.
    """
    sets = [{k: v for k, v in labels.items() if k != "__name__"} for labels in label_sets]
    if len(sets) <= 1:
        return []
    names = sorted({k for s in sets for k in s})
    varying = [n for n in names if len({s.get(n, "") for s in sets}) > 1]

    def distinct(chosen: Sequence[str]) -> int:
        return len({tuple(s.get(n, "") for n in chosen) for s in sets})

    chosen: list[str] = []
    while distinct(chosen) < len(sets) and len(chosen) < len(varying):
        rest = [n for n in varying if n not in chosen]
        chosen.append(max(rest, key=lambda n: (distinct(chosen + [n]), -_PREFERRED.get(n, len(_PREFERRED)),
                                               [-ord(c) for c in n])))
    for name in sorted(chosen, key=lambda n: (_PREFERRED.get(n, len(_PREFERRED)) * -1, n)):
        without = [n for n in chosen if n != name]
        if without and distinct(without) == distinct(chosen):
            chosen = without
    return sorted(chosen)


def set_matchers(members: Sequence[Mapping[str, str]], keys: Sequence[str]) -> list[list[Matcher]]:
    """Matcher groups that select exactly ``members`` among series told apart by ``keys``.

    One group per combination of the other key labels, with a regex alternation on the label that has
    the most distinct values among the members (``{instance="a", mountpoint=~"/|/home"}``).
    """
    if not keys:
        return [[]]
    rows = sorted({tuple(m.get(k, "") for k in keys) for m in members})
    pivot = max(range(len(keys)), key=lambda i: (len({r[i] for r in rows}), -i))
    groups: dict[tuple, list[str]] = {}
    for row in rows:
        rest = tuple((keys[i], row[i]) for i in range(len(keys)) if i != pivot)
        groups.setdefault(rest, []).append(row[pivot])
    out = []
    for rest, values in sorted(groups.items()):
        matchers = [Matcher(name, "=", value) for name, value in rest]
        values = sorted(set(values))
        if len(values) == 1:
            matchers.append(Matcher(keys[pivot], "=", values[0]))
        else:
            matchers.append(Matcher(keys[pivot], "=~", "|".join(regex_escape(v) for v in values)))
        out.append(sorted(matchers))
    return out


def label_table(members: Sequence[Mapping[str, str]], keys: Sequence[str]) -> str:
    """``label_replace(vector(1), ...)`` rows, one per member, joined with ``or``: a static filter."""
    rows = []
    for row in sorted({tuple(m.get(k, "") for k in keys) for m in members}):
        text = "vector(1)"
        for name, value in zip(keys, row):
            text = f'label_replace({text}, {string(name)}, {string(value)}, "", "")'
        rows.append(text)
    return " or ".join(rows)


# ------------------------------------------------------------------------------------------ inputs
class Source:
    """How a term reads an :class:`Input`: its selector with ``extra`` matchers, or a subquery of the
    expression when it is no plain selector."""

    def __init__(self, inp: "Input", extra: Sequence[Matcher] = ()):
        self._input = inp
        self._extra = list(extra)

    @property
    def is_selector(self) -> bool:
        return self._input.is_selector

    def instant(self) -> str:
        return self._inner()

    def range(self, window: pd.Timedelta, *, offset: pd.Timedelta | None = None,
              resolution: pd.Timedelta | None = None) -> str:
        """``x[window]`` (a subquery ``x[window:res]`` when ``resolution`` is given or ``x`` is no selector)."""
        off = f" offset {dur(offset)}" if offset is not None and offset > pd.Timedelta(0) else ""
        if self.is_selector and resolution is None:
            return f"{self._inner()}[{dur(window)}]{off}"
        return f"{self._inner()}[{dur(window)}:{dur(resolution or self._input.resolution)}]{off}"

    def _inner(self) -> str:
        selector = self._input.selector
        return selector.text(self._extra) if selector is not None else f"({self._input.expr})"


class Input:
    """A target expression (``expr``, ``size_expr``, ...) that rule terms are built on."""

    def __init__(self, expr: str, resolution: pd.Timedelta):
        self.expr = expr
        self.selector = plain_selector(expr)
        self.resolution = resolution

    @property
    def is_selector(self) -> bool:
        return self.selector is not None

    def source(self) -> Source:
        return Source(self)

    def term(self, build: Callable[[Source], str], members: Sequence[Mapping[str, str]] | None,
             keys: Sequence[str]) -> str:
        """``build`` applied to this input, restricted to ``members`` (None: every series)."""
        if members is None or not keys:
            return build(Source(self))
        if self.selector is not None:
            return join_or([build(Source(self, group)) for group in set_matchers(members, keys)])
        return f"({build(Source(self))}) and on({', '.join(keys)}) ({label_table(members, keys)})"


def join_or(terms: Sequence[str]) -> str:
    """Terms joined by ``or``, one per line; each parenthesised when there are several."""
    terms = list(terms)
    if len(terms) == 1:
        return terms[0]
    return "\nor\n".join(f"({t})" for t in terms)


def functions_used(expr: str) -> set[str]:
    """Names of the functions an expression calls."""
    found: set[str] = set()

    def visit(node):
        if isinstance(node, promql_parser.Call):
            found.add(node.func.name)
        return True

    promql_parser.walk(parse_promql(expr), visit)
    return found


__all__ = ["Input", "PROMETHEUS_2_42_FUNCTIONS", "Source", "dur", "functions_used", "join_or", "key_labels",
           "label_table", "num", "seconds", "set_matchers", "string"]
