"""Pure decisions: which alert means which object and which change. No I/O, no clock of its own.

An alert is acted on only when it is firing, carries ``promcast_target`` and a kind promcast remediates
(``promcast_kind``, or the alert name of a promcast rule), names its object through labels the metric
has (``namespace`` plus ``persistentvolumeclaim``; ``deployment``/``statefulset``/``daemonset`` or
``pod``; ``horizontalpodautoscaler`` or ``deployment``), and that namespace is on the allow-list.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

from ..errors import InputError
from .config import CapacityAction, DiskAction

#: promcast alert names -> the kind they predict (alerts from older rule files lack ``promcast_kind``)
KIND_BY_ALERTNAME = {
    "PromcastDiskWillFill": "disk_exhaustion",
    "PromcastMemoryLeak": "memory_leak",
    "PromcastCapacityForecast": "capacity",
    "PromcastCapacityHeadroomExceeded": "capacity",
}
WORKLOAD_LABELS = {"deployment": "Deployment", "statefulset": "StatefulSet", "daemonset": "DaemonSet"}
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
_MI = 2.0**20


@dataclass(frozen=True)
class Alert:
    """One alert of an Alertmanager webhook (payload version 4)."""

    fingerprint: str
    status: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")


@dataclass(frozen=True)
class ObjectRef:
    """A Kubernetes object named by an alert's labels (``kind`` Pod is resolved to its workload later)."""

    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}"


class Refusal(Exception):
    """A decision not to act, with the reason that goes to the audit log (``outcome``: refused/ignored/...)."""

    def __init__(self, reason: str, outcome: str = "refused") -> None:
        super().__init__(reason)
        self.reason = reason
        self.outcome = outcome


def parse_webhook(body: Any) -> list[Alert]:
    """The alerts of an Alertmanager webhook body; InputError names what is wrong with the shape."""
    if not isinstance(body, Mapping):
        raise InputError("expected an Alertmanager webhook JSON object")
    if str(body.get("version", "")) != "4":
        raise InputError(f"unsupported Alertmanager webhook version {body.get('version')!r}: promcast reads version 4")
    alerts = body.get("alerts")
    if not isinstance(alerts, list):
        raise InputError("the webhook body has no alerts list")
    out = []
    for i, item in enumerate(alerts):
        if not isinstance(item, Mapping) or not isinstance(item.get("labels"), Mapping):
            raise InputError(f"alert #{i + 1} has no labels object")
        labels = {str(k): str(v) for k, v in item["labels"].items()}
        fingerprint = str(item.get("fingerprint") or "") or _fingerprint(labels)
        annotations = item.get("annotations") if isinstance(item.get("annotations"), Mapping) else {}
        out.append(Alert(fingerprint, str(item.get("status", "firing")), labels,
                         {str(k): str(v) for k, v in annotations.items()}))
    return out


def _fingerprint(labels: Mapping[str, str]) -> str:
    import hashlib

    text = "\xff".join(f"{k}\xfe{v}" for k, v in sorted(labels.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def alert_kind(alert: Alert) -> str:
    """The prediction kind of a firing promcast alert, or a Refusal saying why it is not acted on."""
    if alert.status != "firing":
        raise Refusal(f"alert is {alert.status}: promcast acts on firing alerts only", "ignored")
    if not alert.labels.get("promcast_target"):
        raise Refusal("not a promcast alert (no promcast_target label)", "ignored")
    kind = alert.labels.get("promcast_kind") or KIND_BY_ALERTNAME.get(alert.name)
    if kind not in ("disk_exhaustion", "memory_leak", "capacity"):
        raise Refusal(f"no remediation for kind {kind or alert.name!r}", "ignored")
    return kind


def object_ref(kind: str, labels: Mapping[str, str]) -> ObjectRef:
    """The object an alert of ``kind`` is about, from its labels (a Pod stands for its owning workload)."""
    namespace = labels.get("namespace")
    if not namespace:
        raise Refusal("the alert has no namespace label, so it names no Kubernetes object")
    if kind == "disk_exhaustion":
        if not labels.get("persistentvolumeclaim"):
            raise Refusal("disk alert without a persistentvolumeclaim label (only PVCs are expanded)")
        return ObjectRef("PersistentVolumeClaim", namespace, labels["persistentvolumeclaim"])
    if kind == "capacity":
        if labels.get("horizontalpodautoscaler"):
            return ObjectRef("HorizontalPodAutoscaler", namespace, labels["horizontalpodautoscaler"])
        if labels.get("deployment"):
            return ObjectRef("Deployment", namespace, labels["deployment"])
        raise Refusal("capacity alert without a horizontalpodautoscaler or deployment label")
    for label, workload in WORKLOAD_LABELS.items():
        if labels.get(label):
            return ObjectRef(workload, namespace, labels[label])
    if labels.get("pod"):
        return ObjectRef("Pod", namespace, labels["pod"])
    raise Refusal("memory alert without a deployment, statefulset, daemonset or pod label")


def expanded_size(current: float, action: DiskAction) -> float:
    """The PVC's new size in bytes: the step (a fraction or bytes), rounded up to a MiB, capped at max_size."""
    grown = current * (1.0 + action.expand_fraction) if action.expand_fraction is not None else current + action.expand_bytes
    grown = math.ceil(grown / _MI) * _MI
    if current >= action.max_size:
        raise Refusal(f"already at or above max_size ({format_bytes(action.max_size)})")
    return min(grown, action.max_size)


def raised_replicas(current: int, action: CapacityAction) -> int:
    if current >= action.max_replicas_cap:
        raise Refusal(f"already at max_replicas_cap ({action.max_replicas_cap})")
    return min(current + action.step, action.max_replicas_cap)


def format_bytes(value: float) -> str:
    """A Kubernetes quantity for ``value`` bytes: Ti/Gi/Mi when exact, else plain bytes."""
    value = int(value)
    for unit, size in (("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
        if value % size == 0 and value >= size:
            return f"{value // size}{unit}"
    return str(value)


def pvc_patch(size: float) -> dict:
    return {"spec": {"resources": {"requests": {"storage": format_bytes(size)}}}}


def restart_patch(now_iso: str) -> dict:
    return {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: now_iso}}}}}
