"""Fit a model for every series of an expression through an executor and keep the fits in a store.

The client only discovers which series exist (one cheap query at a coarse step); each task then
fetches its own series from the source (the expression narrowed to the series' labels), fits it and
returns the fitted model as bytes. So the full history never passes through the client, the tasks
carry settings and label sets rather than data, and the same tasks run on a local pool or a Dask
cluster. A series that fails is reported at the end; the others are stored.
"""

from __future__ import annotations

import inspect
import threading
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import pandas as pd

from .errors import InputError
from .executors import Executor
from .failures import SeriesFailure
from .sources.base import History, Labelled, Source, format_labels
from .sources.spec import SourceSpec
from .store import ModelStore, StoreEntry

#: the discovery query asks for about this many points per series, whatever the step
DISCOVERY_POINTS = 48


@dataclass(frozen=True)
class FitTask(Labelled):
    """One series to fit: everything a worker needs, as plain data."""

    source: SourceSpec
    expr: str
    labels: Mapping[str, str]
    model: str
    params: Mapping[str, Any]
    start: pd.Timestamp
    end: pd.Timestamp
    step: pd.Timedelta
    #: the source's identity (:attr:`~promcast.sources.base.Source.identity`): store and cache keys name
    #: their source by it
    source_name: str = ""
    #: settings-driven parameters used in the fit but not part of the series' identity (the service's
    #: ensemble weights, which its cache keys leave out too)
    extra_params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FitOutput:
    """A fitted series: the model's native bytes plus what the store's index records."""

    labels: Mapping[str, str]
    model: str  # the model actually fitted (a fallback when the history was too short)
    data: bytes
    n_points: int
    last_timestamp: str
    fallback_reason: str | None = None


@dataclass
class FitSummary:
    stored: list[StoreEntry] = field(default_factory=list)
    failures: list[SeriesFailure] = field(default_factory=list)
    outputs: list[FitOutput] = field(default_factory=list)
    #: the task of each output (same order)
    fitted_tasks: list[FitTask] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"fitted {len(self.outputs)} series"
               + (f", stored {len(self.stored)}" if self.stored else "")
               + (f"; {len(self.failures)} failed" if self.failures else "")]
        fallbacks = [o for o in self.outputs if o.fallback_reason]
        for o in fallbacks:
            out.append(f"  {format_labels(o.labels)}: {o.fallback_reason}")
        for failure in self.failures:
            out.append(f"  failed {failure.series}: {failure.message}")
        return out


# ------------------------------------------------------------------------------------------ planning
def discover(source: Source, expr: str, start: pd.Timestamp, end: pd.Timestamp, step: pd.Timedelta
             ) -> list[dict[str, str]]:
    """Label sets of the series ``expr`` returns in the window, from one coarse query."""
    coarse = max(pd.Timedelta(step), (end - start) / DISCOVERY_POINTS)
    found = source.query_range(expr, start, end, coarse)
    seen: dict[str, dict[str, str]] = {}
    for h in found:
        if h.values.notna().any():
            seen.setdefault(h.legend, dict(h.labels))
    return [seen[k] for k in sorted(seen)]


def plan(spec: SourceSpec, source: Source, expr: str, model: str, params: Mapping[str, Any] | None,
         start: pd.Timestamp, end: pd.Timestamp, step: pd.Timedelta,
         extra_params: Mapping[str, Any] | None = None) -> list[FitTask]:
    """One task per series of ``expr``; checks the model and its parameters before anything runs."""
    from .models import get_model

    params = dict(params or {})
    extra = dict(extra_params or {})
    get_model(model, **params, **extra)  # unknown model or parameter: fail now, once, not per series
    labels = discover(source, expr, start, end, step)
    if not labels:
        raise InputError(f"{expr!r} matched no series with data in that range on {source.description}")
    return [FitTask(spec, expr, dict(l), model, params, start, end, step, source.identity, extra)
            for l in labels]


# ------------------------------------------------------------------------------------------ in the worker
_SOURCES: dict[str, Source] = {}
_SOURCES_LOCK = threading.Lock()


def _source(spec: SourceSpec) -> Source:
    """One open source per worker process and spec (connection reuse across tasks)."""
    key = repr(spec)
    with _SOURCES_LOCK:
        if key not in _SOURCES:
            _SOURCES[key] = spec.open()
        return _SOURCES[key]


def series_expr(expr: str, labels: Mapping[str, str]) -> str:
    """``expr`` narrowed to one series: its labels as matchers on every selector."""
    from .promql_filters import add_matchers
    from .promql_selector import Matcher

    matchers = [Matcher(k, "=", v) for k, v in sorted(labels.items()) if k != "__name__"]
    return add_matchers(expr, matchers) if matchers else expr


def fetch_series(task: FitTask) -> History:
    found = _source(task.source).query_range(series_expr(task.expr, task.labels), task.start, task.end, task.step)
    wanted = dict(task.labels)
    for h in found:
        if dict(h.labels) == wanted:
            return h
    raise InputError(f"series {task.legend} of {task.expr!r} returned no data when fetched on its own "
                     "(it may have disappeared since discovery)")


def _worker_params(model: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """``n_jobs=1`` for models that take it: one series per worker process, no nested pools."""
    from .models import get_model_class

    out = dict(params)
    if "n_jobs" in inspect.signature(get_model_class(model).__init__).parameters:
        out.setdefault("n_jobs", 1)
    return out


def fit_series(task: FitTask) -> FitOutput:
    """Fetch one series, fit it (falling back to a simpler model when it is too short), return bytes."""
    from .models import fit_with_fallback

    history = fetch_series(task)
    values = history.values.dropna()
    params = _worker_params(task.model, {**task.params, **task.extra_params})
    fitted = fit_with_fallback(task.model, values, warn=False, **params)
    return FitOutput(dict(history.labels), fitted.name, fitted.to_bytes(), int(fitted.n_points_),
                     pd.Timestamp(fitted.last_timestamp_).isoformat(), getattr(fitted, "fallback_reason_", None))


# ------------------------------------------------------------------------------------------ the batch
def run_fits(tasks: Sequence[FitTask], executor: Executor, store: ModelStore | None = None) -> FitSummary:
    """Run every task; store the fits (keyed by the requested model and parameters) and collect failures."""
    results = executor.map(fit_series, tasks)
    summary = FitSummary()
    items = []
    for task, result in zip(tasks, results):
        if not result.ok:
            summary.failures.append(SeriesFailure(task.expr, task.legend, result.error))
            continue
        out: FitOutput = result.value
        summary.outputs.append(out)
        summary.fitted_tasks.append(task)
        meta = {"source": task.source_name, "fitted_model": out.model, "n_points": out.n_points, "last_timestamp": out.last_timestamp,
                "history_start": task.start.isoformat(), "history_end": task.end.isoformat(),
                "step_seconds": task.step.total_seconds(), "fallback_reason": out.fallback_reason}
        items.append((StoreEntry("", task.expr, dict(task.labels), task.model, dict(task.params), meta), out.data))
    if store is not None:
        summary.stored = store.put_many(items)
    return summary


__all__ = ["FitOutput", "FitSummary", "FitTask", "discover", "fit_series", "plan", "run_fits",
           "series_expr"]
