"""The presets as data: which metric families promcast knows, under which names, and what it predicts on them.

Each preset names the metrics it looks for and the RuleSpec targets it writes when they are there
(:mod:`.discover` does the looking). Nothing here talks to a source.
"""

from __future__ import annotations

from dataclasses import dataclass

#: filesystems that are not disks filling up: memory-backed, layered or read-only images, kernel mounts
SKIP_FSTYPES = ("tmpfs", "ramfs", "devtmpfs", "overlay", "squashfs", "nsfs", "autofs", "fuse.lxcfs", "iso9660")
#: series per family promcast lists at most (a bounded /api/v1/series answer)
SERIES_LIMIT = 10_000
#: capacity targets at most (one per service, the busiest first)
MAX_CAPACITY_SERVICES = 10
#: a capacity is this many times the busiest five minutes of the last day until the user sets the real one
CAPACITY_FACTOR = 2.0


@dataclass(frozen=True)
class RedFamily:
    """One naming of the HTTP server request-duration histogram (RED metrics)."""

    base: str  # the histogram's name; the series are base_bucket, base_count, base_sum
    origin: str  # who writes it under that name
    status_label: str  # the response-code label
    unit: str  # of the latency (seconds or milliseconds)


#: newest naming first: Beyla and the OpenTelemetry semantic conventions (1.23+) through the Prometheus exporter
#: or the collector, Beyla before 1.1, and OpenTelemetry's older ``http.server.duration`` in milliseconds
RED_FAMILIES = (
    RedFamily("http_server_request_duration_seconds", "Grafana Beyla / OpenTelemetry HTTP semantic conventions",
              "http_response_status_code", "s"),
    RedFamily("http_server_duration_seconds", "Grafana Beyla before 1.1", "http_status_code", "s"),
    RedFamily("http_server_duration_milliseconds", "OpenTelemetry HTTP semantic conventions before 1.23",
              "http_status_code", "ms"),
)
#: the label that names a service, in order of preference (Beyla sets service_name; OTel through the collector: job)
SERVICE_LABELS = ("service_name", "job")


@dataclass(frozen=True)
class Preset:
    """A preset: its name (the line ``promcast init`` prints), what it covers, and whether it is Kubernetes's
    (``--namespace`` restricts those)."""

    name: str
    title: str
    kubernetes: bool = False


NODE_FILESYSTEMS = Preset("node_filesystems", "node_exporter filesystems: days until full (disk_exhaustion)")
NODE_MEMORY = Preset("node_memory", "node_exporter memory: used memory against MemTotal (memory_leak)")
KUBERNETES_VOLUMES = Preset("kubernetes_volumes", "kubelet volume stats per PVC: days until full (disk_exhaustion)",
                            kubernetes=True)
CONTAINER_MEMORY = Preset("container_memory", "cAdvisor working set against the kube-state-metrics memory limit "
                          "(memory_leak per container)", kubernetes=True)
CONTAINER_RESTARTS = Preset("container_restarts", "kube-state-metrics restarts per container (anomaly_band)",
                            kubernetes=True)
HTTP_RED = Preset("http_red", "Beyla / OpenTelemetry HTTP server histograms: request rate, error ratio, p95 latency "
                  "(anomaly_band) and rate against capacity (capacity)")
GO_HEAP = Preset("go_heap", "Go heap in use against GOMEMLIMIT (memory_leak)")
JVM_HEAP = Preset("jvm_heap", "JVM heap used against its maximum (memory_leak)")
PROCESS_MEMORY = Preset("process_memory", "resident memory of processes in pods against the pod's memory limit "
                        "(memory_leak)", kubernetes=True)

PRESETS = (NODE_FILESYSTEMS, NODE_MEMORY, KUBERNETES_VOLUMES, CONTAINER_MEMORY, CONTAINER_RESTARTS, HTTP_RED,
           GO_HEAP, JVM_HEAP, PROCESS_MEMORY)

#: the shipped dashboards and the kinds of targets they show
DASHBOARDS = {
    "promcast-forecasts.json": ("anomaly_band",),
    "promcast-maintenance.json": ("disk_exhaustion", "memory_leak", "capacity"),
}


__all__ = ["CAPACITY_FACTOR", "DASHBOARDS", "MAX_CAPACITY_SERVICES", "PRESETS", "Preset", "RED_FAMILIES",
           "RedFamily", "SERIES_LIMIT", "SERVICE_LABELS", "SKIP_FSTYPES"]
