"""``generate-rules`` against a real Prometheus, and the generated rules loaded into another one.

History (14 days at 1 minute, up to now): a filling filesystem and a stable twin, a log volume whose
daily peak before rotation fills (its mean would take two weeks) and a rotating twin with no net growth,
a leaking process and a healthy twin, a leaking process that deploys restart every 30 hours and a healthy
twin restarted every night, a seasonal queue and request counters. Rules are generated from the first
Prometheus with ``check`` (promtool check rules + the generated promtool tests), then a second
Prometheus is started over the same history with the generated rule files: every rule must evaluate
without error, and the filling disks and the leaks must alert (pending or firing) while their healthy
twins do not.
"""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request

import numpy as np
import pytest
import yaml

import prom_harness
from prom_harness import MetricSeries
from promcast.rules import run_generate_rules

pytestmark = pytest.mark.integration

GIB, MIB = 2.0**30, 2.0**20
DAYS = 14
#: phase of the daily cycle at ``end``: 0.28 of a day after the cycle's zero crossing, where the healthy
#: process's troughs have been rising for hours (what 06:40 UTC was when the phase followed the clock)
PHASE_AT_END = 0.28


def history(end: int) -> list[MetricSeries]:
    """The same deterministic history whatever ``end`` is: every value, the daily cycle's phase included,
    depends on time relative to ``end``, so the test sees the same data at every hour of the day."""
    t = end - 60 * np.arange(DAYS * 1440, -1, -1, dtype=np.int64)
    rel = (t - end) / 86400.0  # days, 0 = now
    rng = np.random.default_rng(11)
    day = np.sin(2 * np.pi * (rel + PHASE_AT_END))
    out = []
    size = 100 * GIB
    node = {"instance": "db-1:9100", "job": "node", "device": "/dev/sda1", "fstype": "ext4"}
    filling = size * (0.08 - 0.62 * rel / DAYS) + 0.002 * size * day + rng.normal(0, 0.0005 * size, len(t))
    stable = size * 0.6 + 0.03 * size * day + rng.normal(0, 0.0005 * size, len(t))
    # log volumes: logs grow all day, the nightly rotation removes a day's worth; the daily peak of /logs
    # reaches the size in about 4 days (its daily mean would take about 15)
    rotation = np.mod(rel + 0.4, 1.0)
    peak_fill = size * (0.70 + 0.012 * rel + 0.25 * rotation) + rng.normal(0, 0.0005 * size, len(t))
    rotating = size * (0.68 + 0.25 * rotation) + rng.normal(0, 0.0005 * size, len(t))
    for mountpoint, used in (("/logs", peak_fill), ("/var/log", rotating)):
        labels = {**node, "mountpoint": mountpoint}
        out.append(MetricSeries("node_filesystem_avail_bytes", labels, t, np.floor(size - used)))
        out.append(MetricSeries("node_filesystem_size_bytes", labels, t, np.full(len(t), size)))
        out.append(MetricSeries("node_filesystem_readonly", labels, t, np.zeros(len(t))))
    for mountpoint, free in (("/data", filling), ("/", stable)):
        labels = {**node, "mountpoint": mountpoint}
        out.append(MetricSeries("node_filesystem_avail_bytes", labels, t, np.floor(free)))
        out.append(MetricSeries("node_filesystem_size_bytes", labels, t, np.full(len(t), size)))
        out.append(MetricSeries("node_filesystem_readonly", labels, t, np.zeros(len(t))))
    saw = np.mod(t, 1200) / 1200.0  # a GC cycle every 20 minutes
    leak = 400 * MIB + 1400 * MIB * (rel + DAYS) / DAYS + 120 * MIB * saw + rng.normal(0, 2 * MIB, len(t))
    healthy = 700 * MIB + 100 * MIB * (day + 1) / 2 + 120 * MIB * saw + rng.normal(0, 2 * MIB, len(t))
    out.append(MetricSeries("process_resident_memory_bytes", {"job": "api", "instance": "api-1:8080"}, t, leak))
    out.append(MetricSeries("process_resident_memory_bytes", {"job": "web", "instance": "web-1:8080"}, t, healthy))
    # a leak that deploys cut short every 30 hours (the latest 20 hours ago): 20 MiB/h from a 500 MiB start
    run_h = np.mod(rel * 24.0 + 20.0, 30.0)
    warm = 1.0 - 0.3 * np.exp(-run_h / 1.0)
    restarting = 500 * MIB * warm + 20 * MIB * run_h + 120 * MIB * saw + rng.normal(0, 2 * MIB, len(t))
    # its healthy twin: restarted every night, the same warm-up to the same plateau each day
    night_h = np.mod(rel * 24.0 + 9.0, 24.0)
    nightly = 700 * MIB * (1.0 - 0.4 * np.exp(-night_h / 2.0)) + 120 * MIB * saw + rng.normal(0, 2 * MIB, len(t))
    out.append(MetricSeries("process_resident_memory_bytes", {"job": "worker", "instance": "worker-1:8080"}, t,
                            restarting))
    out.append(MetricSeries("process_resident_memory_bytes", {"job": "batch", "instance": "batch-1:8080"}, t,
                            nightly))
    out.append(MetricSeries("queue_depth", {"job": "worker"}, t, 100 + 30 * day + rng.normal(0, 2, len(t))))
    for job, base in (("api", 200.0), ("web", 50.0)):
        rate = base * (1 + 0.4 * day) * (1 + 0.01 * (rel + DAYS))
        out.append(MetricSeries("http_requests_total", {"job": job}, t, np.cumsum(rate * 60.0), "counter"))
    return out


SPEC = """
apiVersion: promcast/v1
kind: RuleSpec
metadata: {{name: live, namespace: monitoring}}
source: {{prometheus_url: "{url}", history: 14d, step: 5m}}
defaults: {{for: 10m, labels: {{team: sre}}}}
targets:
  - {{name: disks, kind: disk_exhaustion, expr: 'node_filesystem_avail_bytes{{job="node"}}',
     size_expr: 'node_filesystem_size_bytes{{job="node"}}', warning_within: 7d, critical_within: 1d}}
  - {{name: procs, kind: memory_leak, expr: process_resident_memory_bytes, limit: 2GiB}}
  - {{name: queue, kind: anomaly_band, expr: 'queue_depth{{job="worker"}}', sensitivity: 4}}
  - {{name: traffic, kind: capacity, expr: 'sum by (job) (rate(http_requests_total[5m]))', capacity: 1000,
     headroom: 0.2, horizon: 30d, model: holt_winters}}
"""


def get(url: str, path: str, **params) -> dict:
    query = f"?{urllib.parse.urlencode(params)}" if params else ""
    with urllib.request.urlopen(f"{url}{path}{query}", timeout=10) as response:
        body = json.load(response)
    assert body["status"] == "success", body
    return body["data"]


@pytest.fixture(scope="module")
def generated(prometheus_factory, tmp_path_factory):
    end = int(time.time()) // 60 * 60
    source = prometheus_factory(history(end), key="rules-history")
    root = tmp_path_factory.mktemp("rules")
    spec = root / "spec.yaml"
    spec.write_text(SPEC.format(url=source.url))
    summary = run_generate_rules(spec, root / "out", "both", check=True, progress=False)
    return summary, root / "out"


@pytest.fixture(scope="module")
def evaluated(generated, tmp_path_factory):
    """A second Prometheus over the history (extended to now) with the generated rule files."""
    summary, out = generated
    rule_files = sorted(str(p) for p in out.glob("*.rules.yaml"))
    workdir = tmp_path_factory.mktemp("prometheus-with-rules")
    server = prom_harness.serve_history(history(int(time.time()) // 60 * 60), workdir, rule_files=rule_files,
                                        evaluation_interval="2s")
    try:
        deadline = time.monotonic() + 90
        while True:
            groups = get(server.url, "/api/v1/rules")["groups"]
            rules = [r for g in groups for r in g["rules"]]
            if rules and all(r.get("lastEvaluation", "").startswith(("19", "20")) and r["health"] != "unknown"
                             for r in rules) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        time.sleep(3)  # a couple more evaluations: recording rules feed the alerts in the same group
        yield server, get(server.url, "/api/v1/rules")["groups"], get(server.url, "/api/v1/alerts")["alerts"]
    finally:
        server.stop()


def test_generation_with_check_succeeds(generated):
    summary, out = generated
    assert summary.checked and summary.ok, summary.lines()
    assert summary.groups == 4 and summary.series == 11
    assert (out / "live.prometheusrule.yaml").exists()
    assert len(list((out / "tests").glob("*.test.yaml"))) == 4
    # the learned disk guard and the leak bound are embedded, per series
    disks = yaml.safe_load((out / "live.disks.rules.yaml").read_text())["groups"][0]["rules"]
    assert any(r.get("record") == "promcast:disks:guard_ratio:warning" for r in disks)


def test_every_rule_is_healthy_in_prometheus(evaluated, generated):
    _, groups, _ = evaluated
    summary, _ = generated
    rules = [r for g in groups for r in g["rules"]]
    assert len(groups) == summary.groups and len(rules) == summary.rules
    unhealthy = [(r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"]
    assert unhealthy == []


def test_filling_disk_and_leak_alert_and_their_twins_do_not(evaluated):
    server, groups, alerts = evaluated

    def alerting(alertname, **labels):
        return [a for a in alerts if a["labels"]["alertname"] == alertname and a["state"] in ("pending", "firing")
                and all(a["labels"].get(k) == v for k, v in labels.items())]

    disk = alerting("PromcastDiskWillFill", promcast_target="disks", mountpoint="/data", severity="warning")
    assert len(disk) == 1 and disk[0]["labels"]["team"] == "sre"
    assert alerting("PromcastDiskWillFill", mountpoint="/") == []
    # the log volume fills at its daily peak before the rotation: warned, its rotating twin is not
    logs = alerting("PromcastDiskWillFill", promcast_target="disks", mountpoint="/logs", severity="warning")
    assert len(logs) == 1
    assert alerting("PromcastDiskWillFill", mountpoint="/var/log") == []
    leak = alerting("PromcastMemoryLeak", promcast_target="procs", job="api", severity="warning")
    assert len(leak) == 1
    assert alerting("PromcastMemoryLeak", job="web") == []
    # the leak that restarts cut short alerts from its current run; the nightly restarts do not
    assert len(alerting("PromcastMemoryLeak", promcast_target="procs", job="worker", severity="warning")) == 1
    assert alerting("PromcastMemoryLeak", job="batch") == []
    # the recorded numbers behind them
    to_full = get(server.url, "/api/v1/query", query='promcast:disks:seconds_to_full{mountpoint="/data"}')["result"]
    assert 0.5 * 86400 < float(to_full[0]["value"][1]) < 7 * 86400
    hours = get(server.url, "/api/v1/query", query='promcast:procs:hours_to_limit{job="api"}')["result"]
    assert 0 < float(hours[0]["value"][1]) < 72
    # the healthy twin, judged by the warning alert's own condition (not by hours_to_limit alone: in the
    # rising half of its daily cycle its troughs climb and a time to the limit is recorded, far away)
    (condition,) = [r["query"] for g in groups for r in g["rules"]
                    if r.get("name") == "PromcastMemoryLeak" and r["labels"].get("severity") == "warning"]
    holding = {r["metric"]["job"] for r in get(server.url, "/api/v1/query", query=condition)["result"]}
    assert holding == {"api", "worker"}
