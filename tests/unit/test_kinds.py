"""The one registry of prediction kinds: every entry point (predict, the service, the rules) reads it."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

from promcast import cli
from promcast.errors import InputError, UnknownNameError
from promcast.kinds.params import CLI, EXPRESSION, RULES, SERVICE
from promcast.kinds.registry import CAPACITY, KINDS, PREDICTABLE, RULE_KINDS, get_kind, rule_kind
from promcast.rules.kinds import kind_module
from promcast.rules.spec import KINDS as SPEC_KINDS, SpecError, parse_spec
from promcast.service.request import Payload
from promcast.service.targets import get_target, target_names
from promcast.validation import HEADROOM


def test_every_kind_has_a_rule_module_and_a_grafana_target():
    assert SPEC_KINDS == RULE_KINDS == ("anomaly_band", "capacity", "disk_exhaustion", "memory_leak")
    served = set(target_names())
    for kind in KINDS.values():
        assert rule_kind(kind.rule_kind) is kind
        assert callable(kind_module(kind.rule_kind).build)
        assert kind.target in served


def test_predict_offers_the_kinds_with_rows():
    assert PREDICTABLE == ("disk", "memory", "capacity")
    for name in PREDICTABLE:
        kind = get_kind(name)
        assert kind.fields and kind.limit_option in kind.options
        assert kind.limit_param.option == kind.limit_option
        # what the CLI and the service pass on is an option of the estimator (expressions become series)
        assert {p.option for p in kind.params if p.read_by & {CLI, SERVICE} and p.type is not EXPRESSION
                and p.name != "model"} <= kind.options
    with pytest.raises(UnknownNameError, match="choose one of disk, memory, capacity"):
        get_kind("anomaly")


def test_an_estimator_is_made_from_the_kind_and_refuses_unknown_options():
    assert type(get_kind("memory").make_predictor(limit=2**30)).__name__ == "MemoryLeakDetector"
    with pytest.raises(InputError, match="needs --capacity \\(the disk size, or 100 for percent\\)"):
        get_kind("disk").make_predictor()
    with pytest.raises(InputError, match="unknown option"):
        get_kind("capacity").make_predictor(capacity=1, limit=2)


def test_the_registry_loads_no_estimator_until_one_is_used():
    # the CLI builds its parser from the registry: importing it must not load pandas or the models
    code = ("import sys, promcast.kinds.registry; "
            "print(sorted(m for m in ('pandas', 'promcast.maintenance', 'promcast.models') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def _predict_parser_flags() -> set[str]:
    parser = cli.build_parser()
    (sub,) = [a for a in parser._actions if a.dest == "command"]
    predict = sub.choices["predict"]
    (group,) = [g for g in predict._action_groups if g.title == "kind options"]
    return {flag for action in group._group_actions for flag in action.option_strings}


def test_every_parameter_is_read_by_the_front_ends_that_declare_it():
    # the CLI's kind flags, the targets' payload keys and the RuleSpec's per-kind fields all come from
    # the kinds' declared parameters
    assert _predict_parser_flags() == {p.flag for name in PREDICTABLE for p in KINDS[name].params_read_by(CLI)}
    for kind in KINDS.values():
        payload_keys = {f["name"] for f in get_target(kind.target).describe()["payloads"]}
        assert {p.name for p in kind.params_read_by(SERVICE)} <= payload_keys, kind.name
        rules = [p.name for p in kind.params_read_by(RULES)]
        minimal = {"name": "t", "kind": kind.rule_kind, "expr": "x",
                   **({kind.limit_param.name: 1} if kind.limit_param is not None else {})}
        spec = {"apiVersion": "promcast/v1", "kind": "RuleSpec", "metadata": {"name": "s"}, "targets": [minimal]}
        assert set(rules) <= set(parse_spec(spec).targets[0].params), kind.name
        with pytest.raises(SpecError, match="unknown field 'nope'.*allowed: .*" + ".*".join(sorted(rules))):
            parse_spec({**spec, "targets": [{**minimal, "nope": 1}]})


def test_a_parameter_s_default_is_its_estimator_s():
    # library callers of an estimator get what the flags, payload keys and RuleSpec fields default to
    for kind in (get_kind(name) for name in PREDICTABLE):
        signature = inspect.signature(kind.estimator)
        for param in kind.params:
            if param.option in signature.parameters and param.default is not None:
                assert param.read(signature.parameters[param.option].default, "default") == \
                    param.read(param.default, "default"), (kind.name, param.name)


def test_one_parameter_is_refused_with_the_same_words_under_each_front_end_s_name():
    expected = HEADROOM.describe()
    args = cli.build_parser().parse_args(["predict", "capacity", "--capacity", "10", "--headroom", "1"])
    with pytest.raises(InputError, match="bad --headroom '1'") as by_flag:
        cli._kind_options(args, CAPACITY)
    with pytest.raises(InputError, match="bad payload.headroom '1'") as by_payload:
        Payload({"headroom": "1"}).read(CAPACITY.param("headroom"))
    spec = {"apiVersion": "promcast/v1", "kind": "RuleSpec", "metadata": {"name": "s"},
            "targets": [{"name": "t", "kind": "capacity", "expr": "x", "capacity": 10, "headroom": "1"}]}
    with pytest.raises(SpecError, match="field 'headroom': bad value '1'") as by_field:
        parse_spec(spec)
    for raised in (by_flag, by_payload, by_field):
        assert str(raised.value).endswith(expected)


def test_a_flag_of_another_kind_is_refused():
    args = cli.build_parser().parse_args(["predict", "disk", "--capacity", "10", "--horizon", "3d"])
    with pytest.raises(InputError, match="--horizon applies to predict capacity only"):
        cli._kind_options(args, get_kind("disk"))
