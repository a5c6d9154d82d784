"""A real single-node VictoriaMetrics for tests: start it, import history, serve it.

History is written through VictoriaMetrics' own import API (``/api/v1/import/prometheus``: text
exposition lines with millisecond timestamps), flushed with ``/internal/force_flush`` and waited for
until every series is searchable. Nothing here imports pytest, so benchmarks can reuse it.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from prom_harness import MetricSeries, _die_with_parent, free_port

BINARY = "victoria-metrics"
INSTALL_HINT = "install Debian's `victoria-metrics` package (apt-get install victoria-metrics)"


def binary_missing() -> bool:
    return shutil.which(BINARY) is None


def _escape(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _format_value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def exposition_lines(series_list: Iterable[MetricSeries]) -> Iterable[str]:
    """``name{labels} value timestamp_ms`` lines, the format ``/api/v1/import/prometheus`` reads."""
    for series in series_list:
        labels = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(series.labels.items()))
        prefix = f"{series.name}{{{labels}}} " if labels else f"{series.name} "
        ms = np.rint(np.asarray(series.timestamps, dtype=float) * 1000).astype("int64").tolist()
        for t, v in zip(ms, np.asarray(series.values, dtype=float).tolist()):
            yield f"{prefix}{_format_value(v)} {t}\n"


class VictoriaMetricsServer:
    """``victoria-metrics`` on a free loopback port with its own temporary data directory.

    ``extra_args`` are VictoriaMetrics flags (``-search.maxPointsPerTimeseries=1000``...). The response
    cache is off: imported history is older than the cache's freshness window, and a cached answer
    from before an import would hide it.
    """

    def __init__(self, *, extra_args: Sequence[str] = (), startup_timeout: float = 30.0) -> None:
        self.extra_args = list(extra_args)
        self.startup_timeout = startup_timeout
        self.port: int | None = None
        self._proc: subprocess.Popen | None = None
        self._workdir: Path | None = None
        self._log = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("VictoriaMetrics is not running")
        return f"http://127.0.0.1:{self.port}"

    def log_text(self, tail: int = 40) -> str:
        path = self._workdir / "victoria-metrics.log" if self._workdir else None
        if not path or not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-tail:])

    def start(self) -> "VictoriaMetricsServer":
        if self._proc is not None and self._proc.poll() is None:
            return self
        if binary_missing():
            raise RuntimeError(f"{BINARY} not found: {INSTALL_HINT}")
        self._workdir = Path(tempfile.mkdtemp(prefix="promcast-vm-"))
        for attempt in range(3):  # the port may be taken between free_port() and bind
            self.port = free_port()
            cmd = [
                BINARY,
                f"-storageDataPath={self._workdir / 'data'}",
                f"-httpListenAddr=127.0.0.1:{self.port}",
                "-retentionPeriod=100y",  # imported history is old by definition
                "-search.disableCache",
                "-loggerLevel=WARN",
                *self.extra_args,
            ]
            self._log = open(self._workdir / "victoria-metrics.log", "ab")
            self._proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                          cwd=self._workdir, preexec_fn=_die_with_parent)
            try:
                self._wait_ready()
                return self
            except RuntimeError:
                in_use = "address already in use" in self.log_text().lower()
                self._stop_process()
                if not in_use or attempt == 2:
                    self.stop()
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"{BINARY} exited with {self._proc.returncode}; log:\n{self.log_text()}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{BINARY} on {self.url} was not ready within {self.startup_timeout:g}s; log:\n{self.log_text()}")

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

    def _stop_process(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=10)
        self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def stop(self) -> None:
        """Stop the server and remove its data directory."""
        self._stop_process()
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
        self.port = None

    def __enter__(self) -> "VictoriaMetricsServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_history(series_list: Sequence[MetricSeries], **server_args) -> VictoriaMetricsServer:
    """Start a server and import ``series_list`` into it: a running (not yet entered) server."""
    server = VictoriaMetricsServer(**server_args).start()
    try:
        server.import_history(series_list)
    except BaseException:
        server.stop()
        raise
    return server
