"""``promcast evaluate``: walk-forward NAB scores per model and rolling-origin forecast backtests.

Files are scored in a process pool (one file per task), so all 28 NAB files use both cores; every
task computes its scores from the file alone, so the result does not depend on the pool size.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .backtest import BacktestResult, backtest
from .corpus import NabFile, load_corpus, windows_by_path
from .cv import CvResult, cross_validate_profiles
from .nab import PROFILES, NabResult, score_profiles

log = logging.getLogger(__name__)

#: the folder of real series used for the forecast backtest
BACKTEST_FOLDER = "realAWSCloudwatch"


def _mean_mase(results: list[BacktestResult]) -> float:
    values = [b.mase for b in results if np.isfinite(b.mase)]
    return float(np.mean(values)) if values else float("nan")


def _coverage(results: list[BacktestResult]) -> float:
    covered = sum(f.covered for b in results for f in b.folds)
    points = sum(f.points for b in results for f in b.folds)
    return covered / points if points else float("nan")


@dataclass
class ModelEvaluation:
    model: str
    nab: dict[str, NabResult]
    seconds: float
    #: held-out scores by profile (``--cv K``), None without cross-validation
    cv: dict[str, CvResult] | None = None
    backtest: list[BacktestResult] = field(default_factory=list)
    #: the same backtest with the labelled anomaly windows left out of errors and scales
    backtest_normal: list[BacktestResult] = field(default_factory=list)

    @property
    def mase(self) -> float:
        return _mean_mase(self.backtest)

    @property
    def coverage(self) -> float:
        return _coverage(self.backtest)

    @property
    def mase_normal(self) -> float:
        return _mean_mase(self.backtest_normal)

    @property
    def coverage_normal(self) -> float:
        return _coverage(self.backtest_normal)


def _score_file(task: tuple[str, str, pd.Series, str, dict]) -> tuple[str, pd.Series, float]:
    """Walk-forward scores of one file (runs in a worker process)."""
    from ..logs import setup_logging
    from ..models.walkforward import walk_forward_scores

    setup_logging("warning")
    model, path, values, refit_every, params = task
    started = time.perf_counter()
    unique = values[~values.index.duplicated(keep="last")]
    scores = walk_forward_scores(model, unique, refit_every=refit_every, params=params)
    # NAB scores rows: duplicated timestamps get the score of their timestamp
    aligned = scores.reindex(values.index).fillna(0.0)
    return path, pd.Series(aligned.to_numpy(), index=values.index), time.perf_counter() - started


def _backtest_file(task: tuple[str, str, pd.Series, tuple]) -> BacktestResult:
    from ..logs import setup_logging

    setup_logging("warning")
    model, path, values, exclude = task
    return backtest(path, values, model, exclude=exclude)


def run_tasks(fn, tasks: list, executor, workers: int | None, *, noun: str = "files",
              name=lambda task: task[1]) -> list:
    """Run ``fn`` over ``tasks`` on ``executor`` (default: a local pool); failures raise at the end, naming
    the first failed task by ``name(task)``."""
    from ..errors import InputError
    from ..executors import failures, make_executor

    own = executor is None
    executor = executor or make_executor("local", workers=workers or min(len(tasks), os.cpu_count() or 1))
    try:
        results = executor.map(fn, tasks)
    finally:
        if own:
            executor.close()
    failed = failures(results)
    if failed:
        first = failed[0]
        raise InputError(f"{len(failed)} of {len(tasks)} {noun} failed; first ({name(tasks[first.index])}): "
                         f"{first.error}")
    return [r.value for r in results]


def detect_corpus(model: str, files: list[NabFile], *, refit_every: str = "1d", workers: int | None = None,
                  executor=None, **params) -> tuple[dict[str, pd.Series], float]:
    """Walk-forward scores for every file; returns (scores by path, wall seconds)."""
    tasks = [(model, f.path, f.values, refit_every, params) for f in files]
    started = time.perf_counter()
    detections = {path: scores for path, scores, _ in run_tasks(_score_file, tasks, executor, workers)}
    return detections, time.perf_counter() - started


def backtest_corpus(model: str, files: list[NabFile], *, workers: int | None = None, executor=None,
                    exclude_windows: bool = False) -> list[BacktestResult]:
    """Rolling-origin 1-day backtests on the real series of the corpus (optionally scoring only rows
    outside the labelled anomaly windows)."""
    real = [f for f in files if f.path.startswith(BACKTEST_FOLDER + "/")]
    tasks = [(model, f.path, f.values, tuple(f.windows) if exclude_windows else ()) for f in real]
    return run_tasks(_backtest_file, tasks, executor, workers)


def evaluate(nab_dir, models: list[str], *, windows=None, refit_every: str = "1d", workers: int | None = None,
             run_backtest: bool = True, progress=None, executor=None, cv: int | None = None) -> list[ModelEvaluation]:
    """Score each model on the corpus (all profiles) and backtest the forecasters.

    ``cv``: also score each model by grouped ``cv``-fold cross-validation over the files (its threshold
    chosen on the training folds, applied to the held-out one; :mod:`.cv`).

    ``executor``: a :mod:`promcast.executors` executor (local pool or Dask), kept open across models;
    by default each step starts a local pool of ``workers`` processes. ``progress(model)`` is called
    after each model.
    """
    from ..models.registry import get_model_class

    files = load_corpus(nab_dir, windows)
    windows_map = windows_by_path(files)
    out = []
    for model in models:
        detections, seconds = detect_corpus(model, files, refit_every=refit_every, workers=workers,
                                            executor=executor)
        evaluation = ModelEvaluation(model=model, nab=score_profiles(detections, windows_map), seconds=seconds)
        if cv:
            evaluation.cv = cross_validate_profiles({model: detections}, windows_map, cv)
        if run_backtest and get_model_class(model).is_forecaster:
            evaluation.backtest = backtest_corpus(model, files, workers=workers, executor=executor)
            evaluation.backtest_normal = backtest_corpus(model, files, workers=workers, executor=executor,
                                                         exclude_windows=True)
        if progress:
            progress(model)
        out.append(evaluation)
        log.info("%s: NAB standard %.1f in %.0fs", model, evaluation.nab["standard"].normalized, seconds)
    return out


def format_report(results: list[ModelEvaluation]) -> str:
    """Plain-text table: NAB scores for the three profiles (held-out ``cv_*`` first, then in-sample),
    the in-sample threshold, time, MASE and coverage."""
    with_cv = any(r.cv for r in results)
    cv_header = [f"cv_{p}" for p in PROFILES] if with_cv else []
    header = ["model", *cv_header, *PROFILES, "threshold", "detect_s", "MASE(1d)", "cover95", "MASE_normal",
              "cover95_normal"]
    rows = []
    key = (lambda r: -(r.cv["standard"].normalized if r.cv else -1e9)) if with_cv else (
        lambda r: -r.nab["standard"].normalized)
    for r in sorted(results, key=key):
        rows.append([
            r.model,
            *((f"{r.cv[p].normalized:.1f}" if r.cv else "-") for p in (PROFILES if with_cv else ())),
            *(f"{r.nab[p].normalized:.1f}" for p in PROFILES),
            f"{r.nab['standard'].threshold:.4f}",
            f"{r.seconds:.0f}",
            f"{r.mase:.3f}" if r.backtest else "-",
            f"{r.coverage:.1%}" if r.backtest else "-",
            f"{r.mase_normal:.3f}" if r.backtest_normal else "-",
            f"{r.coverage_normal:.1%}" if r.backtest_normal else "-",
        ])
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    lines = ["  ".join(str(x).ljust(w) for x, w in zip(line, widths)) for line in [header, *rows]]
    return "\n".join(lines)


def report_json(results: list[ModelEvaluation]) -> dict:
    return {
        r.model: {
            "nab": {p: {"score": round(res.normalized, 3), "threshold": res.threshold,
                        "detected_windows": res.total("detected"), "windows": res.total("windows"),
                        "false_positive_rows": res.total("fp")} for p, res in r.nab.items()},
            "cv": None if not r.cv else {
                p: {"score": round(res.normalized, 3),
                    "folds": [{"files": list(f.files), "threshold": f.threshold, "train_score": round(f.train_score, 3),
                               "held_out_raw": round(f.held_out.raw, 4)} for f in res.folds]}
                for p, res in r.cv.items()},
            "detect_seconds": round(r.seconds, 1),
            "backtest": None if not r.backtest else {
                "mase": round(r.mase, 4), "coverage_95": round(r.coverage, 4),
                "mase_outside_labelled_windows": round(r.mase_normal, 4),
                "coverage_95_outside_labelled_windows": round(r.coverage_normal, 4),
                "files": {b.name: {"mase": round(b.mase, 4), "coverage": round(b.coverage, 4),
                                   "relative_mae": round(b.relative_mae, 4)} for b in r.backtest},
            },
        }
        for r in results
    }
