"""PromQL raw strings read as Prometheus reads them (no escapes inside backticks)."""

import promql_parser
import pytest

from promcast.promql import parse, raw_strings_as_quoted


def matchers(expr):
    node = parse(expr)
    return [(m.name, str(m.op), m.value) for m in node.matchers.matchers]


@pytest.mark.parametrize("expr, value", [
    (r"up{instance=~`10\.0\.0\.1:9100`}", r"10\.0\.0\.1:9100"),
    (r"up{instance=~`(db-2\.example\.com:9100|10\.0\.0\.1:9100)`}", r"(db-2\.example\.com:9100|10\.0\.0\.1:9100)"),
    (r'up{path=`C:\temp "x"`}', r'C:\temp "x"'),
    (r'up{a="x\\.y"}', r"x\.y"),
    ("up{a=`multi\nline`}", "multi\nline"),
])
def test_raw_strings_keep_their_backslashes(expr, value):
    assert matchers(expr)[0][2] == value


def test_promql_parser_alone_refuses_what_prometheus_accepts():
    """Why the rewrite exists: the library reads escapes inside backticks."""
    with pytest.raises(ValueError):
        promql_parser.parse(r"up{instance=~`10\.0`}")


def test_quoted_strings_and_comments_are_left_as_they_are():
    expr = 'up{a="has ` backtick", b=\'also `\'} # a `comment`\n'
    assert raw_strings_as_quoted(expr) == expr
    assert raw_strings_as_quoted("up") == "up"


def test_bad_promql_still_fails():
    with pytest.raises((ValueError, TypeError)):
        parse("up{instance=~`unterminated}")


def test_one_number_scanner_for_bounds_and_filters():
    from promcast.promql import skip_number

    assert skip_number("1.5e-3 + x", 0) == 6  # the exponent's sign is part of the number
    assert skip_number("0xfe-1", 0) == 4  # a hex digit e: the minus is an operator
    assert skip_number("5m-1", 0) == 2
