"""Find which preset metric families a source has, with bounded calls, and the targets they call for.

Every look is one ``/api/v1/series`` call for one family over the last ``lookback`` (a ``limit`` too, where
the server honours it, and never more than :data:`.catalogue.SERIES_LIMIT` label sets kept). Only the RED
preset reads values: one range query of the request rate per service over a day, to suggest a capacity.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping, Sequence

import pandas as pd

from ..promql import regex_escape
from ..promql_selector import Matcher, Selector
from ..sources.base import Source
from . import catalogue as cat
from .catalogue import Preset


@dataclass(frozen=True)
class Finding:
    """What one preset found: how many series, the targets it writes, or why it was skipped."""

    preset: Preset
    series: int = 0
    targets: tuple[dict, ...] = ()
    skipped: str | None = None
    notes: tuple[str, ...] = ()

    def line(self) -> str:
        if self.skipped:
            return f"{self.preset.name}: skipped: {self.skipped}"
        more = f" ({'; '.join(self.notes)})" if self.notes else ""
        return f"{self.preset.name}: found {self.series} series{more}"


@dataclass
class Probe:
    """Bounded looks at one source: label sets of the series that had samples in ``[end - lookback, end]``."""

    source: Source
    end: pd.Timestamp
    lookback: pd.Timedelta = pd.Timedelta("1h")
    namespace: str | None = None
    truncated: set = field(default_factory=set)

    def series(self, metric: str, matchers: Sequence[Matcher] = (), *,
               kubernetes: bool = False) -> list[dict[str, str]]:
        match = self.selector(metric, matchers, kubernetes=kubernetes)
        # one more than kept: exactly SERIES_LIMIT series is a complete listing, more is a cut one
        found = self.source.series(match, start=self.end - self.lookback, end=self.end, limit=cat.SERIES_LIMIT + 1)
        if len(found) > cat.SERIES_LIMIT:
            self.truncated.add(metric)
        return found[:cat.SERIES_LIMIT]

    def valued(self, expr: str) -> list[dict[str, str]]:
        """Label sets of the series of ``expr`` with a value in ``[end - lookback, end]`` (one range query)."""
        step = max(self.lookback / 12, pd.Timedelta("1m"))
        return [dict(h.labels) for h in self.source.query_range(expr, self.end - self.lookback, self.end, step)
                if not h.values.dropna().empty]

    def selector(self, metric: str, matchers: Sequence[Matcher] = (), *, kubernetes: bool = False) -> str:
        """``metric{matchers}``, with ``namespace="NS"`` for Kubernetes families when ``--namespace`` is given."""
        extra = [Matcher("namespace", "=", self.namespace)] if kubernetes and self.namespace else []
        return Selector(metric, tuple(matchers) + tuple(extra)).text()


def _key(labels: Mapping[str, str], names: Iterable[str] | None = None, drop: Iterable[str] = ()) -> tuple:
    """The labels that identify a series across metrics: ``names`` only, or all but ``__name__`` and ``drop``."""
    if names is not None:
        return tuple(labels.get(n, "") for n in names)
    skip = {"__name__", *drop}
    return tuple(sorted((k, v) for k, v in labels.items() if k not in skip))


def _pair(primary: list[dict], secondary: list[dict], names: Sequence[str] | None = None,
          drop: Iterable[str] = ()) -> int:
    """How many distinct ``primary`` keys also appear among ``secondary``'s."""
    other = {_key(s, names, drop) for s in secondary}
    return len({_key(p, names, drop) for p in primary} & other)


def _count(series: list[dict], names: Sequence[str] | None = None, drop: Iterable[str] = ()) -> int:
    return len({_key(s, names, drop) for s in series})


# ------------------------------------------------------------------------------------------ presets
def node_filesystems(probe: Probe) -> Finding:
    preset = cat.NODE_FILESYSTEMS
    disks = [Matcher("fstype", "!~", "|".join(regex_escape(t) for t in cat.SKIP_FSTYPES))]
    avail = probe.series("node_filesystem_avail_bytes", disks)
    if not avail:
        every = probe.series("node_filesystem_avail_bytes")
        if not every:
            return Finding(preset, skipped="no node_filesystem_avail_bytes series (is node_exporter scraped?)")
        kinds = ", ".join(sorted({s.get("fstype", "?") for s in every}))
        return Finding(preset, skipped=f"only {len(every)} {kinds} filesystems, which are not disks that fill up")
    size = probe.series("node_filesystem_size_bytes", disks)
    found = _pair(avail, size)
    if not found:
        return Finding(preset, skipped="node_filesystem_avail_bytes has no matching node_filesystem_size_bytes")
    target = {"name": "filesystems", "kind": "disk_exhaustion", "expr": probe.selector("node_filesystem_avail_bytes", disks),
              "size_expr": probe.selector("node_filesystem_size_bytes", disks)}
    notes = []
    if not probe.series("node_filesystem_readonly"):
        target["readonly_expr"] = False
        notes.append("no node_filesystem_readonly: read-only filesystems are not told apart")
    return Finding(preset, found, (target,), notes=tuple(notes))


def _against_limit(probe: Probe, preset: Preset, usage: str, limit: str, matchers, target: dict, *, absent: str,
                   unmatched: Callable[[list], str], drop: Iterable[str] = ()) -> Finding:
    """A usage family measured against a limit family with the same labels (``drop`` aside): found when both
    are there for at least one series, else skipped with ``absent`` or ``unmatched(usage series)``."""
    used = probe.series(usage, matchers)
    if not used:
        return Finding(preset, skipped=absent)
    found = _pair(used, probe.series(limit, matchers), drop=drop)
    if not found:
        return Finding(preset, skipped=unmatched(used))
    return Finding(preset, found, (target,))


def node_memory(probe: Probe) -> Finding:
    return _against_limit(
        probe, cat.NODE_MEMORY, "node_memory_MemAvailable_bytes", "node_memory_MemTotal_bytes", (),
        {"name": "node_memory", "kind": "memory_leak",
         "expr": "node_memory_MemTotal_bytes - node_memory_MemAvailable_bytes",
         "limit_expr": "node_memory_MemTotal_bytes"},
        absent="no node_memory_MemAvailable_bytes series (is node_exporter scraped?)",
        unmatched=lambda _: "node_memory_MemAvailable_bytes has no matching node_memory_MemTotal_bytes")


def kubernetes_volumes(probe: Probe) -> Finding:
    preset = cat.KUBERNETES_VOLUMES
    pvc = ("namespace", "persistentvolumeclaim")
    avail = probe.series("kubelet_volume_stats_available_bytes", kubernetes=True)
    if not avail:
        return Finding(preset, skipped=_none("kubelet_volume_stats_available_bytes", probe, "the kubelet"))
    found = _pair(avail, probe.series("kubelet_volume_stats_capacity_bytes", kubernetes=True), pvc)
    if not found:
        return Finding(preset, skipped="kubelet_volume_stats_available_bytes has no matching "
                                       "kubelet_volume_stats_capacity_bytes")
    return Finding(preset, found, ({
        "name": "pvc_volumes", "kind": "disk_exhaustion",
        "expr": probe.selector("kubelet_volume_stats_available_bytes", kubernetes=True),
        "size_expr": probe.selector("kubelet_volume_stats_capacity_bytes", kubernetes=True)},))


_CONTAINER = ("namespace", "pod", "container")
_REAL_CONTAINERS = (Matcher("container", "!=", ""), Matcher("container", "!=", "POD"))
_MEMORY_LIMIT = (Matcher("resource", "=", "memory"),)


def container_memory(probe: Probe) -> Finding:
    preset = cat.CONTAINER_MEMORY
    usage = probe.series("container_memory_working_set_bytes", _REAL_CONTAINERS, kubernetes=True)
    if not usage:
        return Finding(preset, skipped=_none("container_memory_working_set_bytes", probe, "cAdvisor (the kubelet)"))
    limits = probe.series("kube_pod_container_resource_limits", _MEMORY_LIMIT, kubernetes=True)
    if not limits:
        return Finding(preset, skipped=_none('kube_pod_container_resource_limits{resource="memory"}', probe,
                                             "kube-state-metrics"))
    found = _pair(usage, limits, _CONTAINER)
    if not found:
        return Finding(preset, skipped=f"none of {_count(usage, _CONTAINER)} containers has a memory limit")
    notes = []
    unlimited = _count(usage, _CONTAINER) - found
    if unlimited:
        notes.append(f"{unlimited} containers without a memory limit are left out")
    by = ", ".join(_CONTAINER)
    return Finding(preset, found, ({
        "name": "container_memory", "kind": "memory_leak",
        # cAdvisor and kube-state-metrics label their series differently: both sides keep only the container
        "expr": f"max by ({by}) ({probe.selector('container_memory_working_set_bytes', _REAL_CONTAINERS, kubernetes=True)})",
        "limit_expr": f"max by ({by}) ({probe.selector('kube_pod_container_resource_limits', _MEMORY_LIMIT, kubernetes=True)})",
    },), notes=tuple(notes))


def container_restarts(probe: Probe) -> Finding:
    preset = cat.CONTAINER_RESTARTS
    restarts = probe.series("kube_pod_container_status_restarts_total", kubernetes=True)
    if not restarts:
        return Finding(preset, skipped=_none("kube_pod_container_status_restarts_total", probe, "kube-state-metrics"))
    selector = probe.selector("kube_pod_container_status_restarts_total", kubernetes=True)
    return Finding(preset, _count(restarts, _CONTAINER), ({
        "name": "container_restarts", "kind": "anomaly_band", "sensitivity": 4,
        "expr": f"sum by (namespace, pod, container) (increase({selector}[1h]))"},))


def http_red(probe: Probe) -> Finding:
    preset = cat.HTTP_RED
    for family in cat.RED_FAMILIES:
        counts = probe.series(f"{family.base}_count")
        if counts:
            break
    else:
        names = ", ".join(f"{f.base}_count" for f in cat.RED_FAMILIES)
        return Finding(preset, skipped=f"none of {names} (is Grafana Beyla or an OpenTelemetry HTTP server scraped?)")
    present = {k for s in counts for k in s}
    service = next((name for name in cat.SERVICE_LABELS if name in present), None)
    if service is None:
        return Finding(preset, skipped=f"{family.base}_count has none of the labels {', '.join(cat.SERVICE_LABELS)} "
                                       "to tell services apart")
    services = sorted({s[service] for s in counts if s.get(service)})
    rate = f"sum by ({service}) (rate({family.base}_count[5m]))"
    targets = [{"name": "http_request_rate", "kind": "anomaly_band", "expr": rate}]
    notes = [f"{len(services)} services by {service}, {family.origin}"]
    if family.status_label in present:
        errors = Selector(f"{family.base}_count", (Matcher(family.status_label, "=~", "5.."),)).text()
        targets.append({"name": "http_error_ratio", "kind": "anomaly_band",
                        "expr": f"sum by ({service}) (rate({errors}[5m])) / {rate}"})
    else:
        notes.append(f"no {family.status_label} label: no error ratio")
    targets.append({"name": "http_latency_p95", "kind": "anomaly_band",
                    "expr": f"histogram_quantile(0.95, sum by ({service}, le) (rate({family.base}_bucket[5m])))"})
    peaks = _peaks(probe, rate, service)
    busiest = sorted(peaks, key=lambda name: (-peaks[name], name))[:cat.MAX_CAPACITY_SERVICES]
    names: set[str] = set()
    for name in sorted(busiest):
        target_name = _target_name("http_capacity", name, names)
        one = Selector(f"{family.base}_count", (Matcher(service, "=", name),)).text()
        targets.append({"name": target_name, "kind": "capacity", "model": "seasonal_naive",
                        "expr": f"sum by ({service}) (rate({one}[5m]))",
                        "capacity": nice_ceiling(cat.CAPACITY_FACTOR * peaks[name]),
                        "annotations": {"capacity_note": f"{cat.CAPACITY_FACTOR:g}x the busiest 5 minutes of the day "
                                                         "before promcast init; set the load tested capacity"}})
    if len(peaks) > len(busiest):
        notes.append(f"capacity for the {len(busiest)} busiest services only")
    return Finding(preset, len(counts), tuple(targets), notes=tuple(notes))


#: client_golang 1.20+ exports math.MaxInt64 (about 9.22e18) as the limit of a process without GOMEMLIMIT
GO_LIMIT_SET = "go_gc_gomemlimit_bytes < 9e18"


def go_heap(probe: Probe) -> Finding:
    preset = cat.GO_HEAP
    heap = probe.series("go_memstats_heap_inuse_bytes")
    if not heap:
        return Finding(preset, skipped="no go_memstats_heap_inuse_bytes series (no Go process with client_golang)")
    processes = _count(heap)
    if not probe.series("go_gc_gomemlimit_bytes"):
        return Finding(preset, skipped=f"{processes} Go processes but none exports go_gc_gomemlimit_bytes (GOMEMLIMIT; "
                                       "client_golang 1.17+ on Go 1.21+), the limit to measure against")
    found = _pair(heap, probe.valued(GO_LIMIT_SET))
    if not found:
        return Finding(preset, skipped=f"{processes} Go processes but none runs with GOMEMLIMIT set "
                                       "(go_gc_gomemlimit_bytes is math.MaxInt64 without it), the limit to measure "
                                       "against")
    notes = (f"{processes - found} Go processes without GOMEMLIMIT left out",) if processes > found else ()
    # the processes left out are left out of expr too (x + 0 * limit keeps only heaps that have a limit),
    # so generate-rules does not warn about heaps without a limit series
    expr = "go_memstats_heap_inuse_bytes" + (f" + 0 * ({GO_LIMIT_SET})" if processes > found else "")
    return Finding(preset, found, ({"name": "go_heap", "kind": "memory_leak", "expr": expr,
                                    "limit_expr": GO_LIMIT_SET},), notes=notes)


def jvm_heap(probe: Probe) -> Finding:
    heap = (Matcher("area", "=", "heap"),)
    return _against_limit(
        probe, cat.JVM_HEAP, "jvm_memory_used_bytes", "jvm_memory_max_bytes", heap,
        {"name": "jvm_heap", "kind": "memory_leak",
         "expr": f"sum without (id) ({Selector('jvm_memory_used_bytes', heap).text()})",
         "limit_expr": f"sum without (id) ({Selector('jvm_memory_max_bytes', heap).text()})"},
        absent='no jvm_memory_used_bytes{area="heap"} series (no JVM with Micrometer or the Prometheus Java client)',
        unmatched=lambda _: "jvm_memory_used_bytes has no matching jvm_memory_max_bytes", drop=("id",))


def process_memory(probe: Probe) -> Finding:
    preset = cat.PROCESS_MEMORY
    in_pods = (Matcher("namespace", "!=", ""), Matcher("pod", "!=", ""))
    rss = probe.series("process_resident_memory_bytes", in_pods, kubernetes=True)
    if not rss:
        others = probe.series("process_resident_memory_bytes")
        if others:
            return Finding(preset, skipped=f"{_count(others)} processes but none with namespace and pod labels, so no "
                                           "memory limit is known (write a memory_leak target with limit: for them)")
        return Finding(preset, skipped=_none("process_resident_memory_bytes", probe, "the applications' clients"))
    pod = ("namespace", "pod")
    found = _pair(rss, probe.series("kube_pod_container_resource_limits", _MEMORY_LIMIT, kubernetes=True), pod)
    if not found:
        return Finding(preset, skipped="no pod of these processes has a memory limit (kube-state-metrics)")
    return Finding(preset, found, ({
        "name": "process_memory", "kind": "memory_leak",
        "expr": f"max by (namespace, pod) ({probe.selector('process_resident_memory_bytes', in_pods, kubernetes=True)})",
        "limit_expr": "sum by (namespace, pod) "
                      f"({probe.selector('kube_pod_container_resource_limits', _MEMORY_LIMIT, kubernetes=True)})"},))


DISCOVERERS: dict[str, Callable[[Probe], Finding]] = {
    cat.NODE_FILESYSTEMS.name: node_filesystems, cat.NODE_MEMORY.name: node_memory,
    cat.KUBERNETES_VOLUMES.name: kubernetes_volumes, cat.CONTAINER_MEMORY.name: container_memory,
    cat.CONTAINER_RESTARTS.name: container_restarts, cat.HTTP_RED.name: http_red, cat.GO_HEAP.name: go_heap,
    cat.JVM_HEAP.name: jvm_heap, cat.PROCESS_MEMORY.name: process_memory,
}


def discover(probe: Probe) -> list[Finding]:
    """Every preset's finding, in catalogue order; a family listing cut at the limit is noted."""
    out = []
    for preset in cat.PRESETS:
        finding = DISCOVERERS[preset.name](probe)
        cut = sorted(probe.truncated)
        if cut and not finding.skipped:
            finding = Finding(finding.preset, finding.series, finding.targets,
                              notes=finding.notes + (f"listing stopped at {cat.SERIES_LIMIT} series",))
        probe.truncated.clear()
        out.append(finding)
    return out


# ------------------------------------------------------------------------------------------ helpers
def _none(metric: str, probe: Probe, exporter: str) -> str:
    where = f" in namespace {probe.namespace}" if probe.namespace else ""
    return f"no {metric} series{where} (is {exporter} scraped?)"


def _peaks(probe: Probe, expr: str, service: str) -> dict[str, float]:
    """The busiest five minutes of the last day per service (one range query)."""
    start = probe.end - pd.Timedelta("1d")
    peaks = {}
    for history in probe.source.query_range(expr, start, probe.end, pd.Timedelta("5m")):
        name = history.labels.get(service)
        values = history.values.dropna()
        if name and not values.empty and float(values.max()) > 0:
            peaks[name] = float(values.max())
    return peaks


def nice_ceiling(value: float) -> float | int:
    """``value`` rounded up to two significant digits (a capacity people would write: 240, 1.3, 5600)."""
    if value <= 0:
        return 1.0
    scale = 10 ** (math.floor(math.log10(value)) - 1)
    rounded = float(f"{math.ceil(value / scale - 1e-9) * scale:.6g}")
    return int(rounded) if rounded == int(rounded) else rounded


def _target_name(prefix: str, value: str, taken: set[str]) -> str:
    """``prefix_<value>`` as a target name ([a-zA-Z0-9_]), unique among ``taken``."""
    base = f"{prefix}_{re.sub(r'[^a-zA-Z0-9_]+', '_', value).strip('_').lower() or 'service'}"
    name, n = base, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    taken.add(name)
    return name


__all__ = ["DISCOVERERS", "Finding", "Probe", "discover", "nice_ceiling"]
