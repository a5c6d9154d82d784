"""Containers, their usage and their current requests/limits, from cAdvisor and kube-state-metrics series.

Only plain selectors are sent (the demo and CSV sources answer nothing else, and a selector means
the same to every Prometheus-compatible store); CPU rates are computed here from the counter's
samples, with counter resets (container restarts) skipped. Series are grouped by container of an
owning workload: a Deployment's pods (through their ReplicaSet), a StatefulSet's, a DaemonSet's. The
owner comes from ``kube_pod_owner`` when kube-state-metrics exports it, else from the pod name as
the controllers write it (``name-<replicaset hash>-<5>``, ``name-<ordinal>``, ``name-<5>``). All pods
of a workload share one pod template, so the usage of a container is, at each time, the highest
of its replicas': the recommendation has to fit the busiest one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pandas as pd

from ..promql import escape_string as _escape
from ..sources.base import History
from .recommend import Resources

CPU = "container_cpu_usage_seconds_total"
MEMORY = "container_memory_working_set_bytes"
REQUESTS = "kube_pod_container_resource_requests"
LIMITS = "kube_pod_container_resource_limits"
OWNER = "kube_pod_owner"

_DEPLOYMENT_POD = re.compile(r"^(?P<name>.+)-[a-z0-9]{6,10}-[a-z0-9]{5}$")
_STATEFUL_POD = re.compile(r"^(?P<name>.+)-\d+$")
_DAEMON_POD = re.compile(r"^(?P<name>.+)-[a-z0-9]{5}$")
_REPLICASET = re.compile(r"^(?P<name>.+)-[a-z0-9]{6,10}$")


@dataclass
class Container:
    """One container of one workload: usage over time (the busiest replica) and current settings."""

    namespace: str
    kind: str
    workload: str
    container: str
    pods: set[str] = field(default_factory=set)
    cpu: pd.Series | None = None  # cores
    memory: pd.Series | None = None  # bytes
    current: Resources = field(default_factory=Resources)
    replicas: int = 0

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.namespace, self.kind, self.workload, self.container)


def selectors(namespace: str | None) -> dict[str, str]:
    """The four (five) selectors to fetch, restricted to ``namespace`` when given."""
    ns = "" if namespace is None else f',namespace="{_escape(namespace)}"'
    only = 'container!="",container!="POD"'
    return {
        "cpu": f"{CPU}{{{only}{ns}}}",
        "memory": f"{MEMORY}{{{only}{ns}}}",
        "requests": f'{REQUESTS}{{resource=~"cpu|memory"{ns}}}',
        "limits": f'{LIMITS}{{resource=~"cpu|memory"{ns}}}',
        "owner": f"{OWNER}{{{ns[1:]}}}" if ns else OWNER,
    }


def counter_rate(values: pd.Series) -> pd.Series:
    """Per-second rate between consecutive samples; a drop (counter reset) leaves a gap."""
    values = values.dropna()
    seconds = values.index.to_series().diff().dt.total_seconds()
    rate = values.diff() / seconds
    return rate[rate >= 0].dropna()


def owner_of(pod: str, owners: dict[tuple[str, str], tuple[str, str]], namespace: str) -> tuple[str, str]:
    """``(kind, name)`` of the workload that owns ``pod``: kube_pod_owner first, else the pod's name."""
    found = owners.get((namespace, pod))
    if found is not None:
        kind, name = found
        if kind == "ReplicaSet":
            match = _REPLICASET.match(name)
            return ("Deployment", match.group("name")) if match else ("ReplicaSet", name)
        return kind, name
    for kind, pattern in (("Deployment", _DEPLOYMENT_POD), ("StatefulSet", _STATEFUL_POD),
                          ("DaemonSet", _DAEMON_POD)):
        match = pattern.match(pod)
        if match:
            return kind, match.group("name")
    return "Pod", pod


def containers(fetched: dict[str, list[History]]) -> list[Container]:
    """Group the fetched series (by :func:`selectors`' keys) into containers of workloads, sorted."""
    owners = {}
    for h in fetched.get("owner", []):
        labels = h.labels
        if labels.get("owner_is_controller", "true") == "true" and labels.get("pod") and labels.get("owner_kind"):
            owners[(labels.get("namespace", ""), labels["pod"])] = (labels["owner_kind"], labels.get("owner_name", ""))
    found: dict[tuple, Container] = {}
    usage: dict[tuple, dict[str, list[pd.Series]]] = {}

    def get(labels) -> Container | None:
        ns, pod, name = labels.get("namespace", ""), labels.get("pod", ""), labels.get("container", "")
        if not pod or not name or name == "POD":
            return None
        kind, workload = owner_of(pod, owners, ns)
        key = (ns, kind, workload, name)
        item = found.setdefault(key, Container(ns, kind, workload, name))
        item.pods.add(pod)
        return item

    for what in ("cpu", "memory"):
        for h in fetched.get(what, []):
            item = get(h.labels)
            if item is None:
                continue
            values = counter_rate(h.values) if what == "cpu" else h.values.dropna().astype(float)
            usage.setdefault(item.key, {}).setdefault(what, []).append(values)
    # the latest value of any replica (they share one pod template): (time, value) per setting
    settings: dict[tuple, dict[str, tuple[pd.Timestamp, float]]] = {}
    for what in ("requests", "limits"):
        for h in fetched.get(what, []):
            values = h.values.dropna()
            if values.empty or h.labels.get("resource") not in ("cpu", "memory"):
                continue
            item = get(h.labels)
            if item is None:
                continue
            slot = settings.setdefault(item.key, {})
            name = f"{h.labels['resource']}_{what[:-1] if what == 'limits' else 'request'}"
            if name not in slot or values.index[-1] >= slot[name][0]:
                slot[name] = (values.index[-1], float(values.iloc[-1]))
    out = []
    for key, item in found.items():
        series = usage.get(key, {})
        if "cpu" in series:
            item.cpu = _busiest(series["cpu"])
        if "memory" in series:
            item.memory = _busiest(series["memory"])
        got = {name: value for name, (_t, value) in settings.get(key, {}).items()}
        item.current = Resources(**got)
        item.replicas = _replicas(series)
        out.append(item)
    return sorted(out, key=lambda c: c.key)


def fetch_containers(source, namespace: str | None, start: pd.Timestamp, end: pd.Timestamp,
                     step: pd.Timedelta) -> list[Container]:
    """Query ``source`` for the cAdvisor and kube-state-metrics series and group them (:func:`containers`)."""
    fetched = {what: source.query_range(expr, start, end, step) for what, expr in selectors(namespace).items()}
    return containers(fetched)


def _busiest(parts: list[pd.Series]) -> pd.Series:
    """The highest replica's value at each time (pods come and go: each counts while it exists)."""
    frame = pd.concat(parts, axis=1)
    return frame.max(axis=1, skipna=True).dropna().sort_index()


def _replicas(series: dict[str, list[pd.Series]]) -> int:
    """Replicas running at the end: pods whose memory (or CPU) series reaches the latest time."""
    parts = series.get("memory") or series.get("cpu") or []
    if not parts:
        return 0
    end = max(p.index[-1] for p in parts if len(p))
    tolerance = pd.Timedelta("15min")
    return int(sum(1 for p in parts if len(p) and end - p.index[-1] <= tolerance)) or 1


__all__ = ["CPU", "Container", "LIMITS", "MEMORY", "OWNER", "REQUESTS", "containers", "counter_rate",
           "fetch_containers", "owner_of", "selectors"]
