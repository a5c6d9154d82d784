"""The demo's PromQL evaluator: each construct against values worked out by hand, then on the demo itself."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from promcast.errors import BadQueryError
from promcast.promql import parse
from promcast.sources.demo import BEYLA_SERVICES, DemoSource
from promcast.sources.demo_eval import Evaluator, histogram_quantile

MINUTE_NS = 60 * 10**9
NOW = pd.Timestamp("2024-05-06T12:00:00Z")


def sampler(table):
    """A sampler over ``{labels-tuple: f(minute) -> value}``: the demo's contract, with chosen numbers."""
    def sample(selector, minutes):
        out = []
        for key, func in table.items():
            labels = dict(key)
            if selector.matches(labels):
                out.append((labels, np.array([func(int(m)) for m in minutes], dtype=float)))
        return out

    return sample


def run(expr, table, minutes=(100, 110)):
    times = np.array(minutes, dtype=np.int64) * MINUTE_NS
    result = Evaluator(expr, times, sampler(table)).vector(parse(expr))
    return {tuple(sorted(labels.items())): values for labels, values in result}


def key(**labels):
    return tuple(sorted(labels.items()))


COUNTERS = {
    key(__name__="req", job="a", code="200"): lambda m: 2.0 * 60 * m,  # 2/s
    key(__name__="req", job="a", code="500"): lambda m: 0.5 * 60 * m,  # 0.5/s
    key(__name__="req", job="b", code="200"): lambda m: 60.0 * (m % 103),  # 1/s, reset at minute 103
}


def test_rate_and_increase_follow_counters_through_resets():
    got = run("rate(req[5m])", COUNTERS)
    assert got[key(job="a", code="200")] == pytest.approx([2.0, 2.0])
    assert got[key(job="b", code="200")] == pytest.approx([1.0, 1.0])
    got = run("increase(req{job=\"b\"}[10m])", COUNTERS, minutes=(105,))
    # samples at minutes 96..105; the reset to 0 at 103 counts as 0, so 8 steps of 60 over 540 s, scaled to 600 s
    assert got[key(job="b", code="200")] == pytest.approx([480.0 / 540.0 * 600.0])


def test_samples_before_the_history_start_are_no_samples_and_rate_extrapolates_like_prometheus():
    # no data before minute 100 (NaN, as the demo answers before now - history); 1/s from there
    late = {key(__name__="req", job="c"): lambda m: np.nan if m < 100 else 60.0 * m}
    got = run("rate(req[5m])", late, minutes=(103, 110))[key(job="c")]
    # step 103: samples 100..103 (180 s); the window starts 120 s before the first, more than 1.1 intervals,
    # so it extrapolates half an interval (30 s) at the start: 180 * 210/180 / 300
    assert got == pytest.approx([0.7, 1.0])
    assert run("increase(req[5m])", late, minutes=(103,))[key(job="c")] == pytest.approx([210.0])
    # a NaN then a value is not a counter reset (which would add the whole 6000): 480 over the 9 samples,
    # plus half an interval at the start
    assert run("increase(req[10m])", late, minutes=(108,))[key(job="c")] == pytest.approx([510.0])
    # a counter that starts at 0 is not extrapolated below its zero point
    zero = {key(__name__="req", job="z"): lambda m: np.nan if m < 100 else 60.0 * (m - 100)}
    assert run("rate(req[5m])", zero, minutes=(103,))[key(job="z")] == pytest.approx([180.0 / 300])
    # one valid sample in the window: no value
    assert np.isnan(run("rate(req[5m])", late, minutes=(100,))[key(job="c")][0])


def test_rate_extrapolates_towards_the_window_edges_by_at_most_1_1_intervals():
    # the step falls 30 s after a sample: 5 samples 240 s apart at the ends... (t-300, t] holds 5 minutes
    times = np.array([103 * MINUTE_NS + 30 * 10**9])
    table = {key(__name__="req"): lambda m: 120.0 * m}  # 2/s
    (labels, values), = Evaluator("increase(req[5m])", times, sampler(table)).vector(parse("increase(req[5m])"))
    # samples 99..103: 480 over 240 s; 30 s to either edge (< 66 s): extrapolated to 300 s
    assert values == pytest.approx([600.0])


def test_the_range_window_is_bounded_by_the_demo_history_and_refused_fast():
    import time
    src = DemoSource(now=NOW)
    began = time.monotonic()
    with pytest.raises(BadQueryError, match=r"longer than the demo's history \(35d\); use at most \[35d\]"):
        src.query_range("rate(http_server_request_duration_seconds_count[20y])", NOW - pd.Timedelta("1d"), NOW,
                        pd.Timedelta("1h"))
    with pytest.raises(BadQueryError, match="longer than the demo's history"):
        src.query_range('sum(rate({__name__=~".+"}[36d]))', NOW - pd.Timedelta("1d"), NOW, pd.Timedelta("1h"))
    assert time.monotonic() - began < 2
    # the longest window allowed samples only the history, not the minutes before it
    (h,) = src.query_range("sum(increase(http_server_request_duration_seconds_count[35d]))", NOW - pd.Timedelta("1h"),
                           NOW, pd.Timedelta("1h"))
    assert (h.values > 0).all()


def test_the_demo_sampler_does_not_generate_minutes_outside_its_history():
    src = DemoSource(now=NOW, history="1h")
    from promcast.promql_selector import parse_selector
    now_min = NOW.value // MINUTE_NS
    minutes = np.arange(now_min - 10**7, now_min + 10, dtype=np.int64)  # 19 years of minutes asked
    (labels, values), = src._sample(parse_selector('process_resident_memory_bytes{job="api"}'), minutes)
    assert np.isfinite(values).sum() == 61 and np.isnan(values[:-71]).all()


@pytest.mark.parametrize("window", ["1m", "90s", "119s"])
def test_a_window_too_short_for_two_demo_samples_is_refused_as_the_message_says(window):
    with pytest.raises(BadQueryError, match=r"use at least \[2m\]"):
        run(f"rate(req[{window}])", COUNTERS)
    assert run("rate(req[2m])", COUNTERS)[key(job="a", code="200")] == pytest.approx([2.0, 2.0])


def test_a_refusal_does_not_repeat_a_huge_expression():
    expr = 'abs(g{a!="' + "x" * 32000 + '"})'
    with pytest.raises(BadQueryError) as err:
        run(expr, {key(__name__="g"): lambda m: 1.0})
    assert len(str(err.value)) < 600 and "characters)" in str(err.value)


def test_aggregations_by_and_without():
    got = run("sum by (job) (rate(req[5m]))", COUNTERS)
    assert got[key(job="a")] == pytest.approx([2.5, 2.5]) and got[key(job="b")] == pytest.approx([1.0, 1.0])
    got = run("max without (code) (rate(req[5m]))", COUNTERS)
    assert got[key(job="a")] == pytest.approx([2.0, 2.0])
    assert run("count(req)", COUNTERS)[()] == pytest.approx([3, 3])
    assert run("avg(rate(req[5m]))", COUNTERS)[()] == pytest.approx([3.5 / 3] * 2)
    assert run("min by (code) (rate(req[5m]))", COUNTERS)[key(code="200")] == pytest.approx([1.0, 1.0])


def test_ratios_with_vector_matching():
    ratio = 'sum by (job) (rate(req{code=~"5.."}[5m])) / sum by (job) (rate(req[5m]))'
    assert run(ratio, COUNTERS) == {key(job="a"): pytest.approx([0.2, 0.2])}  # job b has no 5xx: no series
    # one-to-one with on(): the result keeps the on() labels only
    got = run('rate(req{code="500"}[5m]) / on(job) sum by (job) (rate(req[5m]))', COUNTERS)
    assert got == {key(job="a"): pytest.approx([0.2, 0.2])}
    # ignoring(code) keeps the rest
    got = run('rate(req{code="500"}[5m]) / ignoring(code) sum by (job) (rate(req[5m]))', COUNTERS)
    assert list(got) == [key(job="a")]
    # group_left: many on the left, labels copied from the one on the right
    limits = {**COUNTERS, key(__name__="owner", job="a", team="x"): lambda m: 1.0}
    got = run("rate(req[5m]) * on(job) group_left(team) owner", limits)
    assert got == {key(job="a", code="200", team="x"): pytest.approx([2.0, 2.0]),
                   key(job="a", code="500", team="x"): pytest.approx([0.5, 0.5])}


def test_many_to_many_without_group_left_is_refused():
    with pytest.raises(BadQueryError, match=r"multiple matches for labels: many-to-one matching must be explicit"):
        run("rate(req[5m]) / on(job) sum by (job) (rate(req[5m]))", COUNTERS)
    with pytest.raises(BadQueryError, match="many-to-many matching not allowed: matching labels must be unique on "
                                            "one side; the right side has several series for {'job': 'a'}"):
        run("sum by (job) (rate(req[5m])) / on(job) group_left rate(req[5m])", COUNTERS)


def test_duplicates_are_found_per_step_not_over_the_whole_range():
    # two series with the same matching labels that never have a value at the same step (a pod replaced)
    table = {key(__name__="mem", job="a", pod="old"): lambda m: 1.0 if m < 105 else np.nan,
             key(__name__="mem", job="a", pod="new"): lambda m: 2.0 if m >= 105 else np.nan,
             key(__name__="limit", job="a"): lambda m: 10.0}
    got = run("mem / on(job) limit", table)  # one-to-one: the left side has one series per step
    assert got == {key(job="a"): pytest.approx([0.1, 0.2])}
    got = run("limit / on(job) mem", table)  # the right side likewise
    assert got == {key(job="a"): pytest.approx([10.0, 5.0])}
    got = run("limit * on(job) group_left(pod) (0 * mem + 1)", table)
    assert got == {key(job="a", pod="old"): pytest.approx([10.0, np.nan], nan_ok=True),
                   key(job="a", pod="new"): pytest.approx([np.nan, 10.0], nan_ok=True)}
    # at the same step they clash, and the error names it
    both = {**table, key(__name__="mem", job="a", pod="new"): lambda m: 2.0}
    with pytest.raises(BadQueryError, match=r"multiple matches for labels.*at 1970-01-01T01:40:00Z"):
        run("mem / on(job) limit", both)


def test_comparison_results_keep_the_left_hand_value_and_prometheus_labels():
    table = {key(__name__="used", job="a", pod="p1"): lambda m: 5.0,
             key(__name__="used", job="a", pod="p2"): lambda m: 50.0,
             key(__name__="cap", job="a"): lambda m: 20.0}
    def kept(expr):
        return {k: v for k, v in run(expr, table).items() if not np.isnan(v).all()}

    # group_right: the right side is the many side, but a filter keeps the left-hand value (20), not 5 or 50
    assert kept("cap > on(job) group_right used") == {key(__name__="used", job="a", pod="p1"): pytest.approx([20.0] * 2)}
    assert kept("cap < on(job) group_right used") == {key(__name__="used", job="a", pod="p2"): pytest.approx([20.0] * 2)}
    # one-to-one with on(): only the on() labels, the metric name too goes (a filter as well as arithmetic)
    assert run('used{pod="p2"} > on(job) cap', table) == {key(job="a"): pytest.approx([50.0, 50.0])}
    assert run('used{pod="p2"} - on(job) cap', table) == {key(job="a"): pytest.approx([30.0, 30.0])}
    # ignoring(): the rest stays; a filter keeps the metric name, arithmetic drops it
    # (p1 is filtered out at every step, so p1 and p2 never clash on the signature {job="a"})
    assert kept("used > ignoring(pod) cap") == {key(__name__="used", job="a"): pytest.approx([50.0, 50.0])}
    assert kept('used{pod="p2"} - ignoring(pod) cap') == {key(job="a"): pytest.approx([30.0, 30.0])}


def test_comparisons_filter_or_return_bool_and_numbers_combine():
    gauges = {key(__name__="g", i="1"): lambda m: float(m), key(__name__="g", i="2"): lambda m: 105.0}
    got = run("g > 104", gauges)
    assert np.isnan(got[key(__name__="g", i="1")][0]) and got[key(__name__="g", i="1")][1] == 110
    assert got[key(__name__="g", i="2")] == pytest.approx([105, 105])  # a filter keeps the metric name
    assert run("g > bool 104", gauges)[key(i="1")] == pytest.approx([0.0, 1.0])
    assert run("2 * g - 1", gauges)[key(i="2")] == pytest.approx([209, 209])
    assert run("-g / (1 + 1)", gauges)[key(i="2")] == pytest.approx([-52.5, -52.5])


def test_histogram_quantile_interpolates_like_prometheus():
    # 100 observations: 50 up to 0.1, 40 more up to 0.5, 10 more up to +Inf
    buckets = [({"le": "0.1"}, 50.0), ({"le": "0.5"}, 90.0), ({"le": "+Inf"}, 100.0)]
    vector = [({"job": "a", **labels}, np.array([count])) for labels, count in buckets]
    (labels, values), = histogram_quantile(0.5, vector)
    assert labels == {"job": "a"} and values[0] == pytest.approx(0.1)
    assert histogram_quantile(0.7, vector)[0][1][0] == pytest.approx(0.1 + 0.4 * 20 / 40)
    assert histogram_quantile(0.25, vector)[0][1][0] == pytest.approx(0.05)  # the first bucket starts at 0
    assert histogram_quantile(0.99, vector)[0][1][0] == pytest.approx(0.5)  # in +Inf: the highest finite bound
    empty = [({"le": "0.1"}, np.array([0.0])), ({"le": "+Inf"}, np.array([0.0]))]
    assert np.isnan(histogram_quantile(0.5, empty)[0][1][0])


def test_histogram_quantile_edge_cases_follow_prometheus():
    buckets = [({"le": "0.1"}, 50.0), ({"le": "0.5"}, 90.0), ({"le": "+Inf"}, 100.0)]
    vector = [({"job": "a", **labels}, np.array([count, np.nan])) for labels, count in buckets]
    # phi out of [0, 1] is -Inf / +Inf, a NaN phi is NaN, whatever the buckets; no bucket sample: no value
    assert list(histogram_quantile(-0.5, vector)[0][1][:1]) == [-np.inf]
    assert list(histogram_quantile(1.5, vector)[0][1][:1]) == [np.inf]
    assert np.isnan(histogram_quantile(float("nan"), vector)[0][1]).all()
    assert np.isnan(histogram_quantile(1.5, vector)[0][1][1])
    no_inf = [({"le": "0.1"}, np.array([1.0]))]
    assert list(histogram_quantile(2.0, no_inf)[0][1]) == [np.inf] and np.isnan(histogram_quantile(0.5, no_inf)[0][1][0])
    # le="1" and le="1.0" are one bucket: their counts add up
    split = [({"le": "1"}, np.array([30.0])), ({"le": "1.0"}, np.array([20.0])), ({"le": "2"}, np.array([100.0])),
             ({"le": "+Inf"}, np.array([100.0]))]
    assert histogram_quantile(0.5, split)[0][1][0] == pytest.approx(1.0)
    assert histogram_quantile(0.75, split)[0][1][0] == pytest.approx(1.5)
    # phi 0 with an empty first bucket: 0/0 in Prometheus's interpolation, NaN
    assert np.isnan(histogram_quantile(0.0, [({"le": "1"}, np.array([0.0])), ({"le": "+Inf"}, np.array([3.0]))])[0][1][0])


@pytest.mark.parametrize("expr, words", [
    ("abs(g)", "the function abs()"), ("topk(1, g)", "the aggregation topk"), ("g and g", "the operator and"),
    ("g offset 5m", "an offset modifier"), ("rate(g[5m:1m])", "rate() of something other than a range selector"),
    ("1 + 1", "a literal number on its own"),
])
def test_anything_else_is_refused_naming_it(expr, words):
    with pytest.raises(BadQueryError, match="a real Prometheus is needed") as err:
        run(expr, {key(__name__="g"): lambda m: 1.0})
    assert words in str(err.value)


# ------------------------------------------------------------------------------------------ on the demo
def test_the_demo_answers_the_red_queries_of_the_presets():
    src = DemoSource(now=NOW)
    start, step = NOW - pd.Timedelta("6h"), pd.Timedelta("5m")
    rates = src.query_range("sum by (service_name) (rate(http_server_request_duration_seconds_count[5m]))",
                            start, NOW, step)
    assert [h.labels for h in rates] == [{"service_name": s} for s, *_ in sorted(BEYLA_SERVICES)]
    peaks = {s: peak for s, peak, _median, _errors in BEYLA_SERVICES}
    for h in rates:  # a weekday afternoon: between a quarter of the peak and the peak, growing 30 % a month
        assert 0.25 * peaks[h.labels["service_name"]] < h.values.iloc[-1] < 1.1 * peaks[h.labels["service_name"]]
    p95 = src.query_range("histogram_quantile(0.95, sum by (service_name, le) "
                          "(rate(http_server_request_duration_seconds_bucket[5m])))", start, NOW, step)
    medians = {s: median for s, _peak, median, _errors in BEYLA_SERVICES}
    assert [h.labels for h in p95] == [{"service_name": s} for s, *_ in sorted(BEYLA_SERVICES)]
    for h in p95:  # a log-normal's p95 is well above its median and far below the slowest bucket
        assert (h.values > medians[h.labels["service_name"]]).all() and (h.values < 5).all()
    errors = src.query_range(
        'sum by (service_name) (rate(http_server_request_duration_seconds_count{http_response_status_code=~"5.."}[5m]))'
        " / sum by (service_name) (rate(http_server_request_duration_seconds_count[5m]))", start, NOW, step)
    shares = {s: e for s, _peak, _median, e in BEYLA_SERVICES}
    assert [h.labels for h in errors] == [{"service_name": s} for s, *_ in sorted(BEYLA_SERVICES)]
    for h in errors:
        assert (h.values > 0).all() and h.values.mean() == pytest.approx(shares[h.labels["service_name"]], rel=0.6)


@pytest.mark.parametrize("history, back", [("35d", "35d"), ("35d", "34d"), ("2d", "2d")])
def test_a_rate_whose_first_window_reaches_past_the_history_start_still_answers(history, back):
    src = DemoSource(now=NOW, history=history)
    got = src.query_range("sum by (service_name) (rate(http_server_request_duration_seconds_count[5m]))",
                          NOW - pd.Timedelta(back), NOW, pd.Timedelta("1h"))
    assert [h.labels for h in got] == [{"service_name": s} for s, *_ in sorted(BEYLA_SERVICES)]
    # every step but one at the very history start (one sample in its window) has a value
    assert all(len(h.values) >= pd.Timedelta(back) // pd.Timedelta("1h") for h in got)


def test_a_range_query_of_an_expression_agrees_with_the_selector_it_reads():
    src = DemoSource(now=NOW)
    start = NOW - pd.Timedelta("2h")
    (plain,) = src.query_range('process_resident_memory_bytes{job="api"}', start, NOW, pd.Timedelta("5m"))
    (doubled,) = src.query_range('2 * process_resident_memory_bytes{job="api"}', start, NOW, pd.Timedelta("5m"))
    assert (doubled.values == 2 * plain.values).all() and "__name__" not in doubled.labels
