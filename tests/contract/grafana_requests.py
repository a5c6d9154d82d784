"""Requests shaped exactly like the ones Grafana (10-12) and simpod-json-datasource send.

``query_request`` builds a full ``DataQueryRequest``: range with ``raw``, ``rangeRaw``, ``interval`` and
``intervalMs``, ``maxDataPoints``, ``scopedVars``, ``filters``, dashboard and panel identifiers, a
``startTime`` and keys promcast does not use, with every target's payload as a JSON string (the code
editor) unless told otherwise.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

#: the demo's fixed "now" in these tests: a Monday noon, UTC
NOW = pd.Timestamp("2024-06-10T12:00:00Z")
DATASOURCE = {"type": "simpod-json-datasource", "uid": "promcast"}


def iso(ts: pd.Timestamp) -> str:
    """Grafana's ISO format: milliseconds and a Z."""
    return ts.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def target(ref_id: str, name: str | None, payload: Any = None, *, as_string: bool = True, hide: bool = False,
           **extra: Any) -> dict[str, Any]:
    """One entry of ``targets``; ``payload`` is sent as a JSON string unless ``as_string`` is false."""
    entry: dict[str, Any] = {"refId": ref_id, "datasource": DATASOURCE, "editorMode": "code", "hide": hide}
    if name is not None:
        entry["target"] = name
    if payload is not None:
        entry["payload"] = json.dumps(payload) if as_string and not isinstance(payload, str) else payload
    entry.update(extra)
    return entry


def query_request(targets: list[dict[str, Any]], *, start: pd.Timestamp | None = None,
                  end: pd.Timestamp | None = None, max_points: Any = 1000, interval_ms: Any = 120_000,
                  filters: list[dict[str, Any]] | None = None, **overrides: Any) -> dict[str, Any]:
    """A full ``/query`` body as Grafana sends it for a dashboard panel (default: the last 2 days)."""
    end = NOW if end is None else end
    start = end - pd.Timedelta("2D") if start is None else start
    body: dict[str, Any] = {
        "app": "dashboard",
        "requestId": "SQR101",
        "timezone": "browser",
        "panelId": 4,
        "panelName": "Forecast",
        "panelPluginId": "timeseries",
        "dashboardUID": "promcast-demo",
        "dashboardTitle": "promcast demo",
        "range": {"from": iso(start), "to": iso(end), "raw": {"from": "now-2d", "to": "now"}},
        "rangeRaw": {"from": "now-2d", "to": "now"},
        "timeInfo": "",
        "interval": "2m",
        "intervalMs": interval_ms,
        "maxDataPoints": max_points,
        "targets": targets,
        "scopedVars": {"__interval": {"text": "2m", "value": "2m"},
                       "__interval_ms": {"text": "120000", "value": 120000},
                       "instance": {"text": "node-1:9100", "value": "node-1:9100", "selected": True}},
        "filters": filters or [],
        "startTime": int(end.value // 1_000_000),
        "liveStreaming": False,
        "cacheTimeout": None,
        "queryCachingTTL": None,
    }
    body.update(overrides)
    return body


def variable_request(payload: Any) -> dict[str, Any]:
    """A ``/variable`` body as simpod-json-datasource's metricFindQuery sends it."""
    end = NOW
    return {"payload": payload,
            "range": {"from": iso(end - pd.Timedelta("6h")), "to": iso(end), "raw": {"from": "now-6h", "to": "now"}}}
