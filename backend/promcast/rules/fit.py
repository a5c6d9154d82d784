"""Fit every target of a spec: fetch its history, run its predictor per series, keep what rules need.

Fetching happens here, in the calling process; fitting runs as plain jobs (a module-level function and
plain data) through an executor, so a Dask cluster could take them. A series that fails to fit is
reported at the end and does not stop the others; a target with no series at all, or whose every
series failed, is an error for the whole run (a rule file missing a target would be half-written).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, Mapping, Sequence

import pandas as pd

from ..errors import InputError, PromcastError
from ..sources.base import History, Source, format_labels
from .spec import RuleSpec, Target


@dataclass(frozen=True)
class SeriesFit:
    """What promcast learned for one series.

    ``params`` is what the rules embed (hashable: equal params share rule terms); ``numbers`` are the
    predictor's own results for the report; ``shape`` describes the series' normal behaviour for the
    generated promtool tests (levels, sizes, amplitudes).
    """

    labels: Mapping[str, str]
    params: Hashable
    numbers: Mapping[str, Any] = field(default_factory=dict)
    shape: Mapping[str, float] = field(default_factory=dict)

    @property
    def legend(self) -> str:
        return format_labels(self.labels)


@dataclass(frozen=True)
class SeriesFailure:
    target: str
    series: str
    message: str

    def __str__(self) -> str:
        return f"target {self.target!r}, series {self.series}: {self.message}"


@dataclass(frozen=True)
class TargetFit:
    target: Target
    series: tuple[SeriesFit, ...]
    failures: tuple[SeriesFailure, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def label_sets(self) -> list[Mapping[str, str]]:
        return [s.labels for s in self.series]


@dataclass(frozen=True)
class SeriesJob:
    """One series to fit: ``func(*args) -> SeriesFit`` (module-level, plain data: runs anywhere)."""

    target: str
    legend: str
    func: Callable[..., SeriesFit]
    args: tuple


class TargetError(PromcastError):
    """A target could not be fitted at all (no series, the source failed, every series failed)."""


@dataclass(frozen=True)
class Window:
    """The history range fetched for a target."""

    start: pd.Timestamp
    end: pd.Timestamp
    step: pd.Timedelta


def history_window(target: Target, end: pd.Timestamp) -> Window:
    step = pd.Timedelta(target.step)
    end = end.floor(step) if end.value % step.value else end
    return Window(end - pd.Timedelta(target.history), end, step)


def fetch(source: Source, target: Target, expr: str, window: Window, *, field_name: str = "expr") -> list[History]:
    """Fetch ``expr``; errors name the target and the field."""
    try:
        histories = source.query_range(expr, window.start, window.end, window.step)
    except PromcastError as exc:
        raise type(exc)(f"target {target.name!r} ({field_name}): {exc}") from exc
    histories = [h for h in histories if h.values.notna().any()]
    if not histories:
        raise TargetError(
            f"target {target.name!r}: {field_name} {expr!r} matched no series with data between "
            f"{_iso(window.start)} and {_iso(window.end)} on {source.description}; check the selector and "
            "that the metric exists (or lengthen source.history)"
        )
    return histories


def match_by_labels(target: Target, primary: Sequence[History], secondary: Sequence[History],
                    field_name: str) -> dict[str, History]:
    """For each primary series, the secondary series with the same labels (``__name__`` aside)."""
    def key(h: History) -> tuple:
        return tuple(sorted((k, v) for k, v in h.labels.items() if k != "__name__"))

    by_key: dict[tuple, History] = {}
    for h in secondary:
        by_key.setdefault(key(h), h)
    return {p.legend: by_key[key(p)] for p in primary if key(p) in by_key}


def _iso(ts: pd.Timestamp) -> str:
    return pd.Timestamp(ts).strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------------------------------------ running jobs
#: below this many series a local run stays in this process: starting worker processes (each imports
#: pandas, SciPy and the predictors) costs more than the fits it would spread
LOCAL_POOL_MIN_JOBS = 64
#: jobs handed to the executor per call, so the progress bar moves while a pool works
_BATCH = 64


def run_jobs(jobs: Sequence[SeriesJob], *, executor: str = "local", progress: bool = True
             ) -> list[SeriesFit | SeriesFailure]:
    """Run every job on a :mod:`promcast.executors` executor (a local process pool, or Dask); a job that
    raises becomes a :class:`SeriesFailure` (reported, not fatal). Results come back in job order."""
    from ..executors import make_executor

    if executor not in ("local", "dask"):
        raise InputError(f"unknown executor {executor!r}; use local or dask")
    bar = _progress_bar(len(jobs), progress)
    out: list[SeriesFit | SeriesFailure] = []
    try:
        if executor == "local" and len(jobs) < LOCAL_POOL_MIN_JOBS:
            for job in jobs:
                out.append(run_job(job))
                if bar is not None:
                    bar.update(1)
            return out
        with make_executor(executor) as pool:
            for start in range(0, len(jobs), _BATCH):
                batch = jobs[start:start + _BATCH]
                for job, result in zip(batch, pool.map(run_job, batch)):
                    out.append(result.value if result.ok else SeriesFailure(job.target, job.legend, result.error))
                if bar is not None:
                    bar.update(len(batch))
        return out
    finally:
        if bar is not None:
            bar.close()


def run_job(job: SeriesJob) -> SeriesFit | SeriesFailure:
    try:
        return job.func(*job.args)
    except PromcastError as exc:
        return SeriesFailure(job.target, job.legend, str(exc))
    except (ValueError, ArithmeticError, TypeError, KeyError, IndexError, RuntimeError) as exc:
        # a predictor tripping over odd data must not take the other series down
        return SeriesFailure(job.target, job.legend, f"{type(exc).__name__}: {exc}")


def _progress_bar(total: int, enabled: bool):
    """A tqdm bar on stderr, only when it is a terminal and there is more than a handful to do."""
    if not enabled or total < 10 or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc="fitting series", unit="series", file=sys.stderr, leave=False)




# ------------------------------------------------------------------------------------------ the whole spec
@dataclass(frozen=True)
class FitReport:
    fits: Mapping[str, TargetFit]
    failures: tuple[SeriesFailure, ...]
    end: pd.Timestamp


def fit_spec(spec: RuleSpec, source: Source, *, end: pd.Timestamp | None = None, executor: str = "local",
             progress: bool = True) -> FitReport:
    """Fetch and fit every target; raise when a target cannot be fitted at all."""
    from ..errors import UpstreamError
    from .kinds import kind_module

    from ..sources.base import source_now

    end = pd.Timestamp(end if end is not None else (spec.source.end or source_now(source)))
    end = end.tz_localize("UTC") if end.tzinfo is None else end.tz_convert("UTC")
    jobs: list[SeriesJob] = []
    failures: list[SeriesFailure] = []
    errors: dict[str, PromcastError] = {}
    for target in spec.targets:
        try:
            target_jobs, target_failures = kind_module(target.kind).prepare(target, source, history_window(target, end))
        except UpstreamError:
            raise  # the source is down or failing: every other target would wait for it too
        except PromcastError as exc:
            errors[target.name] = exc
            continue
        jobs += target_jobs
        failures += target_failures
    results = run_jobs(jobs, executor=executor, progress=progress)
    by_target: dict[str, list[SeriesFit]] = {t.name: [] for t in spec.targets}
    for job, result in zip(jobs, results):
        if isinstance(result, SeriesFit):
            by_target[job.target].append(result)
        else:
            failures.append(result)
    fits = {}
    for target in spec.targets:
        if target.name in errors:
            continue
        series = sorted(by_target[target.name], key=lambda s: s.legend)
        if not series:
            mine = [f for f in failures if f.target == target.name]
            reason = f": {mine[0].message}" if mine else ""
            errors[target.name] = TargetError(
                f"target {target.name!r}: none of its {len(mine)} series could be fitted{reason}")
            continue
        fits[target.name] = TargetFit(target, tuple(series),
                                      tuple(f for f in failures if f.target == target.name))
    if errors:
        if len(errors) == 1:
            raise next(iter(errors.values()))
        raise TargetError(f"{len(errors)} of {len(spec.targets)} targets failed: "
                          + "; ".join(str(e) for e in errors.values()))
    return FitReport(fits=fits, failures=tuple(failures), end=end)

__all__ = ["FitReport", "SeriesFailure", "SeriesFit", "SeriesJob", "TargetError", "TargetFit", "Window", "fetch",
           "fit_spec", "history_window", "match_by_labels", "run_job", "run_jobs"]
