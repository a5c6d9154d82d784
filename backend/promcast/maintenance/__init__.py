"""Predictive maintenance estimators: when will this disk be full, is this process leaking, when do we
need more capacity. The kinds that put them behind ``promcast predict``, the Grafana targets and the
rules generator are in :mod:`promcast.kinds`.

- :class:`DiskUsagePredictor` (``disk.py``), :class:`MemoryLeakDetector` (``memory.py``),
  :class:`CapacityPlanner` (``capacity.py``): estimators (``fit(series) -> self``, results in
  attributes ending ``_``, ``result()`` gives the design's JSON fields, ``projection()`` the curve
  to draw).
- :func:`used_from_available`, :func:`values_by_series` (``matching.py``): Prometheus' ``avail`` /
  ``size`` / limit series turned into what the estimators take.
- :func:`plot_projection` (``plot.py``): ``--plot``.
"""

from .capacity import CAPACITY_FIELDS, CapacityPlanner
from .disk import DISK_FIELDS, DiskUsagePredictor
from .matching import used_from_available, values_by_series
from .memory import MEMORY_FIELDS, MemoryLeakDetector

__all__ = [
    "CAPACITY_FIELDS", "DISK_FIELDS", "MEMORY_FIELDS", "CapacityPlanner", "DiskUsagePredictor",
    "MemoryLeakDetector", "plot_projection", "used_from_available", "values_by_series",
]


def __getattr__(name: str):
    # matplotlib loads only when a plot is drawn
    if name == "plot_projection":
        from .plot import plot_projection

        return plot_projection
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
