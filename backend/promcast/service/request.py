"""Parsing and validation of what Grafana's JSON datasource sends.

Grafana sends the whole ``DataQueryRequest`` (range, intervalMs, maxDataPoints, targets, filters,
scopedVars and keys we do not use; unknown keys are ignored). Payloads arrive as objects or JSON
strings and values often as strings ("7" for 7), because the plugin runs every builder value through
``toString``. Every problem becomes an :class:`InputError` whose message names the field and what is
allowed; request-wide problems fail the request (400), target problems fail only that target.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..durations import human_duration, parse_duration, parse_time
from ..errors import InputError
from ..kinds.params import NUMBER, Param
from ..promql_filters import matchers_from_filters
from ..promql_selector import Matcher

#: points per series when a request does not say (Grafana always does)
DEFAULT_MAX_POINTS = 1000
#: most points per series promcast returns; larger requests are capped with a notice
MAX_DATA_POINTS = 11_000
#: deepest JSON nesting accepted in a body or a payload string (a Grafana query nests about 5 levels)
MAX_JSON_DEPTH = 64


def notice(severity: str, text: str) -> dict[str, str]:
    """A Grafana ``QueryResultMetaNotice``: shown on the panel (severity info, warning or error)."""
    return {"severity": severity, "text": text}


def parse_json_body(raw: bytes, *, required: bool = True) -> Any:
    """The JSON body; an empty body is ``{}`` unless ``required``. Malformed JSON is an InputError."""
    text = raw.decode("utf-8", errors="replace").strip() if raw else ""
    if not text:
        if required:
            raise InputError("empty request body: send a JSON object (Grafana's query request)")
        return {}
    return load_json(text, "body", "malformed JSON body: {exc}")


def load_json(text: str, what: str, malformed: str) -> Any:
    """Strict JSON (no NaN/Infinity) nested at most MAX_JSON_DEPTH deep, or an InputError naming ``what``.

    The depth is measured before decoding, by a linear scan, so neither the decoder nor anything that
    walks the result later can run out of stack.
    """
    depth = json_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise InputError(f"bad {what}: JSON nested {depth} levels deep, promcast accepts at most {MAX_JSON_DEPTH}")
    try:
        return json.loads(text, parse_constant=_no_constant)
    except RecursionError as exc:  # pragma: no cover - json_depth keeps it out of reach
        raise InputError(f"bad {what}: JSON nested too deeply") from exc
    except ValueError as exc:
        raise InputError(malformed.format(exc=exc)) from exc


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON; send numbers as finite numbers or strings")


_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_OPEN = np.zeros(256, dtype=np.int8)
_OPEN[[ord("["), ord("{")]] = 1
_OPEN[[ord("]"), ord("}")]] = -1


def json_depth(text: str) -> int:
    """Deepest ``[``/``{`` nesting of JSON ``text`` (strings skipped); linear time, no recursion.

    Strings go first (one regex pass), then the running depth is a cumulative sum over the bytes:
    a 4 MiB body takes milliseconds, whatever it holds.
    """
    rest = _JSON_STRING.sub("", text).encode("utf-8", "replace")
    if not rest:
        return 0
    steps = _OPEN[np.frombuffer(rest, dtype=np.uint8)].astype(np.int32)
    return max(int(np.cumsum(steps).max()), 0)


def require_object(body: Any, what: str = "request body") -> dict:
    if not isinstance(body, dict):
        raise InputError(f"bad {what}: expected a JSON object, got {_json_type(body)}")
    return body


# ----------------------------------------------------------------------------------------- values


def as_int(value: Any, what: str) -> int:
    """An integer from a number or a numeric string ("500", 500.0); InputError otherwise."""
    number = as_float(value, what)
    if not number.is_integer():
        raise InputError(f"bad {what} {value!r}: expected a whole number")
    return int(number)


def as_float(value: Any, what: str) -> float:
    if isinstance(value, bool) or value is None:
        raise InputError(f"bad {what} {value!r}: expected a number")
    try:
        number = float(str(value).strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError) as exc:
        raise InputError(f"bad {what} {value!r}: expected a number") from exc
    if not math.isfinite(number):
        raise InputError(f"bad {what} {value!r}: expected a finite number")
    return number


def _json_type(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(value), "a number")


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


# ---------------------------------------------------------------------------------------- payload


class Payload:
    """A target's payload with typed accessors; every accessor names the key in its errors."""

    def __init__(self, data: Mapping[str, Any]):
        self.data = dict(data)

    @classmethod
    def parse(cls, raw: Any) -> "Payload":
        """From an object, a JSON string (the plugin's code editor) or nothing."""
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return cls({})
        if isinstance(raw, str):
            raw = load_json(raw, "payload", "bad payload: not valid JSON ({exc})")
        if not isinstance(raw, dict):
            raise InputError(f"bad payload: expected a JSON object, got {_json_type(raw)}")
        return cls(raw)

    def _value(self, key: str) -> Any:
        value = self.data.get(key)
        if isinstance(value, list):  # a multi-select; our keys take one value
            if len(value) == 1:
                return value[0]
            if not value:
                return None
            raise InputError(f"bad payload.{key}: expected one value, got {len(value)}")
        return value

    def text(self, key: str, default: str | None = None, *, required: bool = False, hint: str = "") -> str | None:
        value = self._value(key)
        if not _present(value):
            if required:
                raise InputError(f"payload.{key} is required{': ' + hint if hint else ''}")
            return default
        if isinstance(value, (dict, list)):
            raise InputError(f"bad payload.{key}: expected a string, got {_json_type(value)}")
        return str(value).strip()

    def duration(self, key: str, default: str) -> pd.Timedelta:
        value = self._value(key)
        value = default if not _present(value) else value
        return pd.Timedelta(parse_duration(value, what=f"payload.{key}"))

    def read(self, param: Param) -> Any:
        """``payload[param.name]`` converted by a kind's declared parameter (:mod:`promcast.kinds.params`),
        its default when absent; a number may come as a percentage (``20%``), as the builder's inputs do."""
        value = self._value(param.name)
        what = f"payload.{param.name}"
        if not _present(value):
            return param.read_or_default(None, what)
        if param.type is NUMBER and isinstance(value, str) and value.strip().endswith("%"):
            value = as_float(value.strip()[:-1], what) / 100.0
        return param.read(value, what)

    def number(self, key: str, default: float, *, low: float, high: float, hint: str) -> float:
        value = self._value(key)
        if not _present(value):
            return default
        text = str(value).strip()
        percent = text.endswith("%")
        number = as_float(text[:-1] if percent else value, f"payload.{key}")
        if percent:
            number /= 100.0
        if not low < number <= high:
            raise InputError(f"bad payload.{key} {value!r}: {hint}")
        return number


def parse_interval(payload: Payload, default: float = 0.95) -> float:
    """The band's coverage: 0.95, "0.95", "95" or "95%" all mean 95 %."""
    value = payload.number("interval", default, low=0.0, high=100.0,
                           hint="expected a coverage between 0 and 1 such as 0.95 (or a percentage like 95)")
    value = value / 100.0 if value >= 1.0 else value
    if not 0.5 <= value < 1.0:
        raise InputError(
            f"bad payload.interval {payload.data.get('interval')!r}: expected a coverage from 0.5 up to "
            "(not including) 1, such as 0.8, 0.95 or 0.99")
    return value


def capped_duration(payload: Payload, key: str, default: str, cap: pd.Timedelta,
                    notices: list[dict], minimum: pd.Timedelta | None = None) -> pd.Timedelta:
    """A duration that is cut to ``cap`` with a warning notice (a 10y horizon means nothing useful).

    Below ``minimum`` it is an error: too little to fit or forecast anything.
    """
    return cap_duration(payload, key, payload.duration(key, default), cap, notices, minimum)


def cap_duration(payload: Payload, key: str, value: Any, cap: pd.Timedelta, notices: list[dict],
                 minimum: pd.Timedelta | None = None) -> pd.Timedelta:
    """:func:`capped_duration` of a duration already read from ``payload[key]``."""
    value = pd.Timedelta(value)
    raw = payload.data.get(key)
    shown = raw if isinstance(raw, str) and raw.strip() else human_duration(value)
    if minimum is not None and value < minimum:
        raise InputError(f"bad payload.{key} {shown!r}: too short, use at least {human_duration(minimum)}")
    if value > cap:
        notices.append(notice("warning", f"{key} {shown} capped to {human_duration(cap)}, "
                                         f"the longest {key} promcast uses"))
        return cap
    return value


# ---------------------------------------------------------------------------------------- targets


@dataclass(frozen=True)
class TargetQuery:
    """One entry of ``targets``: its refId, target name and (unparsed) payload."""

    ref_id: str
    target: str | None
    raw_payload: Any
    hide: bool = False

    def payload(self) -> Payload:
        return Payload.parse(self.raw_payload)


@dataclass(frozen=True)
class QueryRequest:
    """A validated ``/query`` request."""

    start: pd.Timestamp
    end: pd.Timestamp
    max_points: int
    min_step: pd.Timedelta | None
    targets: list[TargetQuery]
    matchers: list[Matcher]
    notices: list[dict] = field(default_factory=list)


def parse_range(body: Mapping[str, Any], *, required: bool = True) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """``range.from``/``range.to`` (ISO 8601 as Grafana sends them, or epoch seconds/ms)."""
    rng = body.get("range")
    if rng is None and not required:
        return None
    if not isinstance(rng, dict) or not _present(rng.get("from")) or not _present(rng.get("to")):
        raise InputError('missing range: send "range": {"from": ISO time, "to": ISO time} as Grafana does')
    start = _bounded(parse_time(rng["from"], what="range.from"), "range.from", rng["from"])
    end = _bounded(parse_time(rng["to"], what="range.to"), "range.to", rng["to"])
    if end < start:
        raise InputError(f"bad range: range.to ({end.isoformat()}) is before range.from ({start.isoformat()})")
    return start, end


#: times promcast accepts (nanosecond timestamps end in 2262; horizons and histories must fit)
EARLIEST = pd.Timestamp("1970-01-01T00:00:00Z")
LATEST = pd.Timestamp("2200-01-01T00:00:00Z")


def _bounded(ts: pd.Timestamp, what: str, raw: Any) -> pd.Timestamp:
    try:
        ts = ts.as_unit("ns")
    except (OverflowError, ValueError):
        ts = None
    if ts is None or not EARLIEST <= ts <= LATEST:
        raise InputError(f"bad {what} {raw!r}: expected a time between 1970 and 2200")
    return ts


def parse_query_request(body: Any) -> QueryRequest:
    body = require_object(body)
    start, end = parse_range(body)  # type: ignore[misc]
    notices: list[dict] = []

    max_points = DEFAULT_MAX_POINTS
    if _present(body.get("maxDataPoints")):
        max_points = as_int(body["maxDataPoints"], "maxDataPoints")
        if max_points < 1:
            raise InputError(f"bad maxDataPoints {body['maxDataPoints']!r}: must be at least 1")
        if max_points > MAX_DATA_POINTS:
            notices.append(notice("warning", f"maxDataPoints {max_points} capped to {MAX_DATA_POINTS}"))
            max_points = MAX_DATA_POINTS

    min_step = None
    if _present(body.get("intervalMs")):
        interval_ms = as_float(body["intervalMs"], "intervalMs")
        if interval_ms < 0:
            raise InputError(f"bad intervalMs {body['intervalMs']!r}: must not be negative")
        if interval_ms > 0:
            # a step longer than the range gives one point anyway; capped there, it cannot overflow
            span_ms = max((end - start).value / 1e6, 1000.0)
            min_step = pd.Timedelta(milliseconds=round(min(interval_ms, span_ms)))

    raw_targets = body.get("targets")
    if not isinstance(raw_targets, list):
        raise InputError('missing targets: send "targets": [{"refId": "A", "target": "forecast", "payload": {...}}]')
    if not raw_targets:
        raise InputError("targets is empty: add at least one target (forecast, anomalies, anomaly_events, ...)")
    targets = [_parse_target(i, item) for i, item in enumerate(raw_targets)]

    filters = body.get("filters")
    if filters is None:
        filters = body.get("adhocFilters")  # older plugin versions
    if filters is not None and not isinstance(filters, list):
        raise InputError("bad filters: expected a list of {key, operator, value}")
    matchers = matchers_from_filters(filters or [])
    return QueryRequest(start, end, max_points, min_step, targets, matchers, notices)


def _parse_target(index: int, item: Any) -> TargetQuery:
    default_ref = _ref_name(index)
    if not isinstance(item, dict):
        raise InputError(f"bad targets[{index}]: expected an object with refId, target and payload")
    ref_id = str(item.get("refId") or default_ref)
    target = item.get("target")
    target = str(target).strip() if _present(target) and not isinstance(target, (dict, list)) else None
    raw_payload = item.get("payload", item.get("data"))
    hide = item.get("hide") in (True, "true")
    return TargetQuery(ref_id, target, raw_payload, hide)


def _ref_name(index: int) -> str:
    """A, B, ..., Z, AA, AB, ... like Grafana's refIds."""
    name = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        name = chr(65 + rem) + name
    return name
