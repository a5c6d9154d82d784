"""Fit every target of a spec: fetch its history, run its predictor per series, keep what rules need.

Fetching happens here, in the calling process; fitting runs as plain jobs (a module-level function and
plain data) through an executor, so a Dask cluster could take them. A series that fails to fit is
reported at the end and does not stop the others; a target with no series at all, or whose every
series failed, is an error for the whole run (a rule file missing a target would be half-written).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Sequence

import pandas as pd

from ..errors import InputError, PromcastError
from ..sources.base import Source
from .fit import SeriesFailure, SeriesFit, SeriesJob, TargetError, TargetFit, history_window
from .kinds import kind_module
from .spec import RuleSpec


# ------------------------------------------------------------------------------------------ running jobs
#: below this many series a local run stays in this process: starting worker processes (each imports
#: pandas, SciPy and the predictors) costs more than the fits it would spread
LOCAL_POOL_MIN_JOBS = 64
#: jobs handed to the executor per call, so the progress bar moves while a pool works
_BATCH = 64


def run_jobs(jobs: Sequence[SeriesJob], *, executor: str = "local", scheduler: str | None = None,
             progress: bool = True) -> list[SeriesFit | SeriesFailure]:
    """Run every job on a :mod:`promcast.executors` executor (a local process pool, or Dask); a job that
    raises becomes a :class:`SeriesFailure` (reported, not fatal) through the executors' one conversion
    (:func:`~promcast.executors.call_task`). Results come back in job order."""
    from ..executors import call_task, make_executor

    if executor not in ("local", "dask"):
        raise InputError(f"unknown executor {executor!r}; use local or dask")
    bar = _progress_bar(len(jobs), progress)
    out: list[SeriesFit | SeriesFailure] = []

    def collect(batch: Sequence[SeriesJob], results) -> None:
        for job, result in zip(batch, results):
            out.append(result.value if result.ok else SeriesFailure(job.target, job.legend, result.error))
        if bar is not None:
            bar.update(len(batch))

    try:
        if executor == "local" and len(jobs) < LOCAL_POOL_MIN_JOBS:
            for i, job in enumerate(jobs):
                collect([job], [call_task(run_job, job, i)])
            return out
        with make_executor(executor, scheduler) as pool:
            for start in range(0, len(jobs), _BATCH):
                batch = jobs[start:start + _BATCH]
                collect(batch, pool.map(run_job, batch))
        return out
    finally:
        if bar is not None:
            bar.close()


def run_job(job: SeriesJob) -> SeriesFit:
    """One job (module-level, so a pool or a Dask worker can run it)."""
    return job.func(*job.args)


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
             scheduler: str | None = None, progress: bool = True) -> FitReport:
    """Fetch and fit every target; raise when a target cannot be fitted at all."""
    from ..errors import UpstreamError

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
    results = run_jobs(jobs, executor=executor, scheduler=scheduler, progress=progress)
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


__all__ = ["FitReport", "fit_spec", "run_job", "run_jobs"]
