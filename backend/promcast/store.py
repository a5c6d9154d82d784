"""A model store: a directory of fitted models, one file per (expression, series, model, parameters).

``promcast fit`` writes it and ``promcast serve`` can read it, so fits survive restarts and a fleet's
dashboards open warm. Each model is its native serialisation (``model.to_bytes()``) in a file named by
a hash of its key; ``index.json`` lists the entries (expression, labels, model, parameters, history
window, fit time) for people and tools. Every write is atomic (temp file + rename), so a reader never
sees half a model; the index is rewritten after the models it names are in place. One writer at a
time: concurrent ``fit`` runs into one directory may lose each other's index entries (not models).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from .atomic import atomic_write_bytes, atomic_write_text, remove_stale_temp_files
from .errors import InputError
from .sources.base import Labelled

INDEX = "index.json"
SUFFIX = ".model"
_FORMAT = 1


def _canonical_params(params: Mapping[str, Any] | None) -> str:
    return json.dumps(dict(params or {}), sort_keys=True, separators=(",", ":"), default=repr)


def store_key(expr: str, labels: Mapping[str, str], model: str, params: Mapping[str, Any] | None = None,
              source: str = "") -> str:
    """The file stem of one entry: a hash of source identity, expression, label set, model and parameters
    (two tenants behind one URL fit the same expression into different entries)."""
    parts = [expr.strip(), sorted(labels.items()), model, _canonical_params(params)]
    text = json.dumps([source, *parts] if source else parts, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class StoreEntry(Labelled):
    """What the index says about one stored model (``meta``: history window, fit time, fallback)."""

    key: str
    expr: str
    labels: Mapping[str, str]
    model: str
    params: Mapping[str, Any] = field(default_factory=dict)
    meta: Mapping[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"expr": self.expr, "labels": dict(self.labels), "model": self.model,
                "params": json.loads(_canonical_params(self.params)), "meta": dict(self.meta)}


class ModelStore:
    """Read and write fitted models under ``directory`` (created on first write)."""

    def __init__(self, directory: str | os.PathLike):
        self.directory = Path(directory)
        if self.directory.exists() and not self.directory.is_dir():
            raise InputError(f"model store {str(self.directory)!r} is a file, not a directory; pick another --store")
        self._entries: dict[str, StoreEntry] | None = None
        remove_stale_temp_files(self.directory)  # left by a writer killed mid-write

    # ---- reading -------------------------------------------------------------------------------
    def entries(self) -> dict[str, StoreEntry]:
        """Every indexed entry by key (empty for a store that does not exist yet)."""
        if self._entries is None:
            self._entries = self._read_index()
        return dict(self._entries)

    def _read_index(self) -> dict[str, StoreEntry]:
        path = self.directory / INDEX
        if not path.exists():
            return {}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format") != _FORMAT:
                raise InputError(f"model store index {str(path)!r} has format {data.get('format')!r}; "
                                 f"this promcast reads {_FORMAT}")
            return {key: StoreEntry(key, e["expr"], dict(e["labels"]), e["model"], dict(e.get("params") or {}),
                                    dict(e.get("meta") or {}))
                    for key, e in data["entries"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InputError(f"cannot read model store index {str(path)!r}: {exc}; refit with promcast fit "
                             "or remove the directory") from exc

    def get(self, expr: str, labels: Mapping[str, str], model: str, params: Mapping[str, Any] | None = None,
            source: str = ""):
        """The stored fitted model for this key (``source``: the fitting source's identity), or None."""
        key = store_key(expr, labels, model, params, source)
        if key not in self.entries():
            return None
        return self.load(key)

    def load(self, key: str):
        """The fitted model stored under ``key`` (a :class:`~promcast.models.PromcastModel`)."""
        from .models import load_model

        path = self.directory / f"{key}{SUFFIX}"
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InputError(f"model store entry {str(path)!r} is unreadable: {exc.strerror}") from exc
        return load_model(data)

    # ---- writing -------------------------------------------------------------------------------
    def put_many(self, items: Iterable[tuple[StoreEntry, bytes]]) -> list[StoreEntry]:
        """Write each ``(entry, model bytes)`` then the index once; returns the entries written."""
        self.directory.mkdir(parents=True, exist_ok=True)
        entries = self.entries()
        written = []
        for entry, data in items:
            key = store_key(entry.expr, entry.labels, entry.model, entry.params, entry.meta.get("source", ""))
            entry = StoreEntry(key, entry.expr, dict(entry.labels), entry.model, dict(entry.params),
                               {**entry.meta, "stored_at": time.time()})
            atomic_write_bytes(self.directory / f"{key}{SUFFIX}", data)
            entries[key] = entry
            written.append(entry)
        if written:
            self._write_index(entries)
        return written

    def put(self, entry: StoreEntry, data: bytes) -> StoreEntry:
        return self.put_many([(entry, data)])[0]

    def _write_index(self, entries: Mapping[str, StoreEntry]) -> None:
        body = {"format": _FORMAT, "entries": {k: e.as_json() for k, e in sorted(entries.items())}}
        atomic_write_text(self.directory / INDEX, json.dumps(body, indent=1, sort_keys=True) + "\n")
        self._entries = dict(entries)


__all__ = ["INDEX", "ModelStore", "StoreEntry", "store_key"]
