"""Forecast bands as gauges for Prometheus: ``GET /exported/metrics`` (``anomaly_band``, ``mode: exported``).

``promcast generate-rules`` writes, for an ``anomaly_band`` target with ``mode: exported``, recording
rules that read ``promcast_forecast{target="<name>", bound="yhat|yhat_lower|yhat_upper"}``. This module
serves those gauges: for every such target of the RuleSpec given by ``exported.spec`` (``--rules-spec``)
and every series of its ``expr``, the model's band at the current step, with the series' own labels
(not ``__name__``) plus ``target`` and ``bound``. Prometheus scrapes it with ``honor_labels: true`` so the
series' ``job``/``instance`` survive the scrape.

Fits go through the service's model cache (the same keys a Grafana panel on the same expression, model
and history uses), so a scrape costs a cache lookup and one memoised prediction per series; the
service's pre-fitter (:mod:`.prefit`) refits them in the background before they expire, so scrapes do
not wait for fits. The set of series is re-discovered every ``cache.refit_interval``. A
failing target or series is logged, counted in ``promcast_exported_errors_total{target, code}`` on
``/metrics`` and left out; the other targets are still served.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from typing import Callable, Iterator, Mapping

import pandas as pd
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import Metric

from ..config import Settings
from ..errors import ConfigError, InputError, PromcastError
from ..kinds.registry import ANOMALY
from ..responses import error_response
from ..models import get_model_class
from ..models.base import tail_score
from ..sources.base import Source, format_labels
from .cache import ModelCache
from .fitting import ModelSpec, SeriesModels, model_extra_params
from .metrics import ServiceMetrics
from .timegrid import floor_time

log = logging.getLogger(__name__)

PATH = "/exported/metrics"
FORECAST_METRIC = "promcast_forecast"
BOUNDS = ("yhat", "yhat_lower", "yhat_upper")
#: labels promcast sets on every gauge; a series' own labels of these names are replaced
OWN_LABELS = ("target", "bound")
#: a series is served when it has a value within this many of the target's steps (or 1h, if longer)
DISCOVERY_STEPS = 12
DISCOVERY_MIN = pd.Timedelta("1h")


class DuplicateSeries(InputError):
    """Two series of one target that would give the same gauges."""

    code = "duplicate_series"


@dataclass(frozen=True)
class ExportedTarget:
    """One ``anomaly_band`` target of ``mode: exported``: what to fit and how wide its band is."""

    name: str
    expr: str
    model: ModelSpec
    step: pd.Timedelta
    coverage: float


def load_exported_targets(path: str | os.PathLike) -> list[ExportedTarget]:
    """The spec's exported anomaly targets; errors (a bad path, a bad spec, nothing to serve) are one line."""
    from ..rules.spec import load_spec  # the rules package parses specs; the service never renders them

    spec = load_spec(path)
    chosen = [t for t in spec.targets if t.kind == ANOMALY.rule_kind and t.param("mode") == "exported"]
    if not chosen:
        raise ConfigError(f"{path}: no anomaly_band target with 'mode: exported', so there is nothing to serve on "
                          f"{PATH}; add one or drop --rules-spec / exported.spec")
    targets = []
    for t in chosen:
        model = t.param("model")
        if not get_model_class(model).is_forecaster:
            raise ConfigError(f"{path}: target {t.name!r}: field 'model': {model!r} scores anomalies but has no band "
                              "to serve; pick a forecaster such as prophet, holt_winters or seasonal_naive")
        z = float(t.param("sensitivity"))  # the spec checked it against the shared limit
        targets.append(ExportedTarget(name=t.name, expr=t.expr, model=ModelSpec(model, pd.Timedelta(t.history)),
                                      step=pd.Timedelta(t.step), coverage=float(tail_score([z])[0])))
    return targets


@dataclass
class _Series:
    """The label sets of a target's series, as discovered at ``found_at`` (the cache's clock)."""

    labels: list[dict[str, str]]
    found_at: float


class ExportedForecasts:
    """The current band of every exported target's series, computed on demand through the model cache."""

    def __init__(self, targets: list[ExportedTarget], source: Source, cache: ModelCache, settings: Settings,
                 metrics: ServiceMetrics, now: Callable[[], pd.Timestamp] | None = None) -> None:
        from .query import source_now

        self.targets = targets
        self.source = source
        self.cache = cache
        self.settings = settings
        self.now = now or (lambda: source_now(source))
        self._series: dict[str, _Series] = {}
        self._locks = {t.name: threading.Lock() for t in targets}
        self._last_error: dict[str, str] = {}
        self.errors_total = Counter(
            "promcast_exported_errors", f"Exported forecast targets or series that could not be served on {PATH}, "
            "by target and error code.", ["target", "code"], registry=metrics.registry)
        self.series_served = Gauge(
            "promcast_exported_series", f"Series whose band the last scrape of {PATH} served, by target.",
            ["target"], registry=metrics.registry)

    # ---- one target ----------------------------------------------------------------------------
    def samples(self, target: ExportedTarget) -> list[tuple[dict[str, str], float]]:
        """``(labels, value)`` of the target's gauges; a failing series is counted and left out."""
        now = self.now()
        at = floor_time(now, target.step)
        extra = model_extra_params(target.model.name, self.settings.models)
        models = SeriesModels(self.source, self.cache, target.expr, target.model, now, "live", extra)
        index = pd.DatetimeIndex([at])
        out: list[tuple[dict[str, str], float]] = []
        failures: list[Exception] = []
        seen: dict[frozenset, dict[str, str]] = {}
        for labels in self._labels_of(target, at):
            own = {k: v for k, v in labels.items() if k != "__name__" and k not in OWN_LABELS}
            if frozenset(own.items()) in seen:  # a duplicate sample would make Prometheus reject the whole scrape
                failures.append(DuplicateSeries(
                    f"{format_labels(labels)} has the same labels as {format_labels(seen[frozenset(own.items())])} "
                    "once __name__, target and bound are dropped; give the target an expr whose series differ in "
                    "other labels"))
                continue
            seen[frozenset(own.items())] = labels
            try:
                entry, _hit = models.get(labels)
                band = entry.memo(("exported", at.value, target.coverage),
                                  lambda: entry.model.predict_at(index, target.coverage).iloc[0].to_dict())
            except Exception as exc:  # noqa: BLE001 - one series (even a model bug) must not hide the others
                failures.append(exc)
                continue
            out += [({**own, "target": target.name, "bound": bound}, float(band[bound])) for bound in BOUNDS]
        self.series_served.labels(target.name).set(len(out) // len(BOUNDS))
        for exc in failures:
            self.errors_total.labels(target.name, _code(exc)).inc()
        if failures:
            self._report(target, failures[0], f"{len(failures)} series could not be served, e.g. ")
        else:
            self._recovered(target)
        return out

    def _labels_of(self, target: ExportedTarget, at: pd.Timestamp) -> list[dict[str, str]]:
        """The target's series, re-discovered every refit interval (a short query over its latest steps)."""
        with self._locks[target.name]:
            known = self._series.get(target.name)
            if known is not None and self.cache.clock() - known.found_at < self.cache.refit_interval:
                return known.labels
            window = max(target.step * DISCOVERY_STEPS, DISCOVERY_MIN)
            found = self.source.query_range(target.expr, at - window, at, target.step)
            labels = sorted((dict(h.labels) for h in found if h.values.notna().any()), key=format_labels)
            self._series[target.name] = _Series(labels, self.cache.clock())
            return labels

    # ---- every target --------------------------------------------------------------------------
    def collect(self) -> list[tuple[dict[str, str], float]]:
        """Every target's gauges; a target that fails is logged, counted and left out."""
        out: list[tuple[dict[str, str], float]] = []
        for target in self.targets:
            try:
                out.extend(self.samples(target))
            except Exception as exc:  # noqa: BLE001 - one target (even a bug) must not empty the endpoint
                self.errors_total.labels(target.name, _code(exc)).inc()
                self.series_served.labels(target.name).set(0)
                self._report(target, exc)
        return out

    def _report(self, target: ExportedTarget, exc: Exception, prefix: str = "") -> None:
        """Log a target's error when it changes (a scrape every 15s must not flood the log).

        A user-fixable error is one line; anything else is a bug and gets its traceback.
        """
        user = isinstance(exc, PromcastError)
        message = prefix + (str(exc) if user else f"internal error {exc.__class__.__name__}: {exc}")
        if self._last_error.get(target.name) != message:
            self._last_error[target.name] = message
            log.warning("exported target %r (%s): %s", target.name, target.expr, message,
                        exc_info=None if user else exc)

    def _recovered(self, target: ExportedTarget) -> None:
        if self._last_error.pop(target.name, None) is not None:
            log.info("exported target %r is served again", target.name)


def _code(exc: Exception) -> str:
    return exc.code if isinstance(exc, PromcastError) else "internal"


class ForecastCollector:
    """prometheus_client collector: the ``promcast_forecast`` gauge family from :class:`ExportedForecasts`."""

    def __init__(self, forecasts: ExportedForecasts) -> None:
        self.forecasts = forecasts

    def describe(self) -> list:
        return []  # nothing is fitted when the collector is registered

    def collect(self) -> Iterator[Metric]:
        family = Metric(FORECAST_METRIC, "promcast's forecast band for anomaly_band targets with mode: exported "
                        "(bound: yhat, yhat_lower, yhat_upper; the series' own labels plus target).", "gauge")
        for labels, value in self.forecasts.collect():
            family.add_sample(FORECAST_METRIC, labels, value)
        yield family


def exported_registry(forecasts: ExportedForecasts) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ForecastCollector(forecasts))
    return registry


def register_exported(app, settings: Settings, source: Source, cache: ModelCache, metrics: ServiceMetrics) -> None:
    """Add ``GET /exported/metrics``; load the spec now so a bad one stops startup with one clear line."""
    from flask import Response

    forecasts = registry = None
    if settings.exported.spec:
        forecasts = ExportedForecasts(load_exported_targets(settings.exported.spec), source, cache, settings, metrics)
        registry = exported_registry(forecasts)
        log.info("serving %d exported forecast target(s) from %s on %s",
                 len(forecasts.targets), settings.exported.spec, PATH)
    app.extensions["promcast.exported"] = forecasts

    @app.get(PATH)
    def exported_metrics():
        if registry is None:
            return error_response("not_configured", "no exported forecasts configured: start promcast serve with "
                                  "--rules-spec SPEC.yaml (or set exported.spec / PROMCAST_EXPORTED_SPEC)", 404)
        return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)  # has its charset


def parse_exposition(text: str) -> list[tuple[Mapping[str, str], float]]:
    """``(labels, value)`` of every ``promcast_forecast`` sample in a scrape (for tests and checks)."""
    from prometheus_client.parser import text_string_to_metric_families

    return [(s.labels, s.value) for family in text_string_to_metric_families(text)
            for s in family.samples if s.name == FORECAST_METRIC]


__all__ = ["BOUNDS", "FORECAST_METRIC", "PATH", "ExportedForecasts", "ExportedTarget", "ForecastCollector",
           "exported_registry", "load_exported_targets", "parse_exposition", "register_exported"]
