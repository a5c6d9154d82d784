"""``disk_exhaustion``: when will this filesystem be full, as Prometheus rules.

The node-mixin pages on ``predict_linear(avail[6h], 4h) < 0`` with free space below 15 % / 10 %. Here
every one of those constants comes from the filesystem's own history (:class:`DiskUsagePredictor`):

- **trend**: with no daily cycle, ``predict_linear``/``deriv`` over the *regime window* the predictor
  found (since the last cleanup or change of rate); with a daily cycle, the difference of two whole-day
  means ``K`` days apart, which a cycle (log rotation, business hours) cannot bias the way a 6h
  ``predict_linear`` is biased on the rising half of a day;
- **daily peak**: how far the day's peak usage sits above the daily mean, taken off the free space, so
  time-to-full is counted to the moment the *peak* reaches the size;
- **guard**: the alert also needs the free-space ratio below a learned fraction: the larger of the
  lowest free ratio of the current regime plus 3 sigma of noise (a new low for this disk) and the space
  the upper bound of its learned growth plus its daily peak would take within the horizon; never below
  1 %. And the filesystem must not be read-only (``node_filesystem_readonly``).

- **envelope**: with a daily cycle, the daily *low* of free space (the usage's daily peak, e.g. just
  before the log rotation) gets its own trend (``min_over_time`` of whole days ``K`` apart); time to
  full is counted on the mean's trend plus the learned peak and on the envelope's trend, and the
  earlier crossing counts (a cycle that grows with the fill reaches the size before the mean says).

Recording rules: ``free_ratio``, ``free:deriv`` (per second), ``free:trend`` (free space now on the
trend), ``free:envelope_deriv``, ``free:envelope_trend``, ``seconds_to_full:mean`` (to the daily peak on
the mean's trend), ``seconds_to_full:envelope``, ``seconds_to_full`` (the earlier),
``guard_ratio:warning|critical``. Alerts ``PromcastDiskWillFill`` (warning at ``warning_within``,
critical at ``critical_within``).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ...kinds.registry import DISK
from ...maintenance.disk import used_space
from ..fit import SeriesFailure, SeriesFit, SeriesJob, Window, fetch_paired
from ..model import AlertTest, ExprTest, Rule, RuleGroup, TestCase, TestFile
from ...promql_selector import Selector
from ..promql import Input, Source, dur, num, seconds
from ..sets import floor_window, up_fraction
from ..testgen import NotInvertible, Wave, samples, synthesize
from .common import (Plan, alert, alerts_expandable, ceil_to, escalation, expected_alert, pct, record, record_labels,
                     recorded, rule_group)

ALERT = "PromcastDiskWillFill"
DAY = pd.Timedelta(days=1)
#: total history a daily-mode rule reads: two day-means ``window - 1d`` (1, 2, 4, 7, 14, 28 days) apart
DAILY_WINDOWS = tuple(pd.Timedelta(days=d) for d in (2, 3, 5, 8, 15, 29))
MIN_GUARD = 0.01


@dataclass(frozen=True)
class DiskParams:
    """What the rules of a set embed. ``window``: the regression window (linear) or the whole history
    read by the day-mean difference (daily, offset ``window - 1d``)."""

    mode: str  # "linear" | "daily"
    window: pd.Timedelta
    peak: float
    guard_warning: float
    guard_critical: float

    @property
    def offset(self) -> pd.Timedelta:
        return self.window - DAY

    @property
    def shape(self) -> tuple[str, pd.Timedelta]:
        """What the trend terms depend on."""
        return (self.mode, self.window)


def _trend_text(p: DiskParams) -> str:
    return f"day means {dur(p.offset)} apart" if p.mode == "daily" else f"least squares over {dur(p.window)}"


#: what the alerts' ``learned`` annotation lists, one line each
FIELDS = (
    ("trend", _trend_text),
    ("daily peak", lambda p: pct(p.peak)),
    ("guard (warning/critical)", lambda p: f"free below {pct(p.guard_warning)}/{pct(p.guard_critical)}"),
)
KEYS = (lambda p: p.shape, lambda p: p.peak, lambda p: p.guard_warning, lambda p: p.guard_critical)


# ------------------------------------------------------------------------------------------ fitting
def prepare(target, source, window: Window) -> tuple[list[SeriesJob], list[SeriesFailure]]:
    pairs, failures = fetch_paired(source, target, window, "size_expr")
    jobs = [SeriesJob(target.name, h.legend, fit_series, (
                dict(h.labels), h.values, size, target.param("size"), target.param("warning_within"),
                target.param("critical_within"), target.param("max_window")))
            for h, size in pairs]
    return jobs, failures


def fit_series(labels, avail: pd.Series, size: pd.Series | None, size_const: float | None,
               warning_within: pd.Timedelta, critical_within: pd.Timedelta, max_window: pd.Timedelta) -> SeriesFit:
    """Fit :class:`DiskUsagePredictor` on space used (size - avail) and derive the rule parameters."""
    used, capacity = used_space(avail, size if size is not None else size_const)
    p = DISK.make_predictor(capacity=capacity).fit(used)
    daily = not p.profile_.is_flat
    window = min(pd.Timedelta(p.window_), pd.Timedelta(max_window))
    if daily:
        window = floor_window(max(window, DAILY_WINDOWS[0]), DAILY_WINDOWS)
        if window > max_window and max_window >= DAILY_WINDOWS[0]:
            window = floor_window(max_window, DAILY_WINDOWS)
    else:
        window = floor_window(window)
    peak_raw = max(0.0, float(p.cycle_peak_fraction_)) if daily else 0.0
    noise = float(p.noise_) / capacity
    regime = used[used.index >= p.regime_start_]
    lowest_free = 1.0 - float(regime.max()) / capacity if len(regime) else 1.0 - p.current_usage_ / capacity
    new_low = lowest_free + 3.0 * noise
    fastest = max(0.0, float(p.growth_interval_[1])) / capacity  # fraction of the size per day
    guards = []
    for within in (warning_within, critical_within):
        days = pd.Timedelta(within) / DAY
        guards.append(up_fraction(min(1.0, max(MIN_GUARD, new_low, fastest * days + peak_raw))))
    params = DiskParams("daily" if daily else "linear", window, up_fraction(peak_raw), guards[0], guards[1])
    numbers = {**p.result(), "learned_window": dur(pd.Timedelta(p.window_)), "daily_cycle": daily,
               "capacity": capacity}
    shape = {"size": capacity, "free_ratio": 1.0 - p.current_usage_ / capacity}
    return SeriesFit(labels=labels, params=params, numbers=numbers, shape=shape)


# ------------------------------------------------------------------------------------------ rules
class _Inputs:
    def __init__(self, target):
        step = pd.Timedelta(target.step)
        self.avail = Input(target.expr, step)
        self.size_expr = target.param("size_expr")
        self.size = Input(self.size_expr, step) if self.size_expr else None
        self.size_const = target.param("size")
        self.readonly = _readonly_expr(target, self.avail)

    def size_text(self) -> str:
        return self.size.source().instant() if self.size else num(self.size_const)


def _readonly_expr(target, avail: Input) -> str | None:
    if target.param("readonly_explicit"):
        return target.param("readonly_expr")
    sel = avail.selector
    if sel is not None and sel.name and sel.name.startswith("node_filesystem_"):
        return Selector("node_filesystem_readonly", sel.matchers).text()
    return None


def _linear_resolution(window: pd.Timedelta) -> pd.Timedelta | None:
    """Above a day, read the window through a subquery (at most ~300 points per series)."""
    if window <= DAY:
        return None
    for res in (pd.Timedelta(v) for v in ("5min", "10min", "15min", "30min", "1h")):
        if window / res <= 300:
            return res
    return pd.Timedelta("1h")


def _deriv_term(shape: tuple[str, pd.Timedelta], daily: str = "avg_over_time"):
    """Change of free space per second over the learned window; in daily mode, of the day's ``daily``
    aggregate (the mean, or ``min_over_time``: the daily low of free space, the usage's daily peak)."""
    mode, window = shape

    def build(src: Source) -> str:
        if mode == "daily":
            offset = window - DAY
            now, then = src.range(DAY), src.range(DAY, offset=offset)
            return f"({daily}({now}) - {daily}({then})) / {seconds(offset)}"
        return f"deriv({src.range(window, resolution=_linear_resolution(window))})"
    return build


def _trend_term(shape: tuple[str, pd.Timedelta], daily: str = "avg_over_time"):
    """Free space now on the trend (in daily mode, the day's ``daily`` aggregate on its own trend)."""
    mode, window = shape

    def build(src: Source) -> str:
        if mode == "daily":
            offset = window - DAY
            now, then = src.range(DAY), src.range(DAY, offset=offset)
            # the day's aggregate sits half a day back: extrapolate it to now along its slope
            periods = num(offset / (DAY / 2), sig=12)
            return f"{daily}({now}) + ({daily}({now}) - {daily}({then})) / {periods}"
        return f"predict_linear({src.range(window, resolution=_linear_resolution(window))}, 0)"
    return build


def _envelope_deriv_term(shape: tuple[str, pd.Timedelta]):
    return _deriv_term(shape, "min_over_time")


def _envelope_trend_term(shape: tuple[str, pd.Timedelta]):
    return _trend_term(shape, "min_over_time")


def build(plan: Plan, group_name: str) -> RuleGroup:
    target = plan.target
    inputs = _Inputs(target)
    rl = record_labels(target)
    names = {s: record(target, s) for s in ("size", "free_ratio", "free:deriv", "free:trend", "daily_peak_ratio",
                                             "free:envelope_deriv", "free:envelope_trend", "seconds_to_full:mean",
                                             "seconds_to_full:envelope", "seconds_to_full", "guard_ratio:warning",
                                             "guard_ratio:critical")}
    size_rule = (inputs.size.source().instant() if inputs.size
                 else f"0 * {inputs.avail.source().instant()} + {num(inputs.size_const)}")
    rules = [
        Rule(record=names["size"], expr=size_rule, labels=rl),
        Rule(record=names["free_ratio"], expr=f"{inputs.avail.source().instant()} / {inputs.size_text()}", labels=rl),
        Rule(record=names["free:deriv"], expr=plan.terms(inputs.avail, KEYS[0], _deriv_term), labels=rl),
        Rule(record=names["free:trend"], expr=plan.terms(inputs.avail, KEYS[0], _trend_term), labels=rl),
        Rule(record=names["daily_peak_ratio"], expr=plan.param_series(names["free_ratio"], KEYS[1]), labels=rl),
        Rule(record=names["free:envelope_deriv"], expr=plan.terms(inputs.avail, KEYS[0], _envelope_deriv_term),
             labels=rl),
        Rule(record=names["free:envelope_trend"], expr=plan.terms(inputs.avail, KEYS[0], _envelope_trend_term),
             labels=rl),
        # time to full twice: the daily mean's trend plus the learned daily peak, and the trend of the
        # daily peaks themselves (the envelope: a cycle that grows with the fill); the earlier counts
        Rule(record=names["seconds_to_full:mean"],
             expr=(f"clamp_min({names['free:trend']} - {names['daily_peak_ratio']} * {names['size']}, 0)\n"
                   f"/ -({names['free:deriv']} < 0)"), labels=rl),
        Rule(record=names["seconds_to_full:envelope"],
             expr=f"clamp_min({names['free:envelope_trend']}, 0) / -({names['free:envelope_deriv']} < 0)", labels=rl),
        Rule(record=names["seconds_to_full"],
             expr=(f"({names['seconds_to_full:mean']} <= {names['seconds_to_full:envelope']})\n"
                   f"or {names['seconds_to_full:envelope']}\nor {names['seconds_to_full:mean']}"), labels=rl),
        Rule(record=names["guard_ratio:warning"], expr=plan.param_series(names["free_ratio"], KEYS[2]), labels=rl),
        Rule(record=names["guard_ratio:critical"], expr=plan.param_series(names["free_ratio"], KEYS[3]), labels=rl),
    ]
    learned = plan.learned(FIELDS)
    where = plan.label_part()
    ro_clause = (f"\nunless ignoring(promcast_target) ({inputs.readonly} == 1)" if inputs.readonly else "")
    ro_text = " and the filesystem is not read-only" if inputs.readonly else ""
    for severity, within in escalation(target):
        guard = names[f"guard_ratio:{severity}"]
        rules.append(alert(
            target, ALERT, severity,
            f"{names['seconds_to_full']} < {seconds(within)}\nand {names['free_ratio']} < {guard}{ro_clause}",
            f"{target.name}: filesystem projected to be full within {dur(within)} ({where})",
            f"Free space of {target.name} ({where}) runs out within {dur(within)} on the trend promcast learned "
            f"from this filesystem's own history (counted to the daily peak of usage); its free-space ratio is "
            f"below the learned guard ({guard}){ro_text}. Time left: {names['seconds_to_full']}.",
            learned))
    return rule_group(plan, group_name, rules, _tests(plan, inputs, rules), learned)


# ------------------------------------------------------------------------------------------ tests
_TICKS = tuple(pd.Timedelta(v) for v in ("6h", "3h", "1h", "30min", "15min", "5min"))
_SAMPLES = tuple(pd.Timedelta(v) for v in ("1h", "30min", "15min", "5min"))


def _timing(plan: Plan) -> tuple[pd.Timedelta, pd.Timedelta]:
    """``(evaluation interval, sample interval)`` of the tests: as coarse as the alert timing and the
    learned windows allow, because promtool evaluates every rule at every tick from time 0."""
    critical = pd.Timedelta(plan.target.param("critical_within"))
    for_ = pd.Timedelta(plan.target.for_)
    tick = next((t for t in _TICKS if for_ + 3 * t <= critical / 2), _TICKS[-1])
    windows = [w for mode, w in {s.params.shape for s in plan.fit.series} if mode == "linear"]
    sample = next((x for x in _SAMPLES if x <= tick and tick % x == pd.Timedelta(0)
                   and all(w / x >= 4 for w in windows)), _SAMPLES[-1])
    return tick, sample


def _check_time(params: DiskParams, target, tick: pd.Timedelta) -> pd.Timedelta:
    """When a fill present from time 0 has filled every window and outlasted ``for`` (on a tick)."""
    return ceil_to(params.window + pd.Timedelta(target.for_) + 3 * tick, tick)


def fill_time_left(target, tick: pd.Timedelta) -> pd.Timedelta:
    """Time to full at the check: under ``critical_within`` by more than ``for`` (so the alert fires)."""
    critical = pd.Timedelta(target.param("critical_within"))
    hold = pd.Timedelta(target.for_) + 3 * tick
    return max(tick, min(critical / 2, critical - hold))


def _waves(params: DiskParams, fit: SeriesFit, target, t_check: pd.Timedelta, tick: pd.Timedelta,
           sample: pd.Timedelta, failing: bool) -> tuple[Wave, float]:
    """Free space sampled every ``sample``; a daily sawtooth reaches its lowest point exactly at ``t_check``."""
    size = float(round(fit.shape["size"]))
    n = samples(t_check, sample)
    per_day = int(DAY / sample)
    phase = (per_day - 1 - (n - 1)) % per_day
    p = params.peak
    if not failing:
        mean = min(max(fit.shape["free_ratio"], 2 * p + 0.01), 1.0 - 2 * p - 0.01) * size
        if params.mode == "daily" and p:
            return Wave.sawtooth(round(mean + p * size), round(mean - p * size), per_day, n, phase=phase), size
        return Wave.constant(round(mean), n), size
    # a fill from time 0: at t_check the free space left is x * size and runs out after t_star, and both
    # conditions (time to full, guard) have held for longer than `for` by then
    t_star = fill_time_left(target, tick)
    hold = pd.Timedelta(target.for_) + 3 * tick
    ratio = t_check / t_star
    x = min(0.5 * params.guard_critical, params.guard_critical * t_star / (t_star + hold),
            0.9 * (1.0 - 2.0 * p) / (1.0 + ratio))
    rate = x * size / t_star.total_seconds()  # bytes per second
    drift = -rate * sample.total_seconds()
    start_mean = (p + x * (1.0 + ratio)) * size
    if params.mode == "daily" and p:
        return Wave.sawtooth(start_mean + p * size, start_mean - p * size, per_day, n, drift=drift,
                             phase=phase), size
    return Wave().then(start_mean, drift, n), size


def _tests(plan: Plan, inputs: _Inputs, rules: list[Rule]) -> TestFile:
    """Per trend mode: normal behaviour (no alert) and an injected fill on a few filesystems that between
    them reach every learned parameter (both severities fire); once, the same fills on read-only
    filesystems (no alert)."""
    target = plan.target
    tick, sample = _timing(plan)
    alerts = [r for r in rules if r.alert]
    notes, cases = [], []
    reps = plan.representatives(KEYS)
    try:
        for mode in ("daily", "linear"):
            group = [fit for fit in reps if fit.params.mode == mode]
            if not group:
                continue
            t_end = max(_check_time(fit.params, target, tick) for fit in group)
            normal, checks = [], []
            for fit in group:
                wave, size = _waves(fit.params, fit, target, t_end, tick, sample, failing=False)
                normal += _inputs_for(inputs, fit.labels, wave, size, sample, readonly=0)
                for field_name, rec in (("peak", "daily_peak_ratio"), ("guard_warning", "guard_ratio:warning"),
                                        ("guard_critical", "guard_ratio:critical")):
                    checks.append((record(target, rec), recorded(target, rec, fit.labels),
                                   float(getattr(fit.params, field_name))))
            expr_tests = tuple(
                ExprTest(t_end, name, tuple((text, value) for n2, text, value in checks if n2 == name))
                for name in sorted({c[0] for c in checks}))
            what = "no fill, the learned daily cycle" if mode == "daily" else "no fill"
            cases.append(TestCase(name=f"{mode} trend, normal behaviour ({what}): no alert", interval=sample,
                                  input_series=tuple(normal), alert_tests=(AlertTest(t_end, ALERT, ()),),
                                  expr_tests=expr_tests))
            if not alerts_expandable(alerts):
                notes.append("annotations use templates other than $labels: the injected-failure cases are left out")
                continue
            failing, readonly, expected = [], [], []
            for fit in group:
                wave, size = _waves(fit.params, fit, target, t_end, tick, sample, failing=True)
                failing += _inputs_for(inputs, fit.labels, wave, size, sample, readonly=0)
                readonly += _inputs_for(inputs, fit.labels, wave, size, sample, readonly=1)
                expected += [expected_alert(r, fit.labels) for r in alerts]
            expected.sort(key=lambda a: sorted(a.labels.items()))
            cases.append(TestCase(
                name=f"{mode} trend, injected fill on {len(group)} filesystem(s): warning and critical fire at "
                     f"{dur(t_end)}",
                interval=sample, input_series=tuple(failing),
                alert_tests=(AlertTest(pd.Timedelta(0), ALERT, ()), AlertTest(t_end, ALERT, tuple(expected)))))
            if inputs.readonly and not any("read-only" in c.name for c in cases):
                cases.append(TestCase(
                    name=f"{mode} trend, the same fills on read-only filesystems: no alert", interval=sample,
                    input_series=tuple(readonly), alert_tests=(AlertTest(t_end, ALERT, ()),)))
    except NotInvertible as exc:
        notes.append(f"promcast cannot write input series for this target's expressions ({exc}); "
                     "only the rules' syntax is checked")
        cases = []
    return TestFile(evaluation_interval=tick, cases=tuple(cases), notes=tuple(dict.fromkeys(notes)))


def _inputs_for(inputs: _Inputs, labels, wave: Wave, size: float, tick: pd.Timedelta, *, readonly: int) -> list:
    n = len(wave)
    out = synthesize(inputs.avail.expr, labels, wave, tick)
    if inputs.size is not None:
        out += synthesize(inputs.size.expr, labels, Wave.constant(size, n), tick)
    if inputs.readonly:
        out += synthesize(inputs.readonly, labels, Wave.constant(readonly, n), tick)
    return out


__all__ = ["ALERT", "DiskParams", "build", "fit_series", "prepare"]
