"""Fixtures that run a real Prometheus over history the test writes (see ``tests/prom_harness.py``).

Backfilling and starting Prometheus takes about a second, so servers are session-scoped: the common
30-day dataset is written once, and ``prometheus_factory`` caches servers by the key a test gives.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import pandas as pd
import pytest

import tools

import prom_harness  # tests/ is on sys.path (tests/conftest.py)
from prom_harness import MetricSeries, PrometheusServer


@dataclass
class ServedHistory:
    """A running Prometheus and the exact history it serves."""

    server: PrometheusServer
    series: list[MetricSeries]

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def start(self) -> pd.Timestamp:
        return pd.Timestamp(int(min(s.timestamps[0] for s in self.series)), unit="s", tz="UTC")

    @property
    def end(self) -> pd.Timestamp:
        return pd.Timestamp(int(max(s.timestamps[-1] for s in self.series)), unit="s", tz="UTC")

    def expected(self, name: str, **labels: str) -> pd.Series:
        """The written values of one series as a UTC-indexed float Series."""
        for s in self.series:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                index = pd.to_datetime(np.asarray(s.timestamps, dtype="int64"), unit="s", utc=True)
                return pd.Series(np.asarray(s.values, dtype=float), index=index)
        raise KeyError(f"no series {name}{labels}")


@pytest.fixture(scope="session")
def prometheus_factory(tmp_path_factory) -> Callable[..., ServedHistory]:
    """``factory(series_list, key=None, **server_args) -> ServedHistory``; same key, same server."""
    missing = prom_harness.binaries_missing()
    if missing:
        tools.missing(f"{', '.join(missing)} not found: {prom_harness.INSTALL_HINT}")
    servers: dict[object, ServedHistory] = {}

    def factory(series_list: Sequence[MetricSeries], key: object = None, **server_args) -> ServedHistory:
        if key is not None and key in servers:
            return servers[key]
        workdir = tmp_path_factory.mktemp("prometheus")
        served = ServedHistory(prom_harness.serve_history(series_list, workdir, **server_args), list(series_list))
        servers[key if key is not None else object()] = served
        return served

    yield factory
    for served in servers.values():
        served.server.stop()


@pytest.fixture(scope="session")
def month_prometheus(prometheus_factory) -> ServedHistory:
    """30 days of 1-minute history (43,201 points per series, see ``prom_harness.month_history``)."""
    return prometheus_factory(prom_harness.month_history(), key="month")


@pytest.fixture
def closed_port_url() -> str:
    """A loopback URL nothing listens on."""
    return f"http://127.0.0.1:{prom_harness.free_port()}"
