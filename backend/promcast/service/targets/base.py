"""What every ``/query`` target implements, and what it gets to work with.

A target is one small class: its ``name`` (what Grafana sends as ``target``), a ``label`` and the
builder ``fields`` that ``/grafana/metrics`` advertises, and ``run(ctx, query, payload)`` returning
frames and notices. :class:`QueryContext` gives it the request (range, max points, ad hoc filters),
the source, the model cache and settings. Raise a :class:`~promcast.errors.PromcastError` for a
problem the user can fix: the service turns it into a notice on this target's frame (or the HTTP error
when every target fails). See ``forecast.py`` for a complete example.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pandas as pd

from ...config import Settings
from ...errors import InputError, PromcastError, UnknownNameError
from ...models import get_model_class, model_names
from ...models.base import tail_score
from ...sources.base import History, Source
from ...kinds.registry import ANOMALY
from ..cache import CacheEntry, ModelCache
from ..fitting import MAX_HISTORY, ModelSpec, SeriesModels, model_extra_params
from ...promql_filters import add_matchers
from ..range_cache import RangeCache
from ..request import Payload, QueryRequest, TargetQuery, capped_duration, notice
from ..timegrid import floor_time

#: history a model is fitted on unless the payload says otherwise
DEFAULT_HISTORY = "14d"
#: the least history a fit accepts
MIN_HISTORY = pd.Timedelta("1h")


@dataclass(frozen=True)
class PayloadField:
    """One builder input of a target, as the plugin's ``/metrics`` answer describes it."""

    name: str
    label: str
    type: str = "input"  # input, select, multi-select, textarea
    placeholder: str = ""
    width: int | None = None
    options: tuple[tuple[str, str], ...] | None = None  # None: the plugin asks /metric-payload-options

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "label": self.label, "type": self.type}
        if self.placeholder:
            out["placeholder"] = self.placeholder
        if self.width:
            out["width"] = self.width
        if self.options is not None:
            out["options"] = [{"label": label, "value": value} for value, label in self.options]
        return out


# the builder fields shared by the targets (DESIGN: expr, model, history, horizon, interval, sensitivity, legend)
EXPR = PayloadField("expr", "PromQL", "input", 'e.g. node_cpu_utilisation{instance="node-1:9100"}', 60)
MODEL = PayloadField("model", "Model", "select", "default from settings (models.default)", 20)
HISTORY = PayloadField("history", "History", "input", f"{DEFAULT_HISTORY} (fit on this much history)", 16)
HORIZON = PayloadField("horizon", "Horizon", "input", "1d (forecast past the range end)", 16)
INTERVAL = PayloadField("interval", "Interval", "select", "0.95 (band coverage)", 12,
                        (("0.8", "80 %"), ("0.9", "90 %"), ("0.95", "95 %"), ("0.99", "99 %")))
SENSITIVITY = PayloadField("sensitivity", "Sensitivity", "input",
                           "3 (band width in robust standard deviations; lower flags more)", 16)
LEGEND = PayloadField("legend", "Legend", "input", "{{instance}} (label template for several series)", 24)


@dataclass
class TargetResult:
    """What a target returns: response elements and notices for the panel."""

    frames: list[dict[str, Any]] = field(default_factory=list)
    notices: list[dict[str, str]] = field(default_factory=list)


@dataclass
class QueryContext:
    """Everything a target may use while answering one ``/query`` request."""

    request: QueryRequest
    source: Source
    cache: ModelCache
    settings: Settings
    now: pd.Timestamp
    range_cache: RangeCache | None = None

    def expr(self, payload: Payload) -> str:
        """``payload.expr`` with the request's ad hoc filters added to every selector."""
        expr = payload.text("expr", required=True, hint='a PromQL expression, e.g. up{job="node"}')
        return add_matchers(expr, self.request.matchers)

    def fetch(self, expr: str, start: pd.Timestamp, end: pd.Timestamp, step: pd.Timedelta) -> list[History]:
        """The source's answer for a panel grid (settled points from the range cache when there is one)."""
        if self.range_cache is None:
            return self.source.query_range(expr, start, end, step)
        return self.range_cache.query_range(self.source, expr, start, end, step, self.now)

    def model_spec(self, payload: Payload, notices: list[dict], *, forecaster: bool = False) -> ModelSpec:
        """The model to use: ``payload.model`` or the configured default, with its history length."""
        name = payload.text("model", self.settings.models.default)
        if name not in model_names():
            raise UnknownNameError(f"unknown model {name!r} in payload.model; known models: {', '.join(model_names())}")
        if forecaster and not get_model_class(name).is_forecaster:
            raise InputError(f"model {name!r} scores anomalies but does not forecast: use it with the anomalies "
                             "or anomaly_events target, or pick a forecaster such as prophet or holt_winters")
        history = capped_duration(payload, "history", DEFAULT_HISTORY, MAX_HISTORY, notices, MIN_HISTORY)
        return ModelSpec(name, history)

    def models(self, expr: str, spec: ModelSpec) -> SeriesModels:
        """Cached models for the series of ``expr``, fitted on history before the range's end."""
        refit = pd.Timedelta(seconds=self.cache.refit_interval)
        if self.request.end >= self.now - refit:
            end, end_key = self.now, "live"
        else:
            end = floor_time(self.request.end, spec.fit_step)
            end_key = end.value
        extra = model_extra_params(spec.name, self.settings.models)
        return SeriesModels(self.source, self.cache, expr, spec, end, end_key, extra)


def sensitivity(payload: Payload) -> tuple[float, float]:
    """``(z, threshold)``: payload.sensitivity (robust standard deviations, the anomaly kind's parameter)
    and the score it maps to."""
    z = payload.read(ANOMALY.param("sensitivity"))
    return z, float(tail_score([z])[0])


def fitted_series(models: SeriesModels, series: list[History], legends: list[str],
                  notices: list[dict]) -> list[tuple[History, str, CacheEntry]]:
    """``(history, legend, cache entry)`` for every series whose model fits.

    A series that cannot be fitted becomes a warning notice and the others still answer; when none
    can, the first error is raised (the target fails).
    """
    out, errors = [], []
    for history, legend in zip(series, legends):
        try:
            entry, _hit = models.get(history.labels)
        except PromcastError as exc:
            errors.append(exc)
            notices.append(notice("warning", str(exc)))
            continue
        reason = getattr(entry.model, "fallback_reason_", None)
        if reason:
            notices.append(notice("info", reason))
        out.append((history, legend, entry))
    if errors and not out:
        raise errors[0]
    return out


def no_series(expr: str, start: pd.Timestamp, end: pd.Timestamp) -> TargetResult:
    """The answer when ``expr`` selects nothing in the range: no frames, an informative notice."""
    return TargetResult([], [notice("info", f"no series match {expr} between {start.isoformat()} and {end.isoformat()}")])


class Target(abc.ABC):
    """A ``/query`` target; subclasses set ``name``, ``label``, ``fields`` and implement ``run``."""

    name: ClassVar[str]
    label: ClassVar[str]
    fields: ClassVar[tuple[PayloadField, ...]] = ()

    @abc.abstractmethod
    def run(self, ctx: QueryContext, query: TargetQuery, payload: Payload) -> TargetResult:
        """Answer one target; raise a PromcastError for problems the user can fix."""

    def describe(self) -> dict[str, Any]:
        """This target's entry in the ``/grafana/metrics`` answer."""
        return {"label": self.label, "value": self.name, "payloads": [f.to_json() for f in self.fields]}


__all__ = [
    "EXPR", "HISTORY", "HORIZON", "INTERVAL", "LEGEND", "MODEL", "SENSITIVITY", "PayloadField",
    "QueryContext", "Target", "TargetResult", "fitted_series", "no_series", "notice", "sensitivity",
]
