"""A real single-node VictoriaMetrics for tests: start it, import history, serve it.

History is written through VictoriaMetrics' own import API (``/api/v1/import/prometheus``: text
exposition lines with millisecond timestamps), flushed with ``/internal/force_flush`` and waited for
until every series is searchable. Nothing here imports pytest, so benchmarks can reuse it.
"""

from __future__ import annotations

import json
import shutil
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Iterable, Sequence

import numpy as np

from prom_harness import LoopbackServer, MetricSeries, _escape, _format_value

BINARY = "victoria-metrics"
INSTALL_HINT = "install Debian's `victoria-metrics` package (apt-get install victoria-metrics)"


def binary_missing() -> bool:
    return shutil.which(BINARY) is None


def exposition_lines(series_list: Iterable[MetricSeries]) -> Iterable[str]:
    """``name{labels} value timestamp_ms`` lines, the format ``/api/v1/import/prometheus`` reads."""
    for series in series_list:
        labels = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(series.labels.items()))
        prefix = f"{series.name}{{{labels}}} " if labels else f"{series.name} "
        ms = np.rint(np.asarray(series.timestamps, dtype=float) * 1000).astype("int64").tolist()
        for t, v in zip(ms, np.asarray(series.values, dtype=float).tolist()):
            yield f"{prefix}{_format_value(v)} {t}\n"


class VictoriaMetricsServer(LoopbackServer):
    """``victoria-metrics`` on a free loopback port with its own temporary data directory.

    ``extra_args`` are VictoriaMetrics flags (``-search.maxPointsPerTimeseries=1000``...). The response
    cache is off: imported history is older than the cache's freshness window, and a cached answer
    from before an import would hide it.
    """

    binary = BINARY
    ready_path = "/health"
    log_name = "victoria-metrics.log"
    workdir_prefix = "promcast-vm-"

    def __init__(self, *, extra_args: Sequence[str] = (), startup_timeout: float = 30.0) -> None:
        super().__init__()
        self.extra_args = list(extra_args)
        self.startup_timeout = startup_timeout

    def _missing(self) -> str | None:
        return f"{BINARY} not found: {INSTALL_HINT}" if binary_missing() else None

    def _command(self) -> list[str]:
        return [
            BINARY,
            f"-storageDataPath={self._workdir / 'data'}",
            f"-httpListenAddr=127.0.0.1:{self.port}",
            "-retentionPeriod=100y",  # imported history is old by definition
            "-search.disableCache",
            "-loggerLevel=WARN",
            *self.extra_args,
        ]

    def import_history(self, series_list: Sequence[MetricSeries], timeout: float = 30.0) -> None:
        """Import, flush, and wait until every series is searchable over its whole range."""
        body = "".join(exposition_lines(series_list)).encode()
        request = urllib.request.Request(f"{self.url}/api/v1/import/prometheus", data=body, method="POST")
        with urllib.request.urlopen(request, timeout=timeout):
            pass
        with urllib.request.urlopen(f"{self.url}/internal/force_flush", timeout=timeout):
            pass
        start = min(float(s.timestamps[0]) for s in series_list)
        wanted = {(s.name, tuple(sorted(s.labels.items()))) for s in series_list}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if wanted <= self._series_since(start):
                return
            time.sleep(0.05)
        raise RuntimeError(f"imported series not searchable within {timeout:g}s; log:\n{self.log_text()}")

    def _series_since(self, start: float) -> set:
        query = urllib.parse.urlencode({"match[]": '{__name__!=""}', "start": f"{start:.3f}"})
        with urllib.request.urlopen(f"{self.url}/api/v1/series?{query}", timeout=10) as response:
            found = json.load(response)["data"]
        return {(s.pop("__name__"), tuple(sorted(s.items()))) for s in found}


def serve_history(series_list: Sequence[MetricSeries], **server_args) -> VictoriaMetricsServer:
    """Start a server and import ``series_list`` into it: a running (not yet entered) server."""
    server = VictoriaMetricsServer(**server_args).start()
    try:
        server.import_history(series_list)
    except BaseException:
        server.stop()
        raise
    return server
