"""``anomaly_events``: one table row per anomalous episode, for Grafana annotation queries.

Columns ``time``, ``timeEnd``, ``title``, ``text``, ``tags`` are the names Grafana maps onto annotation
events (tags are comma-separated). Scores are computed at a finer step than a panel's (episodes of
a few minutes must not fall between points); consecutive anomalous points, allowing one normal point
between them, form one episode.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...models.calibration import alert_threshold
from ..frames import epoch_ms, table_frame
from ..request import Payload, TargetQuery, notice
from .anomalies import ScoringRequest
from .base import EXPR, HISTORY, LEGEND, MODEL, SENSITIVITY, QueryContext, Target, TargetResult, no_series

#: points per series scored for events (finer than a panel, bounded)
EVENT_POINTS = 4000
#: most episodes one target returns (the highest peaks are kept)
MAX_EVENTS = 500
COLUMNS = (("time", "time"), ("timeEnd", "time"), ("title", "string"), ("text", "string"), ("tags", "string"))


class AnomalyEvents(Target):
    name = "anomaly_events"
    label = "Anomalous episodes (annotations)"
    fields = (EXPR, MODEL, HISTORY, SENSITIVITY, LEGEND)

    def run(self, ctx: QueryContext, query: TargetQuery, payload: Payload) -> TargetResult:
        notices: list[dict] = []
        req = ctx.request
        scoring = ScoringRequest.parse(ctx, payload, notices, EVENT_POINTS)
        if not scoring.visible:
            result = no_series(scoring.expr, req.start, req.end)
            result.frames.append(table_frame(COLUMNS, [], query.ref_id))
            return result
        z, threshold, scorer, step = scoring.z, scoring.threshold, scoring.scorer, scoring.step

        rows: list[tuple[float, list]] = []
        for history, legend, entry in scoring.fitted(ctx, notices):
            scores = scorer.score(entry, history)
            found = episodes(scores.to_numpy() >= alert_threshold(entry.model, z))
            if not found:
                continue
            peaks = pd.DatetimeIndex([scores.iloc[a:b + 1].idxmax() for a, b in found])
            band = entry.model.predict_at(peaks, threshold) if entry.model.is_forecaster else None
            for i, (first, last) in enumerate(found):
                peak_at, peak = peaks[i], float(scores.loc[peaks[i]])
                detail = f"value {float(history.values.get(peak_at, np.nan)):.6g}"
                if band is not None:
                    detail += (f", expected {band['yhat'].iloc[i]:.6g}, band {band['yhat_lower'].iloc[i]:.6g}"
                               f" to {band['yhat_upper'].iloc[i]:.6g}")
                start_ms, end_ms = epoch_ms(scores.index[[first, last]]).tolist()
                span = scores.index[last] - scores.index[first] + step
                text = (f"{legend}: {last - first + 1} anomalous point(s) over {_short(span)}; peak score "
                        f"{peak:.4f} at {peak_at.strftime('%Y-%m-%d %H:%M:%S')} UTC ({detail}); "
                        f"model {entry.model.name}, sensitivity {z:g}")
                rows.append((peak, [start_ms, end_ms, f"Anomaly: {legend}", text,
                                    f"promcast,anomaly,{entry.model.name}"]))
        if len(rows) > MAX_EVENTS:
            notices.append(notice("warning", f"{len(rows)} anomalous episodes; showing the {MAX_EVENTS} with the "
                                             "highest scores (raise payload.sensitivity to see fewer)"))
            rows = sorted(rows, key=lambda r: r[0], reverse=True)[:MAX_EVENTS]
        table = sorted((row for _, row in rows), key=lambda row: row[0])
        return TargetResult([table_frame(COLUMNS, table, query.ref_id)], notices)


def episodes(flags: np.ndarray, max_gap: int = 1) -> list[tuple[int, int]]:
    """``(first, last)`` index pairs of runs of True, joining runs separated by ``max_gap`` False or fewer."""
    hits = np.flatnonzero(flags)
    if not len(hits):
        return []
    breaks = np.flatnonzero(np.diff(hits) > max_gap + 1)
    starts = np.concatenate([[hits[0]], hits[breaks + 1]])
    ends = np.concatenate([hits[breaks], [hits[-1]]])
    return list(zip(starts.tolist(), ends.tolist()))


def _short(span: pd.Timedelta) -> str:
    from ...durations import format_duration

    return format_duration(span.to_pytimedelta())
