"""Predictive-maintenance benchmark: promcast's predictors vs the usual PromQL alerts, same data.

Scenarios come from ``benchmarks/scenarios.py`` (labelled, deterministic). Every number is printed
next to the common baseline evaluated on the very same series:

- disk: ``predict_linear(avail[6h], 24h) < 0`` (least-squares slope over the last 6 hours,
  extrapolated 24 hours, evaluated every 5 minutes as Prometheus would), and the days to full of
  ``predict_linear`` over 6 hours and of ``deriv`` over 1 hour;
- memory: ``deriv(mem[1h]) > 0`` (least-squares slope over the last hour), and the hours to the limit
  of ``deriv`` over 1 hour and ``predict_linear`` over 6 hours;
- capacity: ``predict_linear(load[7d], t)`` (the linear trend of the last week).

    .venv/bin/python -m benchmarks.maintenance [--quick] [--seed 1] [--only disk] [--json OUT]

``--quick`` runs about a quarter of the scenarios (for a smoke test). The default runs 330 disks, 270
processes and 38 capacity cases; ``--seed 1`` draws a second, independent set (held out: develop on
seed 0). Each section ends with the issue's acceptance checks, PASS or FAIL.

What is measured (every history is the last 14 days before the evaluation time):

- disk: relative error of ``days_to_full`` evaluated 14, 7, 3 and 1 days before the noise-free usage
  reaches the capacity (a missing prediction counts as 100 %; evaluations before a fill began are left
  out), and how often the truth falls in ``[days_to_full_lower, days_to_full_upper]``; stable disks are
  evaluated every 6 hours over their last 3 days and count as a false alarm when any evaluation says
  "full within 30 days" (the baseline: when its alert fires at any of those times, and at any 5-minute
  step of those 3 days); lead time is how long before full "full within a day" held at every
  evaluation until full (every 6 h over the last 2 days; the baseline every 5 minutes).
- memory: leaks are evaluated 72, 48, 24 and 12 hours before the OOM (those at least 6 hours after
  the process started, 12 hours after a leak began in a running process); a leak counts as detected
  in time when it is flagged at 24 hours ahead (72 hours when it ran more than 4 days until its OOM)
  and at every later checkpoint. Healthy processes count as false leaks when flagged at any of their
  evaluation times (the baseline: when ``deriv > 0`` at any of them, and at any sample of the
  evaluated period). A series the detector refuses (e.g. less than 12 hours of history) counts as not
  flagged. ``time_to_oom_hours`` is scored at every checkpoint (missing counts as 100 %).
- capacity: ``scale_up_date`` minus the noise-free crossing of ``capacity * (1 - headroom)``, in days
  (negative: early), for the upper band (the design's definition) and, as a diagnostic, for ``yhat``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from multiprocessing import Pool
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for extra in (ROOT, ROOT / "backend"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from benchmarks.scenarios import (  # noqa: E402
    DAY,
    DISK_LEADS,
    DiskScenario,
    ProcessScenario,
    capacity_scenarios,
    disk_scenarios,
    history,
    process_scenarios,
)
from promcast.errors import InputError  # noqa: E402
from promcast.maintenance.capacity import CapacityPlanner  # noqa: E402
from promcast.maintenance.disk import DiskUsagePredictor  # noqa: E402
from promcast.maintenance.memory import MemoryLeakDetector  # noqa: E402

HISTORY = pd.Timedelta(days=14)


# ---- PromQL baselines in numpy -------------------------------------------------------------------
def rolling_regression(series: pd.Series, window: pd.Timedelta) -> tuple[np.ndarray, np.ndarray]:
    """For every sample: least-squares ``(slope per second, value at that sample's time)`` over the
    samples in ``(t - window, t]``: what ``deriv`` and ``predict_linear`` compute at each evaluation."""
    t = (series.index.as_unit("ns").asi8 - series.index.as_unit("ns").asi8[0]) / 1e9
    y = series.to_numpy(dtype=float)
    y0 = float(np.median(y)) if len(y) else 0.0
    yc = y - y0
    z = lambda a: np.concatenate([[0.0], np.cumsum(a)])  # noqa: E731
    c1, ct, ctt, cy, cty = z(np.ones_like(t)), z(t), z(t * t), z(yc), z(t * yc)
    left = np.searchsorted(t, t - window.total_seconds(), side="right")
    right = np.arange(1, len(t) + 1)
    n = c1[right] - c1[left]
    st, stt = ct[right] - ct[left], ctt[right] - ctt[left]
    sy, sty = cy[right] - cy[left], cty[right] - cty[left]
    with np.errstate(divide="ignore", invalid="ignore"):
        cov = sty - st * sy / n
        var = stt - st * st / n
        slope = np.where((n >= 2) & (var > 0), cov / var, 0.0)
        at_t = sy / n + slope * (t - st / n) + y0
    return slope, at_t


def baseline_disk_alarm(used: pd.Series, capacity: float) -> pd.Series:
    """``predict_linear(avail[6h], 24h) < 0`` at every sample (avail = capacity - used)."""
    slope, at_t = rolling_regression(capacity - used, pd.Timedelta("6h"))
    return pd.Series(at_t + slope * 86400.0 < 0, index=used.index)


def baseline_days_to_full(used: pd.Series, capacity: float) -> float | None:
    """Days until ``predict_linear(avail[6h], t)`` reaches zero, from the last sample (None: not filling)."""
    slope, at_t = rolling_regression(capacity - used, pd.Timedelta("6h"))
    if slope[-1] >= 0:
        return None
    return max(0.0, float(at_t[-1] / -slope[-1] / 86400.0))


def baseline_leak_alarm(mem: pd.Series) -> pd.Series:
    """``deriv(mem[1h]) > 0`` at every sample."""
    slope, _ = rolling_regression(mem, pd.Timedelta("1h"))
    return pd.Series(slope > 0, index=mem.index)


def at_times(flags: pd.Series, times) -> np.ndarray:
    """The value of a per-sample flag series at (the last sample at or before) each time."""
    pos = np.searchsorted(flags.index.as_unit("ns").asi8, pd.DatetimeIndex(list(times)).as_unit("ns").asi8,
                          side="right") - 1
    return flags.to_numpy()[np.clip(pos, 0, None)]


def sustained_lead(times: list[pd.Timestamp], firing: list[bool], until: pd.Timestamp) -> float:
    """Hours before ``until`` from which the alert fired at every evaluation (0: not firing at the end)."""
    start = None
    for t, f in zip(times, firing):
        if f and start is None:
            start = t
        elif not f:
            start = None
    return 0.0 if start is None else (until - start) / pd.Timedelta("1h")


def _median(values) -> float | None:
    values = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return float(np.median(values)) if values else None


def _rel(pred: float | None, truth: float) -> float:
    """Relative error; a missing prediction (None) counts as 100 %."""
    return 1.0 if pred is None else abs(pred - truth) / truth


# ---- disks ---------------------------------------------------------------------------------------
def baseline_deriv_days_to_full(used: pd.Series, capacity: float) -> float | None:
    """Days to full at ``deriv(used[1h])`` from the last sample (None: not filling)."""
    slope, at_t = rolling_regression(used, pd.Timedelta("1h"))
    if slope[-1] <= 0:
        return None
    return max(0.0, float((capacity - at_t[-1]) / slope[-1] / 86400.0))


def _safe_fit(make, series):
    """A fitted predictor, or None when it refuses the history (counts as no prediction)."""
    try:
        return make().fit(series)
    except InputError:
        return None


def _disk_filling(d: DiskScenario) -> dict:
    out = {"family": d.family, "name": d.name, "evals": []}
    for lead, at in zip(d.eval_leads, d.eval_times):
        truth = (d.full_at - at) / DAY
        h = history(d.series, at, HISTORY)
        ours = _safe_fit(lambda: DiskUsagePredictor(d.capacity), h)
        days = None if ours is None else ours.days_to_full_
        lo = None if ours is None else ours.days_to_full_lower_
        hi = None if ours is None else ours.days_to_full_upper_
        out["evals"].append({
            "lead": lead, "truth": truth, "ours": _rel(days, truth),
            "linear6h": _rel(baseline_days_to_full(h, d.capacity), truth),
            "deriv1h": _rel(baseline_deriv_days_to_full(h, d.capacity), truth),
            "covered": lo is not None and lo <= truth and (hi is None or truth <= hi),
            "width": None if lo is None or hi is None else (hi - lo) / truth,
            "late": days is not None and days > truth,
        })
    # lead time of "full within a day": evaluated every 6 hours over the last 2 days
    times = [d.full_at - pd.Timedelta(hours=h) for h in range(48, 0, -6)]
    crit = []
    for at in times:
        fit = _safe_fit(lambda: DiskUsagePredictor(d.capacity), history(d.series, at, HISTORY))
        crit.append(fit is not None and fit.days_to_full_ is not None and fit.days_to_full_ <= 1.0)
    out["lead_ours_critical"] = sustained_lead(times, crit, d.full_at)
    alarm = baseline_disk_alarm(d.series, d.capacity)
    window = alarm[alarm.index >= d.full_at - pd.Timedelta(days=2)]
    out["lead_base"] = sustained_lead(list(window.index), list(window.to_numpy()), d.full_at)
    return out


def _disk_stable(d: DiskScenario) -> dict:
    within = []
    for at in d.eval_times:
        fit = _safe_fit(lambda: DiskUsagePredictor(d.capacity), history(d.series, at, HISTORY))
        within.append(fit is not None and fit.days_to_full_ is not None and fit.days_to_full_ <= 30.0)
    alarm = baseline_disk_alarm(d.series, d.capacity)
    last = alarm[alarm.index >= d.eval_times[0]]
    return {"family": d.family, "name": d.name, "ours_false": any(within),
            "base_false_same_times": bool(at_times(alarm, d.eval_times).any()),
            "base_false_any_time": bool(last.any())}


def _disk_job(d: DiskScenario) -> dict:
    return _disk_filling(d) if d.filling else _disk_stable(d)


def disk_report(rows: list[dict]) -> dict:
    filling = [r for r in rows if "evals" in r]
    stable = [r for r in rows if "ours_false" in r]
    evals = [e for r in filling for e in r["evals"]]
    rep = {"filling_disks": len(filling), "stable_disks": len(stable), "evaluations": len(evals)}
    for lead in DISK_LEADS:
        sel = [e for e in evals if e["lead"] == lead]
        rep[f"T-{lead}d median_rel_error (n={len(sel)})"] = _median(e["ours"] for e in sel)
        rep[f"T-{lead}d   baseline predict_linear 6h"] = _median(e["linear6h"] for e in sel)
        rep[f"T-{lead}d   baseline deriv 1h"] = _median(e["deriv1h"] for e in sel)
        rep[f"T-{lead}d   interval_coverage"] = float(np.mean([e["covered"] for e in sel])) if sel else None
    rep["interval_coverage_all"] = float(np.mean([e["covered"] for e in evals]))
    rep["interval_median_width_over_truth"] = _median(e["width"] for e in evals)
    rep["late_share (days_to_full > truth)"] = float(np.mean([e["late"] for e in evals]))
    rep["false_fill_within_30d"] = float(np.mean([r["ours_false"] for r in stable]))
    rep["baseline_false_alarms_same_times"] = float(np.mean([r["base_false_same_times"] for r in stable]))
    rep["baseline_false_alarms_any_time"] = float(np.mean([r["base_false_any_time"] for r in stable]))
    rep["median_lead_hours_critical"] = _median(r["lead_ours_critical"] for r in filling)
    rep["baseline_median_lead_hours (max 48)"] = _median(r["lead_base"] for r in filling)
    per_family = {}
    for fam in sorted({r["family"] for r in filling}):
        sel = [e for r in filling if r["family"] == fam for e in r["evals"]]
        vals = {f"{lead}d": _median(e["ours"] for e in sel if e["lead"] == lead) for lead in DISK_LEADS}
        vals["cover"] = float(np.mean([e["covered"] for e in sel]))
        vals["lin6h_7d"] = _median(e["linear6h"] for e in sel if e["lead"] == 7)
        per_family[fam] = vals
    for fam in sorted({r["family"] for r in stable}):
        sel = [r for r in stable if r["family"] == fam]
        per_family[fam] = {"false": float(np.mean([r["ours_false"] for r in sel])),
                           "base_false_any_time": float(np.mean([r["base_false_any_time"] for r in sel]))}
    rep["per_family"] = per_family
    rep["acceptance"] = {
        "T-7d median rel error <= 0.15": _ok(rep[f"T-7d median_rel_error (n={_n(evals, 7)})"], 0.15),
        "T-14d median rel error <= 0.25": _ok(rep[f"T-14d median_rel_error (n={_n(evals, 14)})"], 0.25),
        "interval coverage >= 0.80": _ok(0.80, rep["interval_coverage_all"]),
        "zero false alarms on stable disks": _ok(rep["false_fill_within_30d"], 0.0),
    }
    return rep


def _n(evals, lead):
    return sum(e["lead"] == lead for e in evals)


def _ok(value, bound) -> str:
    """``value <= bound`` as PASS/FAIL (None: FAIL)."""
    return "n/a" if value is None or bound is None else ("PASS" if value <= bound + 1e-12 else "FAIL")


# ---- memory --------------------------------------------------------------------------------------
def baseline_hours_to_oom(mem: pd.Series, limit: float, window: pd.Timedelta) -> float | None:
    """Hours until the least-squares line over ``window`` (``deriv``/``predict_linear``) reaches ``limit``."""
    slope, at_t = rolling_regression(mem, window)
    if slope[-1] <= 0:
        return None
    return max(0.0, float((limit - at_t[-1]) / slope[-1] / 3600.0))


def _process_job(p: ProcessScenario) -> dict:
    flags, ttos = [], []
    base_alarm = baseline_leak_alarm(p.series)
    for at in p.eval_times:
        h = history(p.series, at, HISTORY)
        det = _safe_fit(lambda: MemoryLeakDetector(p.limit), h)
        flags.append(det is not None and bool(det.is_leak_))
        ttos.append(None if det is None or not det.is_leak_ else det.time_to_oom_hours_)
    base_flags = [bool(v) for v in at_times(base_alarm, p.eval_times)]
    out = {"family": p.family, "name": p.name, "flags": flags, "base_flags": base_flags}
    if p.leaking:
        ahead = [(p.oom_at - at) / pd.Timedelta("1h") for at in p.eval_times]
        lifetime = (p.oom_at - p.started_at) / DAY
        need = 72.0 if lifetime > 4.0 else 24.0
        # detected in time: flagged at the checkpoint `need` hours ahead and at every later one
        idx = [i for i, a in enumerate(ahead) if a <= need + 1e-6]
        out["lifetime_days"] = lifetime
        out["need_hours"] = need
        out["detected"] = bool(idx) and all(flags[i] for i in idx)
        out["base_detected"] = bool(idx) and all(base_flags[i] for i in idx)
        out["detected_24h"] = all(f for f, a in zip(flags, ahead) if a <= 24.0 + 1e-6)
        out["tto_rel"] = [_rel(t, a) for t, a in zip(ttos, ahead)]
        out["tto_late"] = [t is not None and t > a for t, a in zip(ttos, ahead)]
        out["tto_rel_24h"] = [_rel(t, a) for t, a in zip(ttos, ahead) if abs(a - 24.0) < 1e-6]
        base = {"deriv1h": pd.Timedelta("1h"), "linear6h": pd.Timedelta("6h")}
        for key, window in base.items():
            out[f"tto_rel_{key}"] = [_rel(baseline_hours_to_oom(history(p.series, at, HISTORY), p.limit, window), a)
                                     for at, a in zip(p.eval_times, ahead)]
    else:
        out["false"] = any(flags)
        out["base_false_same_times"] = any(base_flags)
        lo = p.eval_times[0]
        out["base_false_any_time"] = bool(base_alarm[base_alarm.index >= lo].any())
    return out


def memory_report(rows: list[dict]) -> dict:
    leaks = [r for r in rows if "detected" in r]
    healthy = [r for r in rows if "false" in r]
    long = [r for r in leaks if r["need_hours"] == 72.0]
    rep = {
        "leaks": len(leaks), "healthy": len(healthy), "leaks_oom_over_4d": len(long),
        "leak_recall (detected in time)": float(np.mean([r["detected"] for r in leaks])),
        "baseline_recall deriv 1h > 0": float(np.mean([r["base_detected"] for r in leaks])),
        "detected_24h_ahead": float(np.mean([r["detected_24h"] for r in leaks])),
        "false_positive_rate (healthy)": float(np.mean([r["false"] for r in healthy])),
        "baseline_false_same_times": float(np.mean([r["base_false_same_times"] for r in healthy])),
        "baseline_false_any_time": float(np.mean([r["base_false_any_time"] for r in healthy])),
        "time_to_oom median_rel_error (all checkpoints)": _median(v for r in leaks for v in r["tto_rel"]),
        "time_to_oom median_rel_error at 24h": _median(v for r in leaks for v in r["tto_rel_24h"]),
        "  baseline deriv 1h": _median(v for r in leaks for v in r["tto_rel_deriv1h"]),
        "  baseline predict_linear 6h": _median(v for r in leaks for v in r["tto_rel_linear6h"]),
        "time_to_oom late share": float(np.mean([v for r in leaks for v in r["tto_late"]])),
    }
    per_family = {}
    for fam in sorted({r["family"] for r in leaks}):
        sel = [r for r in leaks if r["family"] == fam]
        per_family[fam] = {"recall": float(np.mean([r["detected"] for r in sel])),
                           "tto_rel": _median(v for r in sel for v in r["tto_rel"]),
                           "base_recall": float(np.mean([r["base_detected"] for r in sel]))}
    for fam in sorted({r["family"] for r in healthy}):
        sel = [r for r in healthy if r["family"] == fam]
        per_family[fam] = {"false": float(np.mean([r["false"] for r in sel])),
                           "base_false_same_times": float(np.mean([r["base_false_same_times"] for r in sel]))}
    rep["per_family"] = per_family
    rep["missed"] = [(r["name"], round(r["lifetime_days"], 1)) for r in leaks if not r["detected"]]
    rep["false_names"] = [r["name"] for r in healthy if r["false"]]
    rep["acceptance"] = {
        "leak recall >= 0.9": _ok(0.9, rep["leak_recall (detected in time)"]),
        "false positives <= 0.05": _ok(rep["false_positive_rate (healthy)"], 0.05),
        "time_to_oom median rel error <= 0.25": _ok(rep["time_to_oom median_rel_error (all checkpoints)"], 0.25),
    }
    return rep


# ---- capacity ------------------------------------------------------------------------------------
def _linear_crossing(series: pd.Series, threshold: float, horizon: pd.Timedelta) -> pd.Timestamp | None:
    """When ``predict_linear(load[7d], t)`` first reaches ``threshold`` (None: not within horizon)."""
    week = series[series.index > series.index[-1] - pd.Timedelta(days=7)]
    slope, at_t = rolling_regression(week, pd.Timedelta(days=7))
    now_value, s = float(at_t[-1]), float(slope[-1])
    if now_value >= threshold:
        return series.index[-1]
    if s <= 0:
        return None
    at = series.index[-1] + pd.Timedelta(seconds=(threshold - now_value) / s)
    return at if at <= series.index[-1] + horizon else None


def _capacity_job(args) -> dict:
    c, model = args
    t0 = time.perf_counter()
    plan = CapacityPlanner(c.capacity, headroom=c.headroom, horizon=c.horizon, model=model).fit(c.series)
    seconds = time.perf_counter() - t0
    base = _linear_crossing(c.series, c.capacity * (1 - c.headroom), c.horizon)

    def err(pred):
        if c.crossing_at is None:
            return None
        return None if pred is None else (pred - c.crossing_at) / DAY

    yhat = plan.forecast_["yhat"].to_numpy()
    hit = np.flatnonzero(yhat >= plan.threshold_)
    yhat_at = plan.forecast_.index[hit[0]] if len(hit) else None
    return {"family": c.family, "name": c.name, "truth": c.crossing_at, "ours": plan.scale_up_date_,
            "err": err(plan.scale_up_date_), "yhat_err": err(yhat_at), "base_err": err(base), "base": base,
            "seconds": seconds, "ours_none": plan.scale_up_date_ is None, "base_none": base is None}


def capacity_report(rows: list[dict], model: str) -> dict:
    """``scale_up_date`` (upper band) errors in days, signed: negative is early, the safe side."""
    crossing = [r for r in rows if r["truth"] is not None]
    never = [r for r in rows if r["truth"] is None]
    return {
        "model": model, "cases_with_crossing": len(crossing), "cases_without": len(never),
        "median_abs_error_days": _median(abs(r["err"]) for r in crossing if r["err"] is not None),
        "median_signed_error_days": _median(r["err"] for r in crossing if r["err"] is not None),
        "missed_crossings": sum(r["ours_none"] for r in crossing),
        "yhat_crossing_median_abs_error_days": _median(abs(r["yhat_err"]) for r in crossing if r["yhat_err"] is not None),
        "false_crossings": sum(not r["ours_none"] for r in never),
        "baseline_median_abs_error_days": _median(abs(r["base_err"]) for r in crossing if r["base_err"] is not None),
        "baseline_median_signed_error_days": _median(r["base_err"] for r in crossing if r["base_err"] is not None),
        "baseline_missed_crossings": sum(r["base_none"] for r in crossing),
        "baseline_false_crossings": sum(not r["base_none"] for r in never),
        "median_fit_seconds": _median(r["seconds"] for r in rows),
    }


# ---- driver --------------------------------------------------------------------------------------
def _fmt(value) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def print_section(title: str, rep: dict) -> None:
    print(f"\n== {title}")
    for key, value in rep.items():
        if key in ("per_family", "acceptance"):
            if key == "acceptance":
                print("   acceptance:")
            for fam, vals in value.items():
                if not isinstance(vals, dict):
                    print(f"     {fam:40s} {vals}")
                    continue
                print(f"   {fam:22s} " + "  ".join(f"{k}={_fmt(v)}" for k, v in vals.items()))
        elif isinstance(value, list):
            print(f"   {key}: {value[:12]}{' ...' if len(value) > 12 else ''}")
        else:
            print(f"   {key:42s} {_fmt(value)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a quarter of the scenarios")
    parser.add_argument("--capacity-model", default="prophet", help="forecaster for the capacity cases")
    parser.add_argument("--only", choices=["disk", "memory", "capacity"], action="append")
    parser.add_argument("--seed", type=int, default=0, help="scenario set (0 is the reported one)")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--json", help="also write the report as JSON here")
    args = parser.parse_args(argv)
    only = set(args.only or ["disk", "memory", "capacity"])
    report: dict = {}
    started = time.perf_counter()
    with Pool(args.workers) as pool:
        if "disk" in only:
            disks = disk_scenarios(per_family=8 if args.quick else 30, seed=args.seed)
            rows = pool.map(_disk_job, disks, chunksize=2)
            report["disk"] = disk_report(rows)
            print_section(f"disk ({len(disks)} scenarios)", report["disk"])
        if "memory" in only:
            procs = (process_scenarios(leaks=10, per_healthy_family=6, seed=args.seed) if args.quick
                     else process_scenarios(seed=args.seed))
            rows = pool.map(_process_job, procs, chunksize=2)
            report["memory"] = memory_report(rows)
            print_section(f"memory ({len(procs)} scenarios)", report["memory"])
        if "capacity" in only:
            caps = (capacity_scenarios(growing=8, flat=2, seed=args.seed) if args.quick
                    else capacity_scenarios(seed=args.seed))
            rows = pool.map(_capacity_job, [(c, args.capacity_model) for c in caps], chunksize=1)
            report["capacity"] = capacity_report(rows, args.capacity_model)
            print_section(f"capacity ({len(caps)} scenarios, model {args.capacity_model})", report["capacity"])
    report["seconds"] = round(time.perf_counter() - started, 1)
    print(f"\ntotal {report['seconds']} s")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
