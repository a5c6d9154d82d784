"""Ad hoc filters land on every vector selector, and the result means what the original meant plus them."""

from __future__ import annotations

import promql_parser
import pytest

from promcast.errors import BadQueryError, InputError
from promcast.promql_filters import add_matchers, matchers_from_filters
from promcast.promql_selector import Matcher

JOB = [Matcher("job", "=", "api")]


def selectors(expr: str) -> list[tuple[str | None, list[tuple[str, str]], list]]:
    found = []
    promql_parser.walk(promql_parser.parse(expr), pre_visit=lambda n: found.append(n)
                       if isinstance(n, promql_parser.VectorSelector) else None)
    return [(s.name, [(m.name, m.value) for m in s.matchers.matchers],
             [[(m.name, m.value) for m in g] for g in s.matchers.or_matchers]) for s in found]


@pytest.mark.parametrize("expr, expected", [
    ("up", 'up{job="api"}'),
    ('sum(rate(http_requests_total[5m])) by (job)', 'sum(rate(http_requests_total{job="api"}[5m])) by (job)'),
    ('sum by (le) (rate(x_bucket{a="b"}[5m]))', 'sum by (le) (rate(x_bucket{a="b",job="api"}[5m]))'),
    ('x / on(instance) group_left(node) y', 'x{job="api"} / on(instance) group_left(node) y{job="api"}'),
    ('x{a="b",}', 'x{a="b",job="api"}'),
    ('x{}', 'x{job="api"}'),
    ('{__name__=~"node_.*"}', '{__name__=~"node_.*",job="api"}'),
    ('max_over_time(rate(x[5m])[1h:5m] offset 1d)', 'max_over_time(rate(x{job="api"}[5m])[1h:5m] offset 1d)'),
    ('x @ start() > bool Inf', 'x{job="api"} @ start() > bool Inf'),
    ('label_replace(x, "dst", "$1", "src", "(.*)")', 'label_replace(x{job="api"}, "dst", "$1", "src", "(.*)")'),
    ('vector(1) + time()', 'vector(1) + time()'),
    ('SUM(x) BY (job) # total\n', 'SUM(x{job="api"}) BY (job) # total\n'),
    ('node:cpu:rate5m', 'node:cpu:rate5m{job="api"}'),
])
def test_matcher_is_added_to_every_selector(expr, expected):
    assert add_matchers(expr, JOB) == expected


def test_every_selector_gets_the_matcher_semantically():
    expr = 'topk(scalar(y{c="d"}), rate(x[5m])) or absent(z) unless on(job) w'
    result = add_matchers(expr, JOB)
    assert all(("job", "api") in matchers for _, matchers, _ in selectors(result))
    assert [name for name, _, _ in selectors(result)] == [name for name, _, _ in selectors(expr)]


def test_or_groups_each_get_the_matcher():
    result = add_matchers('x{a="b" or c="d"}', JOB)
    (_, plain, groups), = selectors(result)
    assert plain == [] and groups == [[("a", "b"), ("job", "api")], [("c", "d"), ("job", "api")]]


def test_values_are_escaped():
    matcher = Matcher("path", "=~", 'a\\.b|"c"\nd')
    (_, plain, _), = selectors(add_matchers("x", [matcher]))
    assert plain == [("path", 'a\\.b|"c"\nd')]


def test_no_filters_leave_the_expression_alone():
    assert add_matchers("anything (not parsed)", []) == "anything (not parsed)"


def test_bad_promql_is_a_bad_query():
    with pytest.raises(BadQueryError, match="bad PromQL"):
        add_matchers("sum(rate(x[5m]", JOB)


def test_grafana_filters_become_matchers():
    filters = [{"key": "job", "operator": "=", "value": "api"},
               {"key": "instance", "operator": "!~", "value": "node-.*"},
               {"key": "zone", "operator": "=|", "value": "", "values": ["eu-1", "us.2"]},
               {"key": "env", "operator": "!=", "value": 7, "condition": "AND"}]
    assert matchers_from_filters(filters) == [
        Matcher("job", "=", "api"), Matcher("instance", "!~", "node-.*"),
        Matcher("zone", "=~", "eu\\-1|us\\.2"), Matcher("env", "!=", "7")]


@pytest.mark.parametrize("bad, message", [
    ({"key": "job", "operator": "<", "value": "1"}, "operator '<'"),
    ({"key": "not a label", "operator": "=", "value": "1"}, "bad ad hoc filter key"),
    ("job=api", "expected an object"),
])
def test_filters_that_promql_cannot_express_are_refused(bad, message):
    with pytest.raises(InputError, match=message):
        matchers_from_filters([bad])
