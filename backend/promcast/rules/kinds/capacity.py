"""``capacity``: alert before the load outgrows the capacity, as Prometheus rules.

:class:`CapacityPlanner` forecasts the load over the horizon (Prophet by default) and plans against
the upper band's peak. A rule cannot run Prophet, so it keeps the planner's answer *calibrated*: the
live trend ``predict_linear(load[W:1h], horizon)`` over the learned window ``W`` (whole weeks, so the
weekly cycle averages out) times the learned ratio of the planner's peak forecast to that trend at
generation time (how far the busy hours and the uncertainty sit above the trend). The trend follows the
live data; the ratio carries what the model knew about peaks.

Recording rules: ``utilisation`` (load / capacity), ``recommended_capacity`` (the planner's
``peak * (1 + headroom)``), ``utilisation_of_recommended``, ``forecast_peak``. Alerts:
``PromcastCapacityForecast`` (warning) when the forecast peak crosses ``capacity * (1 - headroom)``
within the horizon, ``PromcastCapacityHeadroomExceeded`` (critical) when the load already has.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import promql_parser

from ...kinds.registry import CAPACITY
from ..fit import SeriesFailure, SeriesFit, SeriesJob, Window, fetch
from ..model import AlertTest, ExprTest, Rule, RuleGroup, TestCase, TestFile
from ..promql import Input, dur, num, seconds
from ..testgen import NotInvertible, Wave, samples, synthesize
from .common import Plan, alert, alerts_expandable, ceil_to, expected_alert, record, record_labels, recorded, rule_group
from ...promql import parse as parse_promql

ALERT = "PromcastCapacityForecast"
EXCEEDED_ALERT = "PromcastCapacityHeadroomExceeded"
HOUR = pd.Timedelta("1h")
DAY = pd.Timedelta(days=1)
WEEK = pd.Timedelta(days=7)
TEST_EVAL = HOUR


@dataclass(frozen=True)
class CapacityParams:
    window: pd.Timedelta
    ratio: float
    recommended: float
    #: cost of the recommended capacity per 30 days (null without a unit cost in the spec)
    recommended_cost: float | None = None



FIELDS = (
    ("trend over", lambda p: dur(p.window)),
    ("peak over trend", lambda p: num(p.ratio)),
    ("recommended capacity", lambda p: num(p.recommended)),
)
KEYS = (lambda p: p.window, lambda p: p.ratio, lambda p: p.recommended)


# ------------------------------------------------------------------------------------------ fitting
def prepare(target, source, window: Window) -> tuple[list[SeriesJob], list[SeriesFailure]]:
    histories = fetch(source, target, target.expr, window)
    args = (target.param("capacity"), target.param("headroom"), target.param("horizon"), target.param("model"),
            target.params.get("unit_cost"), target.params.get("cost_period", "30d"))
    return [SeriesJob(target.name, h.legend, fit_series, (dict(h.labels), h.values, *args)) for h in histories], []


def trend_window(span: pd.Timedelta, horizon: pd.Timedelta) -> pd.Timedelta:
    """Whole weeks (whole days under a week) of history, at most 28 days and four horizons."""
    limit = min(span, pd.Timedelta(days=28), max(DAY, 4 * horizon))
    if limit >= WEEK:
        return WEEK * math.floor(limit / WEEK)
    return max(DAY, DAY * math.floor(limit / DAY))


def linear_projection(values: pd.Series, window: pd.Timedelta, horizon: pd.Timedelta) -> float:
    """What ``predict_linear(x[window:1h], horizon)`` returns at the end of ``values``."""
    end = values.index[-1].floor(HOUR)
    times = pd.date_range(end - window, end, freq=HOUR)
    sampled = values.dropna().reindex(values.dropna().index.union(times)).ffill().reindex(times).dropna()
    if len(sampled) < 2:
        return float(values.dropna().iloc[-1])
    x = (sampled.index - end).total_seconds().to_numpy(dtype=float)
    y = sampled.to_numpy(dtype=float)
    slope, intercept = np.polyfit(x, y, 1)
    return float(intercept + slope * horizon.total_seconds())


def fit_series(labels, values: pd.Series, capacity: float, headroom: float, horizon: pd.Timedelta,
               model: str, unit_cost: float | None = None, cost_period="30d") -> SeriesFit:
    values = values.dropna()
    planner = CAPACITY.make_predictor(capacity=capacity, headroom=headroom, horizon=horizon, model=model,
                                      unit_cost=unit_cost, cost_period=cost_period).fit(values)
    span = values.index[-1] - values.index[0]
    window = trend_window(span, pd.Timedelta(horizon))
    trend = linear_projection(values, window, pd.Timedelta(horizon))
    peak = float(planner.peak_forecast_)
    ratio = peak / trend if trend > 0 else 3.0
    ratio = float(min(3.0, max(1.0, round(ratio * 20) / 20)))
    recommended = _round_up(float(planner.recommended_capacity_))
    monthly = None if planner.recommended_cost_ is None else round(recommended * planner.monthly_price(), 2)
    params = CapacityParams(window, ratio, recommended, monthly)
    numbers = {**planner.result(), "model": planner.model_name_, "trend_at_horizon": trend,
               "fallback": planner.fallback_reason_}
    shape = {"level": float(np.median(values.to_numpy()[-max(1, len(values) // 7):]))}
    return SeriesFit(labels=labels, params=params, numbers=numbers, shape=shape)


def _round_up(value: float, digits: int = 3) -> float:
    if value <= 0:
        return 0.0
    scale = 10.0 ** (math.floor(math.log10(value)) - digits + 1)
    return float(f"{math.ceil(value / scale - 1e-9) * scale:.{digits}g}")


# ------------------------------------------------------------------------------------------ rules
def build(plan: Plan, group_name: str) -> RuleGroup:
    target = plan.target
    step = pd.Timedelta(target.step)
    load = Input(target.expr, step)
    rl = record_labels(target)
    cap, headroom, horizon = target.param("capacity"), target.param("headroom"), target.param("horizon")
    threshold = cap * (1.0 - headroom)
    util, rec, util_rec, trend, ratio, forecast = (record(target, s) for s in (
        "utilisation", "recommended_capacity", "utilisation_of_recommended", "trend_at_horizon", "peak_ratio",
        "forecast_peak"))

    def trend_term(window):
        return lambda s: f"predict_linear({s.range(window, resolution=HOUR)}, {seconds(horizon)})"

    rules = [
        Rule(record=util, expr=f"{load.source().instant()} / {num(cap)}", labels=rl),
        Rule(record=rec, expr=plan.param_series(util, KEYS[2]), labels=rl),
        Rule(record=util_rec, expr=f"{util} * {num(cap)} / {rec}", labels=rl),
        Rule(record=trend, expr=plan.terms(load, KEYS[0], trend_term), labels=rl),
        Rule(record=ratio, expr=plan.param_series(util, KEYS[1]), labels=rl),
        Rule(record=forecast, expr=f"{trend} * {ratio}", labels=rl),
    ]
    unit_cost = target.params.get("unit_cost")
    fields = FIELDS
    cost_extra: dict[str, str] = {}
    if unit_cost is not None:
        monthly_price = unit_cost * (pd.Timedelta(days=30) / pd.Timedelta(target.params.get("cost_period", "30d")))
        fields = FIELDS + (("recommended cost per 30d", lambda p: _money(p.recommended_cost)),)
        current = cap * monthly_price
        cost_extra = {"current_cost": _money(current),
                      "recommended_cost": _costs(plan, lambda p: p.recommended_cost),
                      "monthly_delta": _costs(plan, lambda p: None if p.recommended_cost is None
                                              else p.recommended_cost - current)}
    learned = plan.learned(fields)
    where = plan.label_part()
    rules.append(alert(
        target, ALERT, "warning", f"{forecast} > {num(threshold)}",
        f"{target.name}: load forecast to pass {num(threshold)} within {dur(horizon)} ({where})",
        f"The forecast peak load of {target.name} ({where}) crosses capacity * (1 - headroom) = "
        f"{num(threshold)} within {dur(horizon)}. Scale towards {rec}.", learned, cost_extra))
    rules.append(alert(
        target, EXCEEDED_ALERT, "critical", f"{util} > {num(1.0 - headroom)}",
        f"{target.name}: load above {num(threshold)}, the headroom is used up ({where})",
        f"The load of {target.name} ({where}) is above capacity * (1 - headroom) = {num(threshold)}. "
        f"Scale towards {rec}.", learned, cost_extra))
    return rule_group(plan, group_name, rules, _tests(plan, load, rules), learned)


# ------------------------------------------------------------------------------------------ tests
def _interval(expr: str) -> pd.Timedelta:
    """Test samples fine enough for the shortest rate()/increase() range in ``expr``."""
    ranges = []

    def visit(node):
        if isinstance(node, promql_parser.Call) and node.func.name in ("rate", "irate", "increase"):
            arg = node.args[0] if node.args else None
            if isinstance(arg, promql_parser.MatrixSelector):
                ranges.append(pd.Timedelta(arg.range))
        return True

    promql_parser.walk(parse_promql(expr), visit)
    shortest = min(ranges) if ranges else None
    for candidate in (pd.Timedelta(v) for v in ("5min", "2min", "1min", "30s", "15s")):
        if shortest is None or candidate * 2 <= shortest:
            return candidate
    return pd.Timedelta("15s")


def _hourly(levels: list[float], interval: pd.Timedelta, n: int) -> Wave:
    per_hour = int(HOUR / interval)
    wave = Wave()
    for i, level in enumerate(levels):
        count = min(per_hour, n - i * per_hour)
        if count <= 0:
            break
        wave.then(level, 0.0, count)
    return wave


def _tests(plan: Plan, load: Input, rules) -> TestFile:
    target = plan.target
    cap, headroom, horizon = target.param("capacity"), target.param("headroom"), pd.Timedelta(target.param("horizon"))
    thr = cap * (1.0 - headroom)
    forecast_alert = next(r for r in rules if r.alert == ALERT)
    exceeded_alert = next(r for r in rules if r.alert == EXCEEDED_ALERT)
    reps = plan.representatives(KEYS)
    interval = _interval(load.expr)
    hold = pd.Timedelta(target.for_) + 2 * TEST_EVAL
    cases, notes = [], []
    try:
        t_end = max(ceil_to(fit.params.window + hold, TEST_EVAL) + TEST_EVAL for fit in reps)
        n = samples(t_end, interval)
        hours = int(t_end / HOUR) + 1
        normal, checks = [], []
        for fit in reps:
            level = _round(0.5 * thr / fit.params.ratio)
            normal += synthesize(load.expr, fit.labels, _hourly([level] * hours, interval, n), interval)
            checks.append((recorded(target, "recommended_capacity", fit.labels), fit.params.recommended))
        cases.append(TestCase(
            "steady load below the headroom line: no alert", interval, tuple(normal),
            alert_tests=(AlertTest(t_end, ALERT, ()), AlertTest(t_end, EXCEEDED_ALERT, ())),
            expr_tests=(ExprTest(t_end, record(target, "recommended_capacity"), tuple(checks)),)))
        if alerts_expandable([forecast_alert, exceeded_alert]):
            growing, over, grow_expected, over_expected = [], [], [], []
            for fit in reps:
                p = fit.params
                growth = _growth(p, thr, horizon, hold)
                if growth is None:
                    notes.append(f"{fit.legend}: no growth fits the window and the horizon; growth case left out")
                else:
                    current = 0.8 * thr
                    levels = [_round(max(0.0, current - growth * max(0.0, min(t_end - HOUR * h, p.window)
                                                                    .total_seconds())))
                              for h in range(hours)]
                    growing += synthesize(load.expr, fit.labels, _hourly(levels, interval, n), interval)
                    grow_expected.append(expected_alert(forecast_alert, fit.labels))
                over += synthesize(load.expr, fit.labels, _hourly([_round(1.1 * thr)] * hours, interval, n), interval)
                over_expected.append((expected_alert(forecast_alert, fit.labels), expected_alert(exceeded_alert, fit.labels)))
            if growing:
                cases.append(TestCase(
                    f"load growing (still under the headroom line): the forecast alert fires at {dur(t_end)}", interval,
                    tuple(growing), alert_tests=(AlertTest(t_end, ALERT, tuple(_sorted(grow_expected))),
                                                 AlertTest(t_end, EXCEEDED_ALERT, ()))))
            cases.append(TestCase(
                "load above the headroom line: both alerts fire", interval, tuple(over),
                alert_tests=(AlertTest(t_end, ALERT, tuple(_sorted(a for a, _ in over_expected))),
                             AlertTest(t_end, EXCEEDED_ALERT, tuple(_sorted(b for _, b in over_expected))))))
        else:
            notes.append("annotations use templates other than $labels: the alert cases are left out")
    except NotInvertible as exc:
        notes.append(f"promcast cannot write input series for this target ({exc}); only the rules' syntax is checked")
        cases = []
    return TestFile(evaluation_interval=TEST_EVAL, cases=tuple(cases), notes=tuple(notes))


def _sorted(alerts) -> list:
    return sorted(alerts, key=lambda a: sorted(a.labels.items()))


def _growth(p: CapacityParams, thr: float, horizon: pd.Timedelta, hold: pd.Timedelta) -> float | None:
    """Load growth per second that makes the forecast cross ``thr`` for longer than ``hold`` while the
    load itself stays under it, and starts the window above zero."""
    current = 0.8 * thr
    reach = (horizon - hold).total_seconds()
    need = max(0.0, 1.15 * thr / p.ratio - current) / reach if reach > 0 else math.inf
    most = 0.8 * current / p.window.total_seconds()
    if need > most:
        return None
    return max(need, 0.5 * most) if need > 0 else 0.5 * most


def _money(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _costs(plan: Plan, value) -> str:
    """One cost, or the distinct costs of the series (fewest words that are still true)."""
    values = sorted({_money(value(s.params)) for s in plan.fit.series})
    return values[0] if len(values) == 1 else ", ".join(values[:5]) + (", ..." if len(values) > 5 else "")


def _round(value: float) -> float:
    """Loads with few significant digits keep counters and sums exact enough."""
    return float(f"{value:.4g}")


__all__ = ["ALERT", "CapacityParams", "EXCEEDED_ALERT", "build", "fit_series", "linear_projection", "prepare",
           "trend_window"]
