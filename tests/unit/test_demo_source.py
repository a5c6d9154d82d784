"""The embedded demo source: determinism, catalogue, Prometheus-like sampling, and the stories in the data.

The later features (anomaly detection, disk exhaustion, memory leaks, capacity) are demonstrated on this
data, so the properties they rely on are checked here directly with simple, model-free statistics.
"""

import numpy as np
import pandas as pd
import pytest

from promcast.errors import BadQueryError, InputError
from promcast.sources.base import History, Source
from promcast.sources.demo import GIB, MIB, DemoSource

# a Thursday afternoon, a Sunday at night and a Saturday just before midnight: the stories must
# not depend on the hour or weekday the demo happens to start at
NOWS = ["2024-03-14 12:34:56+00:00", "2025-06-01 03:10:00+00:00", "2024-12-28 23:59:00+00:00"]
NOW = pd.Timestamp(NOWS[0])
MIN = pd.Timedelta(minutes=1)


@pytest.fixture(scope="module", params=NOWS)
def demo(request):
    return DemoSource(now=pd.Timestamp(request.param))


def last(src, expr, span="14D", step=pd.Timedelta(minutes=5)):
    return src.query_range(expr, src.now - pd.Timedelta(span), src.now, step)


def one(src, expr, **kw):
    (h,) = last(src, expr, **kw)
    return h.values


# ---- interface and determinism ----

def test_is_a_source_with_a_description():
    src = DemoSource(now=NOW)
    assert isinstance(src, Source)
    assert src.description == "demo source"


def test_same_output_twice_and_across_instances():
    a, b = DemoSource(now=NOW), DemoSource(now=NOW)
    for x, y in zip(last(a, "node_cpu_utilisation"), last(b, "node_cpu_utilisation"), strict=True):
        assert x.labels == y.labels
        pd.testing.assert_series_equal(x.values, y.values)
    first, second = last(a, "http_requests"), last(a, "http_requests")
    pd.testing.assert_series_equal(first[0].values, second[0].values)


def test_overlapping_ranges_and_steps_agree_at_common_timestamps():
    src = DemoSource(now=NOW)
    expr = 'process_resident_memory_bytes{job="api"}'
    wide = src.query_range(expr, NOW - pd.Timedelta("3D"), NOW, MIN)[0].values
    early = src.query_range(expr, NOW - pd.Timedelta("3D"), NOW - pd.Timedelta("1D"), MIN)[0].values
    coarse = src.query_range(expr, NOW - pd.Timedelta("2D"), NOW, pd.Timedelta("15min"))[0].values
    pd.testing.assert_series_equal(early, wide.loc[early.index])
    pd.testing.assert_series_equal(coarse, wide.loc[coarse.index])
    # a later "now" (same anchor hour) extends the data without changing the past
    later = DemoSource(now=NOW + pd.Timedelta(minutes=20))
    again = later.query_range(expr, NOW - pd.Timedelta("3D"), NOW, MIN)[0].values
    pd.testing.assert_series_equal(again, wide)


def test_sub_minute_steps_hold_the_latest_one_minute_sample():
    src = DemoSource(now=NOW)
    start = NOW.floor("min") - pd.Timedelta("10min")
    fine = src.query_range("node_cpu_utilisation", start, NOW, pd.Timedelta("15s"))[0].values
    minute = src.query_range("node_cpu_utilisation", start, NOW, MIN)[0].values
    held = minute.reindex(fine.index, method="ffill")
    pd.testing.assert_series_equal(fine, held)
    assert fine.nunique() == minute.nunique()


def test_grid_is_step_aligned_and_clipped_to_the_history_window():
    src = DemoSource(now=NOW, history="35d")
    step = pd.Timedelta("5min")
    (h,) = src.query_range('up{instance="node-1:9100"}', NOW - pd.Timedelta("60D"),
                           NOW + pd.Timedelta("2D"), step)
    idx = h.values.index
    assert str(idx.tz) == "UTC" and idx.is_monotonic_increasing and idx.is_unique
    assert (idx.asi8 % step.value == 0).all()
    assert idx[0] >= NOW - pd.Timedelta("35D") > idx[0] - step
    assert idx[-1] <= NOW < idx[-1] + step
    assert (np.diff(idx.asi8) == step.value).all()
    assert h.values.dtype == np.float64


def test_start_and_end_are_floored_to_the_step():
    src = DemoSource(now=NOW)
    start, end = pd.Timestamp("2024-03-14 10:03:17Z"), pd.Timestamp("2024-03-14 11:58:00Z")
    (h,) = src.query_range("http_requests", start, end, pd.Timedelta("5min"))
    assert h.values.index[0] == pd.Timestamp("2024-03-14 10:00:00Z")
    assert h.values.index[-1] == pd.Timestamp("2024-03-14 11:55:00Z")


def test_naive_times_are_utc_and_other_zones_are_converted():
    src = DemoSource(now=NOW)
    naive = src.query_range("http_requests", pd.Timestamp("2024-03-14 08:00"),
                            pd.Timestamp("2024-03-14 09:00"), MIN)[0].values
    zoned = src.query_range("http_requests", pd.Timestamp("2024-03-14 10:00+02:00"),
                            pd.Timestamp("2024-03-14 11:00+02:00"), MIN)[0].values
    pd.testing.assert_series_equal(naive, zoned)


def test_results_sorted_by_legend_and_empty_when_nothing_matches():
    src = DemoSource(now=NOW)
    out = last(src, "node_filesystem_avail_bytes", span="1h")
    assert all(isinstance(h, History) for h in out)
    assert [h.legend for h in out] == sorted(h.legend for h in out)
    assert last(src, "no_such_metric", span="1h") == []
    assert last(src, 'node_cpu_utilisation{instance="nope"}', span="1h") == []
    assert src.query_range("up", NOW + pd.Timedelta("1D"), NOW + pd.Timedelta("2D"), MIN) == []


def test_live_mode_ends_at_the_current_time():
    src = DemoSource()
    before = pd.Timestamp.now(tz="UTC")
    (h,) = src.query_range("http_requests", before - pd.Timedelta("1h"), before, MIN)
    assert before - pd.Timedelta("2min") <= h.values.index[-1] <= pd.Timestamp.now(tz="UTC")
    assert src.anchor <= before and src.anchor == src.anchor.floor("h")


def test_bad_queries_are_clear_errors():
    src = DemoSource(now=NOW)
    with pytest.raises(BadQueryError, match="a real Prometheus is needed"):
        last(src, "abs(http_requests)")
    with pytest.raises(BadQueryError, match="^bad PromQL: "):
        last(src, "up{")
    with pytest.raises(InputError, match="step must be positive"):
        src.query_range("up", NOW - pd.Timedelta("1h"), NOW, pd.Timedelta(0))
    with pytest.raises(InputError, match="before its start"):
        src.query_range("up", NOW, NOW - pd.Timedelta("1h"), MIN)
    with pytest.raises(InputError, match="use a step of at least"):
        src.query_range("up", NOW - pd.Timedelta("30D"), NOW, pd.Timedelta("1s"))
    with pytest.raises(InputError, match="demo history"):
        DemoSource(now=NOW, history="-1d")


# ---- catalogue ----

def test_catalogue_has_every_required_metric_with_its_labels():
    src = DemoSource(now=NOW)
    names = src.metric_names()
    for metric in ("node_cpu_utilisation", "node_filesystem_avail_bytes", "node_filesystem_size_bytes",
                   "process_resident_memory_bytes", "http_requests"):
        assert metric in names
    assert src.label_values("instance", "node_cpu_utilisation") == [
        "10.0.0.1:9100", "db-2.example.com:9100", "node-1:9100", "node-2:9100", "node-3:9100"]
    assert src.label_values("job", "node_cpu_utilisation") == ["node"]
    assert src.label_values("mountpoint", "node_filesystem_avail_bytes") == ["/", "/data", "/var/log"]
    assert src.label_names("node_filesystem_size_bytes") == [
        "__name__", "device", "fstype", "instance", "job", "mountpoint"]
    assert src.label_values("job", "process_resident_memory_bytes") == ["api", "billing", "worker"]
    assert src.series('http_requests') == [{"__name__": "http_requests", "job": "frontend"}]
    assert "mountpoint" in src.label_names() and "mountpoint" not in src.label_names("up")
    assert src.label_values("job") == ["api", "beyla", "billing", "data/reporting", "frontend", "kube-state-metrics",
                                      "kubelet", "node", "shop/checkout", "shop/search", "worker"]
    assert src.series('{job="billing"}') == [
        {"__name__": "process_resident_memory_bytes", "instance": "billing-1:8080", "job": "billing"},
        {"__name__": "up", "instance": "billing-1:8080", "job": "billing"},
    ]
    with pytest.raises(BadQueryError):
        src.series("sum(up)")


def test_every_series_is_finite_and_in_range(demo):
    for h in last(demo, '{__name__=~".+"}', span="35D", step=pd.Timedelta("10min")):
        v = h.values
        assert len(v) > 4000 and np.isfinite(v).all() and (v >= 0).all(), h.legend
    for h in last(demo, "node_cpu_utilisation"):
        assert h.values.max() <= 1.0
    sizes = {h.labels["mountpoint"]: h.values for h in last(demo, "node_filesystem_size_bytes")}
    for h in last(demo, "node_filesystem_avail_bytes"):
        assert (h.values <= sizes[h.labels["mountpoint"]]).all()


# ---- the stories the later features need ----

def fs(src, mountpoint, **kw):
    return one(src, f'node_filesystem_avail_bytes{{mountpoint="{mountpoint}"}}', **kw)


def days_to_zero(values, span="2D"):
    """Linear extrapolation of the last ``span`` to zero, in days from its last point."""
    recent = values[values.index >= values.index[-1] - pd.Timedelta(span)]
    x = (recent.index - recent.index[-1]).total_seconds() / 86400
    slope, intercept = np.polyfit(x, recent.to_numpy(), 1)
    return -intercept / slope if slope < 0 else np.inf


def test_root_filesystem_fills_up_within_about_five_days(demo):
    avail = fs(demo, "/")
    assert 4.0 <= days_to_zero(avail) <= 6.0
    # it was quiet before: the fill is a recent change of regime, not the whole history
    old = fs(demo, "/", span="35D")
    quiet = old[old.index < demo.anchor - pd.Timedelta("10D")]
    assert abs(quiet.iloc[-1] - quiet.iloc[0]) < 0.02 * 100 * GIB
    assert avail.iloc[-1] < 0.25 * 100 * GIB


def test_var_log_cycles_daily_but_does_not_trend(demo):
    avail = fs(demo, "/var/log")
    week_ago, this_week = avail.iloc[: len(avail) // 2], avail.iloc[len(avail) // 2:]
    assert abs(this_week.mean() - week_ago.mean()) < 0.01 * 50 * GIB
    daily_swing = avail.resample("1D").agg(lambda s: s.max() - s.min()).iloc[1:-1]
    assert (daily_swing > 0.2 * 50 * GIB).all()
    # rotation at 03:00 UTC frees space in one step: the biggest rise of every day happens then
    jumps = avail.diff()
    assert (jumps[jumps > 0.1 * 50 * GIB].index.hour == 3).all()
    assert len(jumps[jumps > 0.1 * 50 * GIB]) >= 13


def test_data_disk_is_nearly_full_but_stable(demo):
    avail = fs(demo, "/data")
    used = 1 - avail / (2 * 1024 * GIB)
    assert ((used > 0.94) & (used < 0.96)).all()
    assert days_to_zero(avail, span="7D") > 60


def memory(src, job, **kw):
    return one(src, f'process_resident_memory_bytes{{job="{job}"}}', **kw)


def test_api_leaks_under_a_gc_sawtooth_toward_two_gib(demo):
    mem = memory(demo, "api", span="7D")
    troughs = mem.resample("1D").min().iloc[1:-1]  # full days only
    assert (troughs.diff().dropna() > 40 * MIB).all()  # the floor rises every day
    hourly_swing = mem.resample("1h").agg(lambda s: s.max() - s.min()).median()
    assert hourly_swing > 100 * MIB  # the GC sawtooth hides the leak from a naive look
    peaks = mem.resample("6h").max()
    assert 1.6 * GIB < peaks.iloc[-1] < 2 * GIB
    assert 1 <= days_to_zero(2 * GIB - peaks, span="5D") <= 5  # peaks reach 2 GiB in a few days


def test_worker_is_healthy(demo):
    mem = memory(demo, "worker")
    weeks = mem.iloc[: len(mem) // 2].mean(), mem.iloc[len(mem) // 2:].mean()
    assert abs(weeks[1] - weeks[0]) < 10 * MIB
    assert mem.max() < 1.3 * GIB


def test_billing_has_one_deploy_step_then_stays_flat(demo):
    mem = memory(demo, "billing")
    (deploy,) = [a for a in demo.anomalies if a.kind == "deploy"]
    before = mem[mem.index < deploy.start]
    after = mem[mem.index >= deploy.end + pd.Timedelta("6h")]
    assert 200 * MIB < after.median() - before.median() < 300 * MIB
    for part in (before, after):
        daily = part.resample("1D").median().iloc[1:-1]  # whole days only
        assert daily.max() - daily.min() < 15 * MIB


def test_traffic_grows_with_weekly_seasonality_toward_capacity(demo):
    load = one(demo, "http_requests", span="35D", step=pd.Timedelta("5min"))
    peaks = load.resample("1D").max().iloc[1:-1]
    weekday = peaks[peaks.index.day_of_week < 5]
    weekend = peaks[peaks.index.day_of_week >= 5]
    assert weekend.mean() < 0.8 * weekday.mean()
    growth = weekday.iloc[-5:].mean() / weekday.iloc[:5].mean()
    assert 1.2 < growth < 1.45  # ~30 % a month
    assert 3000 < weekday.iloc[-1] < 4000  # below the 4,000 (5,000 less 20 %) line today...
    months = np.log(4000 / weekday.iloc[-1]) / np.log(growth) * (peaks.index[-1] - peaks.index[0]).days / 30
    assert 0.1 < months < 1.5  # ...and crossing it within weeks at this growth
    assert load.min() < 0.4 * load.max()  # deep nightly troughs


def test_cpu_anomalies_stand_out_in_the_last_week(demo):
    cpu = {h.labels["instance"]: h.values for h in last(demo, "node_cpu_utilisation", step=MIN)}
    anomalies = [a for a in demo.anomalies if a.labels["__name__"] == "node_cpu_utilisation"]
    assert {a.kind for a in anomalies} == {"spike", "level_shift", "dropout"}
    for a in anomalies:
        assert demo.now - pd.Timedelta("7D") <= a.start < demo.now
        v = cpu[a.labels["instance"]]
        week_before = v.shift(freq="7D")  # same weekday and hour, a week earlier
        inside = v[(v.index >= a.start) & (v.index < min(a.end, a.start + pd.Timedelta("3D")))]
        usual = week_before.reindex(inside.index)
        if a.kind == "spike":
            assert (inside - usual).max() > 0.4
        elif a.kind == "dropout":
            assert inside.max() < 0.02 and usual.min() > 0.1
        else:
            assert 0.15 < (inside - usual).mean() < 0.25
    # outside the incidents a week-over-week difference stays small
    v = cpu["node-1:9100"]
    quiet = (v - v.shift(freq="7D")).dropna()
    quiet = quiet[quiet.index < anomalies[0].start - pd.Timedelta("1h")]
    assert quiet.abs().quantile(0.99) < 0.2


def test_cpu_has_daily_and_weekly_seasonality():
    src = DemoSource(now=NOW)
    v = one(src, 'node_cpu_utilisation{instance="node-1:9100"}', span="28D", step=pd.Timedelta("1h"))
    v = v[v.index < src.anchor - pd.Timedelta("8D")]  # before the injected incidents
    weekday = v[v.index.day_of_week < 5]
    by_hour = weekday.groupby(weekday.index.hour).mean()
    assert by_hour.max() - by_hour.min() > 0.15
    daytime = v[(v.index.hour >= 12) & (v.index.hour <= 18)]
    assert daytime[daytime.index.day_of_week >= 5].mean() < daytime[daytime.index.day_of_week < 5].mean() - 0.08
