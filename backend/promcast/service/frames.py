"""Response elements for ``/query``: what the plugin hands to Grafana's ``toDataFrame``.

A series is ``{"target": name, "datapoints": [[value, epoch_ms], ...]}``; a table is
``{"type": "table", "columns": [...], "rows": [...]}``. Every element carries its ``refId`` (Grafana
groups frames by it) and may carry ``meta.notices`` (shown on the panel). JSON has no NaN or
infinity, so non-finite points are dropped rather than sent as invalid JSON.

Datapoints are encoded to JSON text when a frame is built (:class:`Points`): formatting floats is most
of a warm query's cost, and a forecast that is served again (the same aligned grid) can reuse its
encoded points from the model cache instead of formatting thousands of floats on every refresh.
Points are formatted by orjson where its text is exactly the standard library's (see
:func:`dump_points`), so the answer is the same bytes whichever encoder wrote it.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import orjson
import pandas as pd

from ..sources.base import format_labels

_TEMPLATE = re.compile(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")


def epoch_ms(index: pd.DatetimeIndex) -> np.ndarray:
    """Milliseconds since the epoch of a tz-aware (or UTC-naive) index."""
    return np.asarray(index.as_unit("ns").asi8 // 1_000_000, dtype=np.int64)


class Points:
    """Datapoints already encoded as JSON (``[[value,ms],...]``), spliced into the response as is."""

    __slots__ = ("json", "count")

    def __init__(self, json_text: str, count: int) -> None:
        self.json = json_text
        self.count = count

    @classmethod
    def encode(cls, index: pd.DatetimeIndex, values: Iterable[float]) -> "Points":
        """Non-finite values are left out (JSON has no NaN)."""
        vals = np.asarray(values, dtype=float)
        ms = epoch_ms(index)
        keep = np.isfinite(vals)
        if not keep.all():
            vals, ms = vals[keep], ms[keep]
        return cls(dump_points(vals, ms), len(vals))

    def decode(self) -> list[list[float]]:
        return json.loads(self.json)

    def __len__(self) -> int:
        return self.count


#: magnitudes Python writes without an exponent (``repr``: fixed notation for exponents -4 to 15)
_FIXED_LOW, _FIXED_HIGH = 1e-4, 1e16


def dump_points(values: np.ndarray, ms: np.ndarray) -> str:
    """``[[value,ms],...]`` exactly as ``json.dumps(..., separators=(",", ":"))`` writes it, fast.

    Both encoders write a float's shortest round-trip digits; they differ only in when they switch to
    an exponent (Python: ``1e-05``, ``1e+16``; orjson: ``0.00001``, ``1e16``). orjson writes the
    points when every value is 0 or in the range Python writes without one, the standard library
    otherwise. ``values`` must be finite.
    """
    magnitude = np.abs(values)
    if bool((((magnitude >= _FIXED_LOW) & (magnitude < _FIXED_HIGH)) | (magnitude == 0)).all()):
        return orjson.dumps(list(zip(values.tolist(), ms.tolist()))).decode()
    return json.dumps(list(zip(values.tolist(), ms.tolist())), separators=(",", ":"))


def series_frame(name: str, index: pd.DatetimeIndex | None, values: Iterable[float] | Points, ref_id: str) -> dict[str, Any]:
    """A time series element from values at ``index`` or from already encoded :class:`Points`."""
    points = values if isinstance(values, Points) else Points.encode(index, values)
    return {"target": name, "datapoints": points, "refId": ref_id}


def encode_frames(frames: Sequence[Mapping[str, Any]]) -> str:
    """The ``/query`` response body: the frames as a JSON list, encoded points spliced in."""
    return "[" + ",".join(_encode_frame(frame) for frame in frames) + "]"


def _encode_frame(frame: Mapping[str, Any]) -> str:
    points = frame.get("datapoints")
    if not isinstance(points, Points):
        return json.dumps(frame, separators=(",", ":"))
    rest = json.dumps({k: v for k, v in frame.items() if k != "datapoints"}, separators=(",", ":"))
    return rest[:-1] + ("," if len(rest) > 2 else "") + '"datapoints":' + points.json + "}"


def table_frame(columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[Any]], ref_id: str) -> dict[str, Any]:
    """A table element; ``columns`` are ``(name, type)`` with Grafana types (time, string, number)."""
    return {
        "type": "table",
        "columns": [{"text": name, "type": kind} for name, kind in columns],
        "rows": [list(row) for row in rows],
        "refId": ref_id,
    }


def empty_frame(ref_id: str) -> dict[str, Any]:
    """A series with no points: the carrier of notices for a target that has nothing else to show."""
    return {"target": ref_id, "datapoints": Points("[]", 0), "refId": ref_id}


def attach_notices(frames: list[dict[str, Any]], notices: Sequence[Mapping[str, str]], ref_id: str) -> list[dict[str, Any]]:
    """Put ``notices`` on the first frame (adding an empty one when there is none); de-duplicated."""
    if not notices:
        return frames
    unique = list({(n["severity"], n["text"]): dict(n) for n in notices}.values())
    if not frames:
        frames = [empty_frame(ref_id)]
    meta = frames[0].setdefault("meta", {})
    meta.setdefault("notices", []).extend(unique)
    return frames


def thin(series: pd.Series, max_points: int, how: str = "mean") -> pd.Series:
    """At most ``max_points`` points: consecutive buckets reduced by ``how`` (mean, or max for scores)."""
    n = len(series)
    if n <= max_points:
        return series
    size = -(-n // max_points)  # ceil
    groups = np.arange(n) // size
    reduced = getattr(series.groupby(groups), how)()
    first_times = series.index[::size]
    return pd.Series(reduced.to_numpy(), index=first_times[: len(reduced)])


# ------------------------------------------------------------------------------------------ names


def legends(label_sets: Sequence[Mapping[str, str]], template: str | None) -> list[str]:
    """One legend per series: the ``{{label}}`` template filled in, or the labels that tell them apart."""
    if template:
        return [_TEMPLATE.sub(lambda m: str(labels.get(m.group(1), "")), template) for labels in label_sets]
    if len(label_sets) <= 1:
        return [format_labels(labels) for labels in label_sets]
    keys = sorted({k for labels in label_sets for k in labels})
    varying = [k for k in keys if len({labels.get(k) for labels in label_sets}) > 1]
    out = []
    for labels in label_sets:
        shown = {k: labels[k] for k in varying if k in labels}
        out.append(format_labels(shown) if shown else format_labels(labels))
    return out


def field_name(legend: str, field: str, prefixed: bool) -> str:
    """``yhat`` for a lone series, ``<legend> yhat`` when several share a panel (or a legend was set)."""
    return f"{legend} {field}" if prefixed and legend else field
