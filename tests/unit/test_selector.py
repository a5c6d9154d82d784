"""The one PromQL Selector: parsed for the demo and CSV sources, written for rules and presets."""

import pytest

from promcast.errors import BadQueryError
from promcast.promql_selector import Matcher, Selector, parse_selector

API = {"__name__": "process_resident_memory_bytes", "job": "api", "instance": "api-1:8080"}
WORKER = {"__name__": "process_resident_memory_bytes", "job": "worker", "instance": "worker-1:8080"}
CPU = {"__name__": "node_cpu_utilisation", "job": "node", "instance": "node-1:9100"}


def test_parses_name_and_every_matcher_operator():
    sel = parse_selector('up{a="1",b!="2",c=~"3.*",d!~"4"}')
    assert sel.name == "up"
    assert [(m.name, m.op, m.value) for m in sel.matchers] == [
        ("a", "=", "1"), ("b", "!=", "2"), ("c", "=~", "3.*"), ("d", "!~", "4"),
    ]


@pytest.mark.parametrize(
    "expr, selected",
    [
        ("process_resident_memory_bytes", [API, WORKER]),
        ('process_resident_memory_bytes{job="api"}', [API]),
        ('process_resident_memory_bytes{job!="api"}', [WORKER]),
        ('process_resident_memory_bytes{job=~"api|work.*"}', [API, WORKER]),
        ('process_resident_memory_bytes{job!~"api"}', [WORKER]),
        ('{job=~"api|node"}', [API, CPU]),
        ('{__name__=~"node_.*"}', [CPU]),
        ('{__name__="process_resident_memory_bytes",job="worker"}', [WORKER]),
        ('node_cpu_utilisation{job="api"}', []),
        ('{job="api" or job="node"}', [API, CPU]),
        ("(node_cpu_utilisation)", [CPU]),
    ],
)
def test_selects_series_like_prometheus(expr, selected):
    sel = parse_selector(expr)
    assert [s for s in (API, WORKER, CPU) if sel.matches(s)] == selected


def test_regex_is_anchored_at_both_ends():
    sel = parse_selector('up{job=~"api"}')
    assert sel.matches({"__name__": "up", "job": "api"})
    assert not sel.matches({"__name__": "up", "job": "api2"})
    assert not sel.matches({"__name__": "up", "job": "my-api"})
    assert parse_selector('up{job!~"api"}').matches({"__name__": "up", "job": "api2"})


def test_missing_label_counts_as_empty_string():
    no_env = {"__name__": "up", "job": "api"}
    assert parse_selector('up{env=""}').matches(no_env)
    assert not parse_selector('up{job=""}').matches(no_env)
    assert parse_selector('up{env!="prod"}').matches(no_env)
    assert parse_selector('up{env=~"|dev"}').matches(no_env)
    assert not parse_selector('up{env=~".+"}').matches(no_env)
    assert not parse_selector('up{env="prod"}').matches(no_env)


def test_re2_posix_classes_and_newlines():
    sel = parse_selector('up{path=~"[[:alpha:]]+"}')
    assert sel.matches({"__name__": "up", "path": "abc"})
    assert not sel.matches({"__name__": "up", "path": "ab1"})
    assert parse_selector('up{msg=~"a.b"}').matches({"__name__": "up", "msg": "a\nb"})


def test_str_round_trips():
    for expr in ('up{job="a\\"b",x!~"y.*"}', "up", '{job="node"}', 'up{a="1" or b="2"}'):
        sel = parse_selector(expr)
        assert parse_selector(str(sel)) == sel


def test_selector_and_matcher_can_be_built_directly():
    sel = Selector("up", (Matcher("job", "=~", "a.*"),))
    assert sel.matches({"__name__": "up", "job": "abc"})
    assert not sel.matches({"__name__": "down", "job": "abc"})


@pytest.mark.parametrize(
    "expr, what",
    [
        ("rate(http_requests_total[5m])", "the function rate()"),
        ('sum by (job) (up{job="api"})', "the aggregation sum"),
        ("up + 1", "the operator +"),
        ("up[5m]", "a range vector"),
        ("up offset 1h", "an offset modifier"),
        ("up @ 1700000000", "an @ modifier"),
        ("up[1h:5m]", "a subquery"),
        ("-up", "a unary minus"),
        ("42", "a literal"),
    ],
)
def test_refuses_more_than_a_plain_selector(expr, what):
    with pytest.raises(BadQueryError) as info:
        parse_selector(expr)
    message = str(info.value)
    assert what in message
    assert 'only answers plain selectors like metric{label="value"}' in message
    assert "a real Prometheus is needed for that expression" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    "expr, parser_says",
    [
        ('up{job="api"', "unexpected end of input inside braces"),
        ("sum(up", "unclosed left parenthesis"),
        ("", "no expression found in input"),
        ("{}", "at least one non-empty matcher"),
    ],
)
def test_syntax_errors_carry_the_parser_message(expr, parser_says):
    with pytest.raises(BadQueryError) as info:
        parse_selector(expr)
    assert str(info.value).startswith("bad PromQL: ")
    assert parser_says in str(info.value)


def test_regex_re2_cannot_run_is_a_clear_error():
    # lookaheads are neither RE2 nor Prometheus: refused (by the parser or by RE2), naming the regex
    with pytest.raises(BadQueryError, match=r"^bad PromQL: .*\(\?=x\)"):
        parse_selector('up{job=~"(?=x)"}')


def test_re2_errors_name_the_label():
    from promcast.promql_selector import compile_label_regex

    with pytest.raises(BadQueryError, match=r"^bad PromQL: regex '\(a' for label 'job': missing \)"):
        compile_label_regex("(a", "job")


def test_catastrophic_regex_runs_in_linear_time():
    """``(.*)*z`` backtracks exponentially in Python's re; RE2 answers at once (no wall-clock bound asserted)."""
    selector = parse_selector('{__name__=~"(.*)*z"}')
    assert not selector.matches({"__name__": "a" * 100_000})
    assert selector.matches({"__name__": "a" * 1000 + "z"})
