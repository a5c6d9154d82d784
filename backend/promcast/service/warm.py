"""Preload a model store (written by ``promcast fit``) into the service's model cache at start-up.

A restarted service then answers its first forecast for a stored series warm, with no fit. A stored
model lands under the key a live panel asks for (see :mod:`.fitting`): same source, expression,
label set, model, parameters and history length (the stored history window), ``end_key`` "live".
Its age is the time since it was stored, so the cache's ``refit_interval`` still applies: a model
older than that is skipped (the panel refits as usual). Models from another source are skipped.
The panel's fit step is derived from its history; a stored fit used its own ``--step``, which only
changes the resolution the model learnt at, not what it forecasts.
"""

from __future__ import annotations

import logging
import time

import pandas as pd

from ..errors import PromcastError
from ..store import ModelStore
from .cache import ModelCache
from .fitting import ModelSpec, cache_key

log = logging.getLogger(__name__)


def preload_store(cache: ModelCache, directory: str, source_identity: str, *, now: float | None = None) -> int:
    """Put every fresh stored model for this source into ``cache``; returns how many were loaded."""
    store = ModelStore(directory)
    now = time.time() if now is None else now
    loaded = skipped = 0
    for key, entry in store.entries().items():
        meta = entry.meta
        if meta.get("source") != source_identity:
            skipped += 1
            continue
        try:
            history = pd.Timestamp(meta["history_end"]) - pd.Timestamp(meta["history_start"])
            age = max(0.0, now - float(meta["stored_at"]))
            spec = ModelSpec.of(entry.model, history, entry.params)
            key_in_cache = cache_key(source_identity, entry.expr, entry.labels, spec)
            if age >= cache.refit_interval:
                skipped += 1
                continue
            if cache.put(key_in_cache, store.load(key), age_seconds=age):
                loaded += 1
        except (PromcastError, KeyError, ValueError, TypeError) as exc:
            log.warning("model store %s: skipping %s (%s %s): %s", directory, key, entry.model, entry.legend, exc)
            skipped += 1
    log.info("model store %s: preloaded %d models (%d skipped: other source, stale or unreadable)",
             directory, loaded, skipped)
    return loaded


__all__ = ["preload_store"]
