"""Names, labels, annotations and test timing shared by every kind's rules."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Hashable, Mapping, Sequence

import pandas as pd

from ..fit import SeriesFit, TargetFit
from ..model import ExpectedAlert, Rule, RuleGroup, TestFile
from ..promql import Input, join_or, key_labels, num
from ..sets import ParamSet, partition
from ..spec import Target
from ..testgen import expand_labels, expandable, series_text

#: most parameter sets listed in an alert's ``learned`` annotation
MAX_LISTED_SETS = 6


def record(target: Target, suffix: str) -> str:
    return f"promcast:{target.name}:{suffix}"


def record_labels(target: Target) -> dict[str, str]:
    return {"promcast_target": target.name}


def recorded(target: Target, suffix: str, series_labels: Mapping[str, str]) -> str:
    """The series ``record(target, suffix)`` holds for a series with ``series_labels``, as a promtool
    expression test names it: ``__name__`` dropped, ``promcast_target`` added."""
    labels = {**{k: v for k, v in series_labels.items() if k != "__name__"}, **record_labels(target)}
    return series_text(record(target, suffix), labels)


def alert_labels(target: Target, severity: str) -> dict[str, str]:
    """Every alert says which target and which kind of prediction it comes from (``promcast remediate`` and
    Alertmanager routes read them); the object labels (namespace, persistentvolumeclaim, pod, ...) come
    with the metric's series."""
    return {**target.labels, "promcast_target": target.name, "promcast_kind": target.kind, "severity": severity}


def pct(fraction: float) -> str:
    """``0.075`` -> ``7.5%``."""
    return f"{fraction * 100:.4g}%"


def human(td: pd.Timedelta) -> str:
    from ..promql import dur

    return dur(td)


@dataclass(frozen=True)
class Plan:
    """A target's fitted series and the labels that tell them apart.

    Every rule partitions the series by the parameters *it* embeds (a window, a threshold): a rule has
    one term per distinct value, not per series, and rules that embed different parameters do not
    multiply each other's terms.
    """

    target: Target
    fit: TargetFit
    keys: tuple[str, ...]

    @classmethod
    def of(cls, fit: TargetFit) -> "Plan":
        return cls(fit.target, fit, tuple(key_labels(fit.label_sets)))

    def sets(self, key: Callable[[object], Hashable]) -> list[ParamSet]:
        """The series partitioned by ``key(params)``; the largest set last, as the default."""
        return partition([(s.labels, key(s.params)) for s in self.fit.series])

    def terms(self, inp: Input, key: Callable[[object], Hashable], build: Callable[[Hashable], Callable]) -> str:
        """One term per distinct ``key(params)``: ``build(value)`` applied to ``inp`` for its series."""
        return join_or([inp.term(build(ps.params), ps.restrict, self.keys) for ps in self.sets(key)])

    def param_series(self, base_record: str, key: Callable[[object], float]) -> str:
        """A recorded series per series holding a learned number: ``0 * base{members} + value``."""
        step = pd.Timedelta(self.target.step)
        terms = []
        for ps in self.sets(key):
            sel = Input(base_record, step).term(lambda s: s.instant(), ps.restrict, self.keys)
            sel = f"({sel})" if "\nor\n" in sel else sel
            terms.append(f"0 * {sel} + {num(ps.params)}")
        return join_or(terms)

    def representatives(self, keys: Sequence[Callable[[object], Hashable]]) -> list[SeriesFit]:
        """Few series that between them reach every term of every rule (greedy set cover), for the tests."""
        series = sorted(self.fit.series, key=lambda s: s.legend)
        need = {(i, key(s.params)) for s in series for i, key in enumerate(keys)}
        chosen: list[SeriesFit] = []
        while need:
            best = max(series, key=lambda s: len({(i, k(s.params)) for i, k in enumerate(keys)} & need))
            chosen.append(best)
            need -= {(i, k(best.params)) for i, k in enumerate(keys)}
        return sorted(chosen, key=lambda s: s.legend)

    def label_part(self) -> str:
        """``instance={{ $labels.instance }} mountpoint={{ $labels.mountpoint }}`` for annotations."""
        names = list(self.keys)
        if not names:
            first = self.fit.series[0].labels
            names = sorted(k for k in first if k != "__name__")
        return " ".join(f"{n}={{{{ $labels.{n} }}}}" for n in names)

    def learned(self, fields: Sequence[tuple[str, Callable[[object], str]]]) -> tuple[str, ...]:
        """One line per learned parameter: its values and how many series have each."""
        total = len(self.fit.series)
        lines = []
        for title, describe in fields:
            counts = Counter(describe(s.params) for s in self.fit.series)
            if len(counts) == 1:
                value = next(iter(counts))
                lines.append(f"{title}: {value}" + (f" (all {total} series)" if total > 1 else ""))
                continue
            ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
            shown = ", ".join(f"{v} ({n})" for v, n in ranked[:MAX_LISTED_SETS])
            more = f", {len(ranked) - MAX_LISTED_SETS} more values" if len(ranked) > MAX_LISTED_SETS else ""
            lines.append(f"{title}: {shown}{more}")
        return tuple(lines)


def _clean_key(labels: Mapping[str, str]) -> tuple:
    return tuple(sorted((k, v) for k, v in labels.items() if k != "__name__"))


def learned_annotation(lines: Sequence[str]) -> str:
    return "; ".join(lines)


def annotations(target: Target, summary: str, description: str, learned: Sequence[str],
                extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Summary, description and what was learned; the spec's own annotations win on a clash."""
    out = {"summary": summary, "description": description, "learned": learned_annotation(learned)}
    out.update(extra or {})
    out.update(target.annotations)
    return out


def alert(target: Target, name: str, severity: str, expr: str, summary: str, description: str,
          learned: Sequence[str], extra: Mapping[str, str] | None = None, *, for_: pd.Timedelta | None = None) -> Rule:
    """An alert of ``target`` at ``severity``: the target's ``for`` unless ``for_`` says otherwise, the kind's
    labels (:func:`alert_labels`) and the summary, description and learned annotations."""
    return Rule(alert=name, for_=target.for_ if for_ is None else for_, expr=expr,
                labels=alert_labels(target, severity),
                annotations=annotations(target, summary, description, learned, extra))


def escalation(target: Target) -> tuple[tuple[str, pd.Timedelta], ...]:
    """``(severity, within)`` of the warning then the critical alert of a kind that predicts a time left."""
    return (("warning", target.param("warning_within")), ("critical", target.param("critical_within")))


def rule_group(plan: Plan, group_name: str, rules: Sequence[Rule], tests: TestFile | None,
               learned: tuple[str, ...]) -> RuleGroup:
    """The group of one target's rules, with its promtool test and what was learned."""
    target = plan.target
    return RuleGroup(name=group_name, target=target.name, kind=target.kind, rules=tuple(rules),
                     interval=target.evaluation_interval, tests=tests, learned=learned, series=len(plan.fit.series))


def expected_alert(rule: Rule, series_labels: Mapping[str, str]) -> ExpectedAlert:
    """The alert ``rule`` raises for a series with ``series_labels`` (as promtool reports it)."""
    labels = {k: v for k, v in series_labels.items() if k != "__name__"}
    labels.update(rule.labels)
    return ExpectedAlert(labels=dict(sorted(labels.items())),
                         annotations={k: expand_labels(v, labels) for k, v in sorted(rule.annotations.items())})


def alerts_expandable(rules: Sequence[Rule]) -> bool:
    """Whether promcast can predict every annotation of these alerts (only ``$labels`` templates)."""
    return all(expandable(v) for r in rules if r.alert for v in r.annotations.values())


def ceil_to(value: pd.Timedelta, unit: pd.Timedelta) -> pd.Timedelta:
    return unit * math.ceil(value / unit - 1e-9)


def ceil_to_tick(value: pd.Timedelta, tick: pd.Timedelta) -> pd.Timedelta:
    return ceil_to(value, tick)


__all__ = ["Plan", "alert", "alert_labels", "alerts_expandable", "annotations", "ceil_to", "escalation",
           "expected_alert", "human", "learned_annotation", "pct", "record", "record_labels", "recorded", "rule_group"]
