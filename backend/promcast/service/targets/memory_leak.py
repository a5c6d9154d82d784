"""``memory_leak``: is each process leaking, and when will it reach its memory limit?

``expr`` selects the bytes in use (``process_resident_memory_bytes``); ``limit`` is the limit for all
(bytes, or with a unit: ``2GiB``) or ``limit_expr`` a PromQL expression giving each series' limit
(matched by labels, e.g. ``kube_pod_container_resource_limits{resource="memory"}``). Each series goes to
:class:`~promcast.maintenance.MemoryLeakDetector`; the table has ``is_leak, p_value, slope_per_hour,
time_to_oom_hours`` per series, the soonest OOM first, and each series gets ``used``, its
``projection`` (until the limit, at the learned leak rate) and its ``limit``.
"""

from __future__ import annotations

import pandas as pd

from ...kinds.registry import MEMORY
from ...maintenance import values_by_series
from .base import LEGEND, PayloadField
from .maintenance import HISTORY, LimitedTarget

MEMORY_EXPR = PayloadField("expr", "Bytes in use", "input", "process_resident_memory_bytes (PromQL)", 60)
LIMIT = PayloadField(MEMORY.param("limit").name, "Limit", "input", "2GiB (bytes at which the process is killed)", 16)
LIMIT_EXPR = PayloadField(MEMORY.param("limit_expr").name, "Limit expr", "input", "or PromQL giving each series' limit", 40)


class MemoryLeak(LimitedTarget):
    name = MEMORY.target
    label = "Memory leak (time to OOM)"
    fields = (MEMORY_EXPR, LIMIT, LIMIT_EXPR, HISTORY, LEGEND)
    kind = MEMORY
    min_history = pd.Timedelta("12h")
    usage_name = "used"
    limit_what, limit_example = "the memory limit in bytes", "2GiB"

    def with_limits(self, series, limit):
        if isinstance(limit, list):
            limit = values_by_series(series, limit, what="limit")
        return series, {"limit": limit}
