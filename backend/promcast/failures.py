"""The one shape of "one series failed and the others went on", for every batch of series.

``forecast``/``detect``, ``fit`` (and the service's pre-fits) and ``generate-rules`` all collect these
and report them after the results; a failure never stops the series after it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import PromcastError


@dataclass(frozen=True)
class SeriesFailure:
    """Where (``target``: a rule target or an expression; "" when there is only one), which series (its
    legend) and why (one line).

    ``error`` keeps the error itself where the failure happened in this process and a caller still maps
    its kind (an exit code, an HTTP status: ``predict`` and the Grafana maintenance targets raise it when
    every series failed); failures that come back from a worker carry the message only.
    """

    target: str
    series: str
    message: str
    error: PromcastError | None = field(default=None, compare=False, repr=False)

    @classmethod
    def of(cls, target: str, series: str, error: PromcastError) -> "SeriesFailure":
        """The failure ``error`` caused, keeping the error."""
        return cls(target, series, str(error), error)

    def __str__(self) -> str:
        where = f"target {self.target!r}, series " if self.target else ""
        return f"{where}{self.series}: {self.message}"


__all__ = ["SeriesFailure"]
