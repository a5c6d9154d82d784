"""``anomalies``: the actual series, its causal anomaly score in [0, 1] and the model's band.

``sensitivity`` (robust standard deviations, default 3) sets both the band and the threshold a score
must pass to count as anomalous (:func:`promcast.models.calibration.alert_threshold`): for residual
models ``2*Phi(z) - 1`` (3 -> 0.9973), so a point outside the band is a point that scores above the
threshold; for detectors with a cross-validated threshold (the default ``ensemble``, ``artime``,
``cad_ose``) sensitivity 3 is that threshold and other values scale its surprise. Detectors that do
not forecast give no band.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ...kinds.registry import ANOMALY
from ..cache import CacheEntry
from ..frames import field_name, legends, series_frame, thin
from ..fitting import ModelSpec
from ..request import Payload, TargetQuery
from ...sources.base import History
from ..timegrid import grid_start, panel_step
from .base import (EXPR, HISTORY, LEGEND, MODEL, SENSITIVITY, QueryContext, Target, TargetResult, fitted_series,
                   no_series, sensitivity)

#: most history before the range fetched as scoring context
MAX_CONTEXT = pd.Timedelta("30D")


@dataclass
class ScoringRequest:
    """What both anomaly targets start from: the payload's expression, model and sensitivity, and the
    visible series fetched on the scoring grid (empty when nothing matches)."""

    expr: str
    spec: ModelSpec
    z: float
    threshold: float
    template: str | None
    step: pd.Timedelta
    visible: list[History]
    names: list[str]
    scorer: "Scorer"

    @classmethod
    def parse(cls, ctx: QueryContext, payload: Payload, notices: list[dict], points: int,
              min_step: pd.Timedelta | None = None) -> "ScoringRequest":
        expr = ctx.expr(payload)
        spec = ctx.model_spec(payload, notices)
        z, threshold = sensitivity(payload)
        template = payload.text("legend")
        req = ctx.request
        step = panel_step(req.start, req.end, points, min_step)
        visible = ctx.fetch(expr, grid_start(req.start, step), req.end, step)
        names = legends([h.labels for h in visible], template)
        return cls(expr, spec, z, threshold, template, step, visible, names, Scorer(ctx, expr, step))

    def fitted(self, ctx: QueryContext, notices: list[dict]):
        """``(history, legend, cache entry)`` of every visible series whose model fits."""
        return fitted_series(ctx.models(self.expr, self.spec), self.visible, self.names, notices)


class Anomalies(Target):
    name = ANOMALY.target
    label = "Anomaly score and band"
    fields = (EXPR, MODEL, HISTORY, SENSITIVITY, LEGEND)

    def run(self, ctx: QueryContext, query: TargetQuery, payload: Payload) -> TargetResult:
        notices: list[dict] = []
        req = ctx.request
        scoring = ScoringRequest.parse(ctx, payload, notices, req.max_points, req.min_step)
        if not scoring.visible:
            return no_series(scoring.expr, req.start, req.end)
        prefixed = len(scoring.visible) > 1 or bool(scoring.template)
        threshold, scorer = scoring.threshold, scoring.scorer

        frames = []
        for history, legend, entry in scoring.fitted(ctx, notices):
            actual = history.values
            scores = scorer.score(entry, history)
            frames.append(series_frame(field_name(legend, "actual", prefixed), *_points(thin(actual, req.max_points)), query.ref_id))
            if entry.model.is_forecaster and len(actual):
                band = band_at(entry, actual.index, threshold)
                for column in ("yhat_lower", "yhat_upper"):
                    frames.append(series_frame(field_name(legend, column, prefixed), *_points(thin(band[column], req.max_points)), query.ref_id))
            frames.append(series_frame(field_name(legend, "anomaly_score", prefixed),
                                       *_points(thin(scores, req.max_points, how="max")), query.ref_id))
        return TargetResult(frames, notices)


def _points(series: pd.Series):
    return series.index, series.to_numpy()


def band_at(entry: CacheEntry, index: pd.DatetimeIndex, coverage: float) -> pd.DataFrame:
    """The model's band at ``index`` (memoised per grid)."""
    key = ("band", index[0].value, index[-1].value, len(index), coverage)
    return entry.memo(key, lambda: entry.model.predict_at(index, coverage))


class Scorer:
    """Causal scores over the visible range, with the history before it that a model looks back on.

    Models such as ``seasonal_naive`` compare each point with the series one season earlier; the
    context before the range is fetched once per target (for all its series) and only when needed.
    """

    def __init__(self, ctx: QueryContext, expr: str, step: pd.Timedelta) -> None:
        self.ctx, self.expr, self.step = ctx, expr, step
        self._context: dict[frozenset, pd.Series] | None = None
        self._context_span = pd.Timedelta(0)

    def context_span(self, entry: CacheEntry) -> pd.Timedelta:
        rows = int(entry.model.score_context())
        if rows <= 0:
            return pd.Timedelta(0)
        model_step = getattr(entry.model, "step_", self.step)
        return min(max(pd.Timedelta(model_step), self.step) * rows, MAX_CONTEXT)

    def score(self, entry: CacheEntry, history) -> pd.Series:
        values = history.values
        if not len(values):
            return pd.Series(dtype=float)
        span = self.context_span(entry)
        if span > pd.Timedelta(0):
            before = self._before(history.labels, values.index[0], span)
            if before is not None and len(before):
                joined = pd.concat([before[before.index < values.index[0]], values])
                return entry.model.score(joined).loc[values.index[0]:]
        return entry.model.score(values)

    def _before(self, labels, first: pd.Timestamp, span: pd.Timedelta) -> pd.Series | None:
        if self._context is None or span > self._context_span:
            found = self.ctx.fetch(self.expr, grid_start(first - span, self.step), first - self.step, self.step)
            self._context = {frozenset(h.labels.items()): h.values for h in found}
            self._context_span = span
        return self._context.get(frozenset(labels.items()))
