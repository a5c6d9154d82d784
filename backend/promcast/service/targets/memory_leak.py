"""``memory_leak``: is each process leaking, and when will it reach its memory limit?

``expr`` selects the bytes in use (``process_resident_memory_bytes``); ``limit`` is the limit for all
(bytes, or with a unit: ``2GiB``) or ``limit_expr`` a PromQL expression giving each series' limit
(matched by labels, e.g. ``kube_pod_container_resource_limits{resource="memory"}``). Each series goes to
:class:`~promcast.maintenance.MemoryLeakDetector`; the table has ``is_leak, p_value, slope_per_hour,
time_to_oom_hours`` per series, the soonest OOM first, and each series gets ``used``, its
``projection`` (until the limit, at the learned leak rate) and its ``limit``.
"""

from __future__ import annotations

from typing import Any, Mapping

import pandas as pd

from ...kinds.registry import MEMORY
from ...kinds.report import Prediction
from ...maintenance import values_by_series
from ..request import Payload
from .base import LEGEND, PayloadField, QueryContext
from .maintenance import HISTORY, MaintenanceTarget, Window, number_or_expr

MEMORY_EXPR = PayloadField("expr", "Bytes in use", "input", "process_resident_memory_bytes (PromQL)", 60)
LIMIT = PayloadField("limit", "Limit", "input", "2GiB (bytes at which the process is killed)", 16)
LIMIT_EXPR = PayloadField("limit_expr", "Limit expr", "input", "or PromQL giving each series' limit", 40)


class MemoryLeak(MaintenanceTarget):
    name = MEMORY.target
    label = "Memory leak (time to OOM)"
    fields = (MEMORY_EXPR, LIMIT, LIMIT_EXPR, HISTORY, LEGEND)
    kind = MEMORY
    min_history = pd.Timedelta("12h")
    usage_name = "used"

    def options(self, ctx: QueryContext, payload: Payload, notices: list[dict]) -> dict[str, Any]:
        return number_or_expr(ctx, payload, "limit", "limit_expr", what="the memory limit in bytes",
                              example="2GiB", hint="expected a number of bytes above 0, e.g. 2GiB")

    def histories(self, ctx: QueryContext, expr: str, window: Window, options: Mapping[str, Any]):
        series = window.fetch(ctx, expr)
        if not series:
            return [], {}
        if options["limit"] is not None:
            return series, {"limit": options["limit"]}
        limits = values_by_series(series, window.fetch(ctx, options["limit_expr"]), what="limit")
        return series, {"limit": limits}

    def limit_of(self, prediction: Prediction) -> float:
        return float(prediction.predictor.limit_)
