"""From metrics to a Kubernetes change, every part real: ``promcast init`` finds the kubelet volume and
container families in a real Prometheus, ``generate-rules`` turns the spec it wrote into rules (checked with
promtool), a second Prometheus evaluates them over the same history (a filling PVC and a leaking container,
up to now) and sends its alerts to a real Alertmanager, which routes them to a ``promcast remediate``
subprocess acting on the loopback Kubernetes API through the official client.

What must hold: the PVC patch (expansion by 25 %) and the rollout restart of the leaking container's
Deployment (resolved from its Pod and ReplicaSet) arrive; the healthy PVC and container are left alone.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import yaml

import am_harness
import prom_harness
import tools
from kube_fake import ServedKube
from prom_harness import MetricSeries
from promcast.presets import run_init
from promcast.rules import run_generate_rules
from promcast.sources.prometheus import PrometheusSource

pytestmark = pytest.mark.integration
GIB, MIB = 2.0**30, 2.0**20
DAYS = 14
TOKEN = "e2e-token"
LEAKING_POD, HEALTHY_POD = "checkout-5f7d9c8b4-x2x7k", "web-6c9f8d7b5-q4r8t"
REPLICASET = "checkout-5f7d9c8b4"


def history(end: int) -> list[MetricSeries]:
    """14 days at 1 minute up to ``end``, shaped relative to ``end`` (the same data at any hour)."""
    t = end - 60 * np.arange(DAYS * 1440, -1, -1, dtype=np.int64)
    rel = (t - end) / 86400.0  # days, 0 = now
    rng = np.random.default_rng(16)
    day = np.sin(2 * np.pi * (rel + 0.28))
    out = []
    kubelet = {"job": "kubelet", "instance": "10.0.1.11:10250", "metrics_path": "/metrics", "node": "ip-10-0-1-11"}
    size = 100 * GIB
    # data-postgres-0 fills: 90 % used now, full two days from now; wal-postgres-0 holds at half
    filling = size * (0.9 + 0.05 * rel) + 0.002 * size * day + rng.normal(0, 0.0005 * size, len(t))
    stable = size * (0.5 + 0.02 * day) + rng.normal(0, 0.0005 * size, len(t))
    for claim, used in (("data-postgres-0", filling), ("wal-postgres-0", stable)):
        labels = {**kubelet, "namespace": "prod", "persistentvolumeclaim": claim}
        out.append(MetricSeries("kubelet_volume_stats_available_bytes", labels, t, np.floor(size - used)))
        out.append(MetricSeries("kubelet_volume_stats_capacity_bytes", labels, t, np.full(len(t), size)))
    # the checkout container leaks towards its 2 GiB limit (about a day and a half left); web is healthy
    saw = np.mod(t, 1200) / 1200.0
    leak = 400 * MIB + 1400 * MIB * (rel + DAYS) / DAYS + 120 * MIB * saw + rng.normal(0, 2 * MIB, len(t))
    healthy = 700 * MIB + 100 * MIB * (day + 1) / 2 + 120 * MIB * saw + rng.normal(0, 2 * MIB, len(t))
    ksm = {"job": "kube-state-metrics", "instance": "10.0.2.15:8080", "node": "ip-10-0-1-11"}
    for pod, container, values in ((LEAKING_POD, "app", leak), (HEALTHY_POD, "web", healthy)):
        cadvisor = {**kubelet, "metrics_path": "/metrics/cadvisor", "namespace": "prod", "pod": pod}
        out.append(MetricSeries("container_memory_working_set_bytes",
                                {**cadvisor, "container": container, "image": f"registry.example.com/{container}:2"},
                                t, np.floor(values)))
        # the pod-level cgroup (no container label): not a container, the preset leaves it out
        out.append(MetricSeries("container_memory_working_set_bytes", cadvisor, t, np.floor(values + 5 * MIB)))
        out.append(MetricSeries("kube_pod_container_resource_limits",
                                {**ksm, "namespace": "prod", "pod": pod, "container": container,
                                 "resource": "memory", "unit": "byte"}, t, np.full(len(t), 2 * GIB)))
    return out


@pytest.fixture(scope="module")
def rules(prometheus_factory, tmp_path_factory):
    """init against the first Prometheus, then generate-rules (checked) from the spec it wrote, with ``for: 0s``."""
    end = int(time.time()) // 60 * 60
    served = prometheus_factory(history(end), key="init-remediate-history")
    root = tmp_path_factory.mktemp("init-remediate")
    with PrometheusSource(served.url) as source:
        result = run_init(source, root / "init", spec_source={"prometheus_url": served.url})
    spec_path = root / "init" / "promcast-rules.yaml"
    spec = yaml.safe_load(spec_path.read_text())
    spec["defaults"]["for"] = "0s"  # fire on the first evaluation: the test cannot wait ten minutes
    spec_path.write_text(yaml.safe_dump(spec, sort_keys=False))
    summary = run_generate_rules(spec_path, root / "rules", "prometheus", check=True, progress=False)
    return result, spec, summary, sorted(str(p) for p in (root / "rules").glob("*.rules.yaml"))


@pytest.fixture(scope="module")
def stack(rules, tmp_path_factory):
    if am_harness.alertmanager_binary() is None:
        tools.missing(f"{am_harness.BINARY} not found: {am_harness.INSTALL_HINT}")
    _, _, _, rule_files = rules
    root = tmp_path_factory.mktemp("e2e")
    kube = ServedKube()
    kube.fake.add("StorageClass", "gp3", allowVolumeExpansion=True, provisioner="ebs.csi.aws.com")
    for claim in ("data-postgres-0", "wal-postgres-0"):
        kube.fake.add("PersistentVolumeClaim", claim, "prod",
                      spec={"storageClassName": "gp3", "resources": {"requests": {"storage": "100Gi"}}})
    for name in ("checkout", "web"):
        kube.fake.add("Deployment", name, "prod", spec={
            "replicas": 2, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}})
    controller = {"controller": True, "apiVersion": "apps/v1"}
    kube.fake.add("ReplicaSet", REPLICASET, "prod", metadata={"ownerReferences": [
        {**controller, "kind": "Deployment", "name": "checkout", "uid": "d-1"}]})
    kube.fake.add("Pod", LEAKING_POD, "prod", metadata={"ownerReferences": [
        {**controller, "kind": "ReplicaSet", "name": REPLICASET, "uid": "rs-1"}]})
    remediate, alertmanager, audit = am_harness.start_remediation(kube.fake, root, TOKEN)
    workdir = root / "prometheus"
    workdir.mkdir()
    source = prom_harness.write_openmetrics(workdir / "history.om", history(int(time.time()) // 60 * 60))
    tsdb = prom_harness.backfill(source, workdir / "tsdb")
    source.unlink()
    prometheus = am_harness.AlertingPrometheus(tsdb, alertmanager.url.split("//", 1)[1], rule_files=rule_files,
                                               evaluation_interval="2s").start()
    try:
        yield kube.fake, audit, (prometheus, alertmanager, remediate)
    finally:
        prometheus.stop()
        alertmanager.stop()
        remediate.stop()
        kube.stop()


def test_init_finds_the_families_and_the_rules_pass_promtool(rules):
    result, spec, summary, rule_files = rules
    lines = {f.preset.name: f.line() for f in result.findings}
    assert lines["kubernetes_volumes"] == "kubernetes_volumes: found 2 series"
    assert lines["container_memory"] == "container_memory: found 2 series"
    assert lines["node_filesystems"].startswith("node_filesystems: skipped: no node_filesystem_avail_bytes")
    assert [t["name"] for t in spec["targets"]] == ["pvc_volumes", "container_memory"]
    assert summary.checked and summary.ok and summary.series == 4 and len(rule_files) == 2


def acted(audit, want: set[str], timeout: float = 150.0) -> list[dict]:
    """The audit lines once every object in ``want`` has an ``acted`` decision."""
    deadline = time.monotonic() + timeout
    lines: list[dict] = []
    while time.monotonic() < deadline:
        lines = [json.loads(line) for line in audit.read_text().splitlines()] if audit.exists() else []
        if want <= {d["object"] for d in lines if d["outcome"] == "acted"}:
            return lines
        time.sleep(0.5)
    raise AssertionError(f"no acted decision for all of {want}: {lines}")


def test_the_pvc_expansion_and_the_rollout_restart_arrive(stack):
    fake, audit, servers = stack
    try:
        lines = acted(audit, {"PersistentVolumeClaim/prod/data-postgres-0", "Deployment/prod/checkout"})
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n" + "\n".join(s.log_text(15) for s in servers)) from None
    assert fake.get("PersistentVolumeClaim", "data-postgres-0", "prod")["spec"]["resources"]["requests"][
        "storage"] == "125Gi"
    template = fake.get("Deployment", "checkout", "prod")["spec"]["template"]["metadata"]
    assert "kubectl.kubernetes.io/restartedAt" in template.get("annotations", {})
    by_target = {d["object"]: d for d in lines if d["outcome"] == "acted"}
    assert by_target["PersistentVolumeClaim/prod/data-postgres-0"]["kind"] == "disk_exhaustion"
    assert by_target["Deployment/prod/checkout"]["kind"] == "memory_leak"
    # the healthy volume and container raised no alert, so nothing touched them
    paths = {w.path for w in fake.writes}
    assert not any("wal-postgres-0" in p or p.endswith("/deployments/web") for p in paths), paths
    assert fake.get("PersistentVolumeClaim", "wal-postgres-0", "prod")["spec"]["resources"]["requests"][
        "storage"] == "100Gi"
