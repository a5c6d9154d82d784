"""Predictive maintenance: when will this disk be full, is this process leaking, when do we need more
capacity (``promcast predict``, the ``disk_exhaustion`` / ``memory_leak`` / ``capacity`` Grafana targets
and the rules generator all go through here).

- :class:`DiskUsagePredictor` (``disk.py``), :class:`MemoryLeakDetector` (``memory.py``),
  :class:`CapacityPlanner` (``capacity.py``): estimators (``fit(series) -> self``, results in
  attributes ending ``_``, ``result()`` gives the design's JSON fields, ``projection()`` the curve
  to draw).
- :func:`predict`, :func:`predictions`, :func:`format_table`, :func:`used_from_available`,
  :func:`values_by_series` (``report.py``): one call per CLI/service request.
- :func:`plot_projection` (``plot.py``): ``--plot``.
"""

from .capacity import CAPACITY_FIELDS, CapacityPlanner
from .disk import DISK_FIELDS, DiskUsagePredictor
from .memory import MEMORY_FIELDS, MemoryLeakDetector
from .report import (
    FIELDS,
    KINDS,
    LIMIT_OPTION,
    Prediction,
    format_table,
    make_predictor,
    predict,
    predictions,
    used_from_available,
    values_by_series,
)

__all__ = [
    "CAPACITY_FIELDS", "DISK_FIELDS", "FIELDS", "KINDS", "LIMIT_OPTION", "MEMORY_FIELDS", "CapacityPlanner",
    "DiskUsagePredictor", "MemoryLeakDetector", "Prediction", "format_table", "make_predictor",
    "plot_projection", "predict", "predictions", "used_from_available", "values_by_series",
]


def __getattr__(name: str):
    # matplotlib loads only when a plot is drawn
    if name == "plot_projection":
        from .plot import plot_projection

        return plot_projection
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
