"""Load a NAB-style labelled corpus: a folder of ``timestamp,value`` CSVs plus ``windows.json``.

Rows are kept exactly as they are in the CSV, duplicated timestamps included (two files of the AWS
subset repeat ``2014-03-09 03:00:00`` twelve times): NAB scores by row position, so dropping rows would
shift the probation period and the window positions and make scores incomparable with published ones.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..errors import InputError

Window = tuple[pd.Timestamp, pd.Timestamp]


@dataclass(frozen=True)
class NabFile:
    """One labelled series: ``values`` is float, indexed by non-decreasing UTC timestamps."""

    path: str
    values: pd.Series
    windows: tuple[Window, ...]


def load_corpus(root: str | Path, windows_path: str | Path | None = None) -> list[NabFile]:
    """Read every file listed in ``windows.json`` (or ``windows_path``), sorted by relative path."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"NAB folder not found: {root}")
    labels_file = Path(windows_path) if windows_path is not None else root / "windows.json"
    labels = _read_windows_json(labels_file)
    listed = set(labels)
    unlisted = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.csv")
                      if p.relative_to(root).as_posix() not in listed)
    if unlisted:
        raise InputError(f"{unlisted[0]} has no entry in {labels_file} "
                         f"({len(unlisted)} CSV file(s) unlisted); add it, with [] if it has no anomalies")
    files = []
    for rel in sorted(labels):
        values = read_series_csv(root / rel, name=rel)
        files.append(NabFile(rel, values, _parse_windows(labels[rel], values.index, rel, labels_file)))
    return files


def windows_by_path(files: list[NabFile]) -> dict[str, list[Window]]:
    """The ``windows`` argument of :func:`promcast.evaluation.nab.score_corpus` for these files."""
    return {f.path: list(f.windows) for f in files}


def read_series_csv(path: Path, *, name: str) -> pd.Series:
    """Parse a ``timestamp,value`` CSV into a float Series on a UTC index; rows are kept as they are."""
    if not path.is_file():
        raise InputError(f"{name}: file not found at {path}")
    try:
        frame = pd.read_csv(path)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"{name}: cannot read CSV ({exc})") from exc
    missing = {"timestamp", "value"} - set(frame.columns)
    if missing:
        raise InputError(f"{name}: missing column(s) {', '.join(sorted(missing))}; expected header timestamp,value")
    try:
        stamps = pd.DatetimeIndex(pd.to_datetime(frame["timestamp"], utc=True, format="ISO8601"), name="timestamp")
    except (ValueError, TypeError) as exc:
        raise InputError(f"{name}: unreadable timestamp ({exc})") from exc
    if stamps.hasnans:
        raise InputError(f"{name}: empty timestamp in row {int(stamps.isna().argmax()) + 2}")
    try:
        values = pd.to_numeric(frame["value"], errors="raise").astype(float)
    except (ValueError, TypeError) as exc:
        raise InputError(f"{name}: non-numeric value ({exc})") from exc
    if not stamps.is_monotonic_increasing:
        bad = int((stamps[1:] < stamps[:-1]).argmax()) + 3  # 1-based, after the header line
        raise InputError(f"{name}: timestamps go backwards at line {bad}; sort the file by time")
    return pd.Series(values.to_numpy(), index=stamps, name="value")


def _read_windows_json(path: Path) -> dict[str, list]:
    if not path.is_file():
        raise InputError(f"label file not found: {path} (a NAB folder needs windows.json)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: invalid JSON ({exc})") from exc
    if not isinstance(data, dict) or not data:
        raise InputError(f"{path}: expected a non-empty object mapping file paths to [[start, end], ...]")
    for rel, windows in data.items():
        if not isinstance(windows, list) or not all(
                isinstance(w, list) and len(w) == 2 and all(isinstance(t, str) for t in w) for w in windows):
            raise InputError(f"{path}: entry {rel!r} must be a list of [start, end] timestamp strings")
        if Path(rel).is_absolute() or ".." in Path(rel).parts:
            raise InputError(f"{path}: entry {rel!r} must be a path relative to the NAB folder")
    return data


def _parse_windows(raw: list, index: pd.DatetimeIndex, rel: str, labels_file: Path) -> tuple[Window, ...]:
    windows = []
    for start_text, end_text in raw:
        try:
            start, end = (_utc(pd.Timestamp(t)) for t in (start_text, end_text))
        except (ValueError, TypeError) as exc:
            raise InputError(f"{labels_file}: {rel}: unreadable window timestamp ({exc})") from exc
        if start > end:
            raise InputError(f"{labels_file}: {rel}: window starts after it ends ({start_text} > {end_text})")
        if windows and start <= windows[-1][1]:
            raise InputError(f"{labels_file}: {rel}: windows must be sorted and must not overlap ({start_text})")
        if index.searchsorted(start, "left") >= index.searchsorted(end, "right"):
            raise InputError(f"{labels_file}: {rel}: window [{start_text}, {end_text}] contains no row of the file")
        windows.append((start, end))
    return tuple(windows)


def _utc(ts: pd.Timestamp) -> pd.Timestamp:
    """Naive timestamps are UTC (NAB's convention); aware ones are converted."""
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
