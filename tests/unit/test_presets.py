"""``promcast init`` on the demo: one line per preset, the spec it writes, the dashboards, --namespace, errors."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from promcast import cli
from promcast.dashboards import dashboards_dir, lint_dashboard, load_dashboard
from promcast.presets import NothingFound, run_init
from promcast.presets.catalogue import PRESETS
from promcast.presets.discover import nice_ceiling
from promcast.rules.spec import load_spec
from promcast.sources.demo import DemoSource
from promcast.sources.files import FileSource

NOW = "2024-05-06T12:00:00Z"
DEMO_LINES = [
    "node_filesystems: found 3 series",
    "node_memory: found 5 series",
    "kubernetes_volumes: found 3 series",
    "container_memory: found 13 series",
    "container_restarts: found 13 series",
    "http_red: found 6 series (3 services by service_name, Grafana Beyla / OpenTelemetry HTTP semantic conventions)",
    "go_heap: found 2 series (1 Go processes without GOMEMLIMIT left out)",
    "jvm_heap: found 2 series",
    "process_memory: skipped: 3 processes but none with namespace and pod labels, so no memory limit is known "
    "(write a memory_leak target with limit: for them)",
]


@pytest.fixture
def clean_env(monkeypatch):
    """No PROMCAST_* setting (a Prometheus URL, a config file) from the environment the tests run in."""
    import os

    for name in [n for n in os.environ if n.startswith("PROMCAST_")]:
        monkeypatch.delenv(name)


@pytest.fixture
def demo_now(monkeypatch, clean_env):
    monkeypatch.setenv("PROMCAST_DEMO_NOW", NOW)


def test_init_on_the_demo_prints_one_line_per_preset_and_writes_spec_and_dashboards(tmp_path, demo_now, capsys):
    out = tmp_path / "x"
    assert cli.main(["init", "--source", "demo", "--output", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:len(PRESETS)] == DEMO_LINES
    assert lines[len(PRESETS):] == [f"wrote {out / 'promcast-rules.yaml'}",
                                    f"wrote {out / 'dashboards' / 'promcast-forecasts.json'}",
                                    f"wrote {out / 'dashboards' / 'promcast-maintenance.json'}"]
    spec = load_spec(out / "promcast-rules.yaml")
    assert spec.source.demo and spec.source.prometheus_url is None
    names = [t.name for t in spec.targets]
    assert names == ["filesystems", "node_memory", "pvc_volumes", "container_memory", "container_restarts",
                     "http_request_rate", "http_error_ratio", "http_latency_p95", "http_capacity_checkout",
                     "http_capacity_frontend", "http_capacity_search", "go_heap", "jvm_heap"]
    kinds = {t.name: t.kind for t in spec.targets}
    assert kinds["pvc_volumes"] == "disk_exhaustion" and kinds["container_memory"] == "memory_leak"
    assert kinds["http_capacity_frontend"] == "capacity" and kinds["http_latency_p95"] == "anomaly_band"
    # a Go process without GOMEMLIMIT exports math.MaxInt64: left out, in discovery and in the rules
    go = next(t for t in spec.targets if t.name == "go_heap")
    assert go.param("limit_expr") == "go_gc_gomemlimit_bytes < 9e18"
    limits = DemoSource(now=NOW).query_range(go.param("limit_expr"), pd.Timestamp(NOW) - pd.Timedelta("1h"),
                                             pd.Timestamp(NOW), pd.Timedelta("5m"))
    assert sorted(h.labels["job"] for h in limits) == ["shop/checkout", "shop/checkout"]
    heaps = DemoSource(now=NOW).query_range(go.expr, pd.Timestamp(NOW) - pd.Timedelta("1h"), pd.Timestamp(NOW),
                                            pd.Timedelta("5m"))
    assert sorted(h.labels["job"] for h in heaps) == ["shop/checkout", "shop/checkout"]  # expr leaves them out too
    fs = next(t for t in spec.targets if t.name == "filesystems")
    assert 'fstype!~"tmpfs|' in fs.expr and fs.param("readonly_explicit") is False  # the demo has readonly series
    memory = next(t for t in spec.targets if t.name == "container_memory")
    assert memory.expr.startswith("max by (namespace, pod, container) (container_memory_working_set_bytes{")
    assert memory.param("limit_expr").startswith("max by (namespace, pod, container) (kube_pod_container_resource")
    # the capacity suggestion: twice the busiest five minutes of the last day, rounded up to two digits
    frontend = next(t for t in spec.targets if t.name == "http_capacity_frontend")
    (rate,) = DemoSource(now=NOW).query_range(frontend.expr, pd.Timestamp(NOW) - pd.Timedelta("1d"),
                                              pd.Timestamp(NOW), pd.Timedelta("5m"))
    assert frontend.param("capacity") == nice_ceiling(2 * rate.values.max())
    # the dashboards are the shipped files, and pass the dashboard checks
    for path in sorted((out / "dashboards").iterdir()):
        assert path.read_bytes() == (dashboards_dir() / path.name).read_bytes()
        assert lint_dashboard(load_dashboard(path)) == []


def test_namespace_restricts_the_kubernetes_presets(tmp_path):
    result = run_init(DemoSource(now=NOW), tmp_path, spec_source={"demo": True}, namespace="shop")
    lines = {f.preset.name: f.line() for f in result.findings}
    assert lines["kubernetes_volumes"] == "kubernetes_volumes: found 1 series"
    assert lines["container_memory"] == "container_memory: found 8 series"  # frontend 3, checkout 2, cart 1, search 2
    assert lines["node_filesystems"] == "node_filesystems: found 3 series"  # not a Kubernetes preset
    spec = load_spec(tmp_path / "promcast-rules.yaml")
    volumes = next(t for t in spec.targets if t.name == "pvc_volumes")
    assert volumes.expr == 'kubelet_volume_stats_available_bytes{namespace="shop"}'
    elsewhere = run_init(DemoSource(now=NOW), tmp_path / "none", spec_source={"demo": True}, namespace="nowhere")
    lines = {f.preset.name: f.line() for f in elsewhere.findings}
    assert lines["kubernetes_volumes"] == ("kubernetes_volumes: skipped: no kubelet_volume_stats_available_bytes "
                                           "series in namespace nowhere (is the kubelet scraped?)")


@pytest.mark.parametrize("limit, truncated", [(5, False), (4, True)])
def test_a_listing_is_cut_only_when_there_are_more_series_than_the_limit(monkeypatch, limit, truncated):
    from promcast.presets import catalogue
    from promcast.presets.discover import Probe

    monkeypatch.setattr(catalogue, "SERIES_LIMIT", limit)
    probe = Probe(DemoSource(now=NOW), pd.Timestamp(NOW))
    found = probe.series("node_memory_MemAvailable_bytes")  # the demo has 5
    assert len(found) == limit and (probe.truncated == {"node_memory_MemAvailable_bytes"}) is truncated


def test_nothing_found_is_an_error_and_writes_nothing(tmp_path):
    csv = tmp_path / "other.csv"
    csv.write_text('timestamp,value,series\n2024-05-06T11:00:00Z,1,queue_depth{job="worker"}\n')
    with pytest.raises(NothingFound, match="no known metric family at CSV") as err:
        run_init(FileSource(csv), tmp_path / "out", spec_source={"demo": True},
                 end=pd.Timestamp("2024-05-06T12:00:00Z"))
    assert "go_heap: skipped: no go_memstats_heap_inuse_bytes" in str(err.value)
    assert not (tmp_path / "out").exists()


@pytest.fixture(params=["bare", "polluted"])
def outside(request, monkeypatch, tmp_path):
    """The environment the tests run in: bare, or with a Prometheus URL and a config file that names one
    (which the tests must not depend on; ``clean_env``, requested after this, takes them away)."""
    if request.param == "polluted":
        config = tmp_path / "promcast.yaml"
        config.write_text("prometheus:\n  url: http://127.0.0.1:2\n")
        monkeypatch.setenv("PROMCAST_CONFIG", str(config))
        monkeypatch.setenv("PROMCAST_PROMETHEUS_URL", "http://127.0.0.1:1")


def test_clear_errors_at_the_command_line(outside, tmp_path, demo_now, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert cli.main(["init", "--source", "demo", "--output", str(blocker / "sub")]) == 1
    assert "promcast init: error: cannot write to" in capsys.readouterr().err
    assert cli.main(["init", "--source", "demo", "--prometheus-url", "http://x:9090", "--output", "o"]) == 1
    assert "give either --prometheus-url or --source demo" in capsys.readouterr().err
    assert cli.main(["init", "--output", str(tmp_path / "o")]) == 1
    assert "no history source" in capsys.readouterr().err


def test_credentials_in_the_prometheus_url_are_not_written_to_the_spec(tmp_path, clean_env, monkeypatch, capsys):
    import promcast.presets as presets
    from promcast.presets import InitResult

    seen = {}

    def fake_run_init(source, output, *, spec_source, namespace=None, force=False):
        seen.update(spec_source)
        return InitResult((), ())

    monkeypatch.setattr(presets, "run_init", fake_run_init)
    url = "https://alice:s3cret@prom.example:9090/prefix"
    assert cli.main(["init", "--prometheus-url", url, "--output", str(tmp_path / "o")]) == 0
    assert seen == {"prometheus_url": "https://prom.example:9090/prefix"}
    assert "s3cret" not in capsys.readouterr().err
    assert cli.main(["init", "--prometheus-url", "http://prom:9090", "--output", str(tmp_path / "o")]) == 0
    assert seen == {"prometheus_url": "http://prom:9090"}


def test_rerunning_init_does_not_overwrite_an_edited_spec_without_force(tmp_path, demo_now, capsys):
    out = tmp_path / "x"
    assert cli.main(["init", "--source", "demo", "--output", str(out)]) == 0
    assert cli.main(["init", "--source", "demo", "--output", str(out)]) == 0  # the same files: nothing lost
    spec = out / "promcast-rules.yaml"
    edited = spec.read_text().replace("for: 10m", "for: 30m")
    spec.write_text(edited)
    dashboard = out / "dashboards" / "promcast-forecasts.json"
    dashboard.unlink()
    capsys.readouterr()
    assert cli.main(["init", "--source", "demo", "--output", str(out)]) == 1
    err = capsys.readouterr().err
    assert (f"promcast init: error: {spec} exists and was changed since promcast init wrote it "
            "(or written by another run); move them away or pass --force to overwrite") in err
    assert spec.read_text() == edited and not dashboard.exists()  # nothing written
    assert cli.main(["init", "--source", "demo", "--output", str(out), "--force"]) == 0
    assert "for: 10m" in spec.read_text() and dashboard.exists()


def test_prometheus_down_is_a_clear_error(tmp_path, capsys):
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert cli.main(["init", "--prometheus-url", f"http://127.0.0.1:{port}", "--output", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("promcast init: error: ") and f"127.0.0.1:{port}" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("value, expected", [(118.3, 120), (0.0123, 0.013), (5000, 5000), (5001, 5100), (0, 1.0)])
def test_capacities_are_rounded_up_to_two_digits(value, expected):
    assert nice_ceiling(value) == expected


def test_the_dashboard_catalogue_names_shipped_files():
    from promcast.presets.catalogue import DASHBOARDS

    for name in DASHBOARDS:
        assert json.loads((dashboards_dir() / name).read_text())["uid"] == name.removesuffix(".json")
