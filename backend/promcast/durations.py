"""Prometheus-style durations (``5m``, ``1h30m``, ``14d``) and time parsing for the CLI and the API."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pandas as pd

from .errors import InputError

_UNITS = {
    "ms": 0.001,
    "s": 1,
    "m": 60,
    "h": 3600,
    "d": 86400,
    "w": 7 * 86400,
    "y": 365 * 86400,
}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")
_ALLOWED = "a Prometheus duration such as 30s, 5m, 1h30m, 14d, 1w or 1y"


def parse_duration(text: str | int | float | timedelta, *, what: str = "duration") -> timedelta:
    """Parse ``1h30m`` style durations; a bare number means seconds. Raises :class:`InputError`."""
    if isinstance(text, timedelta):
        value = text
    elif isinstance(text, (int, float)) and not isinstance(text, bool):
        value = timedelta(seconds=float(text))
    else:
        raw = str(text).strip()
        if re.fullmatch(r"\d+(?:\.\d+)?", raw):
            value = timedelta(seconds=float(raw))
        else:
            pos, seconds = 0, 0.0
            for match in _PART.finditer(raw):
                if match.start() != pos:
                    break
                seconds += float(match.group(1)) * _UNITS[match.group(2)]
                pos = match.end()
            if not raw or pos != len(raw):
                raise InputError(f"bad {what} {raw!r}: expected {_ALLOWED}")
            value = timedelta(seconds=seconds)
    if value <= timedelta(0):
        raise InputError(f"bad {what} {text!r}: must be positive ({_ALLOWED})")
    return value


def format_duration(value: timedelta) -> str:
    """Shortest Prometheus duration string for ``value`` (``90m`` -> ``1h30m``)."""
    ms = int(round(value.total_seconds() * 1000))
    if ms <= 0:
        return "0s"
    out = []
    for unit, size in (("w", 604800000), ("d", 86400000), ("h", 3600000), ("m", 60000), ("s", 1000), ("ms", 1)):
        if ms >= size:
            count, ms = divmod(ms, size)
            out.append(f"{count}{unit}")
    return "".join(out)


def parse_time(text: str | int | float | datetime, *, what: str = "time") -> pd.Timestamp:
    """Parse ``now``, an epoch in seconds (or ms when huge) or an ISO/``YYYY-MM-DD HH:MM:SS`` time, as UTC."""
    if isinstance(text, datetime):
        ts = pd.Timestamp(text)
    elif isinstance(text, (int, float)) and not isinstance(text, bool):
        ts = pd.Timestamp(float(text) / (1000 if text > 1e11 else 1), unit="s")
    else:
        raw = str(text).strip()
        if raw == "now":
            return pd.Timestamp(datetime.now(timezone.utc))
        try:
            if re.fullmatch(r"\d+(?:\.\d+)?", raw):
                number = float(raw)
                ts = pd.Timestamp(number / (1000 if number > 1e11 else 1), unit="s")
            else:
                ts = pd.Timestamp(raw)
        except (ValueError, OverflowError) as exc:
            raise InputError(f"bad {what} {raw!r}: expected ISO 8601, 'YYYY-MM-DD HH:MM:SS', epoch seconds or 'now'") from exc
    if ts is pd.NaT:
        raise InputError(f"bad {what} {text!r}: expected a time")
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
