"""The one registry of prediction kinds: every entry point (predict, the service, the rules) reads it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from promcast.errors import InputError, UnknownNameError
from promcast.kinds.registry import KINDS, PREDICTABLE, RULE_KINDS, get_kind, rule_kind
from promcast.rules.kinds import kind_module
from promcast.rules.spec import KINDS as SPEC_KINDS
from promcast.service.targets import target_names


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
        assert set(kind.limits) <= kind.options
    with pytest.raises(UnknownNameError, match="choose one of disk, memory, capacity"):
        get_kind("anomaly")


def test_an_estimator_is_made_from_the_kind_and_refuses_unknown_options():
    assert type(get_kind("memory").make_predictor(limit=2**30)).__name__ == "MemoryLeakDetector"
    with pytest.raises(InputError, match="needs --capacity \\(the capacity\\)"):
        get_kind("disk").make_predictor()
    with pytest.raises(InputError, match="unknown option"):
        get_kind("capacity").make_predictor(capacity=1, limit=2)


def test_the_registry_loads_no_estimator_until_one_is_used():
    # the CLI builds its parser from the registry: importing it must not load pandas or the models
    code = ("import sys, promcast.kinds.registry; "
            "print(sorted(m for m in ('pandas', 'promcast.maintenance', 'promcast.models') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
