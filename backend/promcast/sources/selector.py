"""The selector subset of PromQL, for sources that hold raw series (the demo and CSV files).

Those sources can only pick stored series by name and labels; they cannot evaluate functions,
operators or range vectors. Parsing uses promql-parser (the Rust parser Prometheus-compatible tools
use), so a selector means exactly what it means to Prometheus, and anything beyond a plain selector is
refused with a message that says to point promcast at a real Prometheus.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping

import promql_parser

from ..errors import BadQueryError
from ..promql_bounds import check_promql

#: matcher operators, as written in PromQL, by promql-parser's MatchOp member name
_OPS = {"Equal": "=", "NotEqual": "!=", "Re": "=~", "NotRe": "!~"}


@dataclass(frozen=True)
class Matcher:
    """One label matcher: ``name op "value"``; a missing label counts as the empty string."""

    name: str
    op: str
    value: str
    _regex: re.Pattern | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.op not in _OPS.values():
            raise ValueError(f"unknown matcher operator {self.op!r}")
        if self.op in ("=~", "!~") and self._regex is None:
            try:
                # Prometheus anchors regexes at both ends and lets "." match newlines (3.x).
                regex = re.compile(_to_python_regex(self.value), re.DOTALL)
            except re.error as exc:
                raise BadQueryError(
                    f"bad PromQL: regex {self.value!r} for label {self.name!r}: {exc}"
                ) from exc
            object.__setattr__(self, "_regex", regex)

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether ``labels`` satisfy this matcher (absent labels are "")."""
        actual = labels.get(self.name, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        hit = self._regex.fullmatch(actual) is not None  # type: ignore[union-attr]
        return hit if self.op == "=~" else not hit

    def __str__(self) -> str:
        return f'{self.name}{self.op}"{_escape(self.value)}"'


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
        groups = self.alternatives or (self.matchers,)
        return any(all(m.matches(labels) for m in group) for group in groups)

    def __str__(self) -> str:
        groups = self.alternatives or (self.matchers,)
        inner = " or ".join(",".join(str(m) for m in group) for group in groups)
        return f"{self.name or ''}{{{inner}}}" if inner or not self.name else self.name


def parse_selector(expr: str) -> Selector:
    """Parse ``expr`` into a :class:`Selector`, or raise BadQueryError naming the problem."""
    if not isinstance(expr, str):
        raise BadQueryError(f"bad PromQL: expected a string, got {type(expr).__name__}")
    check_promql(expr)  # before the native parser: deep nesting overflows its stack
    try:
        node = promql_parser.parse(expr)
    except (ValueError, TypeError) as exc:
        raise BadQueryError(f"bad PromQL: {_one_line(str(exc))}") from exc
    while isinstance(node, promql_parser.ParenExpr):  # "(foo)" is just "foo"
        node = node.expr
    if not isinstance(node, promql_parser.VectorSelector):
        raise _needs_prometheus(expr, _describe(node))
    if node.offset is not None:
        raise _needs_prometheus(expr, "an offset modifier")
    if node.at is not None:
        raise _needs_prometheus(expr, "an @ modifier")
    matchers = tuple(_matcher(m) for m in node.matchers.matchers)
    alternatives = tuple(
        tuple(_matcher(m) for m in group) for group in node.matchers.or_matchers
    )
    return Selector(name=node.name, matchers=matchers, alternatives=alternatives)


def _matcher(m: promql_parser.Matcher) -> Matcher:
    op_name = str(m.op).rsplit(".", 1)[-1]
    return Matcher(name=m.name, op=_OPS[op_name], value=m.value)


def _describe(node: object) -> str:
    """Name what makes ``node`` more than a plain selector, for the refusal message."""
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
        f"{_one_line(expr)!r} uses {what}: the demo/CSV source only answers plain selectors like "
        f'metric{{label="value"}}; a real Prometheus is needed for that expression (--prometheus-url)'
    )


def _one_line(text: str) -> str:
    return " ".join(text.split())


#: RE2's POSIX bracket classes (valid inside [...]), which Python's re lacks
_POSIX_CLASSES = {
    "alnum": "0-9A-Za-z", "alpha": "A-Za-z", "ascii": "\\x00-\\x7f", "blank": "\\t ",
    "cntrl": "\\x00-\\x1f\\x7f", "digit": "0-9", "graph": "!-~", "lower": "a-z",
    "print": " -~", "punct": "!-/:-@\\[-`{-~", "space": "\\t\\n\\v\\f\\r ", "upper": "A-Z",
    "word": "0-9A-Za-z_", "xdigit": "0-9A-Fa-f",
}
_POSIX = re.compile(r"\[:(\^?)(" + "|".join(_POSIX_CLASSES) + r"):\]")
_END_OF_TEXT = re.compile(r"(?<!\\)((?:\\\\)*)\\z")


def _to_python_regex(pattern: str) -> str:
    """Translate the RE2 syntax Prometheus accepts but Python spells differently."""
    def posix(m: re.Match) -> str:
        if m.group(1):  # negated class inside a bracket has no simple Python spelling
            raise re.error(f"negated POSIX class [:^{m.group(2)}:] is not supported here")
        return _POSIX_CLASSES[m.group(2)]

    # RE2's \z (end of text) is Python's \Z; an escaped backslash before "z" stays as it is
    return _END_OF_TEXT.sub(r"\1\\Z", _POSIX.sub(posix, pattern))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
