"""``disk_exhaustion``: when will each filesystem be full?

``expr`` selects the available bytes (``node_filesystem_avail_bytes``) and ``size_expr`` the sizes
(``node_filesystem_size_bytes``, matched to ``expr``'s series by labels), or ``size`` gives one size
for all (``500GiB``). Space used (size - available) goes to
:class:`~promcast.maintenance.DiskUsagePredictor`; the table has ``current_usage, daily_growth,
days_to_full, days_to_full_lower, days_to_full_upper, full_at`` per filesystem, soonest to fill first,
and each filesystem gets ``used``, its ``projection`` (until it is full) and its ``limit`` (the size).
"""

from __future__ import annotations

from ...kinds.registry import DISK
from ...maintenance import used_from_available
from .base import LEGEND, PayloadField
from .maintenance import HISTORY, LimitedTarget

AVAIL_EXPR = PayloadField("expr", "Available bytes", "input", "node_filesystem_avail_bytes (PromQL: free space)", 60)
SIZE_EXPR = PayloadField(DISK.param("size_expr").name, "Size bytes", "input",
                         "node_filesystem_size_bytes (PromQL, same labels as expr)", 60)
SIZE = PayloadField(DISK.param("size").name, "Size", "input", "or one size for all, e.g. 500GiB", 16)


class DiskExhaustion(LimitedTarget):
    name = DISK.target
    label = "Disk exhaustion (days to full)"
    fields = (AVAIL_EXPR, SIZE_EXPR, SIZE, HISTORY, LEGEND)
    kind = DISK
    usage_name = "used"
    limit_what, limit_example = "the filesystems' size", "node_filesystem_size_bytes"

    def with_limits(self, series, limit):
        used, capacities = used_from_available(series, limit)
        return used, {"capacity": capacities}
