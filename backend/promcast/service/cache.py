"""Fitted models, cached per (series, model, parameters) so a dashboard refresh does not refit.

A fit is reused until ``refit_interval`` has passed. Concurrent requests for one key fit once: the
first takes the key's lock and fits, the others wait on that lock and then find the fresh entry. The
cache is bounded by entries and by an estimate of the bytes the models hold; the least recently used
entries go first. Each entry also memoises a few predictions, since a refreshing panel asks for the
same aligned grid again and again (Prophet's predict is not free).
"""

from __future__ import annotations

import pickle
import sys
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable

import numpy as np
import pandas as pd

from ..models.base import PromcastModel
from .metrics import ServiceMetrics

#: predictions memoised per entry (a few panels and intervals over one series)
MEMO_SIZE = 4


@dataclass
class CacheEntry:
    """One fitted model with its size estimate, fit time and memoised predictions."""

    model: PromcastModel
    nbytes: int
    fitted_at: float
    fit_seconds: float
    memo_bytes: int = 0
    _memo: OrderedDict = field(default_factory=OrderedDict, repr=False)
    _memo_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _on_resize: Callable[[int], None] | None = field(default=None, repr=False)
    _accounted: int = field(default=0, repr=False)  # bytes the cache counts for this entry

    @property
    def total_bytes(self) -> int:
        return self.nbytes + self.memo_bytes

    def memo(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """``compute()`` once per ``key``; the few most recent keys are kept and counted in the cache size."""
        with self._memo_lock:
            if key in self._memo:
                self._memo.move_to_end(key)
                return self._memo[key][0]
        value = compute()
        size = value_bytes(value)
        with self._memo_lock:
            if key in self._memo:  # computed meanwhile by another request
                return self._memo[key][0]
            self._memo[key] = (value, size)
            delta = size
            while len(self._memo) > MEMO_SIZE:
                _, (_, gone) = self._memo.popitem(last=False)
                delta -= gone
            self.memo_bytes += delta
        if delta and self._on_resize is not None:
            self._on_resize(delta)
        return value


class _KeyLock:
    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0


class ModelCache:
    """LRU cache of fitted models, bounded by ``max_entries`` and ``max_bytes``."""

    def __init__(self, *, max_entries: int, max_bytes: int, refit_interval: float,
                 metrics: ServiceMetrics | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_entries = int(max_entries)
        self.max_bytes = int(max_bytes)
        self.refit_interval = float(refit_interval)
        self.metrics = metrics
        self.clock = clock
        self._entries: OrderedDict[Hashable, CacheEntry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._key_locks: dict[Hashable, _KeyLock] = {}

    # ---- reading -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._entries)

    @property
    def nbytes(self) -> int:
        return self._bytes

    def __contains__(self, key: Hashable) -> bool:
        return self.peek(key) is not None

    def peek(self, key: Hashable) -> CacheEntry | None:
        """The fresh entry for ``key`` without touching LRU order or counters (None when stale/absent)."""
        with self._lock:
            entry = self._entries.get(key)
        return entry if entry is not None and self._fresh(entry) else None

    def _fresh(self, entry: CacheEntry) -> bool:
        return self.clock() - entry.fitted_at < self.refit_interval

    def _lookup(self, key: Hashable) -> CacheEntry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and self._fresh(entry):
                self._entries.move_to_end(key)
                return entry
        return None

    # ---- fitting -------------------------------------------------------------------------------
    def get_or_fit(self, key: Hashable, fit: Callable[[], PromcastModel], *, model_name: str = "") -> tuple[CacheEntry, bool]:
        """``(entry, hit)``: the fresh entry for ``key``, fitting it with ``fit()`` when needed.

        Only one caller fits a key at a time; the others wait and reuse its result. A failing fit
        raises to the caller that ran it and is not cached (the next request tries again).
        """
        entry = self._lookup(key)
        if entry is not None:
            self._count(hit=True)
            return entry, True
        key_lock = self._acquire_key_lock(key)
        try:
            with key_lock.lock:
                entry = self._lookup(key)
                if entry is not None:  # another request fitted it while we waited
                    self._count(hit=True)
                    return entry, True
                self._count(hit=False)
                entry = self._fit(fit, model_name)
                self._store(key, entry)
                return entry, False
        finally:
            self._release_key_lock(key, key_lock)

    def put(self, key: Hashable, model: PromcastModel, *, age_seconds: float = 0.0) -> bool:
        """Add a model fitted elsewhere (a model store), ``age_seconds`` old; not counted as a fit.

        Returns False (and adds nothing) when it is already older than the refit interval.
        """
        if age_seconds >= self.refit_interval:
            return False
        entry = CacheEntry(model=model, nbytes=estimate_bytes(model), fitted_at=self.clock() - max(0.0, age_seconds),
                           fit_seconds=0.0)
        self._store(key, entry)
        return True

    def _fit(self, fit: Callable[[], PromcastModel], model_name: str) -> CacheEntry:
        started = time.perf_counter()
        try:
            model = fit()
        except Exception:
            if self.metrics:
                self.metrics.fits_total.labels(model_name or "unknown", "error").inc()
            raise
        seconds = time.perf_counter() - started
        name = getattr(model, "name", "") or model_name or "unknown"
        if self.metrics:
            self.metrics.fits_total.labels(name, "ok").inc()
            self.metrics.fit_seconds.labels(name).observe(seconds)
        return CacheEntry(model=model, nbytes=estimate_bytes(model), fitted_at=self.clock(), fit_seconds=seconds)

    def _acquire_key_lock(self, key: Hashable) -> _KeyLock:
        with self._lock:
            key_lock = self._key_locks.get(key)
            if key_lock is None:
                key_lock = self._key_locks[key] = _KeyLock()
            key_lock.users += 1
            return key_lock

    def _release_key_lock(self, key: Hashable, key_lock: _KeyLock) -> None:
        with self._lock:
            key_lock.users -= 1
            if key_lock.users == 0:
                self._key_locks.pop(key, None)

    def _store(self, key: Hashable, entry: CacheEntry) -> None:
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                old._on_resize = None
                self._bytes -= old._accounted
            self._entries[key] = entry
            entry._accounted = entry.total_bytes
            self._bytes += entry._accounted
            entry._on_resize = lambda delta: self._resized(entry, delta)
            evicted = self._evict()
            count, nbytes = len(self._entries), self._bytes
        self._report(count, nbytes, evicted)

    def _resized(self, entry: CacheEntry, delta: int) -> None:
        """An entry's memo grew or shrank: account for it and evict if now over budget."""
        with self._lock:
            if entry._on_resize is None:  # already evicted or replaced
                return
            entry._accounted += delta
            self._bytes += delta
            evicted = self._evict()
            count, nbytes = len(self._entries), self._bytes
        self._report(count, nbytes, evicted)

    def _evict(self) -> int:
        """Drop least recently used entries while over a bound (call with the lock held).

        The most recently used entry always stays: one model larger than the budget still serves.
        """
        evicted = 0
        while len(self._entries) > 1 and (len(self._entries) > self.max_entries or self._bytes > self.max_bytes):
            _, gone = self._entries.popitem(last=False)
            gone._on_resize = None
            self._bytes -= gone._accounted
            evicted += 1
        return evicted

    def _report(self, count: int, nbytes: int, evicted: int) -> None:
        if self.metrics:
            self.metrics.cache_entries.set(count)
            self.metrics.cache_bytes.set(nbytes)
            if evicted:
                self.metrics.cache_evictions_total.inc(evicted)

    def _count(self, *, hit: bool) -> None:
        if self.metrics:
            (self.metrics.cache_hits_total if hit else self.metrics.cache_misses_total).inc()

    def clear(self) -> None:
        with self._lock:
            for entry in self._entries.values():
                entry._on_resize = None
            self._entries.clear()
            self._bytes = 0
        if self.metrics:
            self.metrics.cache_entries.set(0)
            self.metrics.cache_bytes.set(0)


# ------------------------------------------------------------------------------------ size estimate


def value_bytes(value: Any) -> int:
    """Size of a memoised value: encoded points, frames, or anything :func:`_sizeof` can measure."""
    if isinstance(value, dict):
        return sum(value_bytes(v) for v in value.values()) + 64 * len(value)
    json_text = getattr(value, "json", None)
    if isinstance(json_text, str):
        return len(json_text) + 64
    size = _sizeof(value)
    return 1024 if size is None else size


def estimate_bytes(model: Any) -> int:
    """Roughly the memory a fitted model holds: arrays and frames by size, the rest by pickled size.

    Objects that cannot be pickled (a live Keras model) are measured by the model's own serialised
    form instead, so the cache bound still means something for them.
    """
    total, opaque = 0, False
    for value in vars(model).values():
        size = _sizeof(value)
        if size is None:
            opaque = True
        else:
            total += size
    if opaque:
        try:
            total = max(total, len(model.to_bytes()))
        except Exception:  # noqa: BLE001 - an estimate must never fail a request
            total += 1 << 20
    return max(total, 1)


def _sizeof(value: Any) -> int | None:
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if isinstance(value, (pd.Series, pd.DataFrame)):
        usage = value.memory_usage(deep=True)
        return int(usage.sum() if isinstance(usage, pd.Series) else usage)
    if isinstance(value, pd.Index):
        return int(value.memory_usage(deep=True))
    if isinstance(value, (bytes, str)):
        return len(value)
    if value is None or isinstance(value, (bool, int, float)):
        return sys.getsizeof(value)
    try:
        return len(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
    except Exception:  # noqa: BLE001 - unpicklable: measured another way
        return None
