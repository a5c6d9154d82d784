"""`promcast generate-rules` from the command line: a demo run and the errors a new user meets."""

import pytest

from conftest import assert_one_line_error, run_cli

SPEC = """\
apiVersion: promcast/v1
kind: RuleSpec
metadata: {name: demo, namespace: monitoring}
source: {history: 3d, step: 15m}
targets:
  - {name: root_disk, kind: disk_exhaustion, expr: 'node_filesystem_avail_bytes{mountpoint="/"}',
     size_expr: 'node_filesystem_size_bytes{mountpoint="/"}', %s: 7d, critical_within: 1d}
"""


def test_generate_from_demo_writes_rules_and_prometheusrule(tmp_path):
    (tmp_path / "spec.yaml").write_text(SPEC % "warning_within")
    result = run_cli("generate-rules", "--spec", "spec.yaml", "--output", "out", "--source", "demo",
                     "--format", "both", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert "demo.root_disk.rules.yaml" in names and "demo.prometheusrule.yaml" in names
    text = (tmp_path / "out" / "demo.root_disk.rules.yaml").read_text()
    assert 'promcast_target: "root_disk"' in text and 'severity: "critical"' in text


def test_typo_in_field_is_named(tmp_path):
    (tmp_path / "spec.yaml").write_text(SPEC % "warnign_within")
    result = run_cli("generate-rules", "--spec", "spec.yaml", "--output", "out", "--source", "demo", cwd=tmp_path)
    assert_one_line_error(result, "warnign_within", "root_disk")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("make_output", ["file", "missing-spec"])
def test_bad_paths(tmp_path, make_output):
    (tmp_path / "spec.yaml").write_text(SPEC % "warning_within")
    if make_output == "file":
        (tmp_path / "out").write_text("not a dir")
        result = run_cli("generate-rules", "--spec", "spec.yaml", "--output", "out", "--source", "demo", cwd=tmp_path)
        assert_one_line_error(result, "is a file")
        assert (tmp_path / "out").read_text() == "not a dir"
    else:
        result = run_cli("generate-rules", "--spec", "nope.yaml", "--output", "out", "--source", "demo", cwd=tmp_path)
        assert_one_line_error(result, "nope.yaml")
