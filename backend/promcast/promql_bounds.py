"""Size limits a PromQL expression must meet before it reaches the parser.

promql-parser is native code: a deeply nested expression overflows a thread's stack inside it (the
process dies), and walking or transforming its AST costs time cubic in the depth. So every expression
from a request or a spec is measured here first, with a linear scan of the text that never recurses:
its length, its bracket nesting (``(``, ``[``, ``{``) and its number of operators (each binary or
unary operator is one more level of AST: ``a + a + ... + a`` is as deep as it is long). The limits are
far above what people write (a dashboard query nests a handful of levels) and far below where the
parser or the AST walk hurt.
"""

from __future__ import annotations

from .errors import BadQueryError
from .promql import skip_literal, skip_number

#: longest expression accepted (characters); a long regex alternation of instance names fits easily
MAX_PROMQL_LENGTH = 32_768
#: deepest nesting of ( [ { accepted
MAX_PROMQL_NESTING = 32
#: most operators (binary: + - * / % ^ == != > < >= <= and or unless atan2; unary - +) accepted
MAX_PROMQL_OPERATORS = 100

_OPENING, _CLOSING = "([{", ")]}"
_OPERATOR_CHARS = frozenset("+-*/%^=!<>")
_WORD_OPERATORS = frozenset({"and", "or", "unless", "atan2"})


def check_promql(expr: str, what: str = "PromQL") -> str:
    """``expr`` itself when it is within the limits, else BadQueryError saying which limit and its value."""
    if not isinstance(expr, str):
        raise BadQueryError(f"bad {what}: expected a string, got {type(expr).__name__}")
    if len(expr) > MAX_PROMQL_LENGTH:
        raise BadQueryError(
            f"{what} too long: {len(expr)} characters, promcast accepts at most {MAX_PROMQL_LENGTH}")
    nesting, operators = measure(expr)
    if nesting > MAX_PROMQL_NESTING:
        raise BadQueryError(
            f"{what} nests too deeply: {nesting} levels of brackets, promcast accepts at most "
            f"{MAX_PROMQL_NESTING}")
    if operators > MAX_PROMQL_OPERATORS:
        raise BadQueryError(
            f"{what} has too many operators: {operators}, promcast accepts at most {MAX_PROMQL_OPERATORS}")
    return expr


def measure(text: str) -> tuple[int, int]:
    """``(deepest bracket nesting, operator count)`` of ``text``, skipping strings and comments.

    Operators inside ``{...}`` are label matchers, not PromQL operators, and are not counted; a run of
    operator characters (``>=``, ``- -``) counts once per character run, which over-counts nothing a
    person writes by more than a little. Numbers like ``1e-3`` do not count their sign.
    """
    depth = deepest = operators = braces = 0
    i, n = 0, len(text)
    while i < n:
        c, past = text[i], skip_literal(text, i)
        if past != i:
            i = past
            continue
        if c in _OPENING:
            depth += 1
            deepest = max(deepest, depth)
            braces += c == "{"
        elif c in _CLOSING:
            depth = max(depth - 1, 0)
            braces = max(braces - (c == "}"), 0)
        elif braces:
            pass
        elif c in _OPERATOR_CHARS:
            operators += 1
            while i + 1 < n and text[i + 1] in _OPERATOR_CHARS and text[i + 1] not in "+-":
                i += 1  # >=, ==, != are one operator; a following sign is a unary operator of its own
        elif c.isdigit() or c == ".":
            i = skip_number(text, i)
            continue
        elif c.isalpha() or c in "_:":
            start = i
            while i < n and (text[i].isalnum() or text[i] in "_:"):
                i += 1
            operators += text[start:i].lower() in _WORD_OPERATORS
            continue
        i += 1
    return deepest, operators
