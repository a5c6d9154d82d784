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
#: longest duration accepted: whole histories and horizons must still fit pandas' nanosecond times
MAX_DURATION = timedelta(days=100 * 365)
#: times parse_time accepts (pandas' nanosecond timestamps span 1677-2262)
_EARLIEST, _LATEST = pd.Timestamp.min.tz_localize("UTC"), pd.Timestamp.max.tz_localize("UTC")


def parse_duration(text: str | int | float | timedelta, *, what: str = "duration") -> timedelta:
    """Parse ``1h30m`` style durations; a bare number means seconds. Raises :class:`InputError`."""
    if isinstance(text, timedelta):
        seconds = text.total_seconds()
    elif isinstance(text, (int, float)) and not isinstance(text, bool):
        seconds = float(text)
    else:
        raw = str(text).strip()
        if re.fullmatch(r"\d+(?:\.\d+)?", raw):
            seconds = float(raw)
        else:
            pos, seconds = 0, 0.0
            for match in _PART.finditer(raw):
                if match.start() != pos:
                    break
                seconds += float(match.group(1)) * _UNITS[match.group(2)]
                pos = match.end()
            if not raw or pos != len(raw):
                raise InputError(f"bad {what} {raw!r}: expected {_ALLOWED}")
    # range-checked as a number before it becomes a timedelta (1e308 seconds would overflow it)
    if seconds != seconds:
        raise InputError(f"bad {what} {text!r}: expected {_ALLOWED}")
    if seconds <= 0:
        raise InputError(f"bad {what} {text!r}: must be positive ({_ALLOWED})")
    if seconds > MAX_DURATION.total_seconds():
        raise InputError(f"bad {what} {text!r}: longer than {MAX_DURATION.days // 365}y, the longest duration "
                         "promcast accepts")
    return text if isinstance(text, timedelta) else timedelta(seconds=seconds)


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


def human_duration(value: timedelta) -> str:
    """``90d`` rather than ``12w6d``: whole days in days, anything else as :func:`format_duration` writes it."""
    value = pd.Timedelta(value)
    if value >= pd.Timedelta("1D") and value % pd.Timedelta("1D") == pd.Timedelta(0):
        return f"{value // pd.Timedelta('1D')}d"
    return format_duration(value.to_pytimedelta())


def parse_time(text: str | int | float | datetime, *, what: str = "time") -> pd.Timestamp:
    """Parse ``now``, an epoch in seconds (or ms when huge) or an ISO/``YYYY-MM-DD HH:MM:SS`` time, as UTC."""
    if isinstance(text, datetime):
        ts = pd.Timestamp(text)
    elif isinstance(text, (int, float)) and not isinstance(text, bool):
        ts = _epoch(float(text), text, what)
    else:
        raw = str(text).strip()
        if raw == "now":
            return pd.Timestamp(datetime.now(timezone.utc))
        if re.fullmatch(r"\d+(?:\.\d+)?", raw):
            ts = _epoch(float(raw), raw, what)
        else:
            try:
                ts = pd.Timestamp(raw)
            except (ValueError, OverflowError) as exc:  # OutOfBoundsDatetime is a ValueError
                raise InputError(f"bad {what} {raw!r}: expected ISO 8601, 'YYYY-MM-DD HH:MM:SS', epoch seconds "
                                 "or 'now' (between 1677 and 2262)") from exc
    if ts is pd.NaT:
        raise InputError(f"bad {what} {text!r}: expected a time")
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _epoch(number: float, raw, what: str) -> pd.Timestamp:
    """Epoch seconds (milliseconds when above 1e11, as Grafana sends them), range-checked first."""
    seconds = number / (1000 if number > 1e11 else 1)
    if not (_EARLIEST.value / 1e9 < seconds < _LATEST.value / 1e9):  # also false for NaN and infinities
        raise InputError(f"bad {what} {raw!r}: expected epoch seconds or milliseconds between 1677 and 2262")
    return pd.Timestamp(seconds, unit="s")
