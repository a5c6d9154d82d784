"""The pure part: alerts to objects and changes."""

import pytest

from promcast.errors import InputError
from promcast.remediation.config import CapacityAction, DiskAction
from promcast.remediation.policy import (Alert, Refusal, alert_kind, expanded_size, format_bytes, object_ref,
                                         parse_webhook, raised_replicas)
from promcast.remediation.selector import parse_selector

GI = 2.0**30


def alert(status="firing", **labels):
    return Alert("f1", status, {"alertname": "PromcastDiskWillFill", "promcast_target": "pvcs", **labels})


def test_webhook_v4_parses_and_other_versions_are_refused():
    body = {"version": "4", "status": "firing", "alerts": [
        {"status": "firing", "labels": {"alertname": "X"}, "annotations": {"summary": "s"}, "fingerprint": "abc"}]}
    (parsed,) = parse_webhook(body)
    assert parsed.fingerprint == "abc" and parsed.annotations == {"summary": "s"}
    with pytest.raises(InputError, match="version '3'"):
        parse_webhook({**body, "version": "3"})
    with pytest.raises(InputError, match="no labels"):
        parse_webhook({"version": "4", "alerts": [{"status": "firing"}]})


@pytest.mark.parametrize("a, outcome, needle", [
    (alert(status="resolved"), "ignored", "resolved"),
    (Alert("f", "firing", {"alertname": "PromcastDiskWillFill"}), "ignored", "no promcast_target"),
    (alert(alertname="PromcastAnomaly"), "ignored", "no remediation for kind"),
])
def test_alerts_that_are_never_acted_on(a, outcome, needle):
    with pytest.raises(Refusal) as info:
        alert_kind(a)
    assert info.value.outcome == outcome and needle in info.value.reason


def test_kind_comes_from_promcast_kind_or_the_alert_name():
    assert alert_kind(alert()) == "disk_exhaustion"
    assert alert_kind(alert(alertname="Custom", promcast_kind="capacity")) == "capacity"


def test_objects_come_from_the_metric_labels():
    assert str(object_ref("disk_exhaustion", {"namespace": "prod", "persistentvolumeclaim": "d"})) == \
        "PersistentVolumeClaim/prod/d"
    assert str(object_ref("memory_leak", {"namespace": "prod", "pod": "api-1", "deployment": "api"})) == "Deployment/prod/api"
    assert str(object_ref("memory_leak", {"namespace": "prod", "pod": "api-1"})) == "Pod/prod/api-1"
    assert str(object_ref("capacity", {"namespace": "prod", "horizontalpodautoscaler": "web"})) == \
        "HorizontalPodAutoscaler/prod/web"
    with pytest.raises(Refusal, match="no namespace"):
        object_ref("disk_exhaustion", {"persistentvolumeclaim": "d"})
    with pytest.raises(Refusal, match="persistentvolumeclaim"):
        object_ref("disk_exhaustion", {"namespace": "prod", "device": "/dev/sda1"})


def test_sizes_and_replicas_grow_by_the_step_within_the_cap():
    assert expanded_size(100 * GI, DiskAction(0.25, None, 2.0**40)) == 125 * GI
    assert expanded_size(100 * GI, DiskAction(0.25, None, 110 * GI)) == 110 * GI
    assert expanded_size(100 * GI, DiskAction(None, 10 * GI, 2.0**40)) == 110 * GI
    with pytest.raises(Refusal, match="max_size"):
        expanded_size(110 * GI, DiskAction(0.25, None, 110 * GI))
    assert format_bytes(125 * GI) == "125Gi" and format_bytes(1.5 * GI) == "1536Mi" and format_bytes(2.0**40) == "1Ti"
    assert raised_replicas(10, CapacityAction(11, 2)) == 11
    with pytest.raises(Refusal, match="max_replicas_cap"):
        raised_replicas(11, CapacityAction(11, 2))


def test_label_selectors_as_kubectl_reads_them():
    selector = parse_selector("promcast.io/remediate=true,tier!=db,!legacy,env in (prod, staging)")
    assert selector.matches({"promcast.io/remediate": "true", "env": "prod"})
    assert not selector.matches({"promcast.io/remediate": "true", "env": "dev"})
    assert not selector.matches({"promcast.io/remediate": "true", "env": "prod", "legacy": "1"})
    assert not selector.matches(None)
    with pytest.raises(InputError, match="bad label selector part"):
        parse_selector("a=b=c")
