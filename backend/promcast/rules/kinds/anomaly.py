"""``anomaly_band``: alert when a series leaves the band it normally stays in.

Two modes:

- ``promql`` (default): a self-contained seasonal baseline in PromQL, the rule SREs hand-write
  (GitLab's ``avg_over_time(...[1h] offset 1w)`` z-scores) with every choice learned by backtesting on
  the series' own history: the season (a day or a week), how many past seasons to take the median
  of, the averaging window around the same time of day/week, whether to correct for the level having
  moved since (growth), and the spread (robust standard deviation of the baseline's residuals).
  Recording rules ``yhat``, ``spread``, ``yhat_lower``, ``yhat_upper``; the band is
  ``yhat +- sensitivity * spread``.
- ``exported``: promcast serves its model's band as gauges ``promcast_forecast{target, bound}`` (bound
  ``yhat``, ``yhat_lower``, ``yhat_upper``, plus the series' own labels; scrape it with
  ``honor_labels: true``); recording rules ``promcast:<name>:yhat|yhat_lower|yhat_upper`` read them and
  ``PromcastForecastMissing`` fires when the gauges disappear.

Both alert with ``PromcastAnomaly`` when the actual value is outside the band for ``for``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...errors import InputError
from ...models import fit_with_fallback
from ...models.base import robust_scale
from ..fit import SeriesFailure, SeriesFit, SeriesJob, Window, fetch
from ..model import AlertTest, ExprTest, InputSeries, Rule, RuleGroup, TestCase, TestFile
from ..promql import Input, Source, dur, num, string
from ..sets import e12
from ..testgen import NotInvertible, Wave, samples, series_text, synthesize
from .common import Plan, alert, alerts_expandable, ceil_to, expected_alert, record, record_labels, recorded, rule_group

ALERT = "PromcastAnomaly"
MISSING_ALERT = "PromcastForecastMissing"
DAY = pd.Timedelta(days=1)
WEEK = pd.Timedelta(days=7)
MAX_SEASONS = 4
#: series per exported-mode target whose model is actually fitted (a check, nothing is embedded)
EXPORTED_CHECKS = 3
BACKTEST = pd.Timedelta(days=2)


@dataclass(frozen=True)
class BandParams:
    season: pd.Timedelta
    seasons: int
    window: pd.Timedelta
    trend: bool
    spread: float

    @property
    def shape(self) -> tuple:
        """What the baseline terms depend on."""
        return (self.season, self.seasons, self.window, self.trend)


def _baseline_text(p: BandParams) -> str:
    level = ", level-corrected" if p.trend else ""
    unit = "day" if p.season == DAY else "week"
    span = f"{p.seasons} {unit}s" if p.seasons > 1 else unit
    return f"median of the same {dur(p.window)} over the last {span}{level}"


FIELDS = (("baseline", _baseline_text), ("spread", lambda p: num(p.spread, 4)))
KEYS = (lambda p: p.shape, lambda p: p.spread)


@dataclass(frozen=True)
class ExportedParams:
    """Exported mode embeds nothing per series; the model name is reported."""

    model: str



EXPORTED_FIELDS = (("band", lambda p: f"served by promcast ({p.model})"),)


# ------------------------------------------------------------------------------------------ fitting
def prepare(target, source, window: Window) -> tuple[list[SeriesJob], list[SeriesFailure]]:
    histories = fetch(source, target, target.expr, window)
    if target.param("mode") == "exported":
        # the rules embed nothing per series: fitting a few series checks the model and shows its fallback
        return [SeriesJob(target.name, h.legend, fit_exported, (dict(h.labels), h.values, target.param("model"),
                                                                 i < EXPORTED_CHECKS))
                for i, h in enumerate(histories)], []
    return [SeriesJob(target.name, h.legend, fit_promql, (dict(h.labels), h.values, pd.Timedelta(target.step)))
            for h in histories], []


def fit_exported(labels, values: pd.Series, model: str, check_model: bool = True) -> SeriesFit:
    """Check that the model fits (falling back to simpler ones on short history) and report its band."""
    clean = values.dropna()
    if clean.empty:
        raise InputError("the series has no values")
    shape = {"level": float(np.median(clean)), "spread": float(robust_scale(np.diff(clean.to_numpy())) or 1.0)}
    if not check_model:
        return SeriesFit(labels=labels, params=ExportedParams(model), numbers={"model": model}, shape=shape)
    fitted = fit_with_fallback(model, clean, warn=False)
    numbers = {"model": fitted.name, "fallback": getattr(fitted, "fallback_reason_", None),
               "residual_scale": float(getattr(fitted, "resid_scale_", float("nan")))}
    return SeriesFit(labels=labels, params=ExportedParams(model), numbers=numbers, shape=shape)


def fit_promql(labels, values: pd.Series, step: pd.Timedelta) -> SeriesFit:
    """Backtest seasonal baselines on the series' own history and keep the one with the tightest residuals."""
    grid = _regular(values, step)
    x = grid.to_numpy(dtype=float)
    span = grid.index[-1] - grid.index[0]
    test = min(BACKTEST, span / 4)
    n_test = max(1, int(test / step))
    best = None
    for season in (DAY, WEEK):
        for window in _windows(step):
            for trend in (False, True):
                for k in range(1, MAX_SEASONS + 1):
                    need = k * season + window + (season if trend else pd.Timedelta(0)) + test
                    if need > span:
                        break
                    pred = _baseline(x, step, season, k, window, trend)[-n_test:]
                    resid = x[-n_test:] - pred
                    resid = resid[np.isfinite(resid)]
                    if len(resid) < max(6, n_test // 2):
                        continue
                    scale = robust_scale(resid, float(np.nanmedian(x)))
                    complexity = (k, trend, season, window)
                    # prefer the simpler candidate unless the more complex one is 2 % tighter
                    if best is None or scale < best[0] * 0.98:
                        best = (scale, complexity, resid)
    if best is None:
        raise NotEnoughHistory(f"an anomaly band needs at least {dur(DAY + _windows(step)[0] + test)} of history "
                               f"(a day to compare with, plus the backtest); got {dur(span)}")
    scale, (k, trend, season, window), resid = best
    spread = e12(scale)
    params = BandParams(season, k, window, trend, spread)
    wave_amp = float(np.nanquantile(x, 0.95) - np.nanquantile(x, 0.05)) / 2.0
    numbers = {"season": dur(season), "seasons": k, "window": dur(window), "level_corrected": trend,
               "spread": scale, "outside_3sd_share": float(np.mean(np.abs(resid) > 3 * scale))}
    shape = {"level": float(np.nanmedian(x)), "amplitude": wave_amp}
    return SeriesFit(labels=labels, params=params, numbers=numbers, shape=shape)


class NotEnoughHistory(InputError):
    """Too little history to backtest a seasonal baseline."""


def _windows(step: pd.Timedelta) -> list[pd.Timedelta]:
    """Averaging windows around the same time of day: at least three samples each."""
    out = []
    for w in (pd.Timedelta(v) for v in ("15min", "30min", "1h")):
        if w >= 3 * step and w not in out:
            out.append(w)
    return out or [3 * step]


def _regular(values: pd.Series, step: pd.Timedelta) -> pd.Series:
    values = values.dropna()
    index = pd.date_range(values.index[0].ceil(step), values.index[-1].floor(step), freq=step)
    return values.reindex(values.index.union(index)).ffill(limit=3).reindex(index)


def _window_mean(x: np.ndarray, before: int, after: int) -> np.ndarray:
    """Mean of x[i - before .. i + after] (NaN-aware; NaN where the window leaves the data)."""
    ok = np.isfinite(x)
    c = np.concatenate([[0.0], np.cumsum(np.where(ok, x, 0.0))])
    n = np.concatenate([[0], np.cumsum(ok)])
    i = np.arange(len(x))
    lo, hi = i - before, i + after + 1
    valid = (lo >= 0) & (hi <= len(x))
    lo, hi = np.clip(lo, 0, len(x)), np.clip(hi, 0, len(x))
    count = n[hi] - n[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (c[hi] - c[lo]) / count
    out[~valid | (count == 0)] = np.nan
    return out


def _shift(a: np.ndarray, k: int) -> np.ndarray:
    out = np.full_like(a, np.nan)
    if k < len(a):
        out[k:] = a[:len(a) - k]
    return out


def _baseline(x: np.ndarray, step: pd.Timedelta, season: pd.Timedelta, k: int, window: pd.Timedelta,
              trend: bool) -> np.ndarray:
    """What the ``yhat`` rule computes at each sample (mirrors its PromQL)."""
    s = int(season / step)
    half = int(window / step / 2)
    centred = _window_mean(x, half, half)
    recent = _window_mean(x, s, 0) if trend else None
    terms = []
    for j in range(1, k + 1):
        term = _shift(centred, j * s)
        if trend:
            term = term + recent - _shift(recent, j * s)
        terms.append(term)
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmedian(np.vstack(terms), axis=0)


# ------------------------------------------------------------------------------------------ rules
def _yhat_term(shape: tuple):
    p = BandParams(*shape, spread=0.0)

    def build(src: Source) -> str:
        terms = []
        for j in range(1, p.seasons + 1):
            offset = p.season * j - p.window / 2
            term = f"avg_over_time({src.range(p.window, offset=offset)})"
            if p.trend:
                term += (f" + avg_over_time({src.range(p.season)})"
                         f" - avg_over_time({src.range(p.season, offset=p.season * j)})")
            terms.append((j, term))
        if len(terms) == 1:
            return terms[0][1]
        rows = " or ".join(f'label_replace({t}, "promcast_season", "{j}", "", "")' for j, t in terms)
        return f"quantile without(promcast_season) (0.5, {rows})"
    return build


def build(plan: Plan, group_name: str) -> RuleGroup:
    target = plan.target
    step = pd.Timedelta(target.step)
    actual = Input(target.expr, step)
    keys = plan.keys
    rl = record_labels(target)
    z = target.param("sensitivity")
    yhat, lower, upper, spread = (record(target, s) for s in ("yhat", "yhat_lower", "yhat_upper", "spread"))
    exported = target.param("mode") == "exported"
    if exported:
        rules = [Rule(record=record(target, bound), labels=rl,
                      expr=f"max without(bound, target) (promcast_forecast{{target={string(target.name)}, "
                           f"bound={string(bound)}}})")
                 for bound in ("yhat", "yhat_lower", "yhat_upper")]
    else:
        rules = [
            Rule(record=yhat, expr=plan.terms(actual, KEYS[0], _yhat_term), labels=rl),
            Rule(record=spread, expr=plan.param_series(yhat, KEYS[1]), labels=rl),
            Rule(record=lower, expr=f"{yhat} - {num(z)} * {spread}", labels=rl),
            Rule(record=upper, expr=f"{yhat} + {num(z)} * {spread}", labels=rl),
        ]
    learned = plan.learned(EXPORTED_FIELDS if exported else FIELDS)
    where = plan.label_part()
    value = actual.source().instant()
    band = "promcast's forecast band" if exported else f"its learned seasonal band ({num(z)} spreads wide)"
    summary = f"{target.name}: value outside its expected band ({where})"
    description = (f"{target.name} ({where}) has been outside {band} for {dur(target.for_)}: "
                   f"below {lower} or above {upper}.")
    rules.append(alert(
        target, ALERT, target.param("severity"),
        f"({value} < ignoring(promcast_target) {lower})\nor\n({value} > ignoring(promcast_target) {upper})",
        summary, description, learned))
    if exported:
        rules.append(alert(
            target, MISSING_ALERT, "warning", f"absent(promcast_forecast{{target={string(target.name)}}})",
            f"{target.name}: promcast serves no forecast band",
            f"Prometheus has no promcast_forecast gauges for target {target.name}: the anomaly alert "
            "cannot fire. Check that promcast is up and scraped with honor_labels: true.", learned,
            for_=max(pd.Timedelta(target.for_), pd.Timedelta("15m"))))
    return rule_group(plan, group_name, rules, _tests(plan, actual, rules, exported), learned)


# ------------------------------------------------------------------------------------------ tests
def _history_needed(p: BandParams) -> pd.Timedelta:
    return p.season * p.seasons + p.window + (p.season if p.trend else pd.Timedelta(0))


def _tick(plan: Plan) -> pd.Timedelta:
    """Test sample interval: at least four samples in every averaging window."""
    if plan.target.param("mode") == "exported":
        return pd.Timedelta("5min")
    for tick in (pd.Timedelta("15min"), pd.Timedelta("5min")):
        if all(s.params.window / tick >= 3 for s in plan.fit.series):
            return tick
    return pd.Timedelta("1min")


def _eval_tick(plan: Plan, sample: pd.Timedelta) -> pd.Timedelta:
    """Evaluation interval of the tests: coarse (promtool evaluates every rule at every tick from time 0),
    a multiple of the sample interval, at most ``for``."""
    for_ = pd.Timedelta(plan.target.for_)
    for tick in (pd.Timedelta(v) for v in ("1h", "30min", "15min", "5min")):
        if tick >= sample and tick % sample == pd.Timedelta(0) and (tick <= for_ or tick == sample):
            return tick
    return sample


def _normal_wave(p: BandParams, fit: SeriesFit, z: float, n: int, tick: pd.Timedelta) -> Wave:
    """A triangle wave repeating every season, gentle enough that the window mean tracks it."""
    per = int(p.season / tick)
    # at a peak, the window mean lags the value by slope * window / 4: keep that under a quarter band
    amp = min(fit.shape["amplitude"], 0.25 * z * p.spread * (p.season / p.window) / 4)
    amp = _dyadic(max(amp, 0.0))
    level = _dyadic(fit.shape["level"])
    half = per // 2
    up = _dyadic(2 * amp / half) if half else 0.0
    wave, i = Wave(), 0
    while i < n:
        a = min(half, n - i)
        wave.then(level - amp, up, a)
        i += a
        b = min(per - half, n - i)
        wave.then(level - amp + up * half, -up, b)
        i += b
    return wave


def _dyadic(value: float) -> float:
    """Round to a multiple of a power of two near 1/4096 of the value: exact in float arithmetic."""
    if value == 0 or not np.isfinite(value):
        return 0.0
    quantum = 2.0 ** (np.floor(np.log2(abs(value))) - 12)
    return float(np.round(value / quantum) * quantum)


def _tests(plan: Plan, actual: Input, rules, exported: bool) -> TestFile:
    target = plan.target
    z = float(target.param("sensitivity"))
    alerts = [r for r in rules if r.alert == ALERT]
    reps = plan.representatives([lambda p: p] if exported else KEYS)
    for_ = pd.Timedelta(target.for_)
    tick = _tick(plan)
    cases, notes = [], []
    try:
        if exported:
            cases = _exported_cases(plan, actual, rules, reps, z, tick)
        else:
            every = _eval_tick(plan, tick)
            t_inj = ceil_to(max(_history_needed(fit.params) for fit in reps) + every * 2, every)
            t_check = ceil_to(t_inj + for_ + every * 2, every)
            n = samples(t_check, tick)
            normal, checks = [], []
            for fit in reps:
                normal += synthesize(actual.expr, fit.labels, _normal_wave(fit.params, fit, z, n, tick), tick)
                checks.append((recorded(target, "spread", fit.labels), float(fit.params.spread)))
            cases.append(TestCase(
                name="normal behaviour (the learned season repeating): no alert", interval=tick,
                input_series=tuple(normal), alert_tests=(AlertTest(t_check, ALERT, ()),),
                expr_tests=(ExprTest(t_check, record(target, "spread"), tuple(checks)),)))
            if alerts_expandable(alerts):
                expected = sorted((expected_alert(r, fit.labels) for fit in reps for r in alerts),
                                  key=lambda a: sorted(a.labels.items()))
                for sign, way in ((1.0, "up"), (-1.0, "down")):
                    failing = []
                    for fit in reps:
                        wave = _normal_wave(fit.params, fit, z, n, tick).add_from(
                            int(t_inj / tick), sign * _dyadic((z + 3.0) * fit.params.spread))
                        failing += synthesize(actual.expr, fit.labels, wave, tick)
                    cases.append(TestCase(
                        name=f"a step {way} of {num(z + 3)} spreads at {dur(t_inj)} on {len(reps)} series: "
                             f"fires {dur(for_)} later",
                        interval=tick, input_series=tuple(failing),
                        alert_tests=(AlertTest(t_inj - every, ALERT, ()), AlertTest(t_check, ALERT, tuple(expected)))))
            else:
                notes.append("annotations use templates other than $labels: the injected-failure cases are left out")
    except NotInvertible as exc:
        notes.append(f"promcast cannot write input series for this target ({exc}); only the rules' syntax is checked")
        cases = []
    every = tick if exported else _eval_tick(plan, tick)
    return TestFile(evaluation_interval=every, cases=tuple(cases), notes=tuple(notes))


def _exported_cases(plan: Plan, actual: Input, rules, reps, z: float, tick: pd.Timedelta
                    ) -> list[TestCase]:
    target = plan.target
    for_ = pd.Timedelta(target.for_)
    missing = next(r for r in rules if r.alert == MISSING_ALERT)
    anomaly = [r for r in rules if r.alert == ALERT]
    t_inj = pd.Timedelta("1h")
    t_check = ceil_to(t_inj + max(for_, missing.for_) + tick * 2, tick)
    n = samples(t_check, tick)
    normal, failing = [], []
    expected = []
    for fit in reps:
        level, width = _dyadic(fit.shape["level"]), _dyadic(max(fit.shape["spread"], 1e-6) * z)
        band = {"yhat": level, "yhat_lower": level - width, "yhat_upper": level + width}
        gauges = []
        for bound, value in band.items():
            labels = {**{k: v for k, v in fit.labels.items() if k != "__name__"}, "target": target.name, "bound": bound}
            gauges.append(InputSeries(series_text("promcast_forecast", labels), Wave.constant(value, n).notation()))
        normal += gauges + synthesize(actual.expr, fit.labels, Wave.constant(level, n), tick)
        step_up = Wave.constant(level, n).add_from(int(t_inj / tick), 2 * width + _dyadic(abs(level) + 1))
        failing += gauges + synthesize(actual.expr, fit.labels, step_up, tick)
        expected += [expected_alert(r, fit.labels) for r in anomaly]
    plain = [s for s in normal if not s.series.startswith("promcast_forecast")]
    cases = [
        TestCase("the actual value inside the served band: no alert", tick, tuple(normal),
                 alert_tests=(AlertTest(t_check, ALERT, ()), AlertTest(t_check, MISSING_ALERT, ()))),
    ]
    if alerts_expandable(anomaly + [missing]):
        cases.append(TestCase(
            f"the actual value steps above the band at {dur(t_inj)}: fires {dur(for_)} later", tick,
            tuple(failing), alert_tests=(AlertTest(t_inj - tick, ALERT, ()),
                                         AlertTest(t_check, ALERT, tuple(expected)))))
        cases.append(TestCase(
            "promcast not scraped (no promcast_forecast): the missing-forecast alert fires", tick,
            tuple(plain), alert_tests=(AlertTest(t_check, MISSING_ALERT,
                                                 (expected_alert(missing, {"target": target.name}),)),)))
    return cases


__all__ = ["ALERT", "BandParams", "ExportedParams", "MISSING_ALERT", "build", "fit_exported", "fit_promql", "prepare"]
