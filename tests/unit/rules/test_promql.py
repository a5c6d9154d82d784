"""PromQL writing: literals, series keys, set matchers and restricted terms all parse and mean what they say."""

from __future__ import annotations

import re

import pandas as pd
import promql_parser

from promcast.promql import regex_escape
from promcast.rules.promql import Input, dur, functions_used, key_labels, label_table, num, set_matchers


def test_number_and_duration_literals():
    assert num(2 * 2**30) == "2147483648"
    assert num(0.1 + 0.2) == "0.3"
    assert num(1.5e-7) == "1.5e-07" and num(0) == "0"
    assert dur(pd.Timedelta(days=13)) == "13d"
    assert dur(pd.Timedelta(days=6, hours=23, minutes=52, seconds=30)) == "6d23h52m30s"
    for text in (num(1.5e-7), num(123456789012), "x[" + dur(pd.Timedelta("90min")) + "]"):
        promql_parser.parse(text if text.startswith("x") else f"x > {text}")


def test_key_labels_are_the_fewest_that_tell_series_apart():
    fs = [{"__name__": "a", "instance": i, "mountpoint": m, "device": f"{i}{m}", "job": "node"}
          for i in ("n1", "n2") for m in ("/", "/var")]
    assert key_labels(fs) == ["device"]  # one label with four values tells the four apart
    same_count = [{"instance": "n1", "mountpoint": "/", "device": "sda"}, {"instance": "n1", "mountpoint": "/x", "device": "sdb"}]
    assert key_labels(same_count) == ["mountpoint"]
    assert key_labels([{"job": "x"}]) == []


def test_set_matchers_select_exactly_the_members():
    keys = ["instance", "mountpoint"]
    members = [{"instance": "n1", "mountpoint": "/"}, {"instance": "n1", "mountpoint": "/var"},
               {"instance": "n2", "mountpoint": "/"}]
    groups = set_matchers(members, keys)
    everything = [{"instance": i, "mountpoint": m} for i in ("n1", "n2", "n3") for m in ("/", "/var", "/x")]

    def selected(labels):
        return any(all(_match(labels, m) for m in g) for g in groups)

    assert [l for l in everything if selected(l)] == sorted(members, key=lambda l: everything.index(l))


def _match(labels, matcher):
    if matcher.op == "=":
        return labels.get(matcher.name, "") == matcher.value
    return re.fullmatch(matcher.value, labels.get(matcher.name, "")) is not None


def test_regex_escape_only_escapes_re2_metacharacters():
    assert regex_escape("/var/lib.d (x)") == r"/var/lib\.d \(x\)"
    assert re.fullmatch(regex_escape("a+b|c"), "a+b|c")


def test_selector_terms_inject_matchers_and_keep_the_users():
    inp = Input('node_filesystem_avail_bytes{fstype!="tmpfs"}', pd.Timedelta("5min"))
    members = [{"mountpoint": "/"}, {"mountpoint": "/home"}]
    text = inp.term(lambda s: f"deriv({s.range(pd.Timedelta('6h'))})", members, ["mountpoint"])
    assert text == 'deriv(node_filesystem_avail_bytes{fstype!="tmpfs", mountpoint=~"/|/home"}[6h])'
    assert inp.term(lambda s: s.instant(), None, ["mountpoint"]) == 'node_filesystem_avail_bytes{fstype!="tmpfs"}'
    promql_parser.parse(text)


def test_other_expressions_use_subqueries_and_a_label_table():
    inp = Input("sum by (job) (rate(http_requests_total[5m]))", pd.Timedelta("5min"))
    text = inp.term(lambda s: f"deriv({s.range(pd.Timedelta(days=1))})", [{"job": 'a"b'}], ["job"])
    assert text.startswith("(deriv((sum by (job) (rate(http_requests_total[5m])))[1d:5m])) and on(job) ")
    assert 'label_replace(vector(1), "job", "a\\"b", "", "")' in text
    promql_parser.parse(text)
    assert functions_used(text) == {"deriv", "rate", "label_replace", "vector"}


def test_label_table_rows():
    table = label_table([{"a": "1", "b": "x"}, {"a": "2", "b": "y"}], ["a", "b"])
    assert table.count("vector(1)") == 2
    promql_parser.parse(table)
