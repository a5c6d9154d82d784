"""``disk_exhaustion``: when will each filesystem be full?

``expr`` selects the available bytes (``node_filesystem_avail_bytes``) and ``size_expr`` the sizes
(``node_filesystem_size_bytes``, matched to ``expr``'s series by labels), or ``size`` gives one size
for all (``500GiB``). Space used (size - available) goes to
:class:`~promcast.maintenance.DiskUsagePredictor`; the table has ``current_usage, daily_growth,
days_to_full, days_to_full_lower, days_to_full_upper, full_at`` per filesystem, soonest to fill first,
and each filesystem gets ``used``, its ``projection`` (until it is full) and its ``limit`` (the size).
"""

from __future__ import annotations

from typing import Any, Mapping

from ...kinds.registry import DISK
from ...kinds.report import Prediction
from ...maintenance import used_from_available
from ..request import Payload
from .base import LEGEND, PayloadField, QueryContext
from .maintenance import HISTORY, MaintenanceTarget, Window, number_or_expr

AVAIL_EXPR = PayloadField("expr", "Available bytes", "input", "node_filesystem_avail_bytes (PromQL: free space)", 60)
SIZE_EXPR = PayloadField("size_expr", "Size bytes", "input",
                         "node_filesystem_size_bytes (PromQL, same labels as expr)", 60)
SIZE = PayloadField("size", "Size", "input", "or one size for all, e.g. 500GiB", 16)


class DiskExhaustion(MaintenanceTarget):
    name = DISK.target
    label = "Disk exhaustion (days to full)"
    fields = (AVAIL_EXPR, SIZE_EXPR, SIZE, HISTORY, LEGEND)
    kind = DISK
    usage_name = "used"

    def options(self, ctx: QueryContext, payload: Payload, notices: list[dict]) -> dict[str, Any]:
        return number_or_expr(ctx, payload, "size", "size_expr", what="the filesystems' size",
                              example="node_filesystem_size_bytes", hint="expected a size above 0, e.g. 500GiB")

    def histories(self, ctx: QueryContext, expr: str, window: Window, options: Mapping[str, Any]):
        avail = window.fetch(ctx, expr)
        if not avail:
            return [], {}
        size = options["size"] if options["size"] is not None else window.fetch(ctx, options["size_expr"])
        used, capacities = used_from_available(avail, size)
        return used, {"capacity": capacities}

    def limit_of(self, prediction: Prediction) -> float:
        return float(prediction.predictor.capacity_)
