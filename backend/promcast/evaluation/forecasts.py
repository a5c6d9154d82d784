"""``promcast evaluate --backtest``: the forecast benchmark of issue 14, every model on the same folds.

Protocol: on each real series (``runner.BACKTEST_FOLDER``), ``origins`` rolling origins spread
evenly over the file's second half (the last one leaves a full horizon to score); at each, a model is
fitted on everything up to the origin and forecasts ``horizon`` ahead. Per fold: MAE, the MAE of the
1-day seasonal naive on the same rows (for the relative MAE), MASE (MAE over the in-sample 1-day
seasonal naive MAE, Hyndman & Koehler) and 95% band coverage, on all rows and on the rows outside
the labelled anomaly windows (the model still sees those windows in its history, as in production).

Aggregates: mean and median MASE, the mean MASE relative to the seasonal naive's on the same folds,
the geometric mean over folds of MAE relative to the seasonal naive (one exploding fold cannot
dominate it) and pooled coverage.

Global settings are never picked on the numbers they are scored by: ``auto``'s variants
(``AUTO_GRID``) are scored on every fold, and ``auto (grouped CV)`` scores each file with the variant
that did best on the *other* files (leave-one-file-out); the in-sample best variant is shown beside it.
"""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from ..durations import parse_duration
from ..models.prepare import infer_step
from .backtest import _naive_scale, _seasonal_naive

log = logging.getLogger(__name__)

#: the baselines of the issue's table, next to promcast's registry forecasters
BASELINES = ("prophet_defaults", "sf_mstl", "sf_autoets", "sf_autotheta", "sf_median")
#: the registry forecasters benchmarked by default (auto's variants come from AUTO_GRID)
MODELS = ("auto", "seasonal_naive", "prophet", *BASELINES)
#: auto's global settings, chosen by leave-one-file-out CV in this benchmark (the first is the default)
AUTO_GRID: dict[str, dict] = {
    "auto": {},
    "auto[top_k=3]": {"top_k": 3},
    "auto[top_k=5]": {"top_k": 5},
    "auto[top_k=3,combine=mean]": {"top_k": 3, "combine": "mean"},
    "auto[outlier_z=off]": {"outlier_z": None},
    "auto[shift=off]": {"shift_points": None},
    "auto[shift_points=12]": {"shift_points": 12},
    "auto[shift_z=6]": {"shift_z": 6.0},
}
#: band widths (relative to the model's own) at which coverage is also counted, for the grouped-CV
#: choice of auto's ``band_scale``
BAND_SCALES = (0.8, 0.9, 1.0, 1.1, 1.2, 1.35, 1.5)


@dataclass(frozen=True)
class Fold:
    file: str
    origin: str
    model: str
    fitted: str
    mae: float
    naive_mae: float
    scale: float
    covered: int
    points: int
    mae_normal: float
    naive_mae_normal: float
    scale_normal: float
    covered_normal: int
    points_normal: int
    seconds: float
    #: points inside the band widened by each of BAND_SCALES (all rows)
    covered_scaled: tuple = ()

    def mase(self, normal: bool = False) -> float:
        mae, scale = (self.mae_normal, self.scale_normal) if normal else (self.mae, self.scale)
        return mae / scale if scale > 0 else float("nan")

    def relative(self, normal: bool = False) -> float:
        """MAE over the seasonal naive's, both floored at 1% of the fold's MASE scale (a fold whose
        normal rows are all exactly 0 would otherwise weigh 1e-30 in the geometric mean)."""
        mae, naive = (self.mae_normal, self.naive_mae_normal) if normal else (self.mae, self.naive_mae)
        scale = self.scale_normal if normal else self.scale
        floor = 0.01 * scale if np.isfinite(scale) else 0.0
        mae, naive = max(mae, floor), max(naive, floor)
        return mae / naive if naive > 0 else float("nan")


def second_half_origins(index: pd.DatetimeIndex, horizon: pd.Timedelta, n: int) -> list[pd.Timestamp]:
    """``n`` origins evenly spread from the middle of the file to one horizon before its end (on rows)."""
    first = index[0] + (index[-1] - index[0]) / 2
    last = index[-1] - horizon
    if last <= first:
        return []
    targets = [first + (last - first) * i / max(1, n - 1) for i in range(n)]
    positions = np.clip(index.searchsorted(targets, side="right") - 1, 0, len(index) - 1)
    return sorted({index[p] for p in positions})


# ---- the forecasters -------------------------------------------------------------------------------
def _registry(name: str, params: dict):
    def run(train: pd.Series, test_index: pd.DatetimeIndex, interval: float):
        from ..models.registry import fit_with_fallback

        model = fit_with_fallback(name, train, warn=False, **params)
        frame = model.predict_at(test_index, interval=interval)
        return frame, model.name

    return run


def _grid(train: pd.Series):
    from ..models.prepare import prepare_fit

    data = prepare_fit(train)
    return data.values, data.step


def _at(values: np.ndarray, last: pd.Timestamp, step: pd.Timedelta, index: pd.DatetimeIndex) -> np.ndarray:
    """Values of a path at steps 1.. after ``last``, read at ``index`` (nearest step)."""
    k = np.clip(np.round((index - last) / step).astype(int) - 1, 0, len(values) - 1)
    return np.asarray(values, dtype=float)[k]


def _horizon_steps(grid: pd.Series, step: pd.Timedelta, index: pd.DatetimeIndex) -> int:
    return max(1, int(np.ceil((index[-1] - grid.index[-1]) / step)))


def _statsforecast(train: pd.Series, test_index: pd.DatetimeIndex, interval: float):
    """statsforecast's MSTL, AutoETS and AutoTheta, and their median (each bound the median of theirs)."""
    frames = {f"sf_{k}": _sf_one(k, train, test_index, interval) for k in ("mstl", "autoets", "autotheta")}
    stacked = np.stack([f.to_numpy() for f in frames.values()])
    frames["sf_median"] = pd.DataFrame(np.median(stacked, axis=0), index=test_index, columns=FORECAST)
    return frames


FORECAST = ["yhat", "yhat_lower", "yhat_upper"]


def _sf_one(kind: str, train: pd.Series, test_index: pd.DatetimeIndex, interval: float) -> pd.DataFrame:
    """statsforecast's model with its own interval, on the raw regular grid, daily season."""
    from statsforecast.models import MSTL, AutoETS, AutoTheta

    grid, step = _grid(train)
    period = int(round(pd.Timedelta(days=1) / step))
    y = grid.to_numpy(dtype=float)
    h = _horizon_steps(grid, step, test_index)
    level = int(round(interval * 100))
    seasons = [p for p in (period, 7 * period) if len(y) >= 2 * p and p >= 2]
    if kind == "mstl" and seasons:
        model = MSTL(season_length=seasons, trend_forecaster=AutoETS(model="ZZN"))
    elif kind in ("mstl", "autoets"):
        # AutoETS's seasonal search at 288 points a day takes ~20 s a fit and picks a non-seasonal model
        model = AutoETS(model="ZZN")
    else:
        model = AutoTheta(season_length=period if len(y) >= 2 * period else 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = model.forecast(y=y, h=h, level=[level])
    last = grid.index[-1]
    return pd.DataFrame({"yhat": _at(out["mean"], last, step, test_index),
                         "yhat_lower": _at(out[f"lo-{level}"], last, step, test_index),
                         "yhat_upper": _at(out[f"hi-{level}"], last, step, test_index)}, index=test_index)


def _prophet_defaults(train: pd.Series, test_index: pd.DatetimeIndex, interval: float):
    """Plain Prophet with its defaults (its own sampled interval), as a user would run it."""
    from ..models.prophet import _import_prophet

    Prophet = _import_prophet()
    frame = pd.DataFrame({"ds": train.index.tz_convert("UTC").tz_localize(None), "y": train.to_numpy()})
    model = Prophet(interval_width=interval).fit(frame)
    out = model.predict(pd.DataFrame({"ds": test_index.tz_convert("UTC").tz_localize(None)}))
    return pd.DataFrame({"yhat": out["yhat"].to_numpy(), "yhat_lower": out["yhat_lower"].to_numpy(),
                         "yhat_upper": out["yhat_upper"].to_numpy()}, index=test_index), "prophet_defaults"


#: rows computed together in one task (one fit of each member per fold)
GROUPS = {"sf_mstl": "statsforecast", "sf_autoets": "statsforecast", "sf_autotheta": "statsforecast",
          "sf_median": "statsforecast"}


def forecaster(name: str):
    """The callable ``(train, test_index, interval) -> {row name: (frame, fitted name)}`` behind a task."""
    if name == "statsforecast":
        return lambda *a: {k: (f, k) for k, f in _statsforecast(*a).items()}
    if name in AUTO_GRID:
        run = _registry("auto", AUTO_GRID[name])
    elif name == "prophet_defaults":
        run = _prophet_defaults
    else:
        run = _registry(name, {})
    return lambda *a: {name: run(*a)}


def known_models() -> list[str]:
    from ..models.registry import get_model_class, model_names

    return [*AUTO_GRID, *[n for n in model_names() if n != "auto" and get_model_class(n).is_forecaster], *BASELINES]


# ---- one file ------------------------------------------------------------------------------------------
def backtest_file(task: tuple) -> list[Fold]:
    """Every fold of one file for one model, or one group of rows fitted together (a worker's task)."""
    from ..logs import setup_logging

    setup_logging("warning")
    model, path, series, windows, horizon, n_origins, interval = task
    series = series[~series.index.duplicated(keep="last")].sort_index().dropna()
    normal = np.ones(len(series), dtype=bool)
    for start, end in windows:
        normal &= ~((series.index >= start) & (series.index <= end))
    normal = pd.Series(normal, index=series.index)
    everything = pd.Series(True, index=series.index)
    horizon_td = pd.Timedelta(parse_duration(horizon, what="horizon"))
    step = infer_step(series.index)
    run = forecaster(model)
    folds = []
    for origin in second_half_origins(series.index, horizon_td, n_origins):
        train = series[series.index <= origin]
        test = series[(series.index > origin) & (series.index <= origin + horizon_td)]
        if not len(test):
            continue
        started = time.perf_counter()
        frames = run(train, test.index, interval)
        seconds = (time.perf_counter() - started) / len(frames)
        for row, (frame, fitted) in frames.items():
            folds.append(_score(row, fitted, frame, path, origin, series, train, test, normal, everything,
                                seconds, step))
    return folds


def _score(model, fitted, frame, path, origin, series, train, test, normal, everything, seconds, step) -> Fold:
    """One fold's metrics for one row of the table."""
    day = pd.Timedelta(days=1)
    truth = test.to_numpy()
    err = np.abs(truth - frame["yhat"].to_numpy())
    naive_err = np.abs(truth - _seasonal_naive(series, test.index, day, step))
    yhat, lo, hi = (frame[c].to_numpy() for c in ("yhat", "yhat_lower", "yhat_upper"))
    inside = (truth >= lo) & (truth <= hi)
    scaled = tuple(int(np.sum((truth >= yhat + k * (lo - yhat)) & (truth <= yhat + k * (hi - yhat))))
                   for k in BAND_SCALES)
    keep = normal.reindex(test.index).to_numpy()

    def stats(mask):
        ok = mask & np.isfinite(naive_err)
        return (float(np.mean(err[mask])) if mask.any() else float("nan"),
                float(np.mean(naive_err[ok])) if ok.any() else float("nan"),
                int(inside[mask].sum()), int(mask.sum()))

    mae, naive_mae, covered, points = stats(np.ones(len(test), dtype=bool))
    mae_n, naive_n, covered_n, points_n = stats(keep)
    return Fold(
        file=path, origin=origin.isoformat(), model=model, fitted=fitted, mae=mae, naive_mae=naive_mae,
        scale=_naive_scale(train, day, step, everything), covered=covered, points=points,
        mae_normal=mae_n, naive_mae_normal=naive_n, scale_normal=_naive_scale(train, day, step, normal),
        covered_normal=covered_n, points_normal=points_n, seconds=seconds, covered_scaled=scaled)


# ---- aggregates ----------------------------------------------------------------------------------------
def summarise(folds: list[Fold], naive: list[Fold] | None = None, normal: bool = False) -> dict:
    """Mean/median MASE, geometric-mean relative MAE and coverage over ``folds`` (and the ratio of the
    mean MASE to the seasonal naive's on the same folds, when ``naive`` is given)."""
    mase = np.array([f.mase(normal) for f in folds])
    rel = np.array([f.relative(normal) for f in folds])
    rel = rel[np.isfinite(rel) & (rel > 0)]
    covered = sum(f.covered_normal if normal else f.covered for f in folds)
    points = sum(f.points_normal if normal else f.points for f in folds)
    out = {
        "folds": len(folds),
        "mase_mean": float(np.nanmean(mase)) if len(folds) else float("nan"),
        "mase_median": float(np.nanmedian(mase)) if len(folds) else float("nan"),
        "relative_mae_geomean": float(np.exp(np.mean(np.log(rel)))) if len(rel) else float("nan"),
        "coverage": covered / points if points else float("nan"),
        "seconds_per_fit": float(np.mean([f.seconds for f in folds])) if folds else float("nan"),
    }
    if naive is not None:
        by_key = {(f.file, f.origin): f for f in naive}
        pairs = [(f.mase(normal), by_key[(f.file, f.origin)].mase(normal)) for f in folds
                 if (f.file, f.origin) in by_key]
        pairs = [(a, b) for a, b in pairs if np.isfinite(a) and np.isfinite(b)]
        out["mase_vs_naive"] = (float(np.mean([a for a, _ in pairs]) / np.mean([b for _, b in pairs]))
                                if pairs else float("nan"))
    return out


def grouped_cv(variants: dict[str, list[Fold]], naive: list[Fold], normal: bool = False
               ) -> tuple[list[Fold], dict[str, str]]:
    """Leave-one-file-out choice among ``variants``: each file is scored with the variant whose mean
    MASE relative to the seasonal naive is lowest on the other files. Returns the held-out folds and
    the variant chosen for each file."""
    files = sorted({f.file for folds in variants.values() for f in folds})
    held_out: list[Fold] = []
    chosen: dict[str, str] = {}
    for file in files:
        def score(name: str) -> float:
            others = [f for f in variants[name] if f.file != file]
            return summarise(others, naive, normal)["mase_vs_naive"]

        best = min(variants, key=lambda name: (score(name), name))
        chosen[file] = best
        held_out.extend(f for f in variants[best] if f.file == file)
    return held_out, chosen


def band_cv(folds: list[Fold], target: float = 0.95) -> tuple[float, dict[str, float]]:
    """Leave-one-file-out choice of a band width factor (BAND_SCALES): each file gets the factor whose
    coverage on the other files is closest to ``target``. Returns (held-out coverage, factor per file)."""
    files = sorted({f.file for f in folds})
    covered = points = 0
    chosen = {}

    def coverage(fs, i):
        n = sum(f.points for f in fs)
        return sum(f.covered_scaled[i] for f in fs) / n if n else float("nan")

    for file in files:
        others = [f for f in folds if f.file != file]
        best = min(range(len(BAND_SCALES)), key=lambda i: (abs(coverage(others, i) - target), i))
        chosen[file] = BAND_SCALES[best]
        mine = [f for f in folds if f.file == file]
        covered += sum(f.covered_scaled[best] for f in mine)
        points += sum(f.points for f in mine)
    return (covered / points if points else float("nan")), chosen


def run_backtest(nab_dir, models: list[str] | None = None, *, windows=None, horizon: str = "1d", origins: int = 6,
                 interval: float = 0.95, workers: int | None = None, executor=None) -> dict:
    """Backtest ``models`` (default: ``MODELS`` plus ``AUTO_GRID``) on the corpus' real series."""
    from .corpus import load_corpus
    from .runner import BACKTEST_FOLDER, run_tasks

    models = list(models or dict.fromkeys([*AUTO_GRID, *MODELS]))
    if "seasonal_naive" not in models:
        models.append("seasonal_naive")  # every ratio is against it, on the same folds
    files = [f for f in load_corpus(nab_dir, windows) if f.path.startswith(BACKTEST_FOLDER + "/")]
    groups = list(dict.fromkeys(GROUPS.get(m, m) for m in models))
    tasks = [(g, f.path, f.values, tuple(f.windows), horizon, origins, interval) for g in groups for f in files]
    results = run_tasks(backtest_file, tasks, executor, workers, noun="backtests",
                        name=lambda task: f"{task[0]} on {task[1]}")
    folds: dict[str, list[Fold]] = {m: [] for m in models}
    for result in results:
        for fold in result:
            if fold.model in folds:
                folds[fold.model].append(fold)
    return report(folds)


def report(folds: dict[str, list[Fold]]) -> dict:
    """The JSON report: a summary per model (all rows and outside labelled windows), the grouped-CV
    row for auto's variants, and every fold."""
    naive = folds["seasonal_naive"]
    summary = {name: {"all": summarise(f, naive), "normal": summarise(f, naive, normal=True)}
               for name, f in folds.items()}
    cv = {}
    variants = {name: f for name, f in folds.items() if name in AUTO_GRID}
    if len(variants) > 1:
        for normal, key in ((False, "all"), (True, "normal")):
            held_out, chosen = grouped_cv(variants, naive, normal)
            cv[key] = {"summary": summarise(held_out, naive, normal), "chosen": chosen,
                       "in_sample_best": min(variants, key=lambda n: (summarise(variants[n], naive, normal)
                                                                       ["mase_vs_naive"], n))}
        summary["auto (grouped CV)"] = {k: cv[k]["summary"] for k in ("all", "normal")}
    if "auto" in folds and folds["auto"] and folds["auto"][0].covered_scaled:
        held, chosen = band_cv(folds["auto"])
        cv["band_scale"] = {"held_out_coverage": held, "chosen": chosen,
                            "coverage_by_scale": {str(k): sum(f.covered_scaled[i] for f in folds["auto"])
                                                  / max(1, sum(f.points for f in folds["auto"]))
                                                  for i, k in enumerate(BAND_SCALES)}}
    return {"summary": summary, "grouped_cv": cv,
            "folds": [asdict(f) for name in folds for f in folds[name]]}


def format_table(result: dict) -> str:
    header = ["model", "folds", "MASE mean", "MASE median", "vs naive", "relMAE gmean", "cover95",
              "| normal: MASE mean", "vs naive", "relMAE gmean", "cover95", "s/fit"]
    rows = []
    for name, s in result["summary"].items():
        a, n = s["all"], s["normal"]
        rows.append([name, a["folds"], f"{a['mase_mean']:.3f}", f"{a['mase_median']:.3f}",
                     f"{a.get('mase_vs_naive', float('nan')):.3f}", f"{a['relative_mae_geomean']:.3f}",
                     f"{a['coverage']:.1%}", f"| {n['mase_mean']:.3f}", f"{n.get('mase_vs_naive', float('nan')):.3f}",
                     f"{n['relative_mae_geomean']:.3f}", f"{n['coverage']:.1%}",
                     f"{a['seconds_per_fit']:.2f}" if np.isfinite(a['seconds_per_fit']) else "-"])
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    lines = ["  ".join(str(x).ljust(w) for x, w in zip(line, widths)) for line in [header, *rows]]
    for key, cv in result.get("grouped_cv", {}).items():
        if key == "band_scale":
            lines.append(f"band width of auto, relative to its default, by grouped CV: held-out coverage "
                         f"{cv['held_out_coverage']:.1%}, factor per file {pd.Series(cv['chosen']).value_counts().to_dict()}")
            continue
        picks = pd.Series(cv["chosen"]).value_counts().to_dict()
        lines.append(f"grouped CV ({key} rows): held-out choice per file {picks}; in-sample best {cv['in_sample_best']}")
    return "\n".join(lines)
