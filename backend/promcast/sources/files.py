"""CSV history files: NAB's ``timestamp,value`` format, optionally with a ``series`` column.

The ``series`` column holds the Prometheus text form of a label set (``metric{k="v"}``), which is what
``promcast fetch`` writes when an expression returns several series, so fetch output reads back as-is.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..atomic import atomic_open
from ..errors import InputError
from .base import History, Source, format_labels

_LEGEND = re.compile(r'^\s*([A-Za-z_:][A-Za-z0-9_:]*)?\s*(?:\{(.*)\})?\s*$')
_PAIR = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)')


def parse_legend(text: str) -> dict[str, str]:
    """Inverse of :func:`format_labels`; a free-form name becomes ``{"series": text}``."""
    match = _LEGEND.match(text)
    if not match:
        return {"series": text}
    labels = {"__name__": match.group(1)} if match.group(1) else {}
    body = match.group(2) or ""
    pos = 0
    while pos < len(body):
        pair = _PAIR.match(body, pos)
        if not pair:
            return {"series": text}
        value = pair.group(2).replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")
        labels[pair.group(1)] = value
        pos = pair.end()
    return labels or {"series": text}


def _stem_labels(path: Path) -> dict[str, str]:
    return {"__name__": re.sub(r"[^A-Za-z0-9_:]", "_", path.stem) or "series"}


def read_csv_histories(path: str | os.PathLike) -> list[History]:
    """Read a history CSV; raises InputError naming the file and what to fix."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"input file {path} does not exist")
    if path.is_dir():
        raise InputError(f"input file {path} is a directory; give a CSV file with columns timestamp,value")
    try:
        frame = pd.read_csv(path, dtype={"series": str}, skipinitialspace=True)
    except pd.errors.EmptyDataError as exc:
        raise InputError(f"input file {path} is empty; expected a header timestamp,value and rows") from exc
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"input file {path} is not a readable CSV: {str(exc).splitlines()[0]}") from exc
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    missing = [c for c in ("timestamp", "value") if c not in frame.columns]
    if missing:
        raise InputError(
            f"input file {path} has columns {', '.join(frame.columns) or '(none)'}; "
            f"expected timestamp,value (missing {', '.join(missing)})"
        )
    if frame.empty:
        raise InputError(f"input file {path} has a header but no rows")
    timestamps = _parse_timestamps(frame["timestamp"], path)
    values = pd.to_numeric(frame["value"], errors="coerce")
    bad = values.isna() & frame["value"].notna() & ~frame["value"].astype(str).str.strip().str.lower().isin(
        ["nan", ""]
    )
    if bad.any():
        row = int(np.argmax(bad.to_numpy()))
        raise InputError(
            f"input file {path}, row {row + 2}: value {frame['value'].iloc[row]!r} is not a number"
        )
    names = frame["series"].fillna("").astype(str).to_numpy() if "series" in frame.columns else None
    frame = pd.DataFrame({"timestamp": timestamps, "value": values.astype(float).to_numpy()})
    if names is not None:
        frame["series"] = names
        return [_history(parse_legend(name), group) for name, group in frame.groupby("series", sort=True)]
    return [_history(_stem_labels(path), frame)]


def _parse_timestamps(column: pd.Series, path: Path) -> pd.DatetimeIndex:
    text = column.astype(str).str.strip()
    numeric = pd.to_numeric(text, errors="coerce")
    try:
        if numeric.notna().all():
            unit = "ms" if numeric.abs().max() > 1e11 else "s"
            parsed = pd.to_datetime(numeric, unit=unit, utc=True)
        else:
            parsed = pd.to_datetime(text, utc=True, errors="coerce", format="mixed")
    except (ValueError, OverflowError, TypeError) as exc:
        raise InputError(f"input file {path}: timestamps cannot be parsed ({exc}); use ISO 8601 or 'YYYY-MM-DD HH:MM:SS' (UTC)") from exc
    if parsed.isna().any():
        row = int(np.argmax(parsed.isna().to_numpy()))
        raise InputError(
            f"input file {path}, row {row + 2}: timestamp {column.iloc[row]!r} is not a time; "
            "use ISO 8601 or 'YYYY-MM-DD HH:MM:SS' (UTC) or epoch seconds"
        )
    return pd.DatetimeIndex(parsed)


def _history(labels: dict[str, str], frame: pd.DataFrame) -> History:
    values = pd.Series(frame["value"].to_numpy(dtype=float), index=pd.DatetimeIndex(frame["timestamp"]), name="value")
    values = values.sort_index(kind="stable")
    values = values[~values.index.duplicated(keep="last")]
    values.index.name = "timestamp"
    return History(labels=labels, values=values)


def write_csv_histories(path: str | os.PathLike, histories: list[History]) -> int:
    """Write histories atomically: ``timestamp,value`` for one series, plus ``series`` for several.

    Returns the number of rows written.
    """
    rows = 0
    several = len(histories) > 1
    with atomic_open(path, "w") as handle:
        handle.write("timestamp,value,series\n" if several else "timestamp,value\n")
        for history in histories:
            stamps = history.values.index.strftime("%Y-%m-%dT%H:%M:%S.%fZ").str.replace(".000000Z", "Z", regex=False)
            values = [repr(float(v)) if np.isfinite(v) else ("NaN" if np.isnan(v) else ("+Inf" if v > 0 else "-Inf"))
                      for v in history.values.to_numpy()]
            if several:
                legend = '"' + history.legend.replace('"', '""') + '"'
                handle.writelines(f"{t},{v},{legend}\n" for t, v in zip(stamps, values))
            else:
                handle.writelines(f"{t},{v}\n" for t, v in zip(stamps, values))
            rows += len(values)
    return rows


class FileSource(Source):
    """Serve CSV files as a source: plain selectors pick series by their labels."""

    def __init__(self, *paths: str | os.PathLike):
        self.paths = [Path(p) for p in paths]
        self.description = "CSV " + ", ".join(str(p) for p in self.paths)
        self._histories = [h for p in self.paths for h in read_csv_histories(p)]

    def _select(self, match: str | None) -> list[History]:
        if not match:
            return list(self._histories)
        from ..promql_selector import parse_selector

        selector = parse_selector(match)
        return [h for h in self._histories if selector.matches(dict(h.labels))]

    def query_range(self, expr, start, end, step) -> list[History]:
        out = []
        for history in self._select(expr):
            values = history.values[(history.values.index >= start) & (history.values.index <= end)]
            if len(values):
                out.append(History(history.labels, values))
        return sorted(out, key=lambda h: h.legend)

    def label_names(self, match=None) -> list[str]:
        return sorted({k for h in self._select(match) for k in h.labels})

    def label_values(self, label, match=None) -> list[str]:
        return sorted({h.labels[label] for h in self._select(match) if label in h.labels})

    def series(self, match, *, start=None, end=None, limit=None) -> list[dict[str, str]]:
        return [dict(h.labels) for h in self._select(match)][:limit]

    @property
    def histories(self) -> list[History]:
        return list(self._histories)


__all__ = ["FileSource", "read_csv_histories", "write_csv_histories", "parse_legend", "format_labels"]
