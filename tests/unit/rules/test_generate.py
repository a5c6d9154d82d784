"""The pure core: spec + fits -> rule model. Built here from hand-made fits, so every case is exact."""

from __future__ import annotations

import pandas as pd
import promql_parser
import pytest

from promcast.rules.fit import SeriesFit, TargetFit
from promcast.rules.generate import generate_rules
from promcast.rules.kinds.anomaly import BandParams
from promcast.rules.kinds.capacity import CapacityParams
from promcast.rules.kinds.disk import DiskParams
from promcast.rules.kinds.memory import MemoryParams
from promcast.rules.promql import PROMETHEUS_2_42_FUNCTIONS, functions_used
from promcast.rules.render import render

from .conftest import needs_promtool, promtool, spec_from

DAY = pd.Timedelta(days=1)
LINEAR_6H = DiskParams("linear", pd.Timedelta("6h"), 0.0, 0.15, 0.1)
DAILY_7D = DiskParams("daily", 7 * DAY, 0.05, 0.3, 0.2)


def disk_fit(target, params_by_mount: dict, instance="n1") -> TargetFit:
    series = [SeriesFit({"__name__": "node_filesystem_avail_bytes", "instance": instance, "mountpoint": m,
                         "job": "node"}, p, shape={"size": 100 * 2**30, "free_ratio": 0.5})
              for m, p in params_by_mount.items()]
    return TargetFit(target, tuple(series))


def disk_spec(**extra):
    return spec_from([{"name": "fs", "kind": "disk_exhaustion", "expr": 'node_filesystem_avail_bytes{job="node"}',
                       "size_expr": 'node_filesystem_size_bytes{job="node"}', **extra}])


def rules_by_name(group):
    out = {}
    for rule in group.rules:
        out.setdefault(rule.name, []).append(rule)
    return out


def test_disk_rules_embed_learned_windows_and_guards():
    spec = disk_spec()
    fit = disk_fit(spec.targets[0], {"/": LINEAR_6H, "/var": DAILY_7D, "/home": LINEAR_6H})
    group = generate_rules(spec, {"fs": fit}).groups[0]
    rules = rules_by_name(group)
    deriv = rules["promcast:fs:free:deriv"][0].expr
    # the default set (two series share 6h) carries no matchers; /var has its own term, listed first
    assert deriv.index('mountpoint="/var"') < deriv.index('deriv(node_filesystem_avail_bytes{job="node"}[6h])')
    assert "offset 6d" in deriv and "/ 518400" in deriv
    peak = rules["promcast:fs:daily_peak_ratio"][0].expr
    assert 'promcast:fs:free_ratio{mountpoint="/var"} + 0.05' in peak and "promcast:fs:free_ratio + 0" in peak
    to_mean = rules["promcast:fs:seconds_to_full:mean"][0].expr
    assert "promcast:fs:free:trend - promcast:fs:daily_peak_ratio * promcast:fs:size" in to_mean
    # the daily peaks' own trend (daily lows of free space, whole days 6d apart) for /var
    envelope = rules["promcast:fs:free:envelope_deriv"][0].expr
    assert 'min_over_time(node_filesystem_avail_bytes{job="node", mountpoint="/var"}[1d] offset 6d)' in envelope
    # the earlier of the two crossings counts; either alone when the other is absent
    to_full = rules["promcast:fs:seconds_to_full"][0].expr
    assert to_full == ("(promcast:fs:seconds_to_full:mean <= promcast:fs:seconds_to_full:envelope)\n"
                       "or promcast:fs:seconds_to_full:envelope\nor promcast:fs:seconds_to_full:mean")
    guard = rules["promcast:fs:guard_ratio:warning"][0].expr
    assert 'promcast:fs:free_ratio{mountpoint="/var"} + 0.3' in guard and "promcast:fs:free_ratio + 0.15" in guard
    warning, critical = rules["PromcastDiskWillFill"]
    assert warning.labels["severity"] == "warning" and critical.labels["severity"] == "critical"
    assert "promcast:fs:seconds_to_full < 604800" in warning.expr
    assert 'unless ignoring(promcast_target) (node_filesystem_readonly{job="node"} == 1)' in warning.expr
    assert "trend: least squares over 6h (2), day means 6d apart (1)" in warning.annotations["learned"]
    assert all(r.labels["promcast_target"] == "fs" for r in group.rules)


def test_readonly_guard_only_for_node_filesystem_or_when_given():
    spec = spec_from([{"name": "vol", "kind": "disk_exhaustion", "expr": "volume_free_bytes", "size": "1TiB"}])
    fit = TargetFit(spec.targets[0], (SeriesFit({"volume": "a"}, LINEAR_6H, shape={"size": 2**40, "free_ratio": .5}),))
    alert = [r for r in generate_rules(spec, {"vol": fit}).groups[0].rules if r.alert][0]
    rules = rules_by_name(generate_rules(spec, {"vol": fit}).groups[0])
    assert "readonly" not in alert.expr
    assert rules["promcast:vol:free_ratio"][0].expr == "volume_free_bytes / 1099511627776"
    assert rules["promcast:vol:size"][0].expr == "0 * volume_free_bytes + 1099511627776"
    spec = spec_from([{"name": "vol", "kind": "disk_exhaustion", "expr": "volume_free_bytes", "size": "1TiB",
                       "readonly_expr": "volume_readonly"}])
    fit = TargetFit(spec.targets[0], fit.series)
    alert = [r for r in generate_rules(spec, {"vol": fit}).groups[0].rules if r.alert][0]
    assert "(volume_readonly == 1)" in alert.expr


def test_rule_count_does_not_grow_with_series():
    """1,000 filesystems that share parameters give the same rules as one; differing ones add terms, not rules."""
    spec = disk_spec()
    one = generate_rules(spec, {"fs": disk_fit(spec.targets[0], {"/": LINEAR_6H})})
    many = generate_rules(spec, {"fs": disk_fit(spec.targets[0], {f"/m{i}": LINEAR_6H for i in range(1000)})})
    assert many.rule_count == one.rule_count == 14
    assert [r.expr for r in many.groups[0].rules] == [r.expr for r in one.groups[0].rules]
    mixed = {f"/m{i}": (DAILY_7D if i % 10 == 0 else LINEAR_6H) for i in range(1000)}
    group = generate_rules(spec, {"fs": disk_fit(spec.targets[0], mixed)}).groups[0]
    assert len(group.rules) == 14
    deriv = rules_by_name(group)["promcast:fs:free:deriv"][0].expr
    assert deriv.count("\nor\n") == 1 and deriv.count("mountpoint=~") == 2  # 100 daily disks: one regex per selector


def test_non_selector_expressions_use_subqueries_and_label_tables():
    spec = spec_from([{"name": "traffic", "kind": "capacity", "expr": "sum by (job) (rate(http_requests_total[5m]))",
                       "capacity": 5000}])
    params = {"api": CapacityParams(14 * DAY, 1.5, 4800.0), "web": CapacityParams(7 * DAY, 1.2, 900.0)}
    fit = TargetFit(spec.targets[0], tuple(SeriesFit({"job": j}, p) for j, p in params.items()))
    rules = rules_by_name(generate_rules(spec, {"traffic": fit}).groups[0])
    trend = rules["promcast:traffic:trend_at_horizon"][0].expr
    assert "predict_linear((sum by (job) (rate(http_requests_total[5m])))[7d:1h], 2592000)" in trend
    assert 'and on(job) (label_replace(vector(1), "job", "web", "", ""))' in trend
    assert 'promcast:traffic:utilisation{job="api"} + 1.5' in rules["promcast:traffic:peak_ratio"][0].expr
    assert rules["promcast:traffic:forecast_peak"][0].expr == "promcast:traffic:trend_at_horizon * promcast:traffic:peak_ratio"
    assert 'promcast:traffic:utilisation{job="web"} + 900' in rules["promcast:traffic:recommended_capacity"][0].expr
    assert rules["PromcastCapacityForecast"][0].expr == "promcast:traffic:forecast_peak > 4000"


def test_capacity_alerts_carry_costs_only_with_a_unit_cost():
    base = {"name": "traffic", "kind": "capacity", "expr": "http_requests", "capacity": 5000}
    priced = spec_from([{**base, "unit_cost": 2, "cost_period": "1d"}])  # 2 a day: 60 per unit per 30 days
    params = {"api": CapacityParams(7 * DAY, 1.5, 4800.0, 4800.0 * 60), "web": CapacityParams(7 * DAY, 1.2, 900.0, 900.0 * 60)}
    fit = TargetFit(priced.targets[0], tuple(SeriesFit({"job": j}, p) for j, p in params.items()))
    alert = rules_by_name(generate_rules(priced, {"traffic": fit}).groups[0])["PromcastCapacityForecast"][0]
    assert alert.annotations["current_cost"] == "300000.00"
    assert alert.annotations["recommended_cost"] == "288000.00, 54000.00"
    assert alert.annotations["monthly_delta"] == "-12000.00, -246000.00"
    assert "recommended cost per 30d" in alert.annotations["learned"]
    plain = spec_from([base])
    fit = TargetFit(plain.targets[0], tuple(SeriesFit({"job": j}, CapacityParams(7 * DAY, 1.5, 4800.0)) for j in "ab"))
    alert = rules_by_name(generate_rules(plain, {"traffic": fit}).groups[0])["PromcastCapacityForecast"][0]
    assert "current_cost" not in alert.annotations and "cost" not in alert.annotations["learned"]


def test_every_kind_parses_and_stays_within_prometheus_2_42():
    spec = spec_from([
        {"name": "fs", "kind": "disk_exhaustion", "expr": "node_filesystem_avail_bytes", "size": 100},
        {"name": "mem", "kind": "memory_leak", "expr": "process_resident_memory_bytes",
         "limit_expr": "container_spec_memory_limit_bytes"},
        {"name": "lat", "kind": "anomaly_band", "expr": "job:latency:p99"},
        {"name": "lat2", "kind": "anomaly_band", "expr": "job:latency:p99", "mode": "exported"},
        {"name": "cap", "kind": "capacity", "expr": "load", "capacity": 10},
    ])
    labels = [{"job": "a"}, {"job": "b"}]
    params = {
        "fs": [LINEAR_6H, DAILY_7D],
        "mem": [MemoryParams(pd.Timedelta("30min"), DAY, 1.2e6)] * 2,
        "lat": [BandParams(DAY, 3, pd.Timedelta("1h"), True, 0.5), BandParams(7 * DAY, 1, pd.Timedelta("15min"), False, 2.2)],
        "lat2": [None, None],
        "cap": [CapacityParams(14 * DAY, 1.5, 12.0)] * 2,
    }
    from promcast.rules.kinds.anomaly import ExportedParams

    params["lat2"] = [ExportedParams("prophet")] * 2
    fits = {t.name: TargetFit(t, tuple(SeriesFit(l, p, shape={"size": 100, "free_ratio": .5, "level": 1.0,
                                                              "swing": .1, "limit": 10.0, "amplitude": .1,
                                                              "spread": .1})
                                       for l, p in zip(labels, params[t.name]))) for t in spec.targets}
    groups = generate_rules(spec, fits)
    for group in groups.groups:
        for rule in group.rules:
            promql_parser.parse(rule.expr)
            assert functions_used(rule.expr) <= PROMETHEUS_2_42_FUNCTIONS, rule.expr
            assert rule.labels["promcast_target"] == group.target
            if rule.alert:
                assert rule.labels["promcast_kind"] == group.kind
            if rule.alert:
                assert {"summary", "description", "learned"} <= set(rule.annotations)
                assert rule.labels["severity"] in ("warning", "critical", "info")
    yhat = rules_by_name(groups.groups[2])["promcast:lat:yhat"][0].expr
    assert "quantile without(promcast_season) (0.5," in yhat and "offset 2d23h30m" in yhat
    assert "avg_over_time(job:latency:p99[1d] offset 3d)" in yhat  # level correction against 3 days back


def test_generation_is_deterministic():
    spec = disk_spec()
    fit = disk_fit(spec.targets[0], {"/": LINEAR_6H, "/var": DAILY_7D})
    assert render(generate_rules(spec, {"fs": fit}), "both") == render(generate_rules(spec, {"fs": fit}), "both")


@needs_promtool
def test_generated_tests_pass_and_can_fail(tmp_path):
    """The promtool tests of a counter-based capacity target pass, and fail when a rule is weakened."""
    spec = spec_from([{"name": "traffic", "kind": "capacity", "expr": "sum by (job) (rate(http_requests_total[5m]))",
                       "capacity": 5000, "horizon": "7d"}])
    fit = TargetFit(spec.targets[0], (SeriesFit({"job": "api"}, CapacityParams(7 * DAY, 1.5, 4800.0),
                                                shape={"level": 1000.0}),))
    files = render(generate_rules(spec, {"traffic": fit}), "prometheus")
    assert "http_requests_total" in files["tests/t.traffic.test.yaml"]
    run = promtool(tmp_path / "ok", files)
    assert run.returncode == 0, run.stdout + run.stderr
    broken = {k: v.replace("> 4000", "> 40000") for k, v in files.items()}
    run = promtool(tmp_path / "broken", broken)
    assert run.returncode != 0 and "FAILED" in run.stdout + run.stderr


def test_missing_fit_is_an_error():
    spec = disk_spec()
    with pytest.raises(ValueError, match="no fitted series for target 'fs'"):
        generate_rules(spec, {})
