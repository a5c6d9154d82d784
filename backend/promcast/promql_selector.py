"""Plain PromQL selectors (``metric{label op "value", ...}``): the one ``Selector`` and its parsers.

Two kinds of code need a selector as a value: sources that hold raw series (the demo and CSV files)
pick stored series with :meth:`Selector.matches`, and the rule writer and ``init`` write selectors
with extra matchers through :meth:`Selector.text`. Parsing goes through :func:`.promql.parse` (the
promql-parser entry), so a selector means exactly what it means to Prometheus. :func:`parse_selector`
refuses anything beyond a plain selector with a message that says to point promcast at a real
Prometheus; :func:`plain_selector` answers None instead, for writers that fall back to subqueries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import promql_parser
import re2

from .errors import BadQueryError
from .promql import MATCH_OPS, match_op, quote_string, unwrap_parens
from .promql import parse as parse_promql
from .promql_bounds import check_promql


@dataclass(frozen=True, order=True)
class Matcher:
    """One label matcher: ``name op "value"``; a missing label counts as the empty string.

    Ordered by (name, op, value), so matcher lists sort into a stable rule text. A regex is compiled
    when first matched (parsing compiles it at once, so a bad one is refused there); matchers that are
    only written (rules, presets, Grafana's ad hoc filters) never compile one.
    """

    name: str
    op: str
    value: str
    _regex: Any = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.op not in MATCH_OPS.values():
            raise ValueError(f"unknown matcher operator {self.op!r}")

    @property
    def is_regex(self) -> bool:
        return self.op in ("=~", "!~")

    def regex(self):
        """The compiled regex of ``=~``/``!~`` (BadQueryError when RE2 refuses it)."""
        if self._regex is None:
            object.__setattr__(self, "_regex", compile_label_regex(self.value, self.name))
        return self._regex

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether ``labels`` satisfy this matcher (absent labels are "")."""
        actual = labels.get(self.name, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        hit = self.regex().fullmatch(actual) is not None
        return hit if self.op == "=~" else not hit

    def __str__(self) -> str:
        return f"{self.name}{self.op}{quote_string(self.value)}"


@dataclass(frozen=True)
class Selector:
    """A plain instant-vector selector: optional metric name plus matchers.

    ``alternatives`` holds Prometheus 3's ``{a="1" or b="2"}`` groups; when present a series matches
    if every matcher of any one group matches.
    """

    name: str | None
    matchers: tuple[Matcher, ...] = ()
    alternatives: tuple[tuple[Matcher, ...], ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether a series with these labels (``__name__`` included) is selected."""
        if self.name is not None and labels.get("__name__") != self.name:
            return False
        return any(all(m.matches(labels) for m in group) for group in self._groups())

    def text(self, extra: Sequence[Matcher] = ()) -> str:
        """The selector as PromQL, with ``extra`` matchers added to every group (those it has already
        are not repeated): ``avail{fstype!="tmpfs", mountpoint=~"/|/home"}``."""
        groups = [list(group) + [m for m in extra if m not in group] for group in self._groups()]
        inner = " or ".join(", ".join(str(m) for m in group) for group in groups if group)
        if self.name and not inner:
            return self.name
        return f"{self.name or ''}{{{inner}}}"

    def __str__(self) -> str:
        return self.text()

    def _groups(self) -> tuple[tuple[Matcher, ...], ...]:
        return self.alternatives or (self.matchers,)


def parse_query(expr: str):
    """The AST of ``expr`` after the size checks, or BadQueryError (``bad PromQL: ...``) with the
    parser's message on one line."""
    if not isinstance(expr, str):
        raise BadQueryError(f"bad PromQL: expected a string, got {type(expr).__name__}")
    check_promql(expr)  # before the native parser: deep nesting overflows its stack
    try:
        return parse_promql(expr)
    except (ValueError, TypeError) as exc:
        raise BadQueryError(f"bad PromQL: {one_line(str(exc))}") from exc


def parse_selector(expr: str) -> Selector:
    """Parse ``expr`` into a :class:`Selector`, or raise BadQueryError naming the problem."""
    node = unwrap_parens(parse_query(expr))
    if not isinstance(node, promql_parser.VectorSelector):
        raise _needs_prometheus(expr, describe_node(node))
    if node.offset is not None:
        raise _needs_prometheus(expr, "an offset modifier")
    if node.at is not None:
        raise _needs_prometheus(expr, "an @ modifier")
    return node_selector(node)


def plain_selector(expr: str) -> Selector | None:
    """The selector ``expr`` is, or None when it is any other expression (a function, an operator, an
    ``or`` inside the braces, an offset or @ modifier): what a rule can add matchers to directly."""
    node = unwrap_parens(parse_query(expr))
    if not isinstance(node, promql_parser.VectorSelector) or node.matchers.or_matchers:
        return None
    if node.offset is not None or node.at is not None:
        return None
    return node_selector(node)


def node_selector(node: promql_parser.VectorSelector) -> Selector:
    """The :class:`Selector` of a parsed vector selector (its modifiers are the caller's concern)."""
    return Selector(
        name=node.name,
        matchers=tuple(_matcher(m) for m in node.matchers.matchers),
        alternatives=tuple(tuple(_matcher(m) for m in group) for group in node.matchers.or_matchers),
    )


def _matcher(m: promql_parser.Matcher) -> Matcher:
    matcher = Matcher(name=m.name, op=match_op(m), value=m.value)
    if matcher.is_regex:
        matcher.regex()  # refused while parsing, like Prometheus does
    return matcher


def describe_node(node: object) -> str:
    """Name what makes ``node`` more than a plain selector, for a refusal message."""
    if isinstance(node, promql_parser.Call):
        return f"the function {node.func.name}()"
    if isinstance(node, promql_parser.AggregateExpr):
        return f"the aggregation {node.op}"
    if isinstance(node, promql_parser.BinaryExpr):
        return f"the operator {node.op}"
    if isinstance(node, promql_parser.MatrixSelector):
        return "a range vector [...]"
    if isinstance(node, promql_parser.SubqueryExpr):
        return "a subquery [...:...]"
    if isinstance(node, promql_parser.UnaryExpr):
        return "a unary minus"
    if isinstance(node, (promql_parser.NumberLiteral, promql_parser.StringLiteral)):
        return "a literal"
    return "more than a selector"


def _needs_prometheus(expr: str, what: str) -> BadQueryError:
    return BadQueryError(
        f"{one_line(expr)!r} uses {what}: the demo/CSV source only answers plain selectors like "
        f'metric{{label="value"}}; a real Prometheus is needed for that expression (--prometheus-url)'
    )


def one_line(text: str) -> str:
    """``text`` with every run of whitespace (newlines included) as one space, for one-line errors."""
    return " ".join(text.split())


def _re2_options() -> "re2.Options":
    options = re2.Options()
    options.dot_nl = True  # Prometheus 3: "." matches newlines too
    options.log_errors = False  # a bad pattern is the user's error, reported as a 400, not logged by RE2
    return options


_RE2_OPTIONS = _re2_options()


def compile_label_regex(pattern: str, label: str = "label"):
    """A label regex as Prometheus runs it: RE2 syntax, anchored at both ends, linear-time matching.

    RE2 (google-re2, the library Go's regexp follows) never backtracks, so a pattern like
    ``(.*)*z`` costs time linear in the value, and it releases the interpreter lock while matching.
    Use ``.fullmatch`` for Prometheus' anchoring.
    """
    try:
        return re2.compile(pattern, _RE2_OPTIONS)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        reason = reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)
        raise BadQueryError(f"bad PromQL: regex {pattern!r} for label {label!r}: {reason}") from exc


__all__ = ["Matcher", "Selector", "compile_label_regex", "describe_node", "node_selector", "one_line",
           "parse_query", "parse_selector", "plain_selector"]
