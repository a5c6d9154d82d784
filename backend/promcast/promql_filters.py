"""Grafana ad hoc filters as label matchers on every vector selector of a PromQL expression.

``sum(rate(http_requests_total[5m])) by (job)`` with the filter ``job = api`` becomes
``sum(rate(http_requests_total{job="api"}[5m])) by (job)``: the matcher goes on the selector, where
Prometheus can use it, not on the result. promql-parser gives the AST but no source positions, and its
printer mangles escapes and ``or`` matcher groups, so the rewrite is textual: a small lexer finds each
selector's span in the original text and inserts the matchers there. The result is then checked against
the AST: re-parsed, every selector must be the original plus the new matchers and everything else must
be unchanged. A mismatch (a lexer gap) is refused with a clear error, never a silently wrong query.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Sequence

import promql_parser

from .errors import BadQueryError, InputError
from .promql import parse as parse_promql
from .promql import skip_comment as _skip_comment
from .promql import MATCH_OPS, skip_literal, skip_number
from .promql import skip_string as _skip_string
from .promql_bounds import check_promql
from .promql_selector import Matcher

#: Grafana ad hoc operators -> PromQL matcher operators (``=|`` / ``!=|`` are Grafana 10's "one of")
_OPERATORS = {"=": "=", "!=": "!=", "=~": "=~", "!~": "!~", "=|": "=~", "!=|": "!~"}
_MATCH_OPS = {op: member for member, op in MATCH_OPS.items()}  # "=~" -> "Re"
_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")

# words that are never a metric name where they appear (PromQL keywords are case-insensitive)
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "atan2", "inf", "nan"}
_LABEL_LIST_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right"}
_AGGREGATORS = {
    "sum", "avg", "count", "min", "max", "group", "stddev", "stdvar", "topk", "bottomk",
    "count_values", "quantile", "limitk", "limit_ratio",
}


def matchers_from_filters(filters: Iterable[object]) -> list[Matcher]:
    """Grafana's ``filters`` (``[{key, operator, value}]``, Grafana 10+ also ``values``) as matchers.

    Raises InputError naming the filter when a key or operator cannot become a PromQL matcher.
    """
    out: list[Matcher] = []
    for i, item in enumerate(filters):
        if not isinstance(item, dict):
            raise InputError(f"bad ad hoc filter #{i + 1}: expected an object with key, operator and value")
        key = str(item.get("key") or "").strip()
        operator = str(item.get("operator") or "=").strip()
        if not _LABEL.fullmatch(key):
            raise InputError(f"bad ad hoc filter key {key!r}: expected a label name (letters, digits, _)")
        if operator not in _OPERATORS:
            raise InputError(
                f"ad hoc filter {key} {operator} ...: operator {operator!r} has no PromQL matcher; "
                f"use one of {', '.join(_OPERATORS)}"
            )
        if operator in ("=|", "!=|"):
            values = item.get("values")
            values = values if isinstance(values, list) else [item.get("value", "")]
            value = "|".join(re.escape(str(v)) for v in values)
        else:
            value = item.get("value", "")
            value = "" if value is None else str(value)
        out.append(Matcher(key, _OPERATORS[operator], value))
    return out


def add_matchers(expr: str, matchers: Sequence[Matcher]) -> str:
    """``expr`` with ``matchers`` added to every vector selector; ``expr`` itself when there are none.

    Raises BadQueryError for PromQL that does not parse (naming the parser's complaint) and for
    PromQL beyond promcast's size limits (checked with or without matchers, so every source refuses
    the same expressions).
    """
    if isinstance(expr, str):
        check_promql(expr)
    if not matchers:
        return expr
    original = _parse(expr)
    spans = list(_selector_spans(expr))
    rewritten = _rewrite(expr, spans, matchers)
    try:
        result = parse_promql(rewritten)
    except (ValueError, TypeError):
        result = None
    if result is None or not _same_with_matchers(original, result, matchers):
        raise BadQueryError(
            f"cannot apply ad hoc filters to {_one_line(expr)!r}; remove the filters or write the "
            "matchers into the expression"
        )
    return rewritten


# ---------------------------------------------------------------------------------------- lexer


@dataclass(frozen=True)
class _Span:
    """A selector in the text: ``[start, end)``; ``brace`` is the index of its ``{`` or -1."""

    start: int
    end: int
    brace: int


def _selector_spans(text: str) -> Iterable[_Span]:
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c == "#":
            i = _skip_comment(text, i)
        elif c in "\"'`":
            i = _skip_string(text, i)
        elif c == "[":
            i = _skip_group(text, i, "[", "]")
        elif c == "{":
            end = _skip_group(text, i, "{", "}")
            yield _Span(i, end, i)
            i = end
        elif c.isdigit() or (c == "." and i + 1 < n and text[i + 1].isdigit()):
            i = skip_number(text, i)
        elif c.isalpha() or c in "_:":
            start = i
            while i < n and (text[i].isalnum() or text[i] in "_:"):
                i += 1
            word = text[start:i].lower()
            after = _skip_blank(text, i)
            nxt = text[after] if after < n else ""
            if word in _LABEL_LIST_KEYWORDS:
                if nxt == "(":
                    i = _skip_group(text, after, "(", ")")
            elif word in _KEYWORDS or word in _AGGREGATORS or nxt == "(":
                pass  # a keyword, an aggregation or a function name
            elif nxt == "{":
                end = _skip_group(text, after, "{", "}")
                yield _Span(start, end, after)
                i = end
            else:
                yield _Span(start, i, -1)
        else:
            i += 1


def _skip_blank(text: str, i: int) -> int:
    n = len(text)
    while i < n:
        if text[i].isspace():
            i += 1
        elif text[i] == "#":
            i = _skip_comment(text, i)
        else:
            break
    return i


def _skip_group(text: str, i: int, opening: str, closing: str) -> int:
    """Index just past the ``closing`` that matches ``text[i] == opening`` (strings and comments skipped)."""
    depth, n = 0, len(text)
    while i < n:
        c, past = text[i], skip_literal(text, i)
        if past != i:
            i = past
            continue
        if c == opening:
            depth += 1
        elif c == closing:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return n


# ------------------------------------------------------------------------------------ rewriting


def _rewrite(text: str, spans: Sequence[_Span], matchers: Sequence[Matcher]) -> str:
    added = ",".join(str(m) for m in matchers)
    out, pos = [], 0
    for span in spans:
        out.append(text[pos:span.start])
        if span.brace < 0:
            out.append(f"{text[span.start:span.end]}{{{added}}}")
        else:
            out.append(text[span.start:span.brace])
            out.append(_extend_block(text[span.brace:span.end], added))
        pos = span.end
    out.append(text[pos:])
    return "".join(out)


def _extend_block(block: str, added: str) -> str:
    """``{a="b" or c="d"}`` -> ``{a="b",X or c="d",X}``: ``added`` ends every ``or`` group."""
    inner = block[1:-1] if block.endswith("}") else block[1:]
    cuts, i, n = [0], 0, len(inner)
    while i < n:
        if inner[i] in "\"'`":
            i = _skip_string(inner, i)
            continue
        if (inner[i:i + 2].lower() == "or" and (i == 0 or not _word_char(inner[i - 1]))
                and (i + 2 >= n or not _word_char(inner[i + 2]))):
            cuts.append(i)
            i += 2
            continue
        i += 1
    groups = [inner[a:b] for a, b in zip(cuts, cuts[1:] + [n])]
    out = []
    for k, group in enumerate(groups):
        body = group.rstrip()
        tail = group[len(body):] or (" " if k < len(groups) - 1 else "")
        matchers = body[2:] if k > 0 else body  # without the leading "or"
        joiner = "" if not matchers.strip() or body.endswith(",") else ","
        if k > 0 and not matchers.strip():
            joiner = " "
        out.append(f"{body}{joiner}{added}{tail}")
    return "{" + "".join(out) + "}"


def _word_char(c: str) -> bool:
    return c.isalnum() or c == "_"


# ----------------------------------------------------------------------------------- checking


def _parse(expr: str):
    if not isinstance(expr, str) or not expr.strip():
        raise BadQueryError("bad PromQL: the expression is empty")
    try:
        return parse_promql(expr)
    except (ValueError, TypeError) as exc:
        raise BadQueryError(f"bad PromQL: {_one_line(str(exc))}") from exc


def _selectors(ast) -> list:
    """The vector selectors of ``ast`` in a fixed (pre-)order."""
    return [node for node in _nodes(ast) if isinstance(node, promql_parser.VectorSelector)]


def _nodes(ast) -> list:
    """Every node of ``ast`` in pre-order, left to right, without recursion.

    Linear in the size of the tree: promql-parser's own ``walk``/``transform``/``repr`` take time
    cubic in the depth, which an expression nested a few hundred levels turns into minutes.
    """
    out, stack = [], [ast]
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(reversed(_children(node)))
    return out


def _children(node) -> list:
    if isinstance(node, promql_parser.BinaryExpr):
        return [node.lhs, node.rhs]
    if isinstance(node, promql_parser.AggregateExpr):
        return [c for c in (node.param, node.expr) if c is not None]
    if isinstance(node, promql_parser.Call):
        return list(node.args)
    if isinstance(node, promql_parser.MatrixSelector):
        return [node.vector_selector]
    if isinstance(node, (promql_parser.ParenExpr, promql_parser.UnaryExpr, promql_parser.SubqueryExpr)):
        return [node.expr]
    return []


def _matcher_key(m) -> tuple[str, str, str]:
    return (str(m.op).rsplit(".", 1)[-1], m.name, m.value)


def _describe(selector, extra: Sequence[tuple[str, str, str]] = ()) -> tuple:
    groups = [list(g) for g in selector.matchers.or_matchers]
    plain = [_matcher_key(m) for m in selector.matchers.matchers]
    if groups:
        ors = tuple(tuple([_matcher_key(m) for m in g] + list(extra)) for g in groups)
        plain_out = tuple(plain)
    else:
        ors = ()
        plain_out = tuple(plain + list(extra))
    return (selector.name, plain_out, ors, _plain(selector.offset), _plain(selector.at))


def _skeleton(ast) -> tuple:
    """``ast`` with every vector selector left out: node kinds and everything but selectors, in order."""
    out = []
    for node in _nodes(ast):
        kind = type(node).__name__
        if isinstance(node, promql_parser.VectorSelector):
            out.append((kind,))
        elif isinstance(node, promql_parser.BinaryExpr):
            out.append((kind, str(node.op), _plain(node.modifier)))
        elif isinstance(node, promql_parser.AggregateExpr):
            out.append((kind, str(node.op), _plain(node.modifier), node.param is not None))
        elif isinstance(node, promql_parser.Call):
            out.append((kind, node.func.name, len(node.args)))
        elif isinstance(node, promql_parser.MatrixSelector):
            out.append((kind, _plain(node.range)))
        elif isinstance(node, promql_parser.SubqueryExpr):
            out.append((kind, _plain(node.range), _plain(node.step), _plain(node.offset), _plain(node.at)))
        elif isinstance(node, (promql_parser.NumberLiteral, promql_parser.StringLiteral)):
            out.append((kind, repr(node.val)))
        else:  # ParenExpr, UnaryExpr: their kind and child say it all
            out.append((kind,))
    return tuple(out)


def _plain(value, depth: int = 0):
    """A comparable value for a modifier, range or ``@`` (promql-parser's objects compare by identity)."""
    if value is None or isinstance(value, (str, int, float, bool)) or depth > 4:
        return repr(value)
    if isinstance(value, (list, tuple)):
        return tuple(_plain(v, depth + 1) for v in value)
    module = type(value).__module__ or ""
    if not module.startswith("promql_parser") or isinstance(value, type):
        return repr(value)
    attrs = [a for a in dir(value) if not a.startswith("_")]
    fields = [(a, getattr(value, a)) for a in attrs]
    if all(isinstance(v, type(value)) for _, v in fields):  # an enum member: its members are its attributes
        return str(value)
    fields = [(a, v) for a, v in fields if not callable(v)]
    return (type(value).__name__, tuple((a, _plain(v, depth + 1)) for a, v in fields))


def _same_with_matchers(original, result, matchers: Sequence[Matcher]) -> bool:
    extra = [(_MATCH_OPS[m.op], m.name, m.value) for m in matchers]
    before, after = _selectors(original), _selectors(result)
    if len(before) != len(after):
        return False
    if any(_describe(a, extra) != _describe(b) for a, b in zip(before, after)):
        return False
    return _skeleton(original) == _skeleton(result)




def _one_line(text: str) -> str:
    return " ".join(str(text).split())
