"""promcast's alerts through a real Alertmanager to a real ``promcast remediate`` acting on a Kubernetes API.

Alertmanager is Debian's, started on loopback and fed through its own API; the receiver is the
``promcast remediate`` command; the Kubernetes API is the loopback fake with the real API's paths,
patch content types and error bodies, reached through the official client. What must hold: the PVC
patch and the rollout restart arrive; a second alert on the same PVC inside the cooldown changes
nothing; a resolved alert changes nothing; a namespace outside the allow-list is refused and logged.
"""

from __future__ import annotations

import json
import time

import pandas as pd
import pytest

import am_harness
import tools
from kube_fake import ServedKube

pytestmark = pytest.mark.integration
TOKEN = "am-to-promcast"


def alert(name, kind, severity="warning", ends=None, **labels):
    now = pd.Timestamp.now(tz="UTC")
    return {"labels": {"alertname": name, "promcast_target": "demo", "promcast_kind": kind, "severity": severity,
                       **labels},
            "annotations": {"summary": f"{name} test"}, "startsAt": (now - pd.Timedelta("5min")).isoformat(),
            "endsAt": (ends if ends is not None else now + pd.Timedelta("1h")).isoformat()}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    if am_harness.alertmanager_binary() is None:
        tools.missing(f"{am_harness.BINARY} not found: {am_harness.INSTALL_HINT}")
    root = tmp_path_factory.mktemp("remediate")
    kube = ServedKube()
    kube.fake.add("StorageClass", "gp3", allowVolumeExpansion=True, provisioner="ebs.csi.aws.com")
    for ns in ("prod", "staging"):
        kube.fake.add("PersistentVolumeClaim", "data-postgres-0", ns,
                      spec={"storageClassName": "gp3", "resources": {"requests": {"storage": "100Gi"}}})
    kube.fake.add("Deployment", "checkout", "prod", spec={
        "replicas": 2, "selector": {"matchLabels": {"app": "checkout"}},
        "template": {"metadata": {"labels": {"app": "checkout"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}})
    remediate, alertmanager, audit = am_harness.start_remediation(kube.fake, root, TOKEN)
    try:
        yield alertmanager, kube.fake, audit, remediate
    finally:
        alertmanager.stop()
        remediate.stop()
        kube.stop()


def decisions(audit, count, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = audit.read_text().splitlines() if audit.exists() else []
        if len(lines) >= count:
            return [json.loads(line) for line in lines]
        time.sleep(0.2)
    raise AssertionError(f"expected {count} audit lines, got: {audit.read_text() if audit.exists() else 'none'}")


def test_alerts_become_bounded_kubernetes_changes(stack):
    alertmanager, fake, audit, remediate = stack
    pvc = {"namespace": "prod", "persistentvolumeclaim": "data-postgres-0"}
    alertmanager.post([alert("PromcastDiskWillFill", "disk_exhaustion", **pvc)])
    first = decisions(audit, 1)
    assert first[0]["outcome"] == "acted", (first, remediate.log_text())
    assert fake.get("PersistentVolumeClaim", "data-postgres-0", "prod")["spec"]["resources"]["requests"][
        "storage"] == "125Gi"

    alertmanager.post([alert("PromcastMemoryLeak", "memory_leak", namespace="prod", deployment="checkout",
                             container="checkout")])
    leak = decisions(audit, 2)[1]
    assert leak["outcome"] == "acted" and leak["object"] == "Deployment/prod/checkout"
    assert "kubectl.kubernetes.io/restartedAt" in fake.get("Deployment", "checkout", "prod")["spec"]["template"][
        "metadata"]["annotations"]

    # the critical twin of the same PVC inside the cooldown, and a namespace outside the allow-list
    alertmanager.post([alert("PromcastDiskWillFill", "disk_exhaustion", severity="critical", **pvc)])
    assert "cooldown" in decisions(audit, 3)[2]["reason"]
    alertmanager.post([alert("PromcastDiskWillFill", "disk_exhaustion", namespace="staging",
                             persistentvolumeclaim="data-postgres-0")])
    refused = decisions(audit, 4)[3]
    assert refused["outcome"] == "refused" and "allow.namespaces" in refused["reason"]

    # resolving the first alert: Alertmanager says so, promcast changes nothing
    writes = len(fake.writes)
    alertmanager.post([alert("PromcastDiskWillFill", "disk_exhaustion",
                             ends=pd.Timestamp.now(tz="UTC") - pd.Timedelta("1s"), **pvc)])
    resolved = [d for d in decisions(audit, 5) if d["outcome"] == "ignored"]
    assert resolved and "resolved" in resolved[0]["reason"]
    assert len(fake.writes) == writes == 2
    assert fake.get("PersistentVolumeClaim", "data-postgres-0", "staging")["spec"]["resources"]["requests"][
        "storage"] == "100Gi"
