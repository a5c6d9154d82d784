"""``promcast init`` against a real Prometheus: each family present (in the names and label sets exporters
really use, with the series a preset must leave out), then absent; and the acceptance sequence a new user
runs on the demo: ``init --source demo`` then ``generate-rules --check`` on the spec it wrote."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest
import yaml

from prom_harness import MetricSeries
from promcast.presets import run_init
from promcast.rules.spec import load_spec
from promcast.sources.prometheus import PrometheusSource

pytestmark = pytest.mark.integration
GIB, MIB = 2.0**30, 2.0**20


def present(end: int) -> list[MetricSeries]:
    """Two hours at one minute of every family, written the way its exporter writes it."""
    t = end - 60 * np.arange(120, -1, -1, dtype=np.int64)
    flat = lambda v: np.full(len(t), float(v))  # noqa: E731
    ramp = lambda per_minute: per_minute * np.arange(len(t), dtype=float)  # noqa: E731 - a counter
    out = []
    node = {"job": "node", "instance": "10.0.0.5:9100"}
    for mountpoint, device, fstype in (("/", "/dev/sda1", "ext4"), ("/data", "/dev/sdb1", "xfs"),
                                       ("/run", "tmpfs", "tmpfs"), ("/var/lib/docker/overlay2/x/merged", "overlay",
                                                                    "overlay")):
        labels = {**node, "mountpoint": mountpoint, "device": device, "fstype": fstype}
        out += [MetricSeries("node_filesystem_avail_bytes", labels, t, flat(40 * GIB)),
                MetricSeries("node_filesystem_size_bytes", labels, t, flat(100 * GIB)),
                MetricSeries("node_filesystem_readonly", labels, t, flat(0))]
    out += [MetricSeries("node_memory_MemAvailable_bytes", node, t, flat(8 * GIB)),
            MetricSeries("node_memory_MemTotal_bytes", node, t, flat(16 * GIB))]
    kubelet = {"job": "kubelet", "instance": "10.0.1.11:10250", "node": "ip-10-0-1-11"}
    for namespace, claim in (("prod", "data-db-0"), ("prod", "data-db-1"), ("staging", "data-db-0")):
        labels = {**kubelet, "metrics_path": "/metrics", "namespace": namespace, "persistentvolumeclaim": claim}
        out += [MetricSeries("kubelet_volume_stats_available_bytes", labels, t, flat(20 * GIB)),
                MetricSeries("kubelet_volume_stats_capacity_bytes", labels, t, flat(50 * GIB))]
    ksm = {"job": "kube-state-metrics", "instance": "10.0.2.15:8080"}
    for namespace, pod, container, limit in (("prod", "api-7d9-abcde", "api", 1 * GIB),
                                             ("prod", "api-7d9-fghij", "api", 1 * GIB),
                                             ("staging", "batch-0", "batch", None)):
        cadvisor = {**kubelet, "metrics_path": "/metrics/cadvisor", "namespace": namespace, "pod": pod}
        out += [MetricSeries("container_memory_working_set_bytes", {**cadvisor, "container": container,
                                                                     "image": "registry/x:1", "id": f"/kubepods/{pod}"},
                             t, flat(300 * MIB)),
                MetricSeries("container_memory_working_set_bytes", {**cadvisor, "container": "POD"}, t, flat(MIB)),
                MetricSeries("container_memory_working_set_bytes", {**cadvisor, "id": f"/kubepods/{pod}"}, t,
                             flat(310 * MIB)),
                MetricSeries("kube_pod_container_status_restarts_total",
                             {**ksm, "namespace": namespace, "pod": pod, "container": container}, t, flat(0))]
        if limit:
            out.append(MetricSeries("kube_pod_container_resource_limits",
                                    {**ksm, "namespace": namespace, "pod": pod, "container": container,
                                     "resource": "memory", "unit": "byte"}, t, flat(limit)))
        out.append(MetricSeries("process_resident_memory_bytes",
                                {"job": f"{namespace}/{container}", "instance": f"10.1.0.{len(out) % 250}:8080",
                                 "namespace": namespace, "pod": pod}, t, flat(200 * MIB)))
    # OpenTelemetry's older HTTP semantic conventions through the collector: milliseconds, services by job
    for job, per_minute in (("shop/cart", 600.0), ("shop/pay", 60.0)):
        for code, share in (("200", 0.99), ("503", 0.01)):
            labels = {"job": job, "instance": "otel-collector:8889", "http_method": "GET", "http_status_code": code}
            out.append(MetricSeries("http_server_duration_milliseconds_count", labels, t, ramp(per_minute * share)))
            for le, fraction in (("5", 0.1), ("50", 0.7), ("500", 0.99), ("+Inf", 1.0)):
                out.append(MetricSeries("http_server_duration_milliseconds_bucket", {**labels, "le": le}, t,
                                        ramp(per_minute * share * fraction)))
    out.append(MetricSeries("go_memstats_heap_inuse_bytes", {"job": "gateway", "instance": "10.0.5.1:8080"}, t,
                            flat(50 * MIB)))  # an old client_golang: no go_gc_gomemlimit_bytes
    # client_golang 1.20+: GOMEMLIMIT set, and unset (math.MaxInt64), which is no limit to measure against
    for job, limit in (("payments", 512 * MIB), ("batch", float(2**63 - 1))):
        labels = {"job": job, "instance": "10.0.5.2:8080"}
        out += [MetricSeries("go_memstats_heap_inuse_bytes", labels, t, flat(50 * MIB)),
                MetricSeries("go_gc_gomemlimit_bytes", labels, t, flat(limit))]
    for pool, used, size in (("G1 Eden Space", 100 * MIB, 256 * MIB), ("G1 Old Gen", 400 * MIB, 1 * GIB)):
        labels = {"job": "orders", "instance": "10.0.6.1:8080", "area": "heap", "id": pool}
        out += [MetricSeries("jvm_memory_used_bytes", labels, t, flat(used)),
                MetricSeries("jvm_memory_max_bytes", labels, t, flat(size))]
    return out


@pytest.fixture(scope="module")
def found(prometheus_factory, tmp_path_factory):
    served = prometheus_factory(present(int(time.time()) // 60 * 60), key="init-present")
    root = tmp_path_factory.mktemp("init-present")
    with PrometheusSource(served.url) as source:
        result = run_init(source, root, spec_source={"prometheus_url": served.url})
    return served, result, root


def test_each_family_is_found_with_what_its_preset_leaves_out(found):
    _, result, _ = found
    lines = {f.preset.name: f.line() for f in result.findings}
    assert lines == {
        "node_filesystems": "node_filesystems: found 2 series",  # tmpfs and overlay left out
        "node_memory": "node_memory: found 1 series",
        "kubernetes_volumes": "kubernetes_volumes: found 3 series",
        # the POD and pod-level cgroups are no containers; batch-0 has no limit
        "container_memory": "container_memory: found 2 series (1 containers without a memory limit are left out)",
        "container_restarts": "container_restarts: found 3 series",
        "http_red": "http_red: found 4 series (2 services by job, OpenTelemetry HTTP semantic conventions before 1.23)",
        "go_heap": "go_heap: found 1 series (2 Go processes without GOMEMLIMIT left out)",
        "jvm_heap": "jvm_heap: found 1 series",
        "process_memory": "process_memory: found 2 series",
    }


def test_the_spec_reads_the_names_it_found(found):
    served, _, root = found
    spec = load_spec(root / "promcast-rules.yaml")
    assert spec.source.prometheus_url == served.url
    by_name = {t.name: t for t in spec.targets}
    assert by_name["http_request_rate"].expr == "sum by (job) (rate(http_server_duration_milliseconds_count[5m]))"
    assert 'http_status_code=~"5.."' in by_name["http_error_ratio"].expr
    assert "http_server_duration_milliseconds_bucket" in by_name["http_latency_p95"].expr
    # 600 requests a minute is 10/s: twice that, as the capacity to replace with a tested one
    assert by_name["http_capacity_shop_cart"].param("capacity") == 20
    assert by_name["http_capacity_shop_pay"].param("capacity") == 2
    assert by_name["go_heap"].param("limit_expr") == "go_gc_gomemlimit_bytes < 9e18"
    assert by_name["process_memory"].param("limit_expr") == (
        'sum by (namespace, pod) (kube_pod_container_resource_limits{resource="memory"})')
    assert sorted(p.name for p in (root / "dashboards").iterdir()) == ["promcast-forecasts.json",
                                                                       "promcast-maintenance.json"]


def test_without_the_families_every_preset_says_why_and_nothing_is_written(prometheus_factory, tmp_path):
    t = int(time.time()) // 60 * 60 - 60 * np.arange(30, -1, -1, dtype=np.int64)
    only = [MetricSeries("node_filesystem_avail_bytes", {"job": "node", "instance": "a:9100", "mountpoint": "/run",
                                                         "fstype": "tmpfs"}, t, np.full(len(t), 1.0)),
            MetricSeries("up", {"job": "node", "instance": "a:9100"}, t, np.full(len(t), 1.0))]
    served = prometheus_factory(only, key="init-absent")
    out = tmp_path / "out"
    run = subprocess.run([sys.executable, "-m", "promcast", "init", "--prometheus-url", served.url, "--output",
                          str(out)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert f"promcast init: error: no known metric family at Prometheus at {served.url}" in run.stderr
    assert "node_filesystems: skipped: only 1 tmpfs filesystems, which are not disks that fill up" in run.stderr
    assert ("kubernetes_volumes: skipped: no kubelet_volume_stats_available_bytes series (is the kubelet scraped?)"
            in run.stderr)
    assert "http_red: skipped: none of http_server_request_duration_seconds_count" in run.stderr
    assert not out.exists()


def test_acceptance_init_on_the_demo_then_generate_rules_check(tmp_path):
    """What a new user tries first, as commands (promtool checks and tests the rules)."""
    env_now = {"PROMCAST_DEMO_NOW": "2024-05-06T12:00:00Z"}
    import os

    env = {**os.environ, **env_now}
    out = tmp_path / "x"
    init = subprocess.run([sys.executable, "-m", "promcast", "init", "--source", "demo", "--output", str(out)],
                          capture_output=True, text=True, timeout=120, env=env)
    assert init.returncode == 0, init.stderr
    assert "kubernetes_volumes: found 3 series" in init.stdout
    generate = subprocess.run([sys.executable, "-m", "promcast", "generate-rules", "--spec",
                               str(out / "promcast-rules.yaml"), "--source", "demo", "--output", str(out / "rules"),
                               "--check"], capture_output=True, text=True, timeout=600, env=env)
    assert generate.returncode == 0, generate.stderr + generate.stdout
    assert "promtool check rules and test rules passed" in generate.stdout
    rules = [yaml.safe_load(p.read_text()) for p in sorted((out / "rules").glob("*.rules.yaml"))]
    alerts = [r for doc in rules for g in doc["groups"] for r in g["rules"] if "alert" in r]
    # every generated alert carries what Alertmanager routes and promcast remediate reads
    assert alerts and all({"promcast_target", "promcast_kind", "severity"} <= set(a["labels"]) for a in alerts)
