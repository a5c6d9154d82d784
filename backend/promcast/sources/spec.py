"""Where history comes from, as plain data: the one :class:`SourceSpec` and the one resolver.

Every command and the service decide their source here (:func:`resolve_source`), so they agree on the
order of precedence and every ``prometheus.*`` setting reaches the source. A spec is picklable: batch
workers (a local pool, a Dask cluster) reopen the same source from it, never from an open connection.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Sequence

import pandas as pd

from ..errors import InputError
from .base import Source

KINDS = ("prometheus", "demo", "csv")


@dataclass(frozen=True)
class PrometheusSettings:
    url: str | None = None
    timeout: float = 30.0
    retries: int = 3
    bearer_token: str | None = None
    username: str | None = None
    password: str | None = None
    headers: dict = field(default_factory=dict)
    path_prefix: str = ""
    #: points per query_range request (promcast halves it when a store says a window is too large)
    max_points_per_request: int = 10_000
    #: extra URL parameters on every call, e.g. Thanos' {max_source_resolution: auto}
    query_params: dict = field(default_factory=dict)
    #: upstream requests in flight at once; keep it below server.threads so /healthz and /metrics
    #: always find a free thread while Prometheus is slow
    max_in_flight: int = 8


@dataclass(frozen=True)
class SourceSpec:
    """How to open a source: ``kind`` plus its settings. The demo is pinned to one ``now`` so every
    process that opens it generates the same data."""

    kind: str  # one of KINDS
    prometheus: PrometheusSettings | None = None
    now: pd.Timestamp | None = None
    csv: tuple[str, ...] = ()

    def open(self) -> Source:
        """A new source for this spec (the only place a Prometheus source is built from settings)."""
        if self.kind == "demo":
            from .demo import DemoSource

            return DemoSource(now=self.now)
        if self.kind == "csv":
            from .files import FileSource

            return FileSource(*self.csv)
        from .prometheus import PrometheusSource

        prom = self.prometheus
        return PrometheusSource(
            prom.url, timeout=prom.timeout, retries=prom.retries, bearer_token=prom.bearer_token,
            basic_auth=(prom.username, prom.password) if prom.username else None, headers=dict(prom.headers),
            path_prefix=prom.path_prefix, max_points_per_request=prom.max_points_per_request,
            query_params=dict(prom.query_params), max_in_flight=prom.max_in_flight,
        )

    def pinned(self) -> "SourceSpec":
        """This spec with the demo's ``now`` fixed (to the wall clock now when unset), so workers that
        open it later generate the same data as the client."""
        if self.kind != "demo" or self.now is not None:
            return self
        from .demo import DemoSource

        return dataclasses.replace(self, now=DemoSource().now)

    @classmethod
    def for_source(cls, source: Source, prometheus: PrometheusSettings) -> "SourceSpec":
        """The spec that reopens ``source`` in a worker (the service's source, for its pre-fits)."""
        from .demo import DemoSource
        from .prometheus import PrometheusSource

        if isinstance(source, DemoSource):
            return cls("demo", now=source.now)
        if isinstance(source, PrometheusSource):
            return cls("prometheus", prometheus=dataclasses.replace(prometheus, url=source.url))
        raise InputError(f"batch fits need a Prometheus or demo source, not {source.description}")


def resolve_source(prometheus: PrometheusSettings, *, choice: str | None = None, url: str | None = None,
                   csv: Sequence[str] = (), demo: bool = False, demo_now: pd.Timestamp | str | None = None,
                   default: str | None = None, missing: str = "no history source: give --prometheus-url URL or "
                                                             "--source demo") -> SourceSpec:
    """The one order of precedence: an explicit ``choice`` (demo | csv | prometheus), then ``url`` (a
    command's ``--prometheus-url`` or a spec's own URL), then the spec's CSV files, then its demo flag,
    then ``prometheus.url`` from the settings, then ``default`` ("demo" for the service); else ``missing``.
    The Prometheus spec always carries every other ``prometheus.*`` setting.
    """
    if choice not in (None, *KINDS):
        raise InputError(f"unknown source {choice!r}; use one of: {', '.join(KINDS)}")
    if choice == "demo":
        return _demo(demo_now)
    if choice == "csv":
        if not csv:
            raise InputError("--source csv needs source.csv (a file or list of files) in the spec")
        return SourceSpec("csv", csv=tuple(str(p) for p in csv))
    if url:
        return SourceSpec("prometheus", prometheus=dataclasses.replace(prometheus, url=url))
    if choice is None and csv:
        return SourceSpec("csv", csv=tuple(str(p) for p in csv))
    if choice is None and demo:
        return _demo(demo_now)
    if prometheus.url:
        return SourceSpec("prometheus", prometheus=prometheus)
    if default == "demo" and choice is None:
        return _demo(demo_now)
    raise InputError(missing)


def _demo(now) -> SourceSpec:
    return SourceSpec("demo", now=None if now is None else pd.Timestamp(now))


__all__ = ["KINDS", "PrometheusSettings", "SourceSpec", "resolve_source"]
