"""The remediator against the fake Kubernetes API through the official client (not mocked)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from promcast.remediation.app import create_remediation_app
from promcast.remediation.audit import AuditLog
from promcast.remediation.config import parse_config
from promcast.remediation.policy import Alert
from promcast.remediation.remediator import Remediator

NOON = pd.Timestamp("2024-06-10T12:00:00Z").timestamp()
CONFIG = {"dry_run": False, "allow": {"namespaces": ["prod", "locked"]},
          "actions": {"disk_exhaustion": {"expand_by": "25%", "max_size": "1Ti"}, "memory_leak": {"restart": True},
                      "capacity": {"max_replicas_cap": 11, "step": 2}},
          "cooldown": "1h", "rate_limit": "3/h"}


def make(cluster, tmp_path, clock=None, **changes):
    config = parse_config({**CONFIG, **changes})
    now = clock or [NOON]
    audit = AuditLog(str(tmp_path / "audit.jsonl"))
    return Remediator(config, cluster.client, audit, clock=lambda: now[0]), now


def disk(fingerprint="fp-disk", namespace="prod", pvc="data-postgres-0", status="firing", **labels):
    return Alert(fingerprint, status, {"alertname": "PromcastDiskWillFill", "promcast_target": "pvcs",
                                       "promcast_kind": "disk_exhaustion", "severity": "warning",
                                       "namespace": namespace, "persistentvolumeclaim": pvc, **labels})


def test_a_filling_pvc_is_expanded_with_a_merge_patch(cluster, tmp_path):
    remediator, _ = make(cluster, tmp_path)
    (decision,) = remediator.handle([disk()])
    assert decision.outcome == "acted", decision
    assert decision.change == {"storage": {"from": "100Gi", "to": "125Gi"}}
    (write,) = cluster.fake.writes
    assert write.content_type == "application/merge-patch+json"
    assert write.body == {"spec": {"resources": {"requests": {"storage": "125Gi"}}}}
    assert cluster.fake.get("PersistentVolumeClaim", "data-postgres-0", "prod")["spec"]["resources"]["requests"][
        "storage"] == "125Gi"
    line = json.loads((tmp_path / "audit.jsonl").read_text().splitlines()[0])
    assert line["outcome"] == "acted" and line["object"] == "PersistentVolumeClaim/prod/data-postgres-0"
    assert line["fingerprint"] == "fp-disk" and line["action"] == "expand_pvc"


def test_dry_run_reads_but_never_writes(cluster, tmp_path):
    remediator, _ = make(cluster, tmp_path, dry_run=True)
    (decision,) = remediator.handle([disk()])
    assert decision.outcome == "dry_run" and decision.change["storage"]["to"] == "125Gi"
    assert cluster.fake.writes == []


@pytest.mark.parametrize("alert, needle", [
    (disk(namespace="staging"), "namespace 'staging' is not in allow.namespaces"),
    (disk(pvc="scratch"), "StorageClass fixed does not allow volume expansion"),
    (disk(pvc="missing"), "404"),
])
def test_refusals_are_logged_and_write_nothing(cluster, tmp_path, alert, needle):
    remediator, _ = make(cluster, tmp_path)
    (decision,) = remediator.handle([alert])
    assert decision.outcome in ("refused", "failed") and needle in decision.reason, decision
    assert cluster.fake.writes == []
    assert needle in (tmp_path / "audit.jsonl").read_text()


def test_rbac_denial_is_a_failed_decision_naming_the_api_message(cluster, tmp_path):
    remediator, _ = make(cluster, tmp_path)
    (decision,) = remediator.handle([disk(namespace="locked")])
    assert decision.outcome == "failed" and "403" in decision.reason and "forbidden" in decision.reason


def test_same_alert_again_is_a_duplicate_and_a_second_alert_on_the_object_waits_for_the_cooldown(cluster, tmp_path):
    remediator, now = make(cluster, tmp_path)
    assert remediator.handle([disk()])[0].outcome == "acted"
    now[0] += 600
    assert remediator.handle([disk()])[0].outcome == "duplicate"
    critical = disk("fp-critical", severity="critical")
    assert "cooldown" in remediator.handle([critical])[0].reason
    now[0] += 3600
    assert remediator.handle([critical])[0].outcome == "acted"  # after the cooldown
    assert len(cluster.fake.writes) == 2


def test_resolved_alerts_do_nothing_and_free_the_fingerprint(cluster, tmp_path):
    remediator, now = make(cluster, tmp_path)
    assert remediator.handle([disk(status="resolved")])[0].outcome == "ignored"
    assert remediator.handle([disk()])[0].outcome == "acted"
    assert remediator.handle([disk(status="resolved")])[0].outcome == "ignored"
    now[0] += 7200
    assert remediator.handle([disk()])[0].outcome == "acted"  # firing again after it resolved: a new occurrence


def test_rate_limit_counts_every_action(cluster, tmp_path):
    remediator, _ = make(cluster, tmp_path, rate_limit="1/h")
    first = remediator.handle([disk()])[0]
    second = remediator.handle([Alert("fp-web", "firing", {"alertname": "PromcastCapacityForecast",
                                                           "promcast_target": "t", "namespace": "prod",
                                                           "horizontalpodautoscaler": "web"})])[0]
    assert first.outcome == "acted" and second.outcome == "refused" and "rate limit" in second.reason


def test_a_leaking_pod_restarts_its_deployment(cluster, tmp_path):
    remediator, _ = make(cluster, tmp_path)
    leak = Alert("fp-leak", "firing", {"alertname": "PromcastMemoryLeak", "promcast_target": "mem", "namespace": "prod",
                                       "pod": "api-7d9f8-x2x4q", "container": "api"})
    (decision,) = remediator.handle([leak])
    assert decision.outcome == "acted" and decision.object == "Deployment/prod/api"
    annotations = cluster.fake.get("Deployment", "api", "prod")["spec"]["template"]["metadata"]["annotations"]
    assert annotations == {"kubectl.kubernetes.io/restartedAt": "2024-06-10T12:00:00Z"}
    assert cluster.fake.get("Deployment", "api", "prod")["spec"]["template"]["metadata"]["labels"] == {"app": "api"}


def test_restarts_wait_for_the_maintenance_window(cluster, tmp_path):
    remediator, now = make(cluster, tmp_path, actions={"memory_leak": {"window": "02:00-05:00"}})
    leak = Alert("fp-leak", "firing", {"alertname": "PromcastMemoryLeak", "promcast_target": "mem",
                                       "namespace": "prod", "deployment": "api"})
    assert remediator.handle([leak])[0].outcome == "deferred"
    now[0] = pd.Timestamp("2024-06-11T02:30:00Z").timestamp()
    assert remediator.handle([leak])[0].outcome == "acted"


def test_hpa_max_replicas_rise_to_the_cap(cluster, tmp_path):
    remediator, now = make(cluster, tmp_path, cooldown="1m")
    labels = {"alertname": "PromcastCapacityForecast", "promcast_target": "t", "namespace": "prod",
              "horizontalpodautoscaler": "web"}
    assert remediator.handle([Alert("a", "firing", labels)])[0].change == {"maxReplicas": {"from": 10, "to": 11}}
    now[0] += 120
    assert "max_replicas_cap" in remediator.handle([Alert("b", "firing", labels)])[0].reason


def test_selector_and_kinds_narrow_the_allow_list(cluster, tmp_path):
    remediator, _ = make(cluster, tmp_path, allow={"namespaces": ["prod"], "selector": "promcast.io/remediate=true",
                                                   "kinds": ["PersistentVolumeClaim"]})
    assert "does not match allow.selector" in remediator.handle([disk(pvc="scratch")])[0].reason
    leak = Alert("l", "firing", {"alertname": "PromcastMemoryLeak", "promcast_target": "m", "namespace": "prod",
                                 "deployment": "api"})
    assert "kind Deployment is not in allow.kinds" in remediator.handle([leak])[0].reason


def test_webhook_endpoint_answers_decisions_and_counts_them(cluster, tmp_path):
    remediator, _ = make(cluster, tmp_path, dry_run=True, token="s3cret")
    client = create_remediation_app(remediator, token="s3cret").test_client()
    body = {"version": "4", "status": "firing", "receiver": "promcast", "groupLabels": {}, "commonLabels": {},
            "commonAnnotations": {}, "externalURL": "http://am", "groupKey": "{}:{}", "truncatedAlerts": 0,
            "alerts": [{"status": "firing", "labels": dict(disk().labels), "annotations": {},
                        "startsAt": "2024-06-10T11:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
                        "generatorURL": "http://prom", "fingerprint": "fp-disk"},
                       {"status": "firing", "labels": {"alertname": "Watchdog"}, "annotations": {},
                        "fingerprint": "fp-watchdog"}]}
    assert client.post("/alertmanager", json=body).status_code == 401
    response = client.post("/alertmanager", json=body, headers={"Authorization": "Bearer s3cret"})
    assert response.status_code == 200
    assert [d["outcome"] for d in response.get_json()["decisions"]] == ["dry_run", "ignored"]
    bad = client.post("/alertmanager", json={"version": "3"}, headers={"Authorization": "Bearer s3cret"})
    assert bad.status_code == 400 and "version" in bad.get_json()["message"]
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'promcast_remediation_actions_total{kind="disk_exhaustion",outcome="dry_run"} 1.0' in metrics
    assert 'promcast_remediation_actions_total{kind="none",outcome="ignored"} 1.0' in metrics
    assert client.get("/healthz").get_json() == {"status": "ok", "dry_run": True}
