"""Keep the series of configured expressions fitted in the background, so a fleet's dashboards open warm.

``promcast serve`` with ``prefit.targets`` runs one cycle at start-up and then one every
``prefit.interval`` (default: half of ``cache.refit_interval``). A cycle discovers each target's
series, fits the ones whose cached fit is missing or would expire before the next cycle, through the
configured executor (a local process pool, or Dask: the same tasks as ``promcast fit``), puts the fits
into the model cache under the key a live panel asks for, and writes them to the model store
(``store.dir``). A restarted service preloads the store (:mod:`.warm`), so its first cycle only refits
what has gone stale. A failing target or series is logged and counted; the others are still fitted.

A target matches a panel when its expression, model and history equal the panel's ``expr`` (after
ad hoc filters), ``model`` and ``history``; the fit uses the panel's own fit step. The exported
forecasts of ``exported.spec`` (``/exported/metrics``) are pre-fitted the same way, so a scrape never
waits for a refit.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Sequence

import pandas as pd

from ..batchfit import FitTask, plan, run_fits
from ..config import PrefitTarget, Settings
from ..errors import PromcastError
from ..sources.base import Source
from ..sources.spec import SourceSpec
from .cache import ModelCache
from .fitting import MAX_HISTORY, ModelSpec, cache_key, model_extra_params
from .metrics import ServiceMetrics
from .query import source_now
from .timegrid import floor_time


log = logging.getLogger(__name__)

#: below this many series a cycle fits in this process: starting a worker pool costs more than it saves
IN_PROCESS_MAX_SERIES = 16


@dataclass
class CycleReport:
    """What one pre-fit cycle did (also exported on ``/metrics``)."""

    fitted: int = 0
    fresh: int = 0
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def line(self) -> str:
        failed = f", {len(self.failures)} failed (first: {self.failures[0]})" if self.failures else ""
        return f"pre-fit: fitted {self.fitted} series, {self.fresh} still fresh{failed} in {self.seconds:.1f}s"


class Prefitter:
    """Runs pre-fit cycles for ``settings.prefit.targets`` into ``cache`` (and the store, when set)."""

    def __init__(self, settings: Settings, source: Source, cache: ModelCache,
                 metrics: ServiceMetrics | None = None, *, exported: Sequence[tuple[str, ModelSpec]] = ()) -> None:
        self.settings = settings
        self.source = source
        self.cache = cache
        self.metrics = metrics
        self.targets: tuple[PrefitTarget, ...] = settings.prefit.targets
        #: (expression, model spec) pairs fitted each cycle: the configured targets, then the exported
        #: forecasts' (so a scrape of /exported/metrics never waits for a refit)
        self.jobs: list[tuple[str, ModelSpec]] = [(t.expr, self.spec(t)) for t in self.targets] + list(exported)
        self.interval = float(settings.prefit.interval or cache.refit_interval / 2)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._store = None
        if settings.store.dir:
            from ..store import ModelStore

            self._store = ModelStore(settings.store.dir)
        elif self.targets:
            log.warning("prefit.targets are set without store.dir: pre-fits live in memory only and a restart "
                        "refits them all; set store.dir (PROMCAST_STORE_DIR) to keep them")

    # ---- one cycle -----------------------------------------------------------------------------
    def spec(self, target: PrefitTarget) -> ModelSpec:
        history = min(pd.Timedelta(seconds=target.history), MAX_HISTORY)
        return ModelSpec(target.model or self.settings.models.default, history)

    def run_cycle(self) -> CycleReport:
        """Fit what is missing or would go stale before the next cycle, for every target."""
        started = time.perf_counter()
        report = CycleReport()
        tasks: list[FitTask] = []
        now = source_now(self.source)  # where a live panel's history ends
        for expr, spec in self.jobs:
            step = spec.fit_step
            end = floor_time(now, step)
            try:
                found = plan(SourceSpec.for_source(self.source, self.settings.prometheus), self.source, expr, spec.name,
                             dict(spec.params), end - spec.history, end, step,
                             extra_params=model_extra_params(spec.name, self.settings.models))
            except PromcastError as exc:
                report.failures.append(f"{expr}: {exc}")
                continue
            for task in found:
                if self._fresh_until_next_cycle(self._key(task)):
                    report.fresh += 1
                else:
                    tasks.append(task)
        total = report.fresh + len(tasks)
        if total > self.cache.max_entries:
            log.warning("pre-fit targets have %d series but the model cache holds %d (cache.max_entries): most "
                        "pre-fits are evicted before a panel asks for them; raise cache.max_entries and "
                        "cache.max_megabytes", total, self.cache.max_entries)
        if tasks:
            self._fit(tasks, report)
        report.seconds = time.perf_counter() - started
        self._observe(report)
        log.info(report.line())
        return report

    def _key(self, task: FitTask) -> tuple:
        """The cache key a live panel uses for the series of ``task`` (its spec: model, params, history)."""
        spec = ModelSpec.of(task.model, task.end - task.start, task.params)
        return cache_key(self.source.identity, task.expr, task.labels, spec)

    def _fresh_until_next_cycle(self, key: tuple) -> bool:
        entry = self.cache.peek(key)
        return entry is not None and self.cache.clock() - entry.fitted_at + self.interval < self.cache.refit_interval

    def _fit(self, tasks: list[FitTask], report: CycleReport) -> None:
        from ..executors import LocalExecutor, make_executor
        from ..models import load_model

        kind, scheduler = self.settings.executor.kind, self.settings.executor.scheduler
        try:
            if kind == "local" and len(tasks) <= IN_PROCESS_MAX_SERIES:
                executor = LocalExecutor(workers=1)  # runs in this process
            else:
                executor = make_executor(kind, scheduler)
            with executor:
                summary = run_fits(tasks, executor, self._store)
        except PromcastError as exc:  # no executor (a Dask scheduler that is down): the next cycle retries
            report.failures.extend(f"{task.legend}: {exc}" for task in tasks)
            return
        for task, output in zip(summary.fitted_tasks, summary.outputs):
            self.cache.put(self._key(task), load_model(output.data))
            report.fitted += 1
        report.failures.extend(f"{f.series}: {f.message}" for f in summary.failures)

    def _observe(self, report: CycleReport) -> None:
        if self.metrics is None:
            return
        self.metrics.prefit_cycles_total.labels("failed" if report.failures else "ok").inc()
        self.metrics.prefit_series_total.labels("fitted").inc(report.fitted)
        self.metrics.prefit_series_total.labels("fresh").inc(report.fresh)
        self.metrics.prefit_series_total.labels("failed").inc(len(report.failures))
        self.metrics.prefit_cycle_seconds.set(report.seconds)
        self.metrics.prefit_last_cycle.set(time.time())

    # ---- the schedule --------------------------------------------------------------------------
    def start(self) -> None:
        """Run a cycle now and then every ``interval`` seconds on a daemon thread."""
        if not self.jobs or self._thread is not None:
            return
        log.info("pre-fitting %d expressions every %.0fs on the %s executor", len(self.jobs), self.interval,
                 self.settings.executor.kind)
        self._thread = threading.Thread(target=self._loop, name="promcast-prefit", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self.run_cycle()
            except Exception:  # noqa: BLE001 - the schedule must survive a bad cycle; the next one retries
                log.exception("pre-fit cycle failed")
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - started)))


__all__ = ["CycleReport", "IN_PROCESS_MAX_SERIES", "Prefitter"]
