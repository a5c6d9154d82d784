"""The rule model: what :func:`.generate.generate_rules` returns and the templates render.

Plain frozen dataclasses, no I/O. Ordering is part of the value: rules appear in the order they are
evaluated (a recording rule before the rules that read it), labels and annotations sorted by key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import pandas as pd


@dataclass(frozen=True)
class Rule:
    """A recording rule (``record``) or an alerting rule (``alert``)."""

    expr: str
    record: str | None = None
    alert: str | None = None
    for_: pd.Timedelta | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if (self.record is None) == (self.alert is None):
            raise ValueError("a rule is either a recording rule or an alerting rule")
        object.__setattr__(self, "labels", dict(sorted(self.labels.items())))
        object.__setattr__(self, "annotations", dict(sorted(self.annotations.items())))

    @property
    def name(self) -> str:
        return self.record or self.alert  # type: ignore[return-value]


@dataclass(frozen=True)
class InputSeries:
    """A promtool test input: ``series`` in text form, ``values`` in promtool's expanding notation."""

    series: str
    values: str


@dataclass(frozen=True)
class ExpectedAlert:
    labels: Mapping[str, str]
    annotations: Mapping[str, str]


@dataclass(frozen=True)
class AlertTest:
    eval_time: pd.Timedelta
    alertname: str
    alerts: tuple[ExpectedAlert, ...] = ()


@dataclass(frozen=True)
class ExprTest:
    eval_time: pd.Timedelta
    expr: str
    samples: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class TestCase:
    """One independent promtool test: its own input series and expectations."""

    __test__ = False  # not a pytest class

    name: str
    interval: pd.Timedelta
    input_series: tuple[InputSeries, ...]
    alert_tests: tuple[AlertTest, ...] = ()
    expr_tests: tuple[ExprTest, ...] = ()


@dataclass(frozen=True)
class TestFile:
    __test__ = False  # not a pytest class

    evaluation_interval: pd.Timedelta
    cases: tuple[TestCase, ...]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class RuleGroup:
    """The rules of one target, what was learned, and its promtool test."""

    name: str
    target: str
    kind: str
    rules: tuple[Rule, ...]
    interval: pd.Timedelta | None = None
    tests: TestFile | None = None
    #: one line per parameter set: what the rules embed (also in the alerts' ``learned`` annotation)
    learned: tuple[str, ...] = ()
    series: int = 0


@dataclass(frozen=True)
class RuleGroups:
    """Everything generated from one spec."""

    spec_name: str
    spec_file: str
    namespace: str | None
    object_labels: Mapping[str, str]
    object_annotations: Mapping[str, str]
    groups: tuple[RuleGroup, ...]

    @property
    def rule_count(self) -> int:
        return sum(len(g.rules) for g in self.groups)


__all__ = ["AlertTest", "ExpectedAlert", "ExprTest", "InputSeries", "Rule", "RuleGroup", "RuleGroups", "TestCase",
           "TestFile"]
