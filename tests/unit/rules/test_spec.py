"""RuleSpec validation: every error names the file, the target and the field, and says what is allowed."""

from __future__ import annotations

import pandas as pd
import pytest

from promcast.rules.spec import SpecError, load_spec, parse_spec

from .conftest import spec_from

DISK = {"name": "root_disk", "kind": "disk_exhaustion", "expr": 'node_filesystem_avail_bytes{mountpoint="/"}',
        "size_expr": 'node_filesystem_size_bytes{mountpoint="/"}'}


def error(targets=None, **top) -> str:
    with pytest.raises(SpecError) as info:
        spec_from(targets if targets is not None else [DISK], **top)
    return str(info.value)


def test_defaults_are_filled_in():
    spec = spec_from([DISK, {"name": "mem", "kind": "memory_leak", "expr": "process_resident_memory_bytes",
                             "limit": "2GiB"}], defaults={"for": "5m", "labels": {"team": "sre"}})
    disk, mem = spec.targets
    assert disk.param("warning_within") == pd.Timedelta(days=7)
    assert disk.param("critical_within") == pd.Timedelta(days=1)
    assert disk.for_ == pd.Timedelta("5min") and disk.labels == {"team": "sre"}
    assert mem.param("limit") == 2 * 2**30
    assert spec.source.end == pd.Timestamp("2024-05-06T12:00:00Z")


def test_typo_in_a_field_names_file_target_field_and_suggests():
    message = error([{**DISK, "warnign_within": "7d"}])
    assert message.startswith("spec.yaml: target 'root_disk': unknown field 'warnign_within'")
    assert "did you mean 'warning_within'" in message and "allowed:" in message and "critical_within" in message


def test_unknown_kind_lists_the_kinds():
    message = error([{**DISK, "kind": "disk_exhaust"}])
    assert "target 'root_disk': unknown kind 'disk_exhaust' (did you mean 'disk_exhaustion'?)" in message
    assert "anomaly_band, capacity, disk_exhaustion, memory_leak" in message


def test_bad_promql_names_the_field():
    message = error([{**DISK, "expr": 'node_filesystem_avail_bytes{mountpoint="/"'}])
    assert "target 'root_disk': field 'expr': bad PromQL" in message


def test_range_vector_and_offset_are_refused():
    assert "is a range vector" in error([{**DISK, "expr": "node_filesystem_avail_bytes[5m]"}])
    assert "offset or @ modifier" in error([{**DISK, "expr": "node_filesystem_avail_bytes offset 1h"}])


def test_bad_duration_and_number():
    assert "field 'warning_within': bad value 'soon': expected a Prometheus duration" in error(
        [{**DISK, "warning_within": "soon"}])
    message = error([{"name": "m", "kind": "memory_leak", "expr": "x", "limit": "two gigs"}])
    assert "field 'limit': bad value 'two gigs'" in message and "2GiB" in message
    assert "field 'headroom': bad value 1.5: expected a fraction from 0 up to (not including) 1" in error(
        [{"name": "c", "kind": "capacity", "expr": "x", "capacity": 10, "headroom": 1.5}])


def test_exactly_one_size():
    assert "exactly one of 'size_expr'" in error([{k: v for k, v in DISK.items() if k != "size_expr"}])
    assert "exactly one of 'size_expr'" in error([{**DISK, "size": "100GiB"}])


def test_names_and_structure():
    assert "must match [a-zA-Z_][a-zA-Z0-9_]*" in error([{**DISK, "name": "root-disk"}])
    assert "is used twice" in error([DISK, DISK])
    assert "missing required field 'expr'" in error([{k: v for k, v in DISK.items() if k != "expr"}])
    assert "targets must be a non-empty list" in error([])
    assert "field 'model': bad value 'prophett': unknown model; known models: " in error([{"name": "c", "kind": "capacity", "expr": "x", "capacity": 1,
                                                "model": "prophett"}])
    assert "label 'severity' is set by promcast" in error([{**DISK, "labels": {"severity": "page"}}])


def test_for_must_leave_room_before_critical():
    assert "must be less than half of 'critical_within'" in error([{**DISK, "for": "12h"}])


def test_top_level_errors():
    with pytest.raises(SpecError, match="apiVersion 'v2' is not supported"):
        parse_spec({"apiVersion": "v2", "kind": "RuleSpec", "metadata": {"name": "x"}, "targets": [DISK]})
    with pytest.raises(SpecError, match="metadata: field 'name': 'Bad_Name' must be a Kubernetes object name"):
        parse_spec({"apiVersion": "promcast/v1", "kind": "RuleSpec", "metadata": {"name": "Bad_Name"},
                    "targets": [DISK]})
    assert "source: give at most one of" in error(source={"demo": True, "prometheus_url": "http://x:9090"})
    assert "source: field 'prometheus_url'" in error(source={"prometheus_url": "localhost:9090"})


def test_load_spec_file_errors(tmp_path):
    with pytest.raises(SpecError, match="does not exist"):
        load_spec(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("targets: [\n")
    with pytest.raises(SpecError, match=r"bad.yaml: not valid YAML at line \d+"):
        load_spec(bad)
    with pytest.raises(SpecError, match="is a directory"):
        load_spec(tmp_path)


def test_csv_paths_are_relative_to_the_spec(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text("apiVersion: promcast/v1\nkind: RuleSpec\nmetadata: {name: x}\nsource: {csv: data.csv}\n"
                    "targets: [{name: a, kind: capacity, expr: load, capacity: 10}]\n")
    assert load_spec(path).source.csv == (tmp_path / "data.csv",)
