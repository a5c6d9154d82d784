"""``memory_leak``: is this process leaking, and when does it reach its limit, as Prometheus rules.

The usual ``deriv(mem[1h]) > 0`` fires on every GC sawtooth's rising edge and every busy afternoon.
Here the rules follow what :class:`MemoryLeakDetector` learned from each process's history:

- **troughs**: ``min_over_time`` over the learned trough window (about three GC cycles), i.e. what
  survives a collection; a leak lifts the troughs, a sawtooth does not;
- **slope**: ``deriv`` of the troughs over the learned slope window (a day when the history shows a
  daily load cycle, so an afternoon peak is not a trend), in bytes per hour;
- **healthy bound**: the fastest the troughs of this process rise over that window in its normal
  swings (99th percentile; for a process that is leaking now, around its leak's trend), never under
  the detector's practical minimum slope;
- **time to limit**: from the highest point of the slope window (GC peak and daily peak included) to the
  limit, at the trough slope.

Recording rules: ``troughs``, ``trough_slope_per_hour``, ``ceiling``, ``limit``, ``hours_to_limit``,
``healthy_slope_bound``. Alerts ``PromcastMemoryLeak``: the slope is above the healthy bound and the
limit is less than ``warning_within`` (warning) / ``critical_within`` (critical) away.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...errors import InputError
from ...kinds.registry import MEMORY
from ..fit import SeriesFailure, SeriesFit, SeriesJob, Window, fetch_paired
from ..model import AlertTest, ExprTest, Rule, RuleGroup, TestCase, TestFile
from ..promql import Input, dur, num
from ..sets import e12
from ..testgen import NotInvertible, Wave, samples, synthesize
from .common import (Plan, alert, alerts_expandable, ceil_to, escalation, expected_alert, record, record_labels,
                     recorded, rule_group)

ALERT = "PromcastMemoryLeak"
HOUR = pd.Timedelta("1h")
_TICKS = tuple(pd.Timedelta(v) for v in ("1h", "30min", "15min", "5min"))


@dataclass(frozen=True)
class MemoryParams:
    trough_window: pd.Timedelta
    slope_window: pd.Timedelta
    bound: float  # bytes per hour



FIELDS = (
    ("troughs over", lambda p: dur(p.trough_window)),
    ("slope over", lambda p: dur(p.slope_window)),
    ("healthy slope bound", lambda p: f"{_bytes(p.bound)}/h"),
)
KEYS = (lambda p: p.trough_window, lambda p: (p.trough_window, p.slope_window), lambda p: p.slope_window,
        lambda p: p.bound)


def _bytes(value: float) -> str:
    for unit, size in (("GiB", 2.0**30), ("MiB", 2.0**20), ("KiB", 2.0**10)):
        if abs(value) >= size:
            return f"{value / size:.3g} {unit}"
    return f"{value:.3g} B"


# ------------------------------------------------------------------------------------------ fitting
def prepare(target, source, window: Window) -> tuple[list[SeriesJob], list[SeriesFailure]]:
    pairs, failures = fetch_paired(source, target, window, "limit_expr")
    jobs = [SeriesJob(target.name, h.legend, fit_series, (dict(h.labels), h.values, limit, target.param("limit")))
            for h, limit in pairs]
    return jobs, failures


def fit_series(labels, values: pd.Series, limit_series: pd.Series | None, limit_const: float | None) -> SeriesFit:
    """Fit :class:`MemoryLeakDetector` and derive the rule parameters."""
    values = values.dropna()
    if limit_series is not None:
        limit_values = limit_series.dropna()
        if limit_values.empty:
            raise InputError("limit_expr has no values for this series")
        limit = float(limit_values.iloc[-1])
    else:
        limit = float(limit_const)
    d = MEMORY.make_predictor(limit=limit).fit(values)
    # the detector's bound: how fast the troughs rise over a slope window in normal swings (for a process
    # leaking now, around its leak's trend), never under the practical minimum slope
    bound = float(d.healthy_slope_bound_)
    params = MemoryParams(pd.Timedelta(d.trough_window_), pd.Timedelta(d.slope_window_), e12(bound, up=True))
    hourly = values.resample("1h")
    swing = (hourly.max() - hourly.min()).dropna()
    shape = {"level": float(d.level_), "swing": float(np.median(swing)) if len(swing) else 0.0, "limit": limit}
    numbers = {**d.result(), "limit": limit, "trough_window": dur(params.trough_window),
               "slope_window": dur(params.slope_window), "healthy_slope_bound": bound}
    return SeriesFit(labels=labels, params=params, numbers=numbers, shape=shape)


# ------------------------------------------------------------------------------------------ rules
def build(plan: Plan, group_name: str) -> RuleGroup:
    target = plan.target
    step = pd.Timedelta(target.step)
    mem = Input(target.expr, step)
    limit_expr = target.param("limit_expr")
    rl = record_labels(target)
    names = {s: record(target, s) for s in ("troughs", "trough_slope_per_hour", "ceiling", "limit",
                                             "hours_to_limit", "healthy_slope_bound")}

    def troughs(trough_window):
        return lambda s: f"min_over_time({s.range(trough_window)})"

    def slope(windows):
        trough_window, slope_window = windows
        res = max(trough_window, step)  # troughs re-read every trough window (non-overlapping minima)
        return lambda s: (f"deriv(min_over_time({s.range(trough_window)})"
                          f"[{dur(slope_window)}:{dur(res)}]) * 3600")

    def ceiling(slope_window):
        return lambda s: f"max_over_time({s.range(slope_window)})"

    limit_rule = (Input(limit_expr, step).source().instant() if limit_expr
                  else f"0 * {mem.source().instant()} + {num(target.param('limit'))}")
    rules = [
        Rule(record=names["troughs"], expr=plan.terms(mem, KEYS[0], troughs), labels=rl),
        Rule(record=names["trough_slope_per_hour"], expr=plan.terms(mem, KEYS[1], slope), labels=rl),
        Rule(record=names["ceiling"], expr=plan.terms(mem, KEYS[2], ceiling), labels=rl),
        Rule(record=names["limit"], expr=limit_rule, labels=rl),
        Rule(record=names["hours_to_limit"],
             expr=f"clamp_min({names['limit']} - {names['ceiling']}, 0) / ({names['trough_slope_per_hour']} > 0)",
             labels=rl),
        Rule(record=names["healthy_slope_bound"], expr=plan.param_series(names["troughs"], KEYS[3]), labels=rl),
    ]
    learned = plan.learned(FIELDS)
    where = plan.label_part()
    for severity, within in escalation(target):
        hours = num(pd.Timedelta(within) / HOUR, sig=12)
        rules.append(alert(
            target, ALERT, severity,
            (f"{names['hours_to_limit']} < {hours}\n"
             f"and {names['trough_slope_per_hour']} > {names['healthy_slope_bound']}"),
            f"{target.name}: memory leak reaches the limit within {dur(within)} ({where})",
            f"The memory troughs of {target.name} ({where}) rise faster than this process's learned healthy bound "
            f"({names['healthy_slope_bound']}) and reach the limit within {dur(within)} at that rate. "
            f"Hours left: {names['hours_to_limit']}.",
            learned))
    return rule_group(plan, group_name, rules, _tests(plan, mem, limit_expr, rules), learned)


# ------------------------------------------------------------------------------------------ tests
def _interval(params: MemoryParams) -> pd.Timedelta:
    """Test samples: at least six per trough window, on whole minutes (or 30s)."""
    for candidate in (pd.Timedelta(v) for v in ("5min", "1min", "30s")):
        if params.trough_window / candidate >= 6:
            return candidate
    return pd.Timedelta("30s")


def _tick(target) -> pd.Timedelta:
    """Evaluation interval of the tests: as coarse as the alert timing allows (promtool evaluates every rule
    at every tick from time 0)."""
    critical, for_ = pd.Timedelta(target.param("critical_within")), pd.Timedelta(target.for_)
    return next((t for t in _TICKS if for_ + 3 * t <= critical / 2), _TICKS[-1])


def _check_time(params: MemoryParams, target, tick: pd.Timedelta) -> pd.Timedelta:
    need = params.slope_window + params.trough_window + pd.Timedelta(target.for_) + 3 * tick
    return ceil_to(need, tick)


def _time_left(target, tick: pd.Timedelta) -> pd.Timedelta:
    critical = pd.Timedelta(target.param("critical_within"))
    hold = pd.Timedelta(target.for_) + 3 * tick
    return max(tick, min(critical / 2, critical - hold))


def _wave(params: MemoryParams, fit: SeriesFit, target, t_check: pd.Timedelta, interval: pd.Timedelta,
          failing: bool, tick: pd.Timedelta) -> Wave:
    limit = float(fit.shape["limit"])
    n = samples(t_check, interval)
    period = max(2, int(round(params.trough_window / 3 / interval)))
    swing = min(max(fit.shape["swing"], 0.01 * limit), 0.2 * limit)
    if not failing:
        level = min(max(fit.shape["level"], 0.05 * limit), 0.6 * limit)
        return Wave.sawtooth(round(level), round(level + swing), period, n)
    # troughs rise at `rate` bytes/hour from time 0; at t_check the GC peaks are `left` hours from the limit
    left = _time_left(target, tick) / HOUR
    hours = t_check / HOUR
    most = (0.9 * limit - swing) / (left + hours)
    rate = min(max(2.0 * params.bound, 0.5 * most), most)
    if rate <= params.bound * 1.2:
        raise NotInvertible("a leak fast enough to beat the healthy bound would pass the limit before the check")
    start = limit - swing - rate * (left + hours)
    drift = rate * (interval / HOUR)  # hours first: bytes/h x a Timedelta overflows int64 ns on pandas 2
    return Wave.sawtooth(start, start + swing, period, n, drift=drift)


def _tests(plan: Plan, mem: Input, limit_expr: str | None, rules) -> TestFile:
    """Normal behaviour (flat troughs under a GC sawtooth: no alert) and an injected leak in a few processes
    that between them reach every learned parameter (both severities fire)."""
    target = plan.target
    alerts = [r for r in rules if r.alert]
    reps = plan.representatives(KEYS)
    notes, cases = [], []
    try:
        tick = _tick(target)
        t_end = max(_check_time(fit.params, target, tick) for fit in reps)
        interval = min(_interval(fit.params) for fit in reps)
        normal, checks = [], []
        for fit in reps:
            wave = _wave(fit.params, fit, target, t_end, interval, False, tick)
            normal += _inputs(mem, limit_expr, fit, wave, interval)
            checks.append((recorded(target, "healthy_slope_bound", fit.labels), float(fit.params.bound)))
        cases.append(TestCase(
            name="normal behaviour (GC sawtooth, flat troughs): no alert", interval=interval,
            input_series=tuple(normal), alert_tests=(AlertTest(t_end, ALERT, ()),),
            expr_tests=(ExprTest(t_end, record(target, "healthy_slope_bound"), tuple(checks)),)))
        if alerts_expandable(alerts):
            failing, expected = [], []
            for fit in reps:
                wave = _wave(fit.params, fit, target, t_end, interval, True, tick)
                failing += _inputs(mem, limit_expr, fit, wave, interval)
                expected += [expected_alert(r, fit.labels) for r in alerts]
            expected.sort(key=lambda a: sorted(a.labels.items()))
            cases.append(TestCase(
                name=f"injected leak in {len(reps)} process(es): warning and critical fire at {dur(t_end)}",
                interval=interval, input_series=tuple(failing),
                alert_tests=(AlertTest(pd.Timedelta(0), ALERT, ()), AlertTest(t_end, ALERT, tuple(expected)))))
        else:
            notes.append("annotations use templates other than $labels: the injected-failure cases are left out")
    except NotInvertible as exc:
        notes.append(f"promcast cannot write input series for this target ({exc}); only the rules' syntax is checked")
        cases = []
    return TestFile(evaluation_interval=_tick(target), cases=tuple(cases), notes=tuple(notes))


def _inputs(mem: Input, limit_expr, fit: SeriesFit, wave: Wave, interval: pd.Timedelta) -> list:
    out = synthesize(mem.expr, fit.labels, wave, interval)
    if limit_expr:
        out += synthesize(limit_expr, fit.labels, Wave.constant(float(fit.shape["limit"]), len(wave)), interval)
    return out


__all__ = ["ALERT", "MemoryParams", "build", "fit_series", "prepare"]
