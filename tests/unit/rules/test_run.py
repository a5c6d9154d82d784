"""``run_generate_rules`` end to end on the demo and CSV sources, and as a new user would misuse it."""

from __future__ import annotations

import inspect
import socket

import numpy as np
import pandas as pd
import pytest
import yaml

from promcast.errors import PromcastError, UpstreamError
from promcast.rules import run_generate_rules
from promcast.rules.fit import TargetError
from promcast.rules.spec import SpecError
from promcast.rules.validate import RuleValidationError

from .conftest import END, needs_promtool

SPEC = f"""
apiVersion: promcast/v1
kind: RuleSpec
metadata: {{name: demo}}
source: {{demo: true, end: "{END}", history: 7d, step: 10m}}
targets:
  - {{name: disks, kind: disk_exhaustion, expr: node_filesystem_avail_bytes, size_expr: node_filesystem_size_bytes}}
  - {{name: mem, kind: memory_leak, expr: process_resident_memory_bytes, limit: 2GiB}}
"""


def write_spec(tmp_path, text=SPEC, name="spec.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_signature_the_cli_calls():
    params = list(inspect.signature(run_generate_rules).parameters)
    assert params[:9] == ["spec_path", "output_dir", "format", "prometheus_url", "source", "check", "force",
                          "executor", "progress"]


@needs_promtool
def test_demo_end_to_end_with_check(tmp_path):
    summary = run_generate_rules(write_spec(tmp_path), tmp_path / "out", "both", check=True, progress=False)
    names = sorted(p.relative_to(tmp_path / "out").as_posix() for p in summary.files)
    assert names == ["demo.disks.rules.yaml", "demo.mem.rules.yaml", "demo.prometheusrule.yaml",
                     "tests/demo.disks.test.yaml", "tests/demo.mem.test.yaml"]
    assert summary.checked and summary.ok and summary.series == 6 and summary.groups == 2
    assert summary.rules == 22 and summary.bytes_written > 0
    assert summary.fitted["disks"]['node_filesystem_avail_bytes{device="/dev/nvme0n1p2",fstype="ext4",'
                                   'instance="node-1:9100",job="node",mountpoint="/"}']["days_to_full"] > 0
    assert any("wrote 5 files" in line for line in summary.lines())
    # a second run replaces promcast's own files without --force
    again = run_generate_rules(write_spec(tmp_path), tmp_path / "out", "both", progress=False)
    assert [p.read_text() for p in again.files] == [p.read_text() for p in summary.files]


def test_explicit_source_overrides_the_spec(tmp_path):
    from promcast.sources.demo import DemoSource

    spec = write_spec(tmp_path, SPEC.replace("demo: true, ", "prometheus_url: http://127.0.0.1:1, "))
    summary = run_generate_rules(spec, tmp_path / "out", source=DemoSource(now=END), progress=False)
    assert summary.series == 6


def nothing_written(out):
    return not out.exists() or not any(out.rglob("*"))


@pytest.mark.parametrize("mutate, error, needle", [
    (lambda s: s.replace("size_expr:", "size_exp:"), SpecError, "unknown field 'size_exp' (did you mean 'size_expr'?)"),
    (lambda s: s.replace("kind: memory_leak", "kind: memory"), SpecError, "unknown kind 'memory'"),
    (lambda s: s.replace("expr: process_resident_memory_bytes", "expr: 'process_resident_memory_bytes{'"),
     SpecError, "field 'expr': bad PromQL"),
    (lambda s: s.replace("expr: process_resident_memory_bytes", "expr: nonexistent_metric"),
     TargetError, "target 'mem': expr 'nonexistent_metric' matched no series"),
])
def test_bad_input_is_one_clear_error_and_nothing_is_written(tmp_path, mutate, error, needle):
    out = tmp_path / "out"
    with pytest.raises(error) as info:
        run_generate_rules(write_spec(tmp_path, mutate(SPEC)), out, progress=False)
    assert needle in str(info.value) and "\n" not in str(info.value)
    assert nothing_written(out)


def test_prometheus_down(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    spec = write_spec(tmp_path, SPEC.replace("demo: true, ", f"prometheus_url: 'http://127.0.0.1:{port}', "))
    from promcast.config import load_settings

    settings = load_settings(environ={"PROMCAST_PROMETHEUS_RETRIES": "0", "PROMCAST_PROMETHEUS_TIMEOUT": "2s"})
    with pytest.raises(UpstreamError) as info:
        run_generate_rules(spec, tmp_path / "out", progress=False, settings=settings)
    assert f"127.0.0.1:{port}" in str(info.value) and "target 'disks'" in str(info.value)
    assert nothing_written(tmp_path / "out")


def test_output_dir_is_a_file(tmp_path):
    (tmp_path / "out").write_text("not a dir")
    with pytest.raises(PromcastError, match="is a file; give a directory"):
        run_generate_rules(write_spec(tmp_path), tmp_path / "out", progress=False)


def test_no_source_at_all(tmp_path):
    spec = write_spec(tmp_path, SPEC.replace("demo: true, ", ""))
    with pytest.raises(PromcastError, match="no history source: set source.prometheus_url"):
        run_generate_rules(spec, tmp_path / "out", progress=False)


def test_unknown_format_and_executor(tmp_path):
    with pytest.raises(PromcastError, match="unknown format 'yaml'"):
        run_generate_rules(write_spec(tmp_path), tmp_path / "out", "yaml")
    with pytest.raises(PromcastError, match="unknown executor 'spark'"):
        run_generate_rules(write_spec(tmp_path), tmp_path / "out", executor="spark")


@needs_promtool
def test_failing_promtool_test_writes_nothing(tmp_path, monkeypatch):
    import promcast.rules.run as run_module

    real = run_module.render

    def weakened(groups, fmt):  # a test that expects what the rules do not do
        return {k: v.replace('severity: "critical"', 'severity: "page"') if k.endswith(".test.yaml") else v
                for k, v in real(groups, fmt).items()}

    monkeypatch.setattr(run_module, "render", weakened)
    with pytest.raises(RuleValidationError, match="promtool test rules failed, nothing written"):
        run_generate_rules(write_spec(tmp_path), tmp_path / "out", check=True, progress=False)
    assert nothing_written(tmp_path / "out")


def test_one_failing_series_is_reported_and_the_others_continue(tmp_path):
    index = pd.date_range("2024-05-01", "2024-05-04", freq="15min", tz="UTC")
    rows = ["timestamp,value,series"]
    for name, values in (('free{vol="a"}', np.linspace(400, 100, len(index))),
                         ('free{vol="b"}', np.full(len(index), 250.0))):
        rows += [f'{t.isoformat()},{v},"{name.replace(chr(34), chr(34) * 2)}"' for t, v in zip(index, values)]
    rows += [f'{t.isoformat()},{600.0},"free{{vol=""c""}}"' for t in index[:4]]  # bigger than the size, one hour
    (tmp_path / "data.csv").write_text("\n".join(rows) + "\n")
    spec = write_spec(tmp_path, f"""
apiVersion: promcast/v1
kind: RuleSpec
metadata: {{name: csv}}
source: {{csv: data.csv, history: 3d, step: 15m, end: "2024-05-04T00:00:00Z"}}
targets: [{{name: vols, kind: disk_exhaustion, expr: free, size: 500}}]
""")
    summary = run_generate_rules(spec, tmp_path / "out", progress=False)
    assert summary.series == 2 and not summary.ok
    assert [f.series for f in summary.failures] == ['free{vol="c"}']
    assert any("could not fit" in line and 'vol="c"' in line for line in summary.lines())
    rules = yaml.safe_load((tmp_path / "out" / "csv.vols.rules.yaml").read_text())
    assert rules["groups"][0]["name"] == "promcast.csv.vols"


def test_local_pool_and_dask_write_identical_rules(tmp_path, monkeypatch):
    """The same spec gives byte-identical rule files fitted in-process, on a local process pool and on a
    two-worker Dask LocalCluster reached through ``executor.scheduler`` (fits travel as plain data and come
    back in order)."""
    import promcast.rules.fitting as fit

    from distributed import LocalCluster

    from promcast.config import ExecutorSettings, Settings
    from promcast.executors import THREAD_ENV

    outputs = {}
    # the Dask leg runs on the scheduler the settings name (executor.scheduler), not a cluster of its own
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      env=dict(THREAD_ENV)) as cluster:
        settings = Settings(executor=ExecutorSettings("dask", cluster.scheduler_address))
        for name, executor, pool_min in (("inline", "local", 10**9), ("pool", "local", 1), ("dask", "dask", 1)):
            monkeypatch.setattr(fit, "LOCAL_POOL_MIN_JOBS", pool_min)
            summary = run_generate_rules(write_spec(tmp_path), tmp_path / name, "both", executor=executor,
                                         progress=False, settings=settings)
            assert summary.ok and summary.series == 6
            outputs[name] = {p.relative_to(tmp_path / name).as_posix(): p.read_bytes() for p in summary.files}
        assert "call_batch" in cluster.scheduler.task_prefixes  # the fits ran on this cluster
    assert outputs["inline"] == outputs["pool"] == outputs["dask"]