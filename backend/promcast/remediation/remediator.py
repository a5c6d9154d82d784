"""Alerts in, bounded Kubernetes changes out: the policy, the client, the limits and the audit together.

Order of the checks for each alert: firing promcast alert of a remediable kind with an action configured;
not a fingerprint already handled; object named by labels and namespace allowed; the object read (and,
for a Pod, its owning workload); kind and label selector allowed; the change computed (a Refusal when
there is nothing to do); the maintenance window; the per-object cooldown; the global rate limit; then
the write, or in dry-run none. Every alert ends as exactly one audit line and one metric increment.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Callable

import pandas as pd

from ..errors import PromcastError
from .audit import AuditLog, Decision
from .config import RemediationConfig
from .kube import KubeClient
from .policy import (Alert, ObjectRef, Refusal, alert_kind, expanded_size, format_bytes, object_ref, pvc_patch,
                     raised_replicas, restart_patch)

log = logging.getLogger(__name__)

ACTIONS = {"disk_exhaustion": "expand_pvc", "memory_leak": "rolling_restart", "capacity": "raise_replicas"}


class Remediator:
    """Decides and acts for one webhook's alerts at a time (calls are serialised: limits stay exact)."""

    def __init__(self, config: RemediationConfig, kube: KubeClient, audit: AuditLog,
                 clock: Callable[[], float] = time.time, on_decision: Callable[[Decision], None] | None = None):
        self.config, self.kube, self.audit, self.clock = config, kube, audit, clock
        self.on_decision = on_decision
        self._handled: dict[str, float] = {}   # fingerprint -> when it was acted on (or would have been)
        self._last_action: dict[str, float] = {}   # object -> when
        self._recent_actions: deque[float] = deque()
        self._lock = threading.Lock()

    def handle(self, alerts: list[Alert]) -> list[Decision]:
        with self._lock:
            return [self._record(self._decide(alert)) for alert in alerts]

    # ------------------------------------------------------------------------------------------ decide
    def _decide(self, alert: Alert) -> Decision:
        now = self.clock()
        kind = target = action = None
        try:
            if alert.status == "resolved":
                self._handled.pop(alert.fingerprint, None)  # a later firing is a new occurrence
            kind = alert_kind(alert)
            action = ACTIONS[kind]
            settings = self.config.action(kind)
            if settings is None or (kind == "memory_leak" and not settings.restart):
                raise Refusal(f"no action configured for {kind} (actions.{kind} in the remediation config)")
            if alert.fingerprint in self._handled:
                raise Refusal(f"already handled this alert (fingerprint {alert.fingerprint})", "duplicate")
            ref = object_ref(kind, alert.labels)
            target = str(ref)
            if ref.namespace not in self.config.allow.namespaces:
                raise Refusal(f"namespace {ref.namespace!r} is not in allow.namespaces")
            ref, obj = self._resolve(ref)
            target = str(ref)
            if ref.kind not in self.config.allow.kinds:
                raise Refusal(f"kind {ref.kind} is not in allow.kinds")
            selector = self.config.allow.selector
            if selector is not None and not selector.matches((obj.get("metadata") or {}).get("labels")):
                raise Refusal(f"{ref} does not match allow.selector {selector.text!r}")
            patch, change = self._change(kind, settings, ref, obj, now)
            self._check_limits(ref, now)
        except Refusal as refusal:
            return self._decision(alert, kind, target, action, refusal.outcome, refusal.reason, now=now)
        except PromcastError as exc:
            return self._decision(alert, kind, target, action, "failed", str(exc), now=now)
        if self.config.dry_run:
            outcome, reason = "dry_run", "dry_run: true, nothing written"
        else:
            try:
                self.kube.patch(ref, patch)
            except PromcastError as exc:
                return self._decision(alert, kind, target, action, "failed", str(exc), change, now=now)
            outcome, reason = "acted", "patched"
        self._handled[alert.fingerprint] = now
        self._last_action[target] = now
        self._recent_actions.append(now)
        return self._decision(alert, kind, target, action, outcome, reason, change, now=now)

    def _resolve(self, ref: ObjectRef) -> tuple[ObjectRef, dict]:
        """The object itself; a Pod becomes its Deployment, StatefulSet or DaemonSet."""
        obj = self.kube.get(ref)
        if ref.kind != "Pod":
            return ref, obj
        owner = _controller(obj)
        if owner and owner["kind"] == "ReplicaSet":
            replica_set = self.kube.get(ObjectRef("ReplicaSet", ref.namespace, owner["name"]))
            owner = _controller(replica_set)
        if not owner or owner["kind"] not in ("Deployment", "StatefulSet", "DaemonSet"):
            raise Refusal(f"pod {ref.name} is not owned by a Deployment, StatefulSet or DaemonSet")
        workload = ObjectRef(owner["kind"], ref.namespace, owner["name"])
        return workload, self.kube.get(workload)

    def _change(self, kind: str, settings, ref: ObjectRef, obj: dict, now: float) -> tuple[dict, dict]:
        spec = obj.get("spec") or {}
        if kind == "disk_exhaustion":
            from kubernetes.utils import parse_quantity

            class_name = spec.get("storageClassName")
            if not class_name:
                raise Refusal(f"{ref} has no storageClassName, so expansion support is unknown")
            if not self.kube.storage_class(class_name).get("allowVolumeExpansion"):
                raise Refusal(f"StorageClass {class_name} does not allow volume expansion")
            current = float(parse_quantity(((spec.get("resources") or {}).get("requests") or {}).get("storage", "0")))
            new = expanded_size(current, settings)
            return pvc_patch(new), {"storage": {"from": format_bytes(current), "to": format_bytes(new)}}
        if kind == "memory_leak":
            at = pd.Timestamp(now, unit="s", tz="UTC")
            if not settings.open_at(at.hour * 60 + at.minute):
                raise Refusal("outside the maintenance window (actions.memory_leak.window, UTC)", "deferred")
            stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
            return restart_patch(stamp), {"restartedAt": stamp}
        if ref.kind == "HorizontalPodAutoscaler":
            current = int(spec.get("maxReplicas") or 0)
            new = raised_replicas(current, settings)
            return {"spec": {"maxReplicas": new}}, {"maxReplicas": {"from": current, "to": new}}
        current = int(spec.get("replicas") or 0)
        new = raised_replicas(current, settings)
        return {"spec": {"replicas": new}}, {"replicas": {"from": current, "to": new}}

    def _check_limits(self, ref: ObjectRef, now: float) -> None:
        last = self._last_action.get(str(ref))
        if last is not None and now - last < self.config.cooldown:
            raise Refusal(f"{ref} was changed {int(now - last)} s ago; cooldown is {int(self.config.cooldown)} s")
        count, period = self.config.rate_limit
        while self._recent_actions and now - self._recent_actions[0] >= period:
            self._recent_actions.popleft()
        if len(self._recent_actions) >= count:
            raise Refusal(f"rate limit reached: {count} actions per {int(period)} s")

    # ------------------------------------------------------------------------------------------ record
    def _decision(self, alert, kind, target, action, outcome, reason, change=None, *, now: float) -> Decision:
        return Decision(time=pd.Timestamp(now, unit="s", tz="UTC").isoformat(), fingerprint=alert.fingerprint,
                        alertname=alert.name, kind=kind, object=target, action=action, outcome=outcome,
                        reason=reason, change=change or {})

    def _record(self, decision: Decision) -> Decision:
        self.audit.write(decision)
        if self.on_decision is not None:
            self.on_decision(decision)
        level = logging.WARNING if decision.outcome == "failed" else logging.INFO
        log.log(level, "%s %s %s: %s", decision.outcome, decision.action or "-", decision.object or decision.alertname,
                decision.reason)
        return decision


def _controller(obj: dict) -> dict | None:
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return next((r for r in refs if r.get("controller")), refs[0] if refs else None)
