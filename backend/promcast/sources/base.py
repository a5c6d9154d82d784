"""The one interface every history source implements.

A source answers a PromQL expression over a time range with one :class:`History` per label set: a
float pandas Series indexed by a sorted, unique, tz-aware UTC ``DatetimeIndex``. Sources never fit
models and never know about Flask; they only fetch.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Mapping

import pandas as pd

from ..promql import escape_string as _escape


class Labelled:
    """Anything about one series (a history, a fit, a task, a stored model): its ``labels`` and legend."""

    labels: Mapping[str, str]

    @property
    def legend(self) -> str:
        """``metric{a="b",c="d"}``: the Prometheus text form of the labels (stable order)."""
        return format_labels(self.labels)


@dataclass(frozen=True)
class History(Labelled):
    """One series of history: its Prometheus labels and its values."""

    labels: Mapping[str, str]
    values: pd.Series = field(repr=False)


def format_labels(labels: Mapping[str, str]) -> str:
    """Render labels like Prometheus does: ``name{k="v",...}``, labels sorted, ``__name__`` first."""
    name = labels.get("__name__", "")
    rest = ",".join(
        f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()) if k != "__name__"
    )
    return f"{name}{{{rest}}}" if rest or not name else name




class Source(abc.ABC):
    """Where history comes from (Prometheus HTTP API, CSV files, the embedded demo)."""

    #: short human name used in messages, e.g. "Prometheus at http://...".
    description: str = "source"

    @property
    def identity(self) -> str:
        """Which data this source serves: model cache and store keys name their source by it (a
        Prometheus source adds path prefix, query parameters and a digest of its tenant headers)."""
        return self.description

    @abc.abstractmethod
    def query_range(
        self, expr: str, start: pd.Timestamp, end: pd.Timestamp, step: pd.Timedelta
    ) -> list[History]:
        """Evaluate ``expr`` from ``start`` to ``end`` (inclusive) every ``step``.

        Returns one History per label set, sorted by legend; an empty list when nothing matches.
        Raises BadQueryError for bad PromQL, UpstreamError / UpstreamTimeout when the backend fails.
        """

    @abc.abstractmethod
    def label_names(self, match: str | None = None) -> list[str]:
        """Sorted label names (of the series selected by ``match`` when given)."""

    @abc.abstractmethod
    def label_values(self, label: str, match: str | None = None) -> list[str]:
        """Sorted values of ``label`` (among the series selected by ``match`` when given)."""

    @abc.abstractmethod
    def series(self, match: str, *, start: pd.Timestamp | None = None, end: pd.Timestamp | None = None,
               limit: int | None = None) -> list[dict[str, str]]:
        """Label sets of the series selected by ``match`` (a selector); with ``start``/``end`` only those with
        samples in that range, with ``limit`` at most that many (where the backend can bound its answer)."""

    def metric_names(self) -> list[str]:
        """Sorted metric names, for the Grafana expression picker."""
        return self.label_values("__name__")

    def close(self) -> None:  # pragma: no cover - trivial
        """Release connections."""


def source_now(source: object) -> pd.Timestamp:
    """The end of the source's data: a source's own (possibly fixed) ``now``, as the demo has, else the wall
    clock. Panels and ``--end now`` end their history here."""
    now = getattr(source, "now", None)
    if isinstance(now, pd.Timestamp):
        return now.tz_convert("UTC") if now.tzinfo else now.tz_localize("UTC")
    return pd.Timestamp.now(tz="UTC")
