"""Rendering: file layout per format, headers, YAML that reads back to the rule model whatever the labels."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from promcast.rules.fit import SeriesFit, TargetFit
from promcast.rules.generate import generate_rules
from promcast.rules.kinds.disk import DiskParams
from promcast.rules.render import HEADER_MARK, render
from promcast.rules.validate import RuleValidationError, check_round_trip

from .conftest import needs_promtool, promtool, spec_from

PARAMS = DiskParams("linear", pd.Timedelta("6h"), 0.0, 0.15, 0.1)
NASTY = 'a "quoted" \\ back\\slash: {{ not a template }}\nnew line # hash'


def groups(**extra):
    spec = spec_from([{"name": "fs", "kind": "disk_exhaustion", "expr": "node_filesystem_avail_bytes", "size": 100,
                       **extra}], metadata={"name": "edge", "namespace": "mon",
                                            "labels": {"app.kubernetes.io/part-of": "x", "on": "yes"}})
    labels = [{"mountpoint": "/", "instance": "n1"}, {"mountpoint": NASTY, "instance": "n1"}]
    params = [PARAMS, DiskParams("linear", pd.Timedelta("12h"), 0.0, 0.2, 0.1)]  # the odd one gets its own set
    fit = TargetFit(spec.targets[0], tuple(SeriesFit(l, p, shape={"size": 100, "free_ratio": .5})
                                           for l, p in zip(labels, params)))
    return generate_rules(spec, {"fs": fit})


def test_layout_per_format():
    g = groups()
    assert sorted(render(g, "prometheus")) == ["edge.fs.rules.yaml", "tests/edge.fs.test.yaml"]
    assert sorted(render(g, "prometheusrule")) == ["edge.prometheusrule.yaml", "tests/edge.fs.rules.yaml",
                                                    "tests/edge.fs.test.yaml"]
    both = render(g, "both")
    assert sorted(both) == ["edge.fs.rules.yaml", "edge.prometheusrule.yaml", "tests/edge.fs.test.yaml"]
    assert yaml.safe_load(both["tests/edge.fs.test.yaml"])["rule_files"] == ["../edge.fs.rules.yaml"]
    assert yaml.safe_load(render(g, "prometheusrule")["tests/edge.fs.test.yaml"])["rule_files"] == ["edge.fs.rules.yaml"]
    assert all(text.startswith(HEADER_MARK) for text in both.values())


def test_prometheusrule_object_carries_the_spec_metadata():
    obj = yaml.safe_load(render(groups(), "prometheusrule")["edge.prometheusrule.yaml"])
    assert obj["apiVersion"] == "monitoring.coreos.com/v1" and obj["kind"] == "PrometheusRule"
    assert obj["metadata"] == {"name": "edge", "namespace": "mon",
                               "labels": {"app.kubernetes.io/managed-by": "promcast",
                                          "app.kubernetes.io/part-of": "x", "on": "yes"}}
    plain = yaml.safe_load(render(groups(), "prometheus")["edge.fs.rules.yaml"])
    assert obj["spec"]["groups"] == plain["groups"]


def test_odd_label_values_and_annotations_survive_yaml():
    g = groups(annotations={"runbook_url": NASTY})
    files = render(g, "both")
    check_round_trip(g, files)  # raises when any file reads back differently
    rule = yaml.safe_load(files["edge.fs.rules.yaml"])["groups"][0]["rules"]
    assert any(NASTY in r.get("annotations", {}).get("runbook_url", "") for r in rule)
    assert any('mountpoint="a \\"quoted\\" \\\\ back' in r["expr"] for r in rule)


def test_round_trip_catches_a_broken_render():
    g = groups()
    files = render(g, "prometheus")
    files["edge.fs.rules.yaml"] = files["edge.fs.rules.yaml"].replace("0.15", "0.16")
    with pytest.raises(RuleValidationError, match="differs from the rule model"):
        check_round_trip(g, files)


@needs_promtool
def test_odd_labels_pass_promtool(tmp_path):
    run = promtool(tmp_path, render(groups(), "prometheus"))
    assert run.returncode == 0, run.stdout + run.stderr
