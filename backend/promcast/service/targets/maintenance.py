"""What the ``disk_exhaustion``, ``memory_leak`` and ``capacity`` targets share.

Each fits one :mod:`promcast.maintenance` predictor per series on ``history`` before the panel's end.
A panel looking at the present shares one "live" fit, kept in the model cache and refreshed every
refit interval like a forecast's (the table and the projection panel of a dashboard send the same
query, so they fit once); a panel in the past predicts from the history before its own end.

The answer is a table first, then per series the usage the prediction learned from (within the
panel's range), its ``projection`` and the ``limit`` it is compared against:

- the table has one row per series, the series' labels as columns, then the prediction's fields,
  soonest first; series that could not be predicted come last with an ``error`` cell (and a warning
  notice), and only when every series fails does the target fail;
- cells are strings or numbers, because the datasource contract allows nothing else in a row: a field
  that does not apply (a disk that is not filling) is an empty string, booleans are ``"true"`` and
  ``"false"``, and times (``full_at``, ``scale_up_date``) are ISO 8601 strings, so the table holds no
  time field that a time series panel on the same query would try to draw.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar, Mapping, Sequence

import pandas as pd

from ...errors import InputError
from ...kinds.params import Param
from ...kinds.registry import PredictionKind
from ...kinds.report import Prediction, predictions
from ...sources.base import History
from ..fitting import FIT_POINTS, MIN_FIT_STEP
from ..frames import field_name, legends, series_frame, table_frame, thin
from ...promql_filters import add_matchers
from ..request import Payload, TargetQuery, capped_duration, notice
from ..timegrid import floor_time, grid_start, nice_step
from .base import PayloadField, QueryContext, Target, TargetResult, no_series

#: history a prediction learns from unless the payload says otherwise
DEFAULT_HISTORY = "14d"
#: longest history the predictors use (they weigh the recent regime anyway)
MAX_HISTORY = pd.Timedelta("90D")
#: longest projection drawn past the last sample
MAX_PROJECTION = pd.Timedelta("365D")
#: shortest projection drawn, so that a panel ending now still gets the start of one
MIN_PROJECTION = pd.Timedelta("1D")

HISTORY = PayloadField("history", "History", "input", f"{DEFAULT_HISTORY} (learn from this much history)", 16)


@dataclass(frozen=True)
class Window:
    """Where the history a prediction learns from ends, how long it is and its sampling step."""

    history: pd.Timedelta
    step: pd.Timedelta
    end: pd.Timestamp
    end_key: object  # "live" for a panel showing the present, else the end itself

    @classmethod
    def of(cls, ctx: QueryContext, payload: Payload, notices: list[dict], minimum: pd.Timedelta) -> "Window":
        history = capped_duration(payload, "history", DEFAULT_HISTORY, MAX_HISTORY, notices, minimum)
        step = nice_step(max(history / FIT_POINTS, MIN_FIT_STEP))
        refit = pd.Timedelta(seconds=ctx.cache.refit_interval)
        if ctx.request.end >= ctx.now - refit:
            return cls(history, step, floor_time(ctx.now, step), "live")
        end = floor_time(ctx.request.end, step)
        return cls(history, step, end, end.value)

    def fetch(self, ctx: QueryContext, expr: str) -> list[History]:
        return ctx.fetch(expr, grid_start(self.end - self.history, self.step), self.end, self.step)


@dataclass
class Fitted:
    """The predictions for every series of one query: what the model cache holds for these targets."""

    name: str
    predictions: list[Prediction]


def other_expr(ctx: QueryContext, payload: Payload, param: Param) -> str | None:
    """A second PromQL expression of the payload (size, limit) with the ad hoc filters added."""
    expr = payload.read(param)
    return None if expr is None else add_matchers(expr, ctx.request.matchers)


class MaintenanceTarget(Target):
    """A target answering with one predictor per series: a table, projections and limit lines.

    Subclasses set ``kind`` (a :class:`~promcast.kinds.registry.PredictionKind`; its ``target`` is the
    target's ``name``), ``min_history`` and
    ``usage_name``, and implement :meth:`options` (payload -> predictor options, checked before
    anything is fetched) and :meth:`histories` (the series and per-series options to predict on).
    """

    kind: ClassVar[PredictionKind]
    min_history: ClassVar[pd.Timedelta] = pd.Timedelta("1D")
    usage_name: ClassVar[str] = "used"

    def options(self, ctx: QueryContext, payload: Payload, notices: list[dict]) -> dict[str, Any]:
        """Validated options from the payload (hashable values: they are part of the cache key)."""
        return {}

    def histories(self, ctx: QueryContext, expr: str, window: Window,
                  options: Mapping[str, Any]) -> tuple[list[History], dict[str, Any]]:
        """``(series, predictor options)``; an empty list when ``expr`` selects nothing."""
        raise NotImplementedError

    def limit_of(self, prediction: Prediction) -> float:
        """The value the projection is compared against, drawn as ``limit``."""
        raise NotImplementedError

    def projection(self, prediction: Prediction, ctx: QueryContext) -> dict[str, pd.Series]:
        """Projected series by field name (``projection`` at least) from the last sample on."""
        predictor = prediction.predictor
        span = ctx.request.end - predictor.last_timestamp_
        horizon = min(max(span, MIN_PROJECTION), MAX_PROJECTION)
        return {"projection": predictor.projection(horizon, max_points=ctx.request.max_points)}

    # ------------------------------------------------------------------------------------------
    def run(self, ctx: QueryContext, query: TargetQuery, payload: Payload) -> TargetResult:
        notices: list[dict] = []
        expr = ctx.expr(payload)
        window = Window.of(ctx, payload, notices, self.min_history)
        options = self.options(ctx, payload, notices)
        template = payload.text("legend")

        fitted = self._fitted(ctx, expr, window, options)
        if not fitted.predictions:
            return no_series(expr, window.end - window.history, window.end)
        failed = [p.failure for p in fitted.predictions if p.failure is not None]
        if len(failed) == len(fitted.predictions):
            first = failed[0]
            if len(failed) == 1:
                raise type(first.error)(str(first)) from first.error
            raise type(first.error)(f"all {len(failed)} series failed; first, {first}") from first.error
        for failure in failed:
            notices.append(notice("warning", str(failure)))

        ordered = sorted(fitted.predictions, key=lambda p: self.kind.sort_key(p.row))
        frames = [prediction_table(self.kind, ordered, query.ref_id)]
        names = legends([p.history.labels for p in ordered], template)
        prefixed = len(ordered) > 1 or bool(template)
        for prediction, legend in zip(ordered, names):
            if prediction.predictor is None:
                continue
            reason = getattr(prediction.predictor, "fallback_reason_", None)
            if reason:
                notices.append(notice("info", f"{prediction.history.legend}: {reason}"))
            frames.extend(self._series_frames(ctx, prediction, legend, prefixed, query.ref_id))
        return TargetResult(frames, notices)

    def _fitted(self, ctx: QueryContext, expr: str, window: Window, options: Mapping[str, Any]) -> Fitted:
        key = (ctx.source.identity, self.name, expr, tuple(sorted(options.items())), window.history.value,
               window.step.value, window.end_key)

        def fit() -> Fitted:
            series, predictor_options = self.histories(ctx, expr, window, options)
            if not series:
                return Fitted(self.name, [])
            return Fitted(self.name, predictions(self.kind.name, series, **predictor_options))

        entry, _hit = ctx.cache.get_or_fit(key, fit, model_name=self.name)
        return entry.model

    def _series_frames(self, ctx: QueryContext, prediction: Prediction, legend: str, prefixed: bool,
                       ref_id: str) -> list[dict]:
        req = ctx.request
        values = prediction.history.values.dropna()
        actual = thin(values[(values.index >= req.start) & (values.index <= req.end)], req.max_points)
        projected = {name: thin(series.dropna(), req.max_points)
                     for name, series in self.projection(prediction, ctx).items()}
        frames = [series_frame(field_name(legend, self.usage_name, prefixed), actual.index, actual.to_numpy(), ref_id)]
        ends = [req.end]
        for name, series in projected.items():
            frames.append(series_frame(field_name(legend, name, prefixed), series.index, series.to_numpy(), ref_id))
            if len(series):
                ends.append(series.index[-1])
        limit = self.limit_of(prediction)
        edges = pd.DatetimeIndex([req.start, max(ends)])
        frames.append(series_frame(field_name(legend, "limit", prefixed), edges, [limit, limit], ref_id))
        return frames


class LimitedTarget(MaintenanceTarget):
    """A maintenance target whose limit is given once for all series (the kind's ``limit_param``, a
    quantity such as ``500GiB``) or per series (its ``limit_expr``, PromQL matched to ``expr``'s series
    by labels): exactly one.

    Subclasses describe the limit for messages and turn the series and the limit (a number, or the
    fetched limit series) into predictor inputs in :meth:`with_limits`.
    """

    #: the limit in words and an example of it, for messages
    limit_what: ClassVar[str]
    limit_example: ClassVar[str]

    def options(self, ctx: QueryContext, payload: Payload, notices: list[dict]) -> dict[str, Any]:
        number, expr = self.kind.limit_param, self.kind.param(self.kind.limit_expr)
        given = [p for p in (number, expr) if payload.text(p.name) is not None]
        if len(given) == 2:
            raise InputError(f"give either payload.{number.name} or payload.{expr.name}, not both")
        if not given:
            raise InputError(f"payload.{number.name} or payload.{expr.name} is required: {self.limit_what}, "
                             f"e.g. {self.limit_example}")
        return {number.name: payload.read(number), expr.name: other_expr(ctx, payload, expr)}

    def histories(self, ctx: QueryContext, expr: str, window: Window,
                  options: Mapping[str, Any]) -> tuple[list[History], dict[str, Any]]:
        series = window.fetch(ctx, expr)
        if not series:
            return [], {}
        number = options[self.kind.limit_param.name]
        return self.with_limits(series, number if number is not None
                                else window.fetch(ctx, options[self.kind.limit_expr]))

    def with_limits(self, series: list[History], limit: float | list[History]) -> tuple[list[History], dict[str, Any]]:
        """``(series to predict on, predictor options)`` from the fetched series and the limit."""
        raise NotImplementedError

    def limit_of(self, prediction: Prediction) -> float:
        return float(getattr(prediction.predictor, f"{self.kind.limit_option}_"))


# ---------------------------------------------------------------------------------------------- table


def label_columns(label_sets: Sequence[Mapping[str, str]]) -> list[str]:
    """Label names shown as columns: all of them, sorted, ``__name__`` only when it tells series apart."""
    keys = sorted({k for labels in label_sets for k in labels})
    if "__name__" in keys and len({labels.get("__name__") for labels in label_sets}) <= 1:
        keys.remove("__name__")
    return keys


def cell(value: Any) -> str | float:
    """A table cell the datasource contract allows: a number or a string ("" where a field does not apply)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else ""
    return str(value)


#: fields shown as text: booleans and times (a time column would be drawn by a time series panel)
TEXT_FIELDS = frozenset({"is_leak", "full_at", "scale_up_date", "scale_down_date"})


def prediction_table(kind: PredictionKind, ordered: Sequence[Prediction], ref_id: str) -> dict:
    """One row per series in the given order: labels, then the kind's fields (and ``error`` if any)."""
    rows = [p.row for p in ordered]
    labels = label_columns([p.history.labels for p in ordered])
    fields = list(kind.fields)
    columns = [(name, "string") for name in labels]
    columns += [(f, "string" if f in TEXT_FIELDS else "number") for f in fields]
    has_error = any(r.get("error") for r in rows)
    if has_error:
        columns.append(("error", "string"))
    body = []
    for p, row in zip(ordered, rows):
        line: list[Any] = [p.history.labels.get(name, "") for name in labels]
        line += [cell(row.get(f)) for f in fields]
        if has_error:
            line.append(row.get("error") or "")
        body.append(line)
    return table_frame(columns, body, ref_id)


__all__ = ["DEFAULT_HISTORY", "HISTORY", "Fitted", "LimitedTarget", "MaintenanceTarget", "Window",
           "cell", "label_columns", "other_expr", "prediction_table"]
