"""Benchmark ``generate-rules`` on many filesystems: time, number of rules, file size.

The filesystems come from the maintenance benchmark's labelled disk scenarios (linear, accelerating,
quiet-then-fill, rotation, stable with cycles, stable nearly full), 14 days at 5 minutes each, served
by an in-memory source (the part measured is promcast, not a Prometheus). The run takes the
steps of ``run_generate_rules`` (what the CLI calls), timed one by one: fit every series, generate,
render, parse every expression, ``promtool check rules`` and the generated ``promtool test rules``,
atomic write.

Baselines measured in the same run:

- *fetch only*: reading the histories from the source, the floor under any generator;
- *node-mixin*: the two fixed-constant alerts (``predict_linear(avail[6h], 24h) < 0`` and free < 15 %),
  which learn nothing and do not grow;
- *per-series rules*: what a generator that writes one rule set per series would produce (the same
  rules per set, one set per filesystem), to show how promcast's rule count grows instead.

Usage: ``.venv/bin/python benchmarks/rules.py [--filesystems 1000] [--no-check]``
Target: 1,000 filesystems within 5 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import _common  # noqa: F401 - puts backend/ and tests/ on sys.path
import numpy as np
import pandas as pd

from promcast.rules.fitting import fit_spec
from promcast.rules.generate import generate_rules
from promcast.rules.kinds.disk import KEYS as DISK_KEYS
from promcast.rules.render import render
from promcast.rules.spec import load_spec
from promcast.rules.validate import check_expressions, check_round_trip, check_with_promtool
from promcast.rules.write import write_files
from promcast.sources.base import History, Source
from promcast.promql_selector import parse_selector

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scenarios import DISK_FAMILIES, GIB, make_disk  # noqa: E402

END = pd.Timestamp("2024-06-01T00:00:00Z")
HISTORY = pd.Timedelta(days=14)
STEP = pd.Timedelta("5min")
NODE_MIXIN = """groups:
  - name: node-exporter
    rules:
      - alert: NodeFilesystemSpaceFillingUp
        expr: |-
          (node_filesystem_avail_bytes / node_filesystem_size_bytes * 100 < 15
          and predict_linear(node_filesystem_avail_bytes[6h], 24*60*60) < 0
          and node_filesystem_readonly == 0)
        for: 1h
        labels: {severity: warning}
        annotations: {summary: "Filesystem is predicted to run out of space within the next 24 hours."}
      - alert: NodeFilesystemSpaceFillingUp
        expr: |-
          (node_filesystem_avail_bytes / node_filesystem_size_bytes * 100 < 10
          and predict_linear(node_filesystem_avail_bytes[6h], 4*60*60) < 0
          and node_filesystem_readonly == 0)
        for: 1h
        labels: {severity: critical}
        annotations: {summary: "Filesystem is predicted to run out of space within the next 4 hours."}
"""


class MemorySource(Source):
    """Histories held in memory, answered for plain selectors (like the demo and CSV sources)."""

    description = "in-memory benchmark source"

    def __init__(self, histories: list[History]):
        self.histories = histories

    def query_range(self, expr, start, end, step):
        selector = parse_selector(expr)
        out = []
        for h in self.histories:
            if selector.matches(dict(h.labels)):
                values = h.values[(h.values.index >= start) & (h.values.index <= end)]
                out.append(History(h.labels, values))
        return sorted(out, key=lambda h: h.legend)

    def label_names(self, match=None):
        return sorted({k for h in self.histories for k in h.labels})

    def label_values(self, label, match=None):
        return sorted({h.labels[label] for h in self.histories if label in h.labels})

    def series(self, match):
        return [dict(h.labels) for h in self.histories if parse_selector(match).matches(dict(h.labels))]


def filesystems(count: int) -> list[History]:
    """``count`` filesystems (avail and size series) ending at END, families in turn."""
    index = pd.date_range(END - HISTORY, END, freq=STEP)
    out = []
    for i in range(count):
        scenario = make_disk(DISK_FAMILIES[i % len(DISK_FAMILIES)], 1000 + i)
        size = scenario.capacity if scenario.capacity > 100 else 100 * GIB
        used = scenario.series * (size / scenario.capacity)
        at = scenario.eval_times[0]  # filling disks: a week before full; stable ones: their first evaluation
        used = used[used.index <= at]
        used.index = used.index + (END - at)  # every history ends at END
        used = used.reindex(index, method="nearest", tolerance=STEP).ffill().bfill()
        labels = {"instance": f"node-{i // 10:03d}:9100", "job": "node", "mountpoint": f"/mnt/{i % 10}",
                  "device": f"/dev/sd{chr(97 + i % 10)}1", "fstype": "ext4"}
        avail = np.floor(np.clip(size - used.to_numpy(), 0, size))
        out.append(History({"__name__": "node_filesystem_avail_bytes", **labels}, pd.Series(avail, index=index)))
        out.append(History({"__name__": "node_filesystem_size_bytes", **labels}, pd.Series(float(size), index=index)))
    return out


SPEC = f"""apiVersion: promcast/v1
kind: RuleSpec
metadata: {{name: fleet, namespace: monitoring}}
source: {{history: 14d, step: 5m, end: "{END.isoformat()}"}}
defaults: {{for: 30m, labels: {{team: sre}}}}
targets:
  - {{name: filesystems, kind: disk_exhaustion, expr: 'node_filesystem_avail_bytes{{job="node"}}',
     size_expr: 'node_filesystem_size_bytes{{job="node"}}', warning_within: 7d, critical_within: 1d}}
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--filesystems", type=int, default=1000)
    parser.add_argument("--no-check", action="store_true", help="skip promtool check/test rules")
    args = parser.parse_args()
    check = not args.no_check and shutil.which("promtool") is not None

    started = time.perf_counter()
    histories = filesystems(args.filesystems)
    source = MemorySource(histories)
    print(f"{args.filesystems} filesystems, {len(histories)} series of {len(histories[0].values)} points "
          f"(made in {time.perf_counter() - started:.1f}s)")

    started = time.perf_counter()
    for expr in ('node_filesystem_avail_bytes{job="node"}', 'node_filesystem_size_bytes{job="node"}'):
        source.query_range(expr, END - HISTORY, END, STEP)
    fetch_s = time.perf_counter() - started

    with tempfile.TemporaryDirectory(prefix="promcast-bench-rules-") as tmp:
        spec_path = Path(tmp) / "spec.yaml"
        spec_path.write_text(SPEC)
        # the steps of run_generate_rules (what the CLI calls), timed one by one
        phases = {}
        started = time.perf_counter()
        spec = load_spec(spec_path)
        report = fit_spec(spec, source, progress=False)
        phases["fetch + fit"] = time.perf_counter() - started
        mark = time.perf_counter()
        groups = generate_rules(spec, report.fits)
        files = render(groups, "prometheus")
        check_round_trip(groups, files)
        check_expressions(groups)
        phases["generate + render + parse"] = time.perf_counter() - mark
        if check:
            mark = time.perf_counter()
            check_with_promtool(files)
            phases["promtool check + test"] = time.perf_counter() - mark
        mark = time.perf_counter()
        written, _ = write_files(Path(tmp) / "out", files, force=False, spec_name=spec.name)
        phases["atomic write"] = time.perf_counter() - mark
        total_s = time.perf_counter() - started
        sizes = {p.name: p.stat().st_size for p in written}
    rules = groups.groups[0].rules
    fitted = report.fits["filesystems"].series
    distinct = {name: len({key(s.params) for s in fitted}) for name, key in zip(
        ("trend window", "daily peak", "warning guard", "critical guard"), DISK_KEYS)}
    selectors = {r.record.split(":", 2)[2]: r.expr.count("\nor\n") + 1 for r in rules
                 if r.record and "\nor\n" in r.expr}
    rule_bytes = sum(v for k, v in sizes.items() if k.endswith(".rules.yaml"))
    test_bytes = sum(v for k, v in sizes.items() if k.endswith(".test.yaml"))
    rule_count = len(rules)
    naive_rules = rule_count * args.filesystems
    mixin_rules, mixin_bytes = 2, len(NODE_MIXIN.encode())
    print()
    _common.print_table(
        ["", "rules", "rule file bytes", "seconds"],
        [["promcast", rule_count, f"{rule_bytes:,}", f"{total_s:.1f}"],
         ["baseline: node-mixin (fixed constants)", mixin_rules, f"{mixin_bytes:,}", "0"],
         ["baseline: one rule set per series", f"{naive_rules:,}", "-", "-"],
         ["baseline: fetch only", "-", "-", f"{fetch_s:.2f}"]])
    print()
    print("phases: " + ", ".join(f"{k} {v:.1f}s" for k, v in phases.items()))
    print("distinct learned values (one rule term each): " + ", ".join(f"{k} {v}" for k, v in distinct.items()))
    print("label-matched selectors per rule: " + ", ".join(f"{k} {v}" for k, v in selectors.items()))
    print(f"promtool test file: {test_bytes:,} bytes; checked with promtool: {'yes' if check else 'no'}; "
          f"fit failures: {len(report.failures)}")
    print(f"rules vs per-series rules: {rule_count / naive_rules:.4f}x; "
          f"rules vs node-mixin: {rule_count / mixin_rules:.1f}x; "
          f"time vs fetch only: {total_s / max(fetch_s, 1e-9):.0f}x")
    print(f"target: {args.filesystems} filesystems within 300s -> {'PASS' if total_s <= 300 else 'FAIL'} "
          f"({total_s:.1f}s)")
    return 0 if total_s <= 300 else 1


if __name__ == "__main__":
    sys.exit(main())
