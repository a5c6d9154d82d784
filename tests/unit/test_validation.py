"""One range per user-given parameter: a RuleSpec, a panel payload, a flag and a predictor refuse the same
values (a RuleSpec used to accept sensitivity up to 20 that the exported band silently cut to 8)."""

from __future__ import annotations

import pytest

from conftest import assert_one_line_error, run_cli
from promcast.errors import InputError
from promcast.maintenance.capacity import CapacityPlanner
from promcast.rules.spec import SpecError, parse_spec
from promcast.validation import HEADROOM, SENSITIVITY

ANOMALY = {"name": "cpu", "kind": "anomaly_band", "expr": "node_cpu_utilisation", "model": "mad"}


def spec_from(targets: list[dict]):
    return parse_spec({"apiVersion": "promcast/v1", "kind": "RuleSpec", "metadata": {"name": "t"},
                       "source": {"demo": True, "end": "2024-05-06T12:00:00Z"}, "targets": targets})


@pytest.mark.parametrize("value, ok", [(8, True), (0.5, True), (8.01, False), (20, False), (0, False)])
def test_rulespec_sensitivity_uses_the_shared_limit(value, ok):
    if ok:
        assert spec_from([{**ANOMALY, "sensitivity": value}]).targets[0].param("sensitivity") == value
        assert SENSITIVITY.check(value) == value
        return
    with pytest.raises(SpecError, match="field 'sensitivity': bad value .*: expected a number of robust standard "
                                        "deviations above 0 and at most 8"):
        spec_from([{**ANOMALY, "sensitivity": value}])
    with pytest.raises(InputError, match="robust standard deviations above 0 and at most 8"):
        SENSITIVITY.check(value)


@pytest.mark.parametrize("value", [-0.1, 1, 1.5, "x", None, True])
def test_headroom_is_refused_the_same_way_by_the_planner_and_the_limit(value):
    with pytest.raises(InputError, match=r"bad headroom .*: expected a fraction from 0 up to \(not including\) 1"):
        CapacityPlanner(capacity=10, headroom=value).fit(None)
    with pytest.raises(InputError, match="expected a fraction from 0 up to"):
        HEADROOM.check(value)


def test_the_cli_flag_names_itself():
    result = run_cli("predict", "capacity", "--source", "demo", "--expr", "up", "--capacity", "10",
                     "--headroom", "1")
    assert_one_line_error(result, "--headroom", "fraction from 0 up to (not including) 1")
