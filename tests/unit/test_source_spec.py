"""One source resolver: every command and the service pick and open their source the same way.

``generate-rules`` used to build its Prometheus client from the URL, timeouts and auth only; these tests
run it against a loopback Prometheus that records every request, so a setting that does not reach the
wire fails here. Keys name the full source identity, so two tenants behind one URL never share fits.
"""

from __future__ import annotations

import pickle

import pandas as pd
import pytest
import yaml

from fake_prometheus import FakePrometheus
from promcast.config import Settings, load_settings
from promcast.errors import InputError, PromcastError
from promcast.rules import run_generate_rules
from promcast.rules.run import source_spec
from promcast.rules.spec import parse_spec
from promcast.sources.demo import DemoSource
from promcast.sources.prometheus import PrometheusSource
from promcast.sources.spec import PrometheusSettings, SourceSpec, resolve_source

END = pd.Timestamp("2024-03-01T02:00:00Z")


@pytest.fixture
def fake():
    server = FakePrometheus()
    yield server
    server.close()


def settings_for(fake, **extra) -> Settings:
    environ = {
        "PROMCAST_PROMETHEUS_URL": fake.url,
        "PROMCAST_PROMETHEUS_PATH_PREFIX": "/tenant/prom",
        "PROMCAST_PROMETHEUS_QUERY_PARAMS": "max_source_resolution=auto,partial_response=false",
        "PROMCAST_PROMETHEUS_MAX_POINTS_PER_REQUEST": "30",
        "PROMCAST_PROMETHEUS_HEADERS": "X-Scope-OrgID=team-a",
        "PROMCAST_PROMETHEUS_TIMEOUT": "7",
        **extra,
    }
    return load_settings(environ=environ)


SPEC = f"""
apiVersion: promcast/v1
kind: RuleSpec
metadata: {{name: fake}}
source: {{history: 2h, step: 1m, end: "{END.isoformat()}"}}
targets:
  - {{name: m, kind: anomaly_band, expr: m, model: mad}}
"""


def test_generate_rules_honours_every_prometheus_setting(fake, tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    try:
        run_generate_rules(spec, tmp_path / "out", progress=False, settings=settings_for(fake))
    except PromcastError:
        pass  # whether the fake's ramp makes good rules is not the point: what was asked is
    ranges = [r for r in fake.requests if r["path"].endswith("/api/v1/query_range")]
    assert ranges, fake.requests
    for r in fake.requests:
        assert r["path"].startswith("/tenant/prom/api/v1/"), r["path"]
        assert r["params"].get("max_source_resolution") == "auto", r
        assert r["params"].get("partial_response") == "false", r
        assert r["headers"].get("x-scope-orgid") == "team-a", r
    # 2h at 1m is 121 points: windows of at most 30 points (max_points_per_request), not one request
    sizes = [round((float(r["params"]["end"]) - float(r["params"]["start"])) / 60) + 1 for r in ranges]
    assert max(sizes) <= 30 and sum(sizes) >= 121, sizes


def test_the_spec_built_for_generate_rules_carries_the_settings(fake):
    settings = settings_for(fake)
    spec = parse_spec(yaml.safe_load(SPEC))
    source = source_spec(spec, settings=settings)
    assert source == SourceSpec("prometheus", prometheus=settings.prometheus)
    opened = source.open()
    assert (opened.max_points_per_request, opened.timeout, opened.query_params) == (
        30, 7.0, {"max_source_resolution": "auto", "partial_response": "false"})
    # --prometheus-url replaces the URL and keeps every other setting
    other = source_spec(spec, prometheus_url="http://other:9090", settings=settings)
    assert other.prometheus == PrometheusSettings(**{**vars(settings.prometheus), "url": "http://other:9090"})


def test_two_tenants_behind_one_url_have_different_identities(fake):
    a = settings_for(fake).source_spec().open()
    b = settings_for(fake, PROMCAST_PROMETHEUS_HEADERS="X-Scope-OrgID=team-b").source_spec().open()
    same = settings_for(fake).source_spec().open()
    other_params = settings_for(fake, PROMCAST_PROMETHEUS_QUERY_PARAMS="max_source_resolution=1h").source_spec().open()
    other_prefix = settings_for(fake, PROMCAST_PROMETHEUS_PATH_PREFIX="/other").source_spec().open()
    assert a.description == b.description  # the same URL in messages...
    assert a.identity == same.identity
    assert len({a.identity, b.identity, other_params.identity, other_prefix.identity}) == 4  # ...not in keys
    assert "team-a" not in a.identity and fake.url in a.identity  # header values only as a digest
    tenant = PrometheusSource(fake.url, basic_auth=("tenant-1", "s3cret"))
    assert "s3cret" not in tenant.identity and "tenant-1" not in tenant.identity
    assert tenant.identity != PrometheusSource(fake.url, basic_auth=("tenant-2", "s3cret")).identity


def test_identity_survives_secret_rotation_and_library_headers(fake, monkeypatch):
    """Stored fits stay found after a token rotation or a requests upgrade (its User-Agent)."""
    import requests

    plain = PrometheusSource(fake.url).identity
    assert PrometheusSource(fake.url, bearer_token="old").identity == PrometheusSource(fake.url, bearer_token="new").identity
    assert PrometheusSource(fake.url, basic_auth=("u", "old")).identity == PrometheusSource(fake.url, basic_auth=("u", "new")).identity
    assert PrometheusSource(fake.url, headers={"Authorization": "Bearer a"}).identity == plain
    monkeypatch.setattr(requests.utils, "default_user_agent", lambda *a: "python-requests/99.0")
    assert PrometheusSource(fake.url).identity == plain


def test_identity_keeps_query_parameter_values_out_of_keys(fake):
    keyed = PrometheusSource(fake.url, query_params={"api_key": "k3y"})
    in_url = PrometheusSource(f"{fake.url}?api_key=k3y")
    assert "k3y" not in keyed.identity and "k3y" not in in_url.identity
    assert keyed.identity != PrometheusSource(fake.url, query_params={"api_key": "other"}).identity


def test_two_tenants_fits_do_not_share_cache_or_store_keys(fake, tmp_path):
    from promcast.service.fitting import ModelSpec, cache_key
    from promcast.store import ModelStore, StoreEntry, store_key

    a = settings_for(fake).source_spec().open()
    b = settings_for(fake, PROMCAST_PROMETHEUS_HEADERS="X-Scope-OrgID=team-b").source_spec().open()
    spec = ModelSpec.of("mad", pd.Timedelta("1d"), {})
    assert cache_key(a.identity, "m", {"job": "a"}, spec) != cache_key(b.identity, "m", {"job": "a"}, spec)
    assert store_key("m", {"job": "a"}, "mad", {}, a.identity) != store_key("m", {"job": "a"}, "mad", {}, b.identity)
    store = ModelStore(tmp_path)
    store.put(StoreEntry("", "m", {"job": "a"}, "mad", {}, {"source": a.identity}), b"a")
    store.put(StoreEntry("", "m", {"job": "a"}, "mad", {}, {"source": b.identity}), b"b")
    assert len(ModelStore(tmp_path).entries()) == 2  # team-b's fit did not overwrite team-a's


def test_precedence_of_the_one_resolver():
    prom = PrometheusSettings(url="http://configured:9090", max_points_per_request=50)
    assert resolve_source(prom).prometheus == prom
    assert resolve_source(prom, choice="demo", demo_now="2024-01-01").kind == "demo"
    assert resolve_source(prom, url="http://given:9090").prometheus.max_points_per_request == 50
    assert resolve_source(prom, csv=["a.csv"]).csv == ("a.csv",)  # a spec's own source beats the config
    assert resolve_source(prom, demo=True).kind == "demo"
    assert resolve_source(PrometheusSettings(), default="demo").kind == "demo"  # the service's fallback
    with pytest.raises(InputError, match="no history source"):
        resolve_source(PrometheusSettings())
    with pytest.raises(InputError, match="needs source.csv"):
        resolve_source(prom, choice="csv")
    with pytest.raises(InputError, match="unknown source 'kafka'"):
        resolve_source(prom, choice="kafka")


def test_specs_pickle_and_a_pinned_demo_reopens_identically():
    spec = resolve_source(PrometheusSettings(), choice="demo").pinned()
    again = pickle.loads(pickle.dumps(spec))
    assert again == spec and spec.now is not None
    first, second = spec.open(), again.open()
    assert isinstance(first, DemoSource) and first.now == second.now
    prom = pickle.loads(pickle.dumps(resolve_source(PrometheusSettings(url="http://h:9090", headers={"a": "b"}))))
    assert prom.open().identity == resolve_source(PrometheusSettings(url="http://h:9090", headers={"a": "b"})).open().identity
