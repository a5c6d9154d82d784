"""``rightsize``: the containers whose requests and limits should change most, as one table.

The target needs no ``expr``: it reads cAdvisor's ``container_cpu_usage_seconds_total`` and
``container_memory_working_set_bytes`` and kube-state-metrics' requests, limits and owners (the
panel's ad hoc filters, e.g. ``namespace``, apply to every one of them), and answers what
``promcast rightsize`` prints: per container of a workload, current and recommended CPU (cores) and
memory (bytes) requests and limits, the risk now and after (throttled hours, hours at OOM risk over
the horizon), and with ``cpu_cost`` (per core) and ``memory_cost`` (per GiB of requests per month)
the monthly difference. Rows with a risk now come first (most throttled or OOM hours), then the
largest savings; ``top`` keeps that many (default 10). The fit is cached like a maintenance
prediction: the table refreshes with the refit interval, not on every panel refresh.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ...errors import InputError
from ...rightsize import Prices, containers, rightsize, selectors
from ..frames import table_frame
from ...promql_filters import add_matchers
from ..request import Payload, TargetQuery, capped_duration
from .base import PayloadField, QueryContext, Target, TargetResult
from .maintenance import HISTORY, Window, cell

DEFAULT_HORIZON = "30d"
MAX_HORIZON = pd.Timedelta("365D")

NAMESPACE = PayloadField("namespace", "Namespace", "input", "shop (default: every namespace)", 16)
HORIZON = PayloadField("horizon", "Horizon", "input", f"{DEFAULT_HORIZON} (plan this far ahead)", 12)
CPU_COST = PayloadField("cpu_cost", "CPU cost", "input", "23 (per core of requests per month)", 12)
MEMORY_COST = PayloadField("memory_cost", "Memory cost", "input", "3.2 (per GiB of requests per month)", 12)
TOP = PayloadField("top", "Rows", "input", "10 (largest risks, then savings)", 8)

COLUMNS = (
    ("namespace", "string"), ("workload", "string"), ("container", "string"), ("pods", "number"),
    ("cpu_request", "number"), ("recommended_cpu_request", "number"),
    ("cpu_limit", "number"), ("recommended_cpu_limit", "number"),
    ("memory_request", "number"), ("recommended_memory_request", "number"),
    ("memory_limit", "number"), ("recommended_memory_limit", "number"),
    ("risk_now", "string"), ("throttled_hours", "number"), ("oom_risk_hours", "number"), ("oom_at", "string"),
    ("monthly_delta", "number"),
)


@dataclass
class Sized:
    """The rows of one fit: what the model cache holds for this target."""

    name: str
    rows: list[dict]


class Rightsize(Target):
    name = "rightsize"
    label = "Right-sizing (container requests and limits)"
    fields = (NAMESPACE, HORIZON, HISTORY, CPU_COST, MEMORY_COST, TOP)

    def run(self, ctx: QueryContext, query: TargetQuery, payload: Payload) -> TargetResult:
        notices: list[dict] = []
        window = Window.of(ctx, payload, notices, pd.Timedelta("6h"))
        horizon = capped_duration(payload, "horizon", DEFAULT_HORIZON, MAX_HORIZON, notices, pd.Timedelta("1h"))
        namespace = payload.text("namespace")
        top = int(payload.number("top", 10, low=0.0, high=10_000.0, hint="expected a number of rows, e.g. 10"))
        prices = _prices(payload)
        exprs = {what: add_matchers(expr, ctx.request.matchers) for what, expr in selectors(namespace).items()}
        key = (ctx.source.identity, self.name, tuple(sorted(exprs.items())), horizon.value,
               None if prices is None else (prices.cpu, prices.memory), window.history.value, window.step.value,
               window.end_key)

        def fit() -> Sized:
            start = window.end - window.history
            fetched = {what: ctx.fetch(expr, start, window.end, window.step) for what, expr in exprs.items()}
            return Sized(self.name, rightsize(containers(fetched), horizon, prices))

        entry, _hit = ctx.cache.get_or_fit(key, fit, model_name=self.name)
        rows = sorted(entry.model.rows, key=_order)[:top]
        return TargetResult([table_frame(COLUMNS, [_row(r) for r in rows], query.ref_id)], notices)


def _prices(payload: Payload) -> Prices | None:
    cpu, memory = payload.text("cpu_cost"), payload.text("memory_cost")
    if (cpu is None) != (memory is None):
        raise InputError("give both payload.cpu_cost and payload.memory_cost (per core and per GiB of requests "
                         "per month), or neither")
    if cpu is None:
        return None
    hint = "expected a price above 0 per month, e.g. 23"
    return Prices(payload.number("cpu_cost", 0.0, low=0.0, high=math.inf, hint=hint),
                  payload.number("memory_cost", 0.0, low=0.0, high=math.inf, hint=hint))


def _order(row: dict) -> tuple:
    if row.get("error"):
        return (2, 0.0, 0.0)
    risk = row["risk_current"]
    hours = risk["throttled_hours"] + risk["oom_risk_hours"]
    saving = row.get("monthly_delta")
    if saving is None:  # no prices: the reserved cores and GiB that would be freed
        now, rec = row["current"], row["recommended"]
        saving = ((rec["cpu_request"] or 0) - (now["cpu_request"] or 0)) + \
            ((rec["memory_request"] or 0) - (now["memory_request"] or 0)) / 2**30
    return (0 if hours else 1, -hours, saving)


def _risk_text(risk: dict) -> str:
    parts = []
    if risk["oom_at"]:
        parts.append("OOM")
    elif risk["oom_risk_hours"]:
        parts.append("OOM risk")
    if risk["throttled_hours"]:
        parts.append("throttling")
    return ", ".join(parts) or "none"


def _row(r: dict) -> list[Any]:
    now = r["current"]
    rec = r.get("recommended") or {}
    risk = r.get("risk_current") or {"throttled_hours": None, "oom_risk_hours": None, "oom_at": None}
    return [cell(v) for v in (
        r["namespace"], f"{r['kind'].lower()}/{r['workload']}", r["container"], r["replicas"],
        now["cpu_request"], rec.get("cpu_request"), now["cpu_limit"], rec.get("cpu_limit"),
        now["memory_request"], rec.get("memory_request"), now["memory_limit"], rec.get("memory_limit"),
        f"error: {r['error']}" if r.get("error") else _risk_text(risk),
        risk["throttled_hours"], risk["oom_risk_hours"], risk["oom_at"], r.get("monthly_delta"))]
