"""The one shape of "one series failed and the others went on", for every batch of series.

``forecast``/``detect``, ``fit`` (and the service's pre-fits) and ``generate-rules`` all collect these
and report them after the results; a failure never stops the series after it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SeriesFailure:
    """Where (``target``: a rule target or an expression; "" when there is only one), which series (its
    legend) and why (one line)."""

    target: str
    series: str
    message: str

    def __str__(self) -> str:
        where = f"target {self.target!r}, series " if self.target else ""
        return f"{where}{self.series}: {self.message}"


__all__ = ["SeriesFailure"]
