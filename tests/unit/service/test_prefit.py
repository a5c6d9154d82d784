"""``promcast serve`` pre-fits its configured targets: panels open warm, restarts reuse the store."""

from __future__ import annotations

import json
import re
import time

import pytest

from contract.grafana_requests import query_request, target
from promcast.config import load_settings
from promcast.service.app import create_app
from promcast.service.cache import ModelCache
from promcast.service.prefit import Prefitter
from promcast.store import ModelStore

EXPR = "node_cpu_utilisation"
MODEL = "seasonal_naive"
HISTORY = "3d"


def metric(client, name: str, **labels: str) -> float:
    text = client.get("/metrics").get_data(as_text=True)
    total = 0.0
    for found, value in re.findall(rf"^{name}(\{{[^}}]*\}})? (\S+)$", text, re.M):
        if all(f'{k}="{v}"' in found for k, v in labels.items()):
            total += float(value)
    return total


def environ(store=None, targets=None, **extra: str) -> dict[str, str]:
    env = {"PROMCAST_MODELS_DEFAULT": "mad",
           "PROMCAST_PREFIT_TARGETS": json.dumps(targets or [{"expr": EXPR, "model": MODEL, "history": HISTORY}])}
    if store is not None:
        env["PROMCAST_STORE_DIR"] = str(store)
    env.update(extra)
    return env


def app_for(demo, **kw):
    return create_app(load_settings(environ=environ(**kw)), source=demo)


def forecast(client, history: str = HISTORY, model: str = MODEL):
    body = query_request([target("A", "forecast", {"expr": EXPR, "model": model, "history": history,
                                                   "horizon": "6h"})], max_points=300)
    response = client.post("/grafana/query", json=body)
    assert response.status_code == 200, response.get_json()
    frames = response.get_json()
    assert any(f["target"].endswith(" yhat") and f["datapoints"] for f in frames)
    return frames


def test_a_prefitted_target_answers_its_first_panel_query_without_fitting(demo):
    app = app_for(demo)
    report = app.extensions["promcast.prefitter"].run_cycle()
    assert report.fitted >= 2 and not report.failures
    client = app.test_client()
    forecast(client)
    assert metric(client, "promcast_model_fits_total") == 0
    assert metric(client, "promcast_prefit_series_total", result="fitted") == report.fitted


def test_the_control_a_panel_with_another_history_still_fits(demo):
    app = app_for(demo)
    app.extensions["promcast.prefitter"].run_cycle()
    client = app.test_client()
    forecast(client, history="2d")
    assert metric(client, "promcast_model_fits_total") >= 2


def test_a_second_cycle_skips_fits_that_stay_fresh_until_the_next(demo):
    prefitter = app_for(demo).extensions["promcast.prefitter"]
    first = prefitter.run_cycle()
    second = prefitter.run_cycle()
    assert second.fitted == 0 and second.fresh == first.fitted


def test_fits_that_would_expire_before_the_next_cycle_are_refitted(demo):
    now = [1000.0]
    cache = ModelCache(max_entries=100, max_bytes=2**30, refit_interval=900, clock=lambda: now[0])
    settings = load_settings(environ=environ(PROMCAST_PREFIT_INTERVAL="5m"))
    prefitter = Prefitter(settings, demo, cache)
    first = prefitter.run_cycle()
    now[0] += 500  # 500 s old + 300 s to the next cycle < 900: still fresh then
    assert prefitter.run_cycle().fitted == 0
    now[0] += 150  # 650 + 300 >= 900: would expire before the next cycle
    assert prefitter.run_cycle().fitted == first.fitted


def test_a_restarted_service_preloads_the_store_and_answers_warm(demo, tmp_path):
    first = app_for(demo, store=tmp_path)
    fitted = first.extensions["promcast.prefitter"].run_cycle().fitted
    assert len(ModelStore(tmp_path).entries()) == fitted >= 2

    restarted = app_for(demo, store=tmp_path)  # the store is preloaded when the app is built
    report = restarted.extensions["promcast.prefitter"].run_cycle()
    assert report.fitted == 0 and report.fresh == fitted
    client = restarted.test_client()
    forecast(client)
    assert metric(client, "promcast_model_fits_total") == 0


def test_a_failing_target_is_reported_and_the_others_are_fitted(demo):
    app = app_for(demo, targets=[{"expr": "rate(", "model": MODEL, "history": HISTORY},
                                 {"expr": "no_such_metric", "model": MODEL},
                                 {"expr": EXPR, "model": MODEL, "history": HISTORY}])
    report = app.extensions["promcast.prefitter"].run_cycle()
    assert report.fitted >= 2
    assert len(report.failures) == 2
    assert report.failures[0].startswith("rate(:") and "no_such_metric" in report.failures[1]
    client = app.test_client()
    assert metric(client, "promcast_prefit_cycles_total", outcome="failed") == 1


def test_the_default_model_and_history_are_the_panels_defaults(demo):
    app = app_for(demo, targets=[EXPR])
    prefitter = app.extensions["promcast.prefitter"]
    spec = prefitter.spec(prefitter.targets[0])
    assert spec.name == "mad" and spec.history.days == 14
    assert prefitter.interval == app.extensions["promcast.cache"].refit_interval / 2


def test_the_schedule_runs_cycles_on_a_thread_until_stopped(demo):
    app = app_for(demo)
    prefitter = app.extensions["promcast.prefitter"]
    prefitter.start()
    try:
        client = app.test_client()
        deadline = time.monotonic() + 120
        while metric(client, "promcast_prefit_cycles_total") < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert metric(client, "promcast_prefit_cycles_total") >= 1
        assert metric(client, "promcast_prefit_last_cycle_timestamp_seconds") > 0
    finally:
        prefitter.stop(timeout=60)
    assert not prefitter._thread.is_alive()


def test_no_targets_no_prefitter(make_client):
    client = make_client()
    assert "promcast.prefitter" not in client.application.extensions


@pytest.mark.parametrize("value, fragment", [
    ('[{"expr": "up", "model": "nope"}]', "unknown model 'nope'"),
    ('[{"exp": "up"}]', "unknown key(s) 'exp'"),
    ('[{"expr": ""}]', "has no expr"),
    ('[{"expr": "up", "history": "soon"}]', "bad history 'soon'"),
    ('{"expr": "up"}', "expected a list of {expr, model, history}"),
])
def test_bad_prefit_targets_name_what_to_fix(value, fragment):
    from promcast.errors import ConfigError

    with pytest.raises(ConfigError, match=re.escape(fragment)) as info:
        load_settings(environ={"PROMCAST_PREFIT_TARGETS": value})
    assert "PROMCAST_PREFIT_TARGETS" in str(info.value)


def test_a_prefit_interval_not_below_the_refit_interval_is_refused():
    from promcast.errors import ConfigError

    with pytest.raises(ConfigError, match="prefit.interval .* must be shorter than cache.refit_interval"):
        load_settings(environ={"PROMCAST_PREFIT_INTERVAL": "15m"})


def test_targets_from_yaml_and_a_semicolon_list(tmp_path):
    path = tmp_path / "promcast.yaml"
    path.write_text("prefit:\n  interval: 5m\n  targets:\n    - expr: up\n      history: 7d\n    - node_load1\n")
    settings = load_settings(path, environ={})
    assert [(t.expr, t.model, t.history) for t in settings.prefit.targets] == [
        ("up", None, 7 * 86400.0), ("node_load1", None, 14 * 86400.0)]
    assert settings.prefit.interval == 300
    env = load_settings(environ={"PROMCAST_PREFIT_TARGETS": "up; node_load1"})
    assert [t.expr for t in env.prefit.targets] == ["up", "node_load1"]


def test_an_unreachable_dask_scheduler_fails_the_cycle_not_the_service(demo):
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    import dask
    import distributed  # noqa: F401  (its config defaults must exist before they are overridden below)

    app = app_for(demo, PROMCAST_EXECUTOR_KIND="dask", PROMCAST_EXECUTOR_SCHEDULER=f"tcp://127.0.0.1:{port}")
    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
        report = app.extensions["promcast.prefitter"].run_cycle()
    assert report.fitted == 0 and report.failures
    assert "cannot connect to the Dask scheduler" in report.failures[0]
    client = app.test_client()
    assert metric(client, "promcast_prefit_cycles_total", outcome="failed") == 1
    forecast(client)  # panels still answer, fitting themselves


def test_more_series_than_the_cache_holds_is_a_warning(demo, caplog):
    import logging

    app = app_for(demo, PROMCAST_CACHE_MAX_ENTRIES="1")
    with caplog.at_level(logging.WARNING, logger="promcast.service.prefit"):
        app.extensions["promcast.prefitter"].run_cycle()
    assert any("cache.max_entries" in r.getMessage() for r in caplog.records)
