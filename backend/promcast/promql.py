"""PromQL text as Prometheus reads it: the one entry point to promql-parser.

Prometheus processes no escape sequences inside backtick raw strings, so ``instance=~`10\\.0\\.0\\.1:9100```
is a regex matching ``10.0.0.1:9100``: exactly the form a Grafana variable takes once the plugin has
regex-escaped it, and what promcast's dashboards write. promql-parser (0.12) applies escape rules inside
backticks too and refuses ``\\.``; :func:`parse` therefore hands it each raw string rewritten as the
equivalent double-quoted one. The expression sent to Prometheus is never rewritten.
"""

from __future__ import annotations

import re

import promql_parser

#: string literals and comments, in the order the lexer meets them (so a backtick inside "..." is text)
_TOKENS = re.compile(r'"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'|`[^`]*`|#[^\n]*', re.DOTALL)


def escape_string(value: str) -> str:
    """``value`` as the body of a double-quoted PromQL string (backslash, quote and newline escaped): the
    one escaper for label values, matchers and literals promcast writes."""
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def quote_string(value: str) -> str:
    """``value`` as a double-quoted PromQL string literal."""
    return f'"{escape_string(value)}"'


#: RE2's metacharacters: what :func:`regex_escape` escapes
_RE2_SPECIAL = frozenset("\\.+*?()|[]{}^$")


def regex_escape(value: str) -> str:
    """``value`` as an RE2 pattern that matches exactly it, for ``=~"a|b"`` alternations; only RE2's
    metacharacters are escaped (RE2 rejects some escapes Python's re.escape writes)."""
    return "".join("\\" + ch if ch in _RE2_SPECIAL else ch for ch in str(value))


def raw_strings_as_quoted(expr: str) -> str:
    """``expr`` with every backtick raw string written as the double-quoted string of the same value."""
    if "`" not in expr:
        return expr
    return _TOKENS.sub(lambda m: quote_string(m.group(0)[1:-1]) if m.group(0).startswith("`") else m.group(0), expr)


#: matcher operators as PromQL writes them, by promql-parser's MatchOp member name
MATCH_OPS = {"Equal": "=", "NotEqual": "!=", "Re": "=~", "NotRe": "!~"}


def match_op(matcher) -> str:
    """A parsed matcher's operator as PromQL writes it (``=~``)."""
    return MATCH_OPS[str(matcher.op).rsplit(".", 1)[-1]]


def unwrap_parens(node):
    """``node`` without the parentheses around it: ``(foo)`` is ``foo``."""
    while isinstance(node, promql_parser.ParenExpr):
        node = node.expr
    return node


def skip_string(text: str, i: int) -> int:
    """The index just past the string literal that starts at ``text[i]`` (a quote or a backtick); the end of
    ``text`` when it is unterminated. Raw strings (backticks) have no escapes."""
    quote, i, n = text[i], i + 1, len(text)
    while i < n:
        if text[i] == "\\" and quote != "`":
            i += 2
        elif text[i] == quote:
            return i + 1
        else:
            i += 1
    return n


def skip_comment(text: str, i: int) -> int:
    """The index just past the ``#`` comment that starts at ``text[i]`` (its newline included)."""
    end = text.find("\n", i)
    return len(text) if end < 0 else end + 1


def skip_literal(text: str, i: int) -> int:
    """Past the string literal or ``#`` comment that starts at ``text[i]``; ``i`` itself when none does
    (what every scanner of PromQL text skips before it looks at a character)."""
    c = text[i]
    if c in "\"'`":
        return skip_string(text, i)
    if c == "#":
        return skip_comment(text, i)
    return i


def skip_number(text: str, i: int) -> int:
    """Past the number or duration that starts at ``text[i]`` (``1.5e-3``, ``0x1f``, ``5m``): a sign after an
    exponent ``e`` (one that follows a digit and precedes one) belongs to the number, not an operator."""
    n = len(text)
    while i < n and (text[i].isalnum() or text[i] in "._"):
        if (text[i] in "eE" and i + 2 < n and text[i + 1] in "+-" and text[i + 2].isdigit()
                and not text[i - 1].isalpha()):
            i += 2
            continue
        i += 1
    return i


def parse(expr: str):
    """promql-parser's AST of ``expr`` read as Prometheus reads it (raw strings included).

    Raises what promql-parser raises (ValueError/TypeError) for PromQL that does not parse.
    """
    return promql_parser.parse(raw_strings_as_quoted(expr))
