"""The embedded demo source: realistic synthetic node and application metrics, no Prometheus needed.

Every value is a pure function of absolute time (one sample per minute, like a 1m scrape interval;
a query at any step returns the latest sample at or before each step, as Prometheus's lookback does).
Seasonality follows the UTC clock and calendar; trends and incidents are placed relative to an
*anchor* (the construction time, floored to the hour), so the data always looks live while two
queries over overlapping ranges agree point for point. Noise comes from a counter-based hash of
(series, minute), so nothing depends on query order, step or process.

What there is to find (used by the anomaly, disk, memory and capacity features and their tests):

- ``node_cpu_utilisation`` (ratio) on five nodes (``node-1:9100`` .. ``node-3:9100``, ``10.0.0.1:9100``,
  ``db-2.example.com:9100``), daily and weekly seasonality, with spikes, a level shift and a dropout in
  the last week on the first three (see :attr:`DemoSource.anomalies`).
- ``node_filesystem_avail_bytes`` / ``node_filesystem_size_bytes``: ``/`` fills linearly and is full
  5 days after the anchor, ``/var/log`` cycles daily with log rotation at 03:00 UTC (a sawtooth that a
  naive ``predict_linear`` mistakes for filling), ``/data`` sits at 95 % used, stable.
- ``process_resident_memory_bytes``: ``api`` leaks under a GC sawtooth and is OOM-killed near 2 GiB
  every 15 days (next time 3 days after the anchor), ``worker`` is healthy with daily load,
  ``billing`` got a deploy 4 days before the anchor: warm-up, then flat at a higher level.
- ``http_requests`` (requests/s, ``job="frontend"``): daily and weekly seasonality, growing 30 % a
  month; weekday peaks near 3,600-3,800/s at the anchor, crossing 4,000/s (a 5,000/s capacity
  less 20 % headroom) within about two weeks and nearing 5,000/s about five weeks out.
- ``node_memory_MemAvailable_bytes``, ``node_memory_MemTotal_bytes`` and ``up`` for completeness.
- Kubernetes containers for ``promcast rightsize`` (see :data:`K8S_WORKLOADS`): cAdvisor's
  ``container_cpu_usage_seconds_total`` (a counter) and ``container_memory_working_set_bytes``
  (``job="kubelet"``, node ``IP:10250`` instances), kube-state-metrics'
  ``kube_pod_container_resource_requests`` / ``_limits`` and ``kube_pod_owner``. ``frontend`` and
  ``reporting`` use a fraction of what they request, ``checkout`` grows 30 % a month towards its CPU
  limit, ``cart-redis`` leaks since 9 days before the anchor and reaches its 1 GiB limit about a day
  and a half after it, ``search`` is throttled at its busy-hour peaks, ``node-exporter`` fits.
- For ``promcast init`` and its presets: the kubelet's ``kubelet_volume_stats_available_bytes`` /
  ``_capacity_bytes`` per PVC (``shop/data-cart-redis-0`` fills up about 4 days after the anchor),
  kube-state-metrics' ``kube_pod_container_status_restarts_total`` (``search`` restarts every 53 hours),
  Grafana Beyla's ``http_server_request_duration_seconds`` histograms (``_bucket`` with Beyla's ``le``
  bounds, ``_count``, ``_sum``) for three services with 200 and 500 responses, the Go runtime of ``checkout``
  (``go_memstats_heap_inuse_bytes`` under ``go_gc_gomemlimit_bytes``; one ``reporting`` pod runs without
  GOMEMLIMIT, so its limit is client_golang's math.MaxInt64) and the JVM heap pools of ``search``
  (``jvm_memory_used_bytes`` / ``_max_bytes``; the old generation of the first pod leaks), and
  ``node_filesystem_readonly``.

Plain selectors are answered directly; anything more (``rate``, ``sum by``, ratios, ``histogram_quantile``)
goes through the small evaluator in :mod:`.demo_eval`.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np
import pandas as pd

from ..durations import parse_duration, parse_time
from ..errors import InputError
from ..promql import unwrap_parens
from ..promql_selector import Selector, node_selector, parse_query, parse_selector
from .base import History, Source, format_labels
from .demo_eval import Evaluator, is_plain_selector

MINUTE_NS = 60 * 1_000_000_000
DAY_S = 86_400.0
MIB = 2.0**20
GIB = 2.0**30
TIB = 2.0**40

#: most points per series one query may ask for (35 days at 1s is ~3M: too many to be a mistake)
MAX_POINTS = 1_000_000


@dataclass(frozen=True)
class Anomaly:
    """A known incident injected into the demo data: ground truth for detectors."""

    labels: Mapping[str, str]
    kind: str  # "spike", "level_shift", "dropout", "deploy"
    start: pd.Timestamp
    end: pd.Timestamp


class _Clock:
    """Sample times of one evaluation, with the derived calendar features every series uses."""

    def __init__(self, minutes: np.ndarray, anchor_s: float) -> None:
        self.minutes = minutes  # int64 minutes since the epoch
        self.t = minutes.astype(np.float64) * 60.0  # seconds since the epoch
        self.rel_days = (self.t - anchor_s) / DAY_S  # days relative to the anchor (< 0: past)
        self.hour = np.mod(self.t, DAY_S) / 3600.0  # UTC hour of day, fractional
        # hours since Monday 00:00 UTC (1970-01-01 was a Thursday)
        self.week_hour = np.mod(minutes + 3 * 1440, 7 * 1440) / 60.0

    def bell(self, peak_hour: float) -> np.ndarray:
        """Daily cycle in [0, 1]: 1 at ``peak_hour`` UTC, 0 twelve hours away."""
        return 0.5 * (1.0 + np.cos(2.0 * np.pi * (self.hour - peak_hour) / 24.0))

    def week(self, weekend_factor: float) -> np.ndarray:
        """1 on weekdays, ``weekend_factor`` at the weekend, easing over 8 hours around midnight."""
        h = np.mod(self.week_hour - 20.0, 168.0) + 20.0  # in [20, 188): both ramps stay contiguous
        weekendness = _smoothstep((h - 116.0) / 8.0) - _smoothstep((h - 164.0) / 8.0)
        return 1.0 - (1.0 - weekend_factor) * weekendness

    def cycle_week(self, weekend_factor: float, offset_s: float) -> np.ndarray:
        """Like :meth:`week` but constant over each daily cycle that starts at ``offset_s`` UTC."""
        day = np.floor_divide(self.minutes - int(offset_s // 60), 1440)
        return np.where(np.mod(day + 3, 7) >= 5, weekend_factor, 1.0)

    def saw(self, period_s: float, offset_s: float = 0.0) -> np.ndarray:
        """Sawtooth in [0, 1): rises linearly over ``period_s``, drops back at each period."""
        return np.mod(self.t - offset_s, period_s) / period_s

    def white(self, seed: int) -> np.ndarray:
        """Standard normal noise, one independent draw per (seed, minute)."""
        return _normal(seed, self.minutes)

    def smooth(self, seed: int, knot_minutes: int) -> np.ndarray:
        """Standard-normal-ish noise that wanders smoothly between knots ``knot_minutes`` apart."""
        knot = np.floor_divide(self.minutes, knot_minutes)
        frac = np.mod(self.minutes, knot_minutes) / knot_minutes
        w = _smoothstep(frac)
        return _normal(seed, knot) * (1.0 - w) + _normal(seed, knot + 1) * w


def _smoothstep(x: np.ndarray) -> np.ndarray:
    """0 below 0, 1 above 1, a smooth S in between."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _hash_unit(seed: int, idx: np.ndarray) -> np.ndarray:
    """Uniform [0, 1) from splitmix64 of (seed, idx): a stateless, reproducible random stream."""
    with np.errstate(over="ignore"):
        x = idx.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(seed % 2**64)
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return (x >> np.uint64(11)).astype(np.float64) * 2.0**-53


def _normal(seed: int, idx: np.ndarray) -> np.ndarray:
    """Standard normal via Box-Muller on two hashed uniforms."""
    u1 = _hash_unit(seed, idx)
    u2 = _hash_unit(seed ^ 0x5DEECE66D, idx)
    return np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2.0 * np.pi * u2)


def _seed(labels: Mapping[str, str]) -> int:
    """A per-series seed that is stable across processes (unlike ``hash``)."""
    return zlib.crc32(format_labels(labels).encode()) * 0x100000001


def _window(rel_days: np.ndarray, start_h: float, minutes: float) -> np.ndarray:
    """Mask of samples within ``minutes`` after ``start_h`` hours relative to the anchor."""
    start = start_h / 24.0
    return (rel_days >= start) & (rel_days < start + minutes / 1440.0)


# ---- incidents (hours relative to the anchor, duration in minutes), shared by data and truth ----
#: node_exporter targets as they look in production: short names, an IP:port and a dotted host name (Grafana
#: regex-escapes the dots of the last two when it puts them into a payload)
NODES = ("node-1:9100", "node-2:9100", "node-3:9100", "10.0.0.1:9100", "db-2.example.com:9100")
_CPU_SPIKES = {NODES[0]: [(-50.0, 20, 0.6), (-125.0, 10, 0.55)], NODES[2]: [(-6.0, 15, 0.5)]}
_CPU_SHIFT = (NODES[1], -84.0, 0.2)  # node, start hour, added level (persists to the end)
_CPU_DROPOUT = (NODES[2], -44.0, 240)  # node, start hour, minutes near zero
_BILLING_DEPLOY_H = -96.0
_API_OOM_H = 72.0  # next OOM kill of the leaking api process
_API_RESTART_DAYS = 15.0
_ROOT_FILL_START_D = -9.0
_ROOT_FULL_D = 5.0

Generator = Callable[[_Clock, int], np.ndarray]


def _cpu(node: str) -> Generator:
    base = {NODES[0]: 0.30, NODES[1]: 0.25, NODES[2]: 0.35, NODES[3]: 0.28, NODES[4]: 0.40}[node]

    def gen(c: _Clock, seed: int) -> np.ndarray:
        v = base + 0.25 * c.bell(15.0) * c.week(0.4)
        v = v + 0.015 * c.white(seed) + 0.03 * c.smooth(seed + 1, 60)
        for start_h, minutes, height in _CPU_SPIKES.get(node, []):
            v = np.where(_window(c.rel_days, start_h, minutes), v + height, v)
        if node == _CPU_SHIFT[0]:
            v = np.where(c.rel_days >= _CPU_SHIFT[1] / 24.0, v + _CPU_SHIFT[2], v)
        if node == _CPU_DROPOUT[0]:
            drop = _window(c.rel_days, _CPU_DROPOUT[1], _CPU_DROPOUT[2])
            v = np.where(drop, 0.01 + 0.003 * np.abs(c.white(seed + 2)), v)
        return np.clip(v, 0.002, 1.0)

    return gen


_FILESYSTEMS = {
    # mountpoint: (device, fstype, size in bytes)
    "/": ("/dev/nvme0n1p2", "ext4", 100 * GIB),
    "/var/log": ("/dev/nvme0n1p3", "ext4", 50 * GIB),
    "/data": ("/dev/sdb1", "xfs", 2 * TIB),
}


def _used_fraction(mountpoint: str, c: _Clock, seed: int) -> np.ndarray:
    if mountpoint == "/":
        quiet = 0.45
        rate = (1.0 - quiet) / (_ROOT_FULL_D - _ROOT_FILL_START_D)  # per day, full at _ROOT_FULL_D
        u = quiet + rate * np.clip(c.rel_days - _ROOT_FILL_START_D, 0.0, None)
        return u + 0.003 * c.bell(14.0) + 0.0005 * c.white(seed) + 0.001 * c.smooth(seed + 1, 180)
    if mountpoint == "/var/log":
        # logs grow faster in the busy hours; logrotate at 03:00 UTC removes the day's growth
        phase = c.saw(DAY_S, offset_s=3 * 3600.0)
        ramp = phase - 0.6 * np.sin(2.0 * np.pi * phase) / (2.0 * np.pi)
        return 0.30 + 0.50 * ramp * c.cycle_week(0.7, 3 * 3600.0) + 0.001 * c.white(seed)
    return 0.95 + 0.002 * c.bell(13.0) + 0.0003 * c.white(seed) + 0.0005 * c.smooth(seed + 1, 360)


def _fs(mountpoint: str, metric: str) -> Generator:
    size = _FILESYSTEMS[mountpoint][2]

    def gen(c: _Clock, seed: int) -> np.ndarray:
        if metric == "node_filesystem_size_bytes":
            return np.full(c.t.shape, size)
        # both metrics of a mountpoint share one seed so avail is consistent with size
        used = np.clip(_used_fraction(mountpoint, c, _seed({"mountpoint": mountpoint})), 0.0, 1.0)
        return np.floor(size * (1.0 - used) / 4096.0) * 4096.0  # whole 4 KiB blocks

    return gen


def _memory(job: str) -> Generator:
    def gen(c: _Clock, seed: int) -> np.ndarray:
        if job == "api":
            # leak: troughs climb 600 MiB -> 1900 MiB over 15 days, GC peaks 150 MiB higher; the
            # process is OOM-killed (and restarts) when the peaks reach ~2 GiB
            age = np.mod(c.rel_days - _API_OOM_H / 24.0, _API_RESTART_DAYS) / _API_RESTART_DAYS
            v = 600 * MIB + 1300 * MIB * age + 150 * MIB * c.saw(1500.0)
            return v + 20 * MIB * c.bell(15.0) + 4 * MIB * c.white(seed)
        if job == "worker":
            v = 900 * MIB + 150 * MIB * c.bell(15.0) * c.week(0.5) + 120 * MIB * c.saw(900.0)
            return v + 5 * MIB * c.white(seed) + 10 * MIB * c.smooth(seed + 1, 120)
        # billing: deploy restarts the process, it warms up to a new, higher plateau and stays
        since = (c.rel_days - _BILLING_DEPLOY_H / 24.0) * 24.0  # hours since the deploy
        warm = 650 * MIB - 500 * MIB * np.exp(-np.clip(since, 0.0, None) / 2.0)
        v = np.where(since < 0, 400 * MIB, warm) + 40 * MIB * c.saw(1200.0)
        return v + 3 * MIB * c.white(seed)

    return gen


def _http_requests(c: _Clock, seed: int) -> np.ndarray:
    level = 3600.0 * 1.3 ** (c.rel_days / 30.0)  # weekday peak, +30 % a month
    shape = 0.3 + 0.7 * c.bell(14.0) * c.week(0.6)
    noise = 1.0 + 0.03 * c.white(seed) + 0.02 * c.smooth(seed + 1, 90)
    return np.round(level * shape * noise, 2)


def _mem_available(node: str) -> Generator:
    def gen(c: _Clock, seed: int) -> np.ndarray:
        frac = 0.55 - 0.15 * c.bell(15.0) * c.week(0.4) + 0.01 * c.smooth(seed, 60)
        return np.floor(16 * GIB * (frac + 0.002 * c.white(seed + 1)) / 4096.0) * 4096.0

    return gen


def _constant(value: float) -> Generator:
    return lambda c, seed: np.full(c.t.shape, value)


# ---- Kubernetes containers (cAdvisor and kube-state-metrics), for right-sizing -------------------------
@dataclass(frozen=True)
class K8sWorkload:
    """One demo workload: its pods' container, current requests/limits and how it behaves."""

    namespace: str
    kind: str  # Deployment, StatefulSet, DaemonSet
    name: str
    container: str
    replicas: int
    requests: tuple[float, float]  # cores, bytes
    limits: tuple[float, float]
    cpu: tuple[float, float, float]  # base cores, busy-hour amplitude, peak hour (UTC)
    memory: tuple[float, float]  # base bytes, sawtooth amplitude
    behaviour: str = "steady"  # steady, growing, leaking, spiky


K8S_WORKLOADS = (
    K8sWorkload("shop", "Deployment", "frontend", "nginx", 3, (1.0, 1 * GIB), (2.0, 2 * GIB),
                (0.06, 0.12, 14.0), (90 * MIB, 12 * MIB)),
    K8sWorkload("shop", "Deployment", "checkout", "app", 2, (0.5, 512 * MIB), (1.0, 1 * GIB),
                (0.12, 0.45, 14.0), (380 * MIB, 30 * MIB), "growing"),
    K8sWorkload("shop", "StatefulSet", "cart-redis", "redis", 1, (0.25, 1 * GIB), (0.5, 1 * GIB),
                (0.04, 0.03, 14.0), (300 * MIB, 8 * MIB), "leaking"),
    K8sWorkload("shop", "Deployment", "search", "search", 2, (0.5, 1 * GIB), (1.0, 1 * GIB),
                (0.3, 0.62, 15.0), (700 * MIB, 40 * MIB), "spiky"),
    K8sWorkload("data", "Deployment", "reporting", "worker", 2, (2.0, 4 * GIB), (4.0, 8 * GIB),
                (0.08, 0.5, 10.0), (1.1 * GIB, 150 * MIB)),
    K8sWorkload("monitoring", "DaemonSet", "node-exporter", "node-exporter", 3, (0.1, 64 * MIB),
                (0.25, 128 * MIB), (0.015, 0.01, 14.0), (38 * MIB, 2 * MIB)),
)
#: kubelets (cAdvisor) by node, and the kube-state-metrics pod
K8S_NODES = ("10.0.1.11", "10.0.1.12", "10.0.1.13")
KSM_INSTANCE = "10.0.2.15:8080"
_LEAK_START_D = -9.0
_LEAK_PER_DAY = 70 * MIB
_COUNTER_ORIGIN_D = 60  # pods started this many days before the anchor: counters count from there


def _pod_suffix(text: str, n: int) -> str:
    alphabet = "bcdfghjklmnpqrstvwxz2456789"  # Kubernetes' rand.SafeEncodeString alphabet
    x = zlib.crc32(text.encode())
    out = ""
    for _ in range(n):
        x, r = divmod(x * 2654435761 + 12345, len(alphabet))
        x %= 2**32
        out += alphabet[r]
    return out


def k8s_pods(w: K8sWorkload) -> list[tuple[str, str, str]]:
    """``(pod, node, owner)`` of each replica, with names as the controllers write them."""
    out = []
    for i in range(w.replicas):
        if w.kind == "Deployment":
            replicaset = f"{w.name}-{_pod_suffix(w.namespace + w.name, 9)}"
            pod, owner = f"{replicaset}-{_pod_suffix(f'{w.name}/{i}', 5)}", ("ReplicaSet", replicaset)
        elif w.kind == "StatefulSet":
            pod, owner = f"{w.name}-{i}", ("StatefulSet", w.name)
        else:
            pod, owner = f"{w.name}-{_pod_suffix(f'{w.name}/{i}', 5)}", (w.kind, w.name)
        out.append((pod, K8S_NODES[i % len(K8S_NODES)], owner))
    return out


def _k8s_cpu_rate(w: K8sWorkload, replica: int) -> Generator:
    base, amplitude, peak = w.cpu

    def gen(c: _Clock, seed: int) -> np.ndarray:
        busy = c.bell(peak) * c.week(0.35 if w.namespace == "data" else 0.6)
        v = base + amplitude * busy
        if w.behaviour == "growing":
            v = v * 1.3 ** (c.rel_days / 30.0)
        v = v * (1.0 + 0.06 * c.white(seed) + 0.05 * c.smooth(seed + 1, 45)) + 0.002 * replica
        if w.behaviour == "spiky":  # a burst of a few minutes in about one busy hour in four
            burst = (_hash_unit(seed + 2, np.floor_divide(c.minutes, 60)) < 0.25 * busy) & (np.mod(c.minutes, 60) < 6)
            v = np.where(burst, v + 0.35, v)
        return np.clip(v, 0.001, None)

    return gen


def _k8s_cpu_counter(w: K8sWorkload, replica: int) -> Generator:
    return _counter(_k8s_cpu_rate(w, replica))


def _counter(rate: Generator) -> Generator:
    """A counter that grows by ``rate`` per second, counted from a fixed origin before the anchor."""

    def gen(c: _Clock, seed: int) -> np.ndarray:
        if not c.minutes.size:
            return np.zeros(0)
        # cumulative CPU seconds from a fixed origin, so a sample does not depend on the query
        anchor_min = int(c.minutes[0] - round(c.rel_days[0] * 1440.0))
        origin = anchor_min - _COUNTER_ORIGIN_D * 1440
        top = max(int(c.minutes.max()), origin)
        full = _Clock(np.arange(origin, top + 1, dtype=np.int64), anchor_min * 60.0)
        counter = np.concatenate([[0.0], np.cumsum(rate(full, seed) * 60.0)])
        return np.round(counter[np.clip(c.minutes - origin, 0, None)], 6)

    return gen


def _k8s_memory(w: K8sWorkload, replica: int) -> Generator:
    base, saw = w.memory

    def gen(c: _Clock, seed: int) -> np.ndarray:
        v = base + saw * c.saw(1800.0 + 300.0 * replica) + 0.25 * saw * c.bell(w.cpu[2]) * c.week(0.6)
        if w.behaviour == "growing":
            v = v * 1.15 ** (c.rel_days / 30.0)
        if w.behaviour == "leaking":
            v = v + _LEAK_PER_DAY * np.clip(c.rel_days - _LEAK_START_D, 0.0, None)
        return np.floor((v + 0.01 * saw * c.white(seed)) / 4096.0) * 4096.0

    return gen


def _k8s_catalogue() -> list[tuple[dict[str, str], Generator]]:
    out: list[tuple[dict[str, str], Generator]] = []
    ksm = {"job": "kube-state-metrics", "instance": KSM_INSTANCE}
    for w in K8S_WORKLOADS:
        for replica, (pod, node, (owner_kind, owner_name)) in enumerate(k8s_pods(w)):
            obj = {"namespace": w.namespace, "pod": pod}
            kubelet = {"job": "kubelet", "instance": f"{node}:10250", "metrics_path": "/metrics/cadvisor",
                       "node": f"ip-{node.replace('.', '-')}", "image": f"registry.example.com/{w.name}:1.4.2"}
            cadvisor = {**kubelet, **obj, "container": w.container}
            out.append(({"__name__": "container_cpu_usage_seconds_total", **cadvisor, "cpu": "total"},
                        _k8s_cpu_counter(w, replica)))
            out.append(({"__name__": "container_memory_working_set_bytes", **cadvisor}, _k8s_memory(w, replica)))
            state = {**ksm, **obj, "container": w.container, "node": kubelet["node"]}
            for metric, (cores, size) in (("kube_pod_container_resource_requests", w.requests),
                                          ("kube_pod_container_resource_limits", w.limits)):
                out.append(({"__name__": metric, **state, "resource": "cpu", "unit": "core"}, _constant(cores)))
                out.append(({"__name__": metric, **state, "resource": "memory", "unit": "byte"}, _constant(size)))
            out.append(({"__name__": "kube_pod_owner", **ksm, **obj, "owner_kind": owner_kind, "owner_name": owner_name,
                         "owner_is_controller": "true"}, _constant(1.0)))
    return out


# ---- Kubernetes volumes, restarts, eBPF RED metrics and application runtimes, for `promcast init` ----------
#: PVCs as the kubelet reports them: (namespace, claim, node index, capacity, behaviour)
K8S_VOLUMES = (
    ("shop", "data-cart-redis-0", 0, 10 * GIB, "filling"),  # full about 4 days after the anchor
    ("data", "reporting-scratch", 1, 50 * GIB, "cycling"),  # a nightly job fills it, cleanup empties it
    ("monitoring", "prometheus-db-prometheus-0", 2, 100 * GIB, "steady"),
)
_VOLUME_FULL_D = 4.0
#: containers that restart now and then: (workload name, hours between restarts)
_RESTARTS = {"search": 53.0}
#: services Beyla instruments: (name, weekday peak requests/s, median latency s, share of 5xx)
BEYLA_SERVICES = (("frontend", 120.0, 0.04, 0.002), ("checkout", 30.0, 0.12, 0.004), ("search", 60.0, 0.25, 0.02))
#: Beyla's default histogram buckets (seconds)
BEYLA_BUCKETS = (0.0, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, float("inf"))
_LATENCY_SIGMA = 0.6
#: application runtimes: (workload, runtime, heap limit) with pod IPs
_GO_LIMIT = 900 * MIB
_GO_NO_LIMIT = float(2**63 - 1)  # what client_golang 1.20+ exports without GOMEMLIMIT (math.MaxInt64)
_JVM_POOLS = {"G1 Eden Space": 512 * MIB, "G1 Old Gen": 1536 * MIB}
_JVM_LEAK_PER_DAY = 90 * MIB


def _volume(capacity: float, behaviour: str, metric: str) -> Generator:
    def gen(c: _Clock, seed: int) -> np.ndarray:
        if metric.endswith("capacity_bytes"):
            return np.full(c.t.shape, capacity)
        if behaviour == "filling":  # 30 % -> 100 % at a steady rate, plus a daily wobble
            used = 0.3 + 0.7 * np.clip((c.rel_days + 10.0) / (_VOLUME_FULL_D + 10.0), 0.0, None)
            used = used + 0.004 * c.bell(14.0)
        elif behaviour == "cycling":
            used = 0.25 + 0.45 * c.saw(DAY_S, offset_s=1 * 3600.0)
        else:
            used = 0.6 + 0.01 * c.smooth(seed, 240)
        used = np.clip(used + 0.0005 * c.white(seed), 0.0, 1.0)
        return np.floor(capacity * (1.0 - used) / 4096.0) * 4096.0

    return gen


def _restarts(every_h: float | None) -> Generator:
    def gen(c: _Clock, seed: int) -> np.ndarray:
        if every_h is None:
            return np.zeros(c.t.shape)
        return np.floor((c.rel_days + _COUNTER_ORIGIN_D) * 24.0 / every_h)

    return gen


def _beyla_rate(service: str, peak: float) -> Generator:
    """Requests per second of a service (shared by its buckets: one seed per service)."""
    seed = _seed({"service_name": service})

    def gen(c: _Clock, _seed_: int) -> np.ndarray:
        level = peak * 1.3 ** (c.rel_days / 30.0)
        v = level * (0.25 + 0.75 * c.bell(14.0) * c.week(0.6))
        return np.clip(v * (1.0 + 0.04 * c.white(seed) + 0.03 * c.smooth(seed + 1, 60)), 0.0, None)

    return gen


def _beyla(service: str, peak: float, median: float, errors: float, status: str, part: str,
           le: float | None = None) -> Generator:
    """One Beyla counter of a service: a bucket (``le``), the count or the sum of request durations."""
    from scipy.special import ndtr

    rate = _beyla_rate(service, peak)
    service_seed = _seed({"service_name": service})

    def per_second(c: _Clock, seed: int) -> np.ndarray:
        failing = errors * np.clip(1.0 + 0.4 * c.smooth(service_seed + 7, 90), 0.2, None)  # wanders, never 0
        requests = rate(c, seed) * (failing if status == "500" else 1.0 - failing)
        typical = median * (1.0 + 0.6 * c.bell(14.0) * c.week(0.6))  # slower at the busy hours
        if status == "500":
            typical = typical * 3.0  # failures time out
        if part == "count":
            return requests
        if part == "sum":
            return requests * typical * np.exp(_LATENCY_SIGMA**2 / 2.0)
        if le == float("inf"):
            return requests
        if le <= 0:
            return np.zeros(c.t.shape)
        return requests * ndtr((np.log(le) - np.log(typical)) / _LATENCY_SIGMA)

    counter = _counter(per_second)
    return lambda c, seed: np.round(counter(c, seed), 3)


def _go_heap(replica: int, metric: str, limit: float = 0.0) -> Generator:
    limit = limit or _GO_LIMIT

    def gen(c: _Clock, seed: int) -> np.ndarray:
        if metric == "go_gc_gomemlimit_bytes":
            return np.full(c.t.shape, limit)
        v = 180 * MIB + 140 * MIB * c.saw(240.0 + 30.0 * replica) + 40 * MIB * c.bell(14.0) * c.week(0.6)
        return np.floor((v + 2 * MIB * c.white(seed)) / 8192.0) * 8192.0

    return gen


def _jvm(replica: int, pool: str, metric: str) -> Generator:
    size = _JVM_POOLS[pool]

    def gen(c: _Clock, seed: int) -> np.ndarray:
        if metric == "jvm_memory_max_bytes":
            return np.full(c.t.shape, size)
        if pool == "G1 Eden Space":
            v = 40 * MIB + 400 * MIB * c.saw(120.0 + 20.0 * replica)
        else:  # old gen: mixed collections every few hours; the first replica leaks (a cache that never evicts)
            v = 500 * MIB + 150 * MIB * c.saw(4 * 3600.0) + 60 * MIB * c.bell(15.0)
            if replica == 0:
                v = v + _JVM_LEAK_PER_DAY * np.clip(c.rel_days + 8.0, 0.0, None)
        return np.clip(np.floor((v + 3 * MIB * c.white(seed)) / 8192.0) * 8192.0, 0.0, size)

    return gen


def _pod_ip(name: str) -> str:
    x = zlib.crc32(name.encode())
    return f"10.1.{x % 200 + 10}.{(x >> 8) % 250 + 2}"


def _platform_catalogue() -> list[tuple[dict[str, str], Generator]]:
    out: list[tuple[dict[str, str], Generator]] = []
    for namespace, claim, node, capacity, behaviour in K8S_VOLUMES:
        ip = K8S_NODES[node]
        labels = {"job": "kubelet", "instance": f"{ip}:10250", "metrics_path": "/metrics",
                  "node": f"ip-{ip.replace('.', '-')}", "namespace": namespace, "persistentvolumeclaim": claim}
        for metric in ("kubelet_volume_stats_available_bytes", "kubelet_volume_stats_capacity_bytes"):
            out.append(({"__name__": metric, **labels}, _volume(capacity, behaviour, metric)))
    ksm = {"job": "kube-state-metrics", "instance": KSM_INSTANCE}
    for w in K8S_WORKLOADS:
        for pod, _node, _owner in k8s_pods(w):
            out.append(({"__name__": "kube_pod_container_status_restarts_total", **ksm, "namespace": w.namespace,
                         "pod": pod, "container": w.container, "uid": _pod_suffix(pod, 8)},
                        _restarts(_RESTARTS.get(w.name))))
    for i, (service, peak, median, errors) in enumerate(BEYLA_SERVICES):
        base = {"job": "beyla", "instance": f"{K8S_NODES[i % len(K8S_NODES)]}:9400", "service_name": service,
                "service_namespace": "shop", "k8s_namespace_name": "shop", "http_request_method": "GET",
                "http_route": "/api/*"}
        for status in ("200", "500"):
            labels = {**base, "http_response_status_code": status}
            name = "http_server_request_duration_seconds"
            for le in BEYLA_BUCKETS:
                text = "+Inf" if le == float("inf") else f"{le:g}"
                out.append(({"__name__": f"{name}_bucket", **labels, "le": text},
                            _beyla(service, peak, median, errors, status, "bucket", le)))
            out.append(({"__name__": f"{name}_count", **labels}, _beyla(service, peak, median, errors, status, "count")))
            out.append(({"__name__": f"{name}_sum", **labels}, _beyla(service, peak, median, errors, status, "sum")))
    runtimes = {w.name: w for w in K8S_WORKLOADS}
    for replica, (pod, _node, _owner) in enumerate(k8s_pods(runtimes["checkout"])):
        app = {"job": "shop/checkout", "instance": f"{_pod_ip(pod)}:8080", "namespace": "shop", "pod": pod}
        for metric in ("go_memstats_heap_inuse_bytes", "go_gc_gomemlimit_bytes"):
            out.append(({"__name__": metric, **app}, _go_heap(replica, metric)))
    pod = k8s_pods(runtimes["reporting"])[0][0]  # a Go process without GOMEMLIMIT: its limit is MaxInt64
    app = {"job": "data/reporting", "instance": f"{_pod_ip(pod)}:8080", "namespace": "data", "pod": pod}
    for metric in ("go_memstats_heap_inuse_bytes", "go_gc_gomemlimit_bytes"):
        out.append(({"__name__": metric, **app}, _go_heap(2, metric, limit=_GO_NO_LIMIT)))
    for replica, (pod, _node, _owner) in enumerate(k8s_pods(runtimes["search"])):
        app = {"job": "shop/search", "instance": f"{_pod_ip(pod)}:8080", "namespace": "shop", "pod": pod}
        for pool in _JVM_POOLS:
            for metric in ("jvm_memory_used_bytes", "jvm_memory_max_bytes"):
                out.append(({"__name__": metric, **app, "area": "heap", "id": pool}, _jvm(replica, pool, metric)))
    return out


def _catalogue() -> list[tuple[dict[str, str], Generator]]:
    """Every demo series: its labels (``__name__`` included) and its generator."""
    out: list[tuple[dict[str, str], Generator]] = []
    for node in NODES:
        node_labels = {"instance": node, "job": "node"}
        out.append(({"__name__": "node_cpu_utilisation", **node_labels}, _cpu(node)))
        out.append(({"__name__": "node_memory_MemAvailable_bytes", **node_labels}, _mem_available(node)))
        out.append(({"__name__": "node_memory_MemTotal_bytes", **node_labels}, _constant(16 * GIB)))
        out.append(({"__name__": "up", **node_labels}, _constant(1.0)))
    for mountpoint, (device, fstype, _size) in _FILESYSTEMS.items():
        for metric in ("node_filesystem_avail_bytes", "node_filesystem_size_bytes"):
            labels = {"__name__": metric, "instance": NODES[0], "job": "node", "device": device,
                      "fstype": fstype, "mountpoint": mountpoint}
            out.append((labels, _fs(mountpoint, metric)))
        out.append(({"__name__": "node_filesystem_readonly", "instance": NODES[0], "job": "node", "device": device,
                     "fstype": fstype, "mountpoint": mountpoint}, _constant(0.0)))
    for job in ("api", "worker", "billing"):
        app = {"instance": f"{job}-1:8080", "job": job}
        out.append(({"__name__": "process_resident_memory_bytes", **app}, _memory(job)))
        out.append(({"__name__": "up", **app}, _constant(1.0)))
    out.append(({"__name__": "http_requests", "job": "frontend"}, _http_requests))
    out.extend(_k8s_catalogue())
    out.extend(_platform_catalogue())
    return out


class DemoSource(Source):
    """Synthetic, deterministic, always-live history; answers selectors and the PromQL subset of :mod:`.demo_eval`.

    ``now`` fixes the end of the data (tests, reproducible demos); without it the data follows the
    wall clock, keeping the anchor chosen at construction. ``history`` is how far back data exists.
    """

    description = "demo source"

    def __init__(self, now: pd.Timestamp | str | None = None,
                 history: pd.Timedelta | str = pd.Timedelta(days=35)) -> None:
        self._fixed_now = None if now is None else _utc(parse_time(now, what="demo now"))
        self.history = pd.Timedelta(parse_duration(history, what="demo history"))
        self.anchor = (self._fixed_now or _wall_clock()).floor("h")
        self._series = [(labels, gen, _seed(labels)) for labels, gen in _catalogue()]

    @property
    def now(self) -> pd.Timestamp:
        """End of the available data: the fixed ``now`` or the current time."""
        return self._fixed_now or _wall_clock()

    @property
    def anomalies(self) -> list[Anomaly]:
        """The injected incidents, in absolute time: ground truth for detectors and demos."""
        def at(hours: float) -> pd.Timestamp:
            return self.anchor + pd.Timedelta(hours=hours)

        cpu = {"__name__": "node_cpu_utilisation", "job": "node"}
        out = [
            Anomaly({**cpu, "instance": node}, "spike", at(h), at(h) + pd.Timedelta(minutes=m))
            for node, spikes in _CPU_SPIKES.items() for h, m, _height in spikes
        ]
        node, h, _level = _CPU_SHIFT
        out.append(Anomaly({**cpu, "instance": node}, "level_shift", at(h), self.now))
        node, h, m = _CPU_DROPOUT
        out.append(Anomaly({**cpu, "instance": node}, "dropout", at(h),
                           at(h) + pd.Timedelta(minutes=m)))
        billing = {"__name__": "process_resident_memory_bytes", "job": "billing",
                   "instance": "billing-1:8080"}
        out.append(Anomaly(billing, "deploy", at(_BILLING_DEPLOY_H),
                           at(_BILLING_DEPLOY_H) + pd.Timedelta(hours=2)))
        return sorted(out, key=lambda a: a.start)

    # ---- Source interface ----

    def query_range(self, expr: str, start: pd.Timestamp, end: pd.Timestamp,
                    step: pd.Timedelta) -> list[History]:
        node = parse_query(expr)
        grid = self._grid(_utc(pd.Timestamp(start)), _utc(pd.Timestamp(end)), pd.Timedelta(step))
        if not is_plain_selector(node):
            return self._evaluate(expr, node, grid)
        selector = node_selector(unwrap_parens(node))
        chosen = [(labels, gen, seed) for labels, gen, seed in self._series
                  if selector.matches(labels)]
        if not chosen or grid.size == 0:
            return []
        # the sample at or before each step, as with a 1m scrape interval and Prometheus's lookback
        clock = _Clock(np.floor_divide(grid, MINUTE_NS), self.anchor.value / 1e9)
        index = pd.DatetimeIndex(pd.to_datetime(grid, unit="ns", utc=True), name="timestamp")
        out = [
            History(dict(labels), pd.Series(gen(clock, seed).astype(np.float64), index=index))
            for labels, gen, seed in chosen
        ]
        return sorted(out, key=lambda h: h.legend)

    def label_names(self, match: str | None = None) -> list[str]:
        return sorted({name for labels in self._matching(match) for name in labels})

    def label_values(self, label: str, match: str | None = None) -> list[str]:
        return sorted({labels[label] for labels in self._matching(match) if label in labels})

    def series(self, match: str, *, start=None, end=None, limit: int | None = None) -> list[dict[str, str]]:
        return [dict(labels) for labels in self._matching(match)][:limit]

    # ---- helpers ----

    def _evaluate(self, expr: str, node, grid: np.ndarray) -> list[History]:
        """An expression beyond a plain selector, through :mod:`.demo_eval` (rate, sum by, ratios, ...)."""
        found = Evaluator(expr, grid, self._sample, self.history.total_seconds()).vector(node)
        index = pd.DatetimeIndex(pd.to_datetime(grid, unit="ns", utc=True), name="timestamp")
        out = []
        for labels, values in found:
            series = pd.Series(np.asarray(values, dtype=np.float64), index=index).dropna()
            if not series.empty:
                out.append(History(dict(labels), series))
        return sorted(out, key=lambda h: h.legend)

    def _sample(self, selector: Selector, minutes: np.ndarray) -> list[tuple[dict, np.ndarray]]:
        """The samples of every series ``selector`` matches at ``minutes`` (since the epoch); NaN outside
        the data (before ``now - history`` or after ``now``), which is not generated."""
        t_ns = minutes * MINUTE_NS
        inside = (t_ns >= (self.now - self.history).value) & (t_ns <= self.now.value)
        clock = _Clock(minutes[inside], self.anchor.value / 1e9)
        out = []
        for labels, gen, seed in self._series:
            if selector.matches(labels):
                values = np.full(minutes.shape, np.nan)
                values[inside] = gen(clock, seed).astype(np.float64)
                out.append((dict(labels), values))
        return out

    def _matching(self, match: str | None) -> list[Mapping[str, str]]:
        selector: Selector | None = None if match is None else parse_selector(match)
        return [labels for labels, _gen, _seed in self._series
                if selector is None or selector.matches(labels)]

    def _grid(self, start: pd.Timestamp, end: pd.Timestamp, step: pd.Timedelta) -> np.ndarray:
        """Step-aligned evaluation times (ns since epoch) in [start, end], clipped to the data."""
        step_ns = int(step.value)
        if step_ns <= 0:
            raise InputError(f"query step must be positive, got {step}")
        if end < start:
            raise InputError(f"query end {end} is before its start {start}")
        now = self.now
        lo_ns = max(start.value - start.value % step_ns, (now - self.history).value)
        hi_ns = min(end.value - end.value % step_ns, now.value)
        first = lo_ns + (-lo_ns) % step_ns  # first step multiple at or after lo_ns
        if first > hi_ns:
            return np.empty(0, dtype=np.int64)
        count = (hi_ns - first) // step_ns + 1
        if count > MAX_POINTS:
            raise InputError(
                f"query asks for {count} points per series (step {step}); use a step of at least "
                f"{pd.Timedelta((hi_ns - first) // MAX_POINTS + 1, unit='ns').ceil('s')}"
            )
        return first + step_ns * np.arange(count, dtype=np.int64)


def _utc(ts: pd.Timestamp) -> pd.Timestamp:
    """Naive timestamps are UTC; aware ones are converted; nanosecond resolution either way."""
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.as_unit("ns")


def _wall_clock() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC").as_unit("ns")
