"""A real Prometheus for tests and benchmarks: write history, backfill it, serve it.

History is written as OpenMetrics text, turned into TSDB blocks by
``promtool tsdb create-blocks-from openmetrics`` and served by a ``prometheus`` process on a free
loopback port. Nothing here imports pytest, so benchmarks can reuse it.
"""

from __future__ import annotations

import ctypes
import math
import os
import signal
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

INSTALL_HINT = "install Debian's `prometheus` package (apt-get install prometheus) for promtool and prometheus"

# promtool cuts blocks at 2h by default, re-reading the whole input per block (30 days = 360 passes).
# One large block range backfills a month in well under a second. The flag is hidden in 2.42 but works.
_MAX_BLOCK_DURATION = "8760h"


def binaries_missing() -> list[str]:
    """Names of the Prometheus binaries not on PATH (empty when both are there)."""
    return [name for name in ("prometheus", "promtool") if shutil.which(name) is None]


@dataclass
class MetricSeries:
    """One series of history: metric name, labels, epoch-second timestamps and float values."""

    name: str
    labels: Mapping[str, str]
    timestamps: Sequence[float]
    values: Sequence[float]
    #: the OpenMetrics type written in ``# TYPE``; ``gauge`` fits any float history.
    type: str = field(default="gauge")

    @classmethod
    def from_pandas(cls, name: str, labels: Mapping[str, str], series) -> "MetricSeries":
        """From a float pandas Series indexed by (tz-aware or UTC-naive) timestamps."""
        index = series.index
        if getattr(index, "tz", None) is not None:
            index = index.tz_convert("UTC").tz_localize(None)
        seconds = index.to_numpy(dtype="datetime64[ms]").astype("int64") / 1000.0
        return cls(name, dict(labels), seconds, series.to_numpy(dtype=float))


def _format_value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def _format_timestamp(seconds: float) -> str:
    ms = int(round(float(seconds) * 1000))
    whole, frac = divmod(ms, 1000)
    return str(whole) if not frac else f"{whole}.{frac:03d}"


def _escape(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def write_openmetrics(path: str | os.PathLike, series_list: Iterable[MetricSeries]) -> Path:
    """Write series as OpenMetrics text: one ``# TYPE`` per metric, samples sorted by time, ``# EOF``."""
    families: dict[str, list[MetricSeries]] = {}
    for series in series_list:
        if len(series.timestamps) != len(series.values):
            raise ValueError(f"{series.name}{dict(series.labels)}: timestamps and values differ in length")
        families.setdefault(series.name, []).append(series)
    path = Path(path)
    with path.open("w", encoding="utf-8") as out:
        for name, members in families.items():
            out.write(f"# TYPE {name} {members[0].type}\n")
            for series in members:
                labels = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(series.labels.items()))
                prefix = f"{name}{{{labels}}} " if labels else f"{name} "
                seconds = np.asarray(series.timestamps, dtype=float)
                values = np.asarray(series.values, dtype=float)
                order = np.argsort(seconds, kind="stable")
                out.write(
                    "".join(
                        f"{prefix}{_format_value(v)} {_format_timestamp(t)}\n"
                        for t, v in zip(seconds[order].tolist(), values[order].tolist())
                    )
                )
        out.write("# EOF\n")
    return path


def backfill(openmetrics_path: str | os.PathLike, tsdb_dir: str | os.PathLike) -> Path:
    """Turn an OpenMetrics file into TSDB blocks in ``tsdb_dir`` (created if needed)."""
    tsdb_dir = Path(tsdb_dir)
    tsdb_dir.mkdir(parents=True, exist_ok=True)
    base = ["promtool", "tsdb", "create-blocks-from", "openmetrics", "-q"]
    args = [str(openmetrics_path), str(tsdb_dir)]
    proc = subprocess.run(base + [f"--max-block-duration={_MAX_BLOCK_DURATION}"] + args, capture_output=True, text=True)
    if proc.returncode != 0 and "max-block-duration" in proc.stderr:
        proc = subprocess.run(base + args, capture_output=True, text=True)  # an older promtool: 2h blocks
    if proc.returncode != 0:
        raise RuntimeError(f"promtool backfill failed ({proc.returncode}): {(proc.stderr or proc.stdout).strip()[-2000:]}")
    return tsdb_dir


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the test process dies, so no server outlives a killed run."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except OSError:
            pass


def free_port() -> int:
    """A loopback TCP port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LoopbackServer:
    """A server binary on a free loopback port with its own temporary work directory and log.

    Subclasses name the binary, the readiness path and the command line; starting retries on
    another port when the chosen one was taken between :func:`free_port` and the bind.
    """

    binary = ""
    ready_path = "/"
    log_name = "server.log"
    workdir_prefix = "promcast-server-"
    startup_timeout = 60.0

    def __init__(self) -> None:
        self.port: int | None = None
        self._proc: subprocess.Popen | None = None
        self._workdir: Path | None = None
        self._log = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError(f"{self.binary} is not running")
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path | None:
        return self._workdir / self.log_name if self._workdir else None

    def log_text(self, tail: int = 40) -> str:
        """The last ``tail`` lines of the server's log (for error messages)."""
        if not self.log_path or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-tail:])

    def _missing(self) -> str | None:
        """Why the server cannot start here (a missing binary), or None."""
        return None if shutil.which(self.binary) else f"{self.binary} not found"

    def _prepare(self) -> None:
        """Write what the command needs into ``self._workdir`` (config files)."""

    def _command(self) -> list[str]:  # pragma: no cover - every subclass has one
        raise NotImplementedError

    def start(self):
        """Start and wait until ready; a no-op when already running."""
        if self._proc is not None and self._proc.poll() is None:
            return self
        missing = self._missing()
        if missing:
            raise RuntimeError(missing)
        self._workdir = Path(tempfile.mkdtemp(prefix=self.workdir_prefix))
        self._prepare()
        for attempt in range(3):  # the port may be taken between free_port() and bind
            self.port = free_port()
            self._log = open(self.log_path, "ab")
            self._proc = subprocess.Popen(
                self._command(), stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=self._workdir, preexec_fn=_die_with_parent,
            )
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
                raise RuntimeError(
                    f"{self.binary} exited with {self._proc.returncode} before it was ready; log:\n{self.log_text()}"
                )
            try:
                with urllib.request.urlopen(f"{self.url}{self.ready_path}", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.05)
        raise RuntimeError(
            f"{self.binary} on {self.url} was not ready within {self.startup_timeout:g}s; log:\n{self.log_text()}"
        )

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
        """Stop the server and remove its work directory (config, log, and what lives there)."""
        self._stop_process()
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
        self.port = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class PrometheusServer(LoopbackServer):
    """A ``prometheus`` process on a free loopback port over ``tsdb_dir``; use as a context manager.

    No scrape targets: the TSDB holds only the backfilled history, so queries see exactly what the
    test wrote. ``rule_files`` are loaded (and evaluated every ``evaluation_interval``). The TSDB
    belongs to the caller and survives :meth:`stop`.
    """

    binary = "prometheus"
    ready_path = "/-/ready"
    log_name = "prometheus.log"
    workdir_prefix = "promcast-prom-"

    def __init__(
        self,
        tsdb_dir: str | os.PathLike,
        *,
        rule_files: Sequence[str | os.PathLike] = (),
        evaluation_interval: str = "15s",
        enable_lifecycle: bool = False,
        extra_args: Sequence[str] = (),
        startup_timeout: float = 60.0,
    ) -> None:
        super().__init__()
        self.tsdb_dir = Path(tsdb_dir)
        self.rule_files = [Path(p).resolve() for p in rule_files]
        self.evaluation_interval = evaluation_interval
        self.enable_lifecycle = enable_lifecycle
        self.extra_args = list(extra_args)
        self.startup_timeout = startup_timeout

    def _missing(self) -> str | None:
        missing = binaries_missing()
        return f"{', '.join(missing)} not found: {INSTALL_HINT}" if missing else None

    def _prepare(self) -> None:
        lines = ["global:", f"  evaluation_interval: {self.evaluation_interval}", "  scrape_interval: 1m"]
        if self.rule_files:
            lines.append("rule_files:")
            lines += [f"  - '{p}'" for p in self.rule_files]
        (self._workdir / "prometheus.yml").write_text("\n".join(lines) + "\n")

    def _command(self) -> list[str]:
        return [
            "prometheus",
            f"--config.file={self._workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={self.tsdb_dir}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            # backfilled history is old by definition: keep it however far back it goes
            "--storage.tsdb.retention.time=10y",
            *(["--web.enable-lifecycle"] if self.enable_lifecycle else []),
            *self.extra_args,
        ]

    def reload(self) -> None:
        """Re-read the config and rule files (needs ``enable_lifecycle=True``)."""
        request = urllib.request.Request(f"{self.url}/-/reload", method="POST")
        with urllib.request.urlopen(request, timeout=30):
            pass


def serve_history(series_list: Iterable[MetricSeries], workdir: str | os.PathLike, **server_args) -> PrometheusServer:
    """Write, backfill and start: a running (not yet entered) server over ``series_list``."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    source = write_openmetrics(workdir / "history.om", series_list)
    tsdb = backfill(source, workdir / "tsdb")
    source.unlink()
    return PrometheusServer(tsdb, **server_args).start()


# --------------------------------------------------------------------------- a standard dataset

MONTH_STEP = 60
MONTH_POINTS = 30 * 24 * 60 + 1  # 30 days at 1m, both ends included: 43,201 points


def month_history(end: int | None = None) -> list[MetricSeries]:
    """30 days of 1-minute history ending at ``end`` (epoch s; default: the last full hour, minus 1h).

    Values are exactly representable and distinctive so a fetch can be compared bit for bit:
    a ramp ``i * 0.25``, three seeded random walks in steps of 0.25, and a series that cycles through
    NaN, +Inf, -Inf and extreme floats.
    """
    if end is None:
        end = (int(time.time()) // 3600 - 1) * 3600
    end -= end % MONTH_STEP
    seconds = end - MONTH_STEP * (MONTH_POINTS - 1) + MONTH_STEP * np.arange(MONTH_POINTS, dtype=np.int64)
    ramp = np.arange(MONTH_POINTS) * 0.25
    rng = np.random.default_rng(20240601)
    series = [MetricSeries("promcast_test_ramp", {"job": "ramp"}, seconds, ramp)]
    for instance in ("a", "b", "c"):
        walk = 1000.0 + np.cumsum(rng.integers(-4, 5, MONTH_POINTS)) * 0.25
        series.append(MetricSeries("promcast_test_walk", {"job": "walk", "instance": instance}, seconds, walk))
    specials = np.array([1.5, np.nan, np.inf, -np.inf, 1e-300, 1.7976931348623157e308, -0.0, 123456789.125])
    series.append(
        MetricSeries("promcast_test_special", {"job": "special"}, seconds, specials[np.arange(MONTH_POINTS) % len(specials)])
    )
    return series
