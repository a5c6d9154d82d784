"""``forecast``: the actual series, the model's forecast ``yhat`` and its band, past the range's end.

The forecast covers the visible range (in-sample, so the band shows where the actual left it) and
continues ``horizon`` past ``range.to``. All four series share one aligned step chosen so that each
has at most ``maxDataPoints`` points. One series gives exactly ``actual``, ``yhat``, ``yhat_lower``,
``yhat_upper`` (a panel override ``fillBelowTo: yhat_lower`` on ``yhat_upper`` draws the band);
several (or an explicit legend) give ``<legend> yhat`` and so on.
"""

from __future__ import annotations

import pandas as pd

from ...models import FORECAST_COLUMNS
from ..frames import Points, field_name, legends, series_frame, thin
from ..request import Payload, TargetQuery, capped_duration, parse_interval
from ..timegrid import floor_time, grid, grid_count, grid_start, panel_step
from .base import (EXPR, HISTORY, HORIZON, INTERVAL, LEGEND, MODEL, QueryContext, Target, TargetResult,
                   fitted_series, no_series)

#: longest horizon promcast forecasts; longer requests are capped with a notice
MAX_HORIZON = pd.Timedelta("90D")
DEFAULT_HORIZON = "1d"


class Forecast(Target):
    name = "forecast"
    label = "Forecast with band"
    fields = (EXPR, MODEL, HISTORY, HORIZON, INTERVAL, LEGEND)

    def run(self, ctx: QueryContext, query: TargetQuery, payload: Payload) -> TargetResult:
        notices: list[dict] = []
        expr = ctx.expr(payload)
        spec = ctx.model_spec(payload, notices, forecaster=True)
        horizon = capped_duration(payload, "horizon", DEFAULT_HORIZON, MAX_HORIZON, notices)
        interval = parse_interval(payload)
        template = payload.text("legend")

        req = ctx.request
        step = panel_step(req.start, req.end + horizon, req.max_points, req.min_step)
        first = grid_start(req.start, step)
        if first > req.end:  # a step sized for range + horizon can skip the whole range: take the step before
            first = floor_time(req.end, step)
        visible = ctx.fetch(expr, first, req.end, step)
        if not visible:
            return no_series(expr, req.start, req.end)
        names = legends([h.labels for h in visible], template)
        prefixed = len(visible) > 1 or bool(template)
        count = grid_count(req.start, req.end + horizon, step)  # the grid itself is built only to predict
        memo_key = ("predict_at", grid_start(req.start, step).value if count else 0, step.value, count, interval)

        frames = []
        for history, legend, entry in fitted_series(ctx.models(expr, spec), visible, names, notices):
            encoded = entry.memo(memo_key, lambda: _encoded_forecast(entry.model, grid(req.start, req.end + horizon, step),
                                                                    interval))
            actual = thin(history.values, req.max_points)
            frames.append(series_frame(field_name(legend, "actual", prefixed), actual.index, actual.to_numpy(), query.ref_id))
            for column in FORECAST_COLUMNS:
                frames.append(series_frame(field_name(legend, column, prefixed), None, encoded[column], query.ref_id))
        return TargetResult(frames, notices)


def _encoded_forecast(model, index: pd.DatetimeIndex, interval: float) -> dict[str, Points]:
    """The forecast at ``index`` with its datapoints already encoded (memoised per grid)."""
    predicted = model.predict_at(index, interval)
    return {column: Points.encode(predicted.index, predicted[column].to_numpy()) for column in FORECAST_COLUMNS}
