"""``GET /exported/metrics``: the ``promcast_forecast`` gauges that exported-mode anomaly rules read.

The gauges are checked against the rules ``promcast generate-rules`` writes for the same spec (their
selectors and the labels their alert joins on), on the demo source frozen at a fixed "now".
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import promql_parser
import pytest
import yaml

from contract.grafana_requests import NOW
from promcast.cli import main
from promcast.config import load_settings
from promcast.errors import ConfigError
from promcast.rules import run_generate_rules
from promcast.service.app import create_app
from promcast.service.exported import BOUNDS, FORECAST_METRIC, PATH, parse_exposition
from promcast.sources.base import History
from promcast.sources.files import FileSource, write_csv_histories

CPU = 'node_cpu_utilisation{job="node",instance=~"node-.*"}'  # three series


def write_spec(path, *targets: str, name: str = "node-cpu-exported") -> str:
    path.write_text(
        "apiVersion: promcast/v1\nkind: RuleSpec\n"
        f"metadata: {{name: {name}}}\n"
        f'source: {{demo: true, end: "{NOW.isoformat()}", history: 3d, step: 10m}}\n'
        "targets:\n" + "".join(f"  - {t}\n" for t in targets))
    return str(path)


def exported(name: str, expr: str = CPU, model: str = "mad", extra: str = "") -> str:
    return f"{{name: {name}, kind: anomaly_band, mode: exported, model: {model}, expr: '{expr}'{extra}}}"


def make_app(spec: str, source, **env):
    environ = {"PROMCAST_MODELS_DEFAULT": "mad", "PROMCAST_EXPORTED_SPEC": spec,
               **{f"PROMCAST_{k.upper()}": str(v) for k, v in env.items()}}
    return create_app(load_settings(environ=environ), source=source)


def scrape(client, **kwargs) -> list[tuple[dict, float]]:
    response = client.get(PATH, **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/plain"
    assert response.headers["Content-Type"].count("charset") == 1  # issue 18: it came twice
    return parse_exposition(response.get_data(as_text=True))


def own_metric(client, name: str, **labels) -> float:
    """A sample of promcast's own /metrics (0 when absent)."""
    from prometheus_client.parser import text_string_to_metric_families

    text = client.get("/metrics").get_data(as_text=True)
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return 0.0


def bands(samples) -> dict[frozenset, dict[str, float]]:
    """Series labels (without target and bound) -> {bound: value}."""
    out: dict[frozenset, dict[str, float]] = {}
    for labels, value in samples:
        key = frozenset((k, v) for k, v in labels.items() if k not in ("target", "bound"))
        out.setdefault(key, {})[labels["bound"]] = value
    return out


# ------------------------------------------------------------------------------------------ the contract
def _selector(expr: str) -> tuple[str, dict[str, str], list[str]]:
    """``max without(...) (name{matchers})`` -> (name, equality matchers, labels dropped)."""
    node = promql_parser.parse(expr)
    assert isinstance(node, promql_parser.AggregateExpr) and str(node.op) == "max"
    assert "Without" in str(node.modifier.type)
    selector = node.expr
    assert isinstance(selector, promql_parser.VectorSelector)
    matchers = {m.name: m.value for m in selector.matchers.matchers}
    assert all("Equal" == str(m.op).split(".")[-1] for m in selector.matchers.matchers)
    return selector.name, matchers, list(node.modifier.labels)


def test_gauges_are_what_the_generated_rules_select(tmp_path, demo):
    spec = write_spec(tmp_path / "spec.yaml", exported("cpu_band", extra=", for: 20m"))
    run_generate_rules(spec, tmp_path / "rules", format="prometheus", progress=False)
    group = yaml.safe_load((tmp_path / "rules" / "node-cpu-exported.cpu_band.rules.yaml").read_text())["groups"][0]
    records = {r["record"]: r["expr"] for r in group["rules"] if "record" in r}
    samples = scrape(make_app(spec, demo).test_client())
    actual = {frozenset((k, v) for k, v in h.labels.items() if k != "__name__")
              for h in demo.query_range(CPU, NOW - pd.Timedelta("1h"), NOW, pd.Timedelta("10m"))}
    assert len(actual) == 3

    for bound in BOUNDS:
        name, matchers, dropped = _selector(records[f"promcast:cpu_band:{bound}"])
        assert (name, matchers) == (FORECAST_METRIC, {"target": "cpu_band", "bound": bound})
        selected = [labels for labels, _ in samples if all(labels.get(k) == v for k, v in matchers.items())]
        # what the recording rule keeps is exactly the actual series' labels: the alert's join matches
        recorded = {frozenset((k, v) for k, v in labels.items() if k not in dropped) for labels in selected}
        assert recorded == actual and len(selected) == len(actual)

    # the generated promtool test feeds gauges with exactly the label names promcast serves
    test = yaml.safe_load((tmp_path / "rules" / "tests" / "node-cpu-exported.cpu_band.test.yaml").read_text())
    fed = {s["series"] for case in test["tests"] for s in case["input_series"] if s["series"].startswith(FORECAST_METRIC)}
    served = {f"{FORECAST_METRIC}{{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"
              for labels, _ in samples}
    assert fed and fed <= served


def test_band_is_ordered_and_finite_for_every_series(tmp_path, demo):
    spec = write_spec(tmp_path / "spec.yaml", exported("cpu_band"), exported("cpu_naive", model="seasonal_naive"))
    by_target = {}
    for labels, value in scrape(make_app(spec, demo).test_client()):
        by_target.setdefault(labels["target"], []).append((labels, value))
    assert set(by_target) == {"cpu_band", "cpu_naive"}
    for samples in by_target.values():
        series = bands(samples)
        assert len(series) == 3
        for band in series.values():
            assert set(band) == set(BOUNDS) and all(math.isfinite(v) for v in band.values())
            assert band["yhat_lower"] <= band["yhat"] <= band["yhat_upper"]
            assert band["yhat_lower"] < band["yhat_upper"]


def test_sensitivity_widens_the_band(tmp_path, demo):
    spec = write_spec(tmp_path / "spec.yaml", exported("narrow", extra=", sensitivity: 1"),
                      exported("wide", extra=", sensitivity: 4"))
    samples = scrape(make_app(spec, demo).test_client())
    width = {}
    for target in ("narrow", "wide"):
        series = bands([(l, v) for l, v in samples if l["target"] == target])
        width[target] = {k: b["yhat_upper"] - b["yhat_lower"] for k, b in series.items()}
    assert width["narrow"].keys() == width["wide"].keys()
    assert all(width["wide"][k] > 2 * width["narrow"][k] for k in width["narrow"])


def test_only_exported_anomaly_targets_are_served(tmp_path, demo):
    spec = write_spec(
        tmp_path / "spec.yaml", exported("cpu_band"),
        "{name: cpu_promql, kind: anomaly_band, expr: 'node_cpu_utilisation'}",
        "{name: api_memory, kind: memory_leak, expr: 'process_resident_memory_bytes', limit: 2GiB}")
    assert {labels["target"] for labels, _ in scrape(make_app(spec, demo).test_client())} == {"cpu_band"}


# ------------------------------------------------------------------------------------------ the cache
def test_scrapes_reuse_fits_until_the_refit_interval(tmp_path, demo):
    spec = write_spec(tmp_path / "spec.yaml", exported("cpu_band"))
    app = make_app(spec, demo, cache_refit_interval="15m")
    clock = [1000.0]
    app.extensions["promcast.cache"].clock = lambda: clock[0]
    client = app.test_client()

    first = scrape(client)
    fits = own_metric(client, "promcast_model_fits_total", outcome="ok")
    assert fits == 3
    clock[0] += 600  # 10 minutes: every scrape is a cache hit, with the same values
    assert scrape(client) == first and scrape(client) == first
    assert own_metric(client, "promcast_model_fits_total", outcome="ok") == fits
    assert own_metric(client, "promcast_model_cache_hits_total") >= 6
    clock[0] += 600  # past the refit interval: refitted once, then cached again
    scrape(client)
    scrape(client)
    assert own_metric(client, "promcast_model_fits_total", outcome="ok") == 2 * fits


def test_values_follow_the_current_step(tmp_path):
    """Between refits the same model is asked for the band at each new step (a moving seasonal forecast)."""
    from promcast.sources.demo import DemoSource

    spec = write_spec(tmp_path / "spec.yaml", exported("cpu_naive", model="seasonal_naive"))
    app = make_app(spec, DemoSource(now=NOW))
    exported_ = app.extensions["promcast.exported"]
    client = app.test_client()
    exported_.now = lambda: NOW
    at_now = bands(scrape(client))
    exported_.now = lambda: NOW + pd.Timedelta("3h")
    later = bands(scrape(client))
    assert at_now.keys() == later.keys()
    assert any(at_now[k]["yhat"] != later[k]["yhat"] for k in at_now)


# ------------------------------------------------------------------------------------------ failures
def test_a_failing_target_does_not_break_the_others(tmp_path, demo, caplog):
    # the demo source answers plain selectors only: this target fails on every scrape
    spec = write_spec(tmp_path / "spec.yaml", exported("broken", expr="abs(node_cpu_utilisation)"),
                      exported("cpu_band"))
    client = make_app(spec, demo).test_client()
    for _ in range(3):
        samples = scrape(client)
        assert {labels["target"] for labels, _ in samples} == {"cpu_band"}
        assert len(samples) == 3 * len(BOUNDS)
    assert own_metric(client, "promcast_exported_errors_total", target="broken") == 3
    assert own_metric(client, "promcast_exported_errors_total", target="cpu_band") == 0
    assert own_metric(client, "promcast_exported_series", target="cpu_band") == 3
    warnings = [r for r in caplog.records if "broken" in r.getMessage()]
    assert len(warnings) == 1  # logged when it starts failing, not on every scrape


def test_a_failing_series_does_not_hide_the_others(tmp_path):
    """One series that cannot be fitted (only infinite values); another with a label named ``target``."""
    index = pd.date_range(NOW - pd.Timedelta("2D"), NOW, freq="10min")
    rng = np.random.default_rng(7)
    long = pd.Series(5 + np.sin(np.arange(len(index)) / 20) + rng.normal(0, 0.1, len(index)), index=index)
    odd = pd.Series(np.inf, index=index[-3:])
    csv = tmp_path / "latency.csv"
    write_csv_histories(csv, [History({"__name__": "latency", "host": "a", "target": "db"}, long),
                              History({"__name__": "latency", "host": "b"}, odd)])
    spec = write_spec(tmp_path / "spec.yaml", exported("latency_band", expr="latency"))
    app = make_app(spec, FileSource(csv))
    app.extensions["promcast.exported"].now = lambda: NOW
    client = app.test_client()
    samples = scrape(client)
    assert sorted(labels["bound"] for labels, _ in samples) == sorted(BOUNDS)
    assert all(labels == {"host": "a", "target": "latency_band", "bound": labels["bound"]} for labels, _ in samples)
    assert own_metric(client, "promcast_exported_errors_total", target="latency_band") == 1
    assert own_metric(client, "promcast_exported_series", target="latency_band") == 1


def test_bad_spec_stops_startup_with_one_line(tmp_path, demo):
    with pytest.raises(ConfigError, match="does not exist"):
        make_app(str(tmp_path / "missing.yaml"), demo)
    promql_only = write_spec(tmp_path / "promql.yaml", "{name: cpu, kind: anomaly_band, expr: 'node_cpu_utilisation'}")
    with pytest.raises(ConfigError, match="no anomaly_band target with 'mode: exported'"):
        make_app(promql_only, demo)
    detector = write_spec(tmp_path / "iforest.yaml", exported("cpu", model="iforest"))
    with pytest.raises(ConfigError, match="target 'cpu'.*has no band"):
        make_app(detector, demo)


def test_cli_serve_with_a_missing_spec_prints_one_line(tmp_path, capsys):
    missing = tmp_path / "nope.yaml"
    assert main(["serve", "--rules-spec", str(missing), "--port", "1"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"promcast serve: error: spec file {missing} does not exist"


def test_unconfigured_endpoint_says_how_to_enable_it(client):
    response = client.get(PATH)
    assert response.status_code == 404
    assert "--rules-spec" in response.get_json()["error"]["message"]


def test_endpoint_uses_promcasts_auth(tmp_path, demo):
    spec = write_spec(tmp_path / "spec.yaml", exported("cpu_band"))
    client = make_app(spec, demo, auth_bearer_token="s3cret").test_client()
    assert client.get(PATH).status_code == 401
    assert scrape(client, headers={"Authorization": "Bearer s3cret"})


def test_series_that_would_duplicate_a_gauge_are_left_out(tmp_path):
    """Series differing only in ``__name__`` give one gauge, not two (a duplicate fails the whole scrape)."""
    index = pd.date_range(NOW - pd.Timedelta("1D"), NOW, freq="10min")
    values = pd.Series(np.linspace(1, 2, len(index)), index=index)
    csv = tmp_path / "two.csv"
    write_csv_histories(csv, [History({"__name__": "a_seconds", "job": "x"}, values),
                              History({"__name__": "b_seconds", "job": "x"}, values * 2)])
    spec = write_spec(tmp_path / "spec.yaml", exported("dup", expr='{job="x"}'))
    app = make_app(spec, FileSource(csv))
    app.extensions["promcast.exported"].now = lambda: NOW
    client = app.test_client()
    samples = scrape(client)
    assert sorted(labels["bound"] for labels, _ in samples) == sorted(BOUNDS)
    assert own_metric(client, "promcast_exported_errors_total", target="dup", code="duplicate_series") == 1


def test_exported_targets_are_prefitted_so_scrapes_never_fit(tmp_path, demo):
    spec = write_spec(tmp_path / "spec.yaml", exported("cpu_band"), exported("cpu_naive", model="seasonal_naive"))
    app = make_app(spec, demo, cache_refit_interval="15m")
    clock = [1000.0]
    app.extensions["promcast.cache"].clock = lambda: clock[0]
    prefitter = app.extensions["promcast.prefitter"]
    assert prefitter.run_cycle().fitted == 6
    client = app.test_client()
    first = scrape(client)
    assert len(first) == 18
    assert own_metric(client, "promcast_model_fits_total", outcome="ok") == 0
    clock[0] += 600  # the next cycle (every 7.5 min) refits what would expire before the one after
    assert prefitter.run_cycle().fitted == 6
    clock[0] += 600  # 20 min after the first fits: without the pre-fit the scrape would refit
    assert scrape(client) == first
    assert own_metric(client, "promcast_model_fits_total", outcome="ok") == 0
