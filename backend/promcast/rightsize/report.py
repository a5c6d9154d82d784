"""``promcast rightsize``: one row per container of a workload, as a table, JSON or YAML patches.

:func:`rightsize` fits a :class:`~promcast.rightsize.recommend.Rightsizer` per container and prices
current and recommended *requests* (what the scheduler reserves and cloud cost tools such as
OpenCost charge for) at ``cpu`` per core and ``memory`` per GiB, per 30 days, times the replicas
running at the end of the history. A container that cannot be sized (no usage, too little history)
gets a row with ``error``; it does not stop the others.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import pandas as pd

from ..errors import InputError, PromcastError
from ..maintenance.inputs import iso
from .collect import Container
from .recommend import GIB, MIB, Resources, Rightsizer

SETTINGS = ("cpu_request", "cpu_limit", "memory_request", "memory_limit")


@dataclass(frozen=True)
class Prices:
    """Monthly (30 day) price of one core and one GiB of requests, and the currency symbol to print."""

    cpu: float
    memory: float
    currency: str = "$"

    def monthly(self, resources: Resources, replicas: int) -> float | None:
        if resources.cpu_request is None or resources.memory_request is None:
            return None
        return replicas * (resources.cpu_request * self.cpu + resources.memory_request / GIB * self.memory)


def rightsize(found: Sequence[Container], horizon: str | pd.Timedelta = "30d", prices: Prices | None = None,
              interval: float = 0.95) -> list[dict]:
    """One JSON-ready row per container (``error`` set where it could not be sized)."""
    if not found:
        raise InputError("no containers found: is cAdvisor's container_cpu_usage_seconds_total scraped "
                         "(and does --namespace match)?")
    rows = []
    for item in found:
        base = {"namespace": item.namespace, "kind": item.kind, "workload": item.workload,
                "container": item.container, "replicas": item.replicas, "current": item.current.as_dict()}
        try:
            if item.cpu is None or item.memory is None:
                missing = "CPU" if item.cpu is None else "memory"
                raise InputError(f"no {missing} usage series for this container")
            sizer = Rightsizer(horizon=horizon, interval=interval).fit(item.cpu, item.memory)
        except PromcastError as exc:
            rows.append({**base, "recommended": None, "error": str(exc)})
            continue
        now = sizer.risk(item.current)
        after = sizer.risk(sizer.recommended_)
        row = {**base, "recommended": sizer.recommended_.as_dict(),
               "cpu_growth_per_day": round(sizer.cpu_growth_, 6),
               "memory_growth_per_day": round(sizer.memory_growth_),
               "risk_current": {**now, "oom_at": iso(now["oom_at"])},
               "risk_recommended": {**after, "oom_at": iso(after["oom_at"])},
               "current_monthly_cost": None, "recommended_monthly_cost": None, "monthly_delta": None,
               "error": None}
        if prices is not None:
            current = prices.monthly(item.current, item.replicas)
            recommended = prices.monthly(sizer.recommended_, item.replicas)
            row["current_monthly_cost"] = None if current is None else round(current, 2)
            row["recommended_monthly_cost"] = round(recommended, 2)
            row["monthly_delta"] = None if current is None else round(recommended - current, 2)
        rows.append(row)
    if all(r["error"] for r in rows):
        first = rows[0]
        raise InputError(f"no container could be sized; first, {first['namespace']}/{first['workload']}/"
                         f"{first['container']}: {first['error']}")
    return rows


# ---------------------------------------------------------------------------------------------- units
def cores(value: float | None) -> str:
    """``0.25``, ``1.5``, ``2``: cores, at most three decimals (millicores)."""
    if value is None:
        return "-"
    return f"{value:.3f}".rstrip("0").rstrip(".") or "0"


def size(value: float | None) -> str:
    """``640 MiB``, ``1.5 GiB``."""
    if value is None:
        return "-"
    if value >= GIB:
        return f"{value / GIB:.2f}".rstrip("0").rstrip(".") + " GiB"
    return f"{value / MIB:.0f} MiB"


def money(value: float | None, currency: str, signed: bool = False) -> str:
    if value is None:
        return "-"
    sign = ("+" if value > 0 else "-" if value < 0 else "") if signed else ("-" if value < 0 else "")
    return f"{sign}{currency}{abs(value):,.2f}"


def k8s_cpu(value: float) -> str:
    """A Kubernetes CPU quantity: whole cores as ``2``, else millicores ``350m``."""
    milli = int(round(value * 1000))
    return str(milli // 1000) if milli % 1000 == 0 else f"{milli}m"


def k8s_memory(value: float) -> str:
    """A Kubernetes memory quantity: ``2Gi`` when whole GiB, else ``640Mi``."""
    mib = int(math.ceil(value / MIB - 1e-9))
    return f"{mib // 1024}Gi" if mib % 1024 == 0 else f"{mib}Mi"


# ---------------------------------------------------------------------------------------------- table
def _risk(risk: dict | None, memory_growth: float = 0.0, cpu_growth: float = 0.0) -> str:
    if not risk:
        return "-"
    parts = []
    if cpu_growth > 0:
        parts.append(f"CPU +{cores(cpu_growth * 30)} cores/month")
    if memory_growth > 0:
        parts.append(f"memory +{size(memory_growth * 30)}/month")
    if risk["oom_at"]:
        parts.append(f"OOM {risk['oom_at'][:10]}")
    elif risk["oom_risk_hours"]:
        parts.append(f"OOM risk {risk['oom_risk_hours']}h")
    if risk["throttled_hours"]:
        parts.append(f"throttled {risk['throttled_hours']}h")
    return ", ".join(parts) or "none"


def _change(now: str, then: str) -> str:
    return now if now == then else f"{now} -> {then}"


def format_table(rows: Sequence[dict], currency: str = "$", horizon: str = "30d") -> str:
    """Fixed-width text: per container current -> recommended, risk now and after, monthly difference."""
    priced = any(r.get("monthly_delta") is not None or r.get("recommended_monthly_cost") is not None for r in rows)
    header = ["NAMESPACE", "WORKLOAD", "CONTAINER", "PODS", "CPU REQUEST (cores)", "CPU LIMIT (cores)",
              "MEMORY REQUEST", "MEMORY LIMIT", f"RISK NOW ({horizon})", "RISK AFTER"]
    if priced:
        header.append("MONTHLY")
    body = []
    for r in rows:
        line = [r["namespace"], f"{r['kind'].lower()}/{r['workload']}", r["container"], str(r["replicas"])]
        cur = Resources(**r["current"])
        if r.get("error"):
            line += [cores(cur.cpu_request), cores(cur.cpu_limit), size(cur.memory_request), size(cur.memory_limit),
                     f"error: {r['error']}", ""]
            if priced:
                line.append("-")
            body.append(line)
            continue
        rec = Resources(**r["recommended"])
        line += [_change(cores(cur.cpu_request), cores(rec.cpu_request)),
                 _change(cores(cur.cpu_limit), cores(rec.cpu_limit)),
                 _change(size(cur.memory_request), size(rec.memory_request)),
                 _change(size(cur.memory_limit), size(rec.memory_limit)),
                 _risk(r["risk_current"], r.get("memory_growth_per_day") or 0.0, r.get("cpu_growth_per_day") or 0.0),
                 _risk(r["risk_recommended"])]
        if priced:
            line.append(money(r.get("monthly_delta"), currency, signed=True))
        body.append(line)
    numeric = {3, 4, 5, 6, 7, 10}
    widths = [max(len(c) for c in col) for col in zip(header, *body)]

    def render(cells):
        return "  ".join(c.rjust(w) if i in numeric else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    lines = [render(header), *(render(b) for b in body)]
    if priced:
        now = sum(r["current_monthly_cost"] or 0.0 for r in rows if not r.get("error"))
        then = sum(r["recommended_monthly_cost"] or 0.0 for r in rows if not r.get("error"))
        lines.append("")
        lines.append(f"requests per month: {money(now, currency)} now, {money(then, currency)} recommended "
                     f"({money(then - now, currency, signed=True)})")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------- yaml
_API = {"Deployment": "apps/v1", "StatefulSet": "apps/v1", "DaemonSet": "apps/v1"}


def patches(rows: Sequence[dict]) -> list[dict]:
    """One partial workload object per workload, setting only its containers' resources.

    Apply with ``kubectl apply --server-side --field-manager=promcast-rightsize -f`` (add
    ``--force-conflicts`` to take over fields another manager set): server-side apply merges the
    ``containers`` list by name and leaves every other field alone.
    """
    grouped: dict[tuple[str, str, str], list[dict]] = {}
    for r in rows:
        if r.get("error") or r["kind"] not in _API:
            continue
        grouped.setdefault((r["namespace"], r["kind"], r["workload"]), []).append(r)
    out = []
    for (namespace, kind, name), members in grouped.items():
        containers = []
        for r in members:
            rec = Resources(**r["recommended"])
            containers.append({"name": r["container"], "resources": {
                "requests": {"cpu": k8s_cpu(rec.cpu_request), "memory": k8s_memory(rec.memory_request)},
                "limits": {"cpu": k8s_cpu(rec.cpu_limit), "memory": k8s_memory(rec.memory_limit)}}})
        out.append({"apiVersion": _API[kind], "kind": kind, "metadata": {"name": name, "namespace": namespace},
                    "spec": {"template": {"spec": {"containers": containers}}}})
    return out


def vpas(rows: Sequence[dict]) -> list[dict]:
    """One VerticalPodAutoscaler per workload in recommendation-only mode (``updateMode: "Off"``).

    VPA computes and shows its own recommendation and changes nothing; ``minAllowed`` holds it at or
    above promcast's forecast requests (VPA caps its recommendation by the policy even when off), so
    ``kubectl describe vpa`` shows sizes that cover the weeks ahead, not only the days behind.
    """
    grouped: dict[tuple[str, str, str], list[dict]] = {}
    for r in rows:
        if not r.get("error") and r["kind"] in _API:
            grouped.setdefault((r["namespace"], r["kind"], r["workload"]), []).append(r)
    out = []
    for (namespace, kind, name), members in grouped.items():
        policies = [{"containerName": r["container"], "controlledResources": ["cpu", "memory"],
                     "minAllowed": {"cpu": k8s_cpu(r["recommended"]["cpu_request"]),
                                    "memory": k8s_memory(r["recommended"]["memory_request"])}} for r in members]
        out.append({"apiVersion": "autoscaling.k8s.io/v1", "kind": "VerticalPodAutoscaler",
                    "metadata": {"name": f"{name}-promcast", "namespace": namespace},
                    "spec": {"targetRef": {"apiVersion": _API[kind], "kind": kind, "name": name},
                             "updatePolicy": {"updateMode": "Off"},
                             "resourcePolicy": {"containerPolicies": policies}}})
    return out


def format_yaml(rows: Sequence[dict], vpa: bool = False) -> str:
    import yaml

    skipped = [r for r in rows if r.get("error") or r["kind"] not in _API]
    if vpa:
        head = ["# promcast rightsize: VerticalPodAutoscalers in recommendation-only mode (updateMode: Off),",
                "# held at or above the forecast requests. Apply: kubectl apply -f FILE; read: kubectl describe vpa"]
    else:
        head = ["# promcast rightsize: recommended requests and limits, one partial object per workload.",
                "# Apply: kubectl apply --server-side --field-manager=promcast-rightsize --force-conflicts -f FILE"]
    for r in skipped:
        why = r.get("error") or f"a bare {r['kind']} has no pod template to patch"
        head.append(f"# skipped {r['namespace']}/{r['workload']}/{r['container']}: {why}")
    docs = [yaml.safe_dump(doc, sort_keys=False, default_flow_style=False) for doc in (vpas if vpa else patches)(rows)]
    return "\n".join(head) + "\n---\n" + "---\n".join(docs)
