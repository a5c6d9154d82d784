"""The model cache: reuse until the refit interval, one fit per key under concurrency, LRU bounds."""

from __future__ import annotations

import threading
import time

import numpy as np
import pandas as pd
import pytest

from promcast.errors import InputError
from promcast.models import get_model
from promcast.service.cache import ModelCache, estimate_bytes
from promcast.service.metrics import ServiceMetrics

SERIES = pd.Series(np.sin(np.arange(600) / 20.0), index=pd.date_range("2024-06-01", periods=600, freq="1min", tz="UTC"))


def fitted(size: int = 600):
    return get_model("mad").fit(SERIES.iloc[:size])


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def make_cache(**kwargs) -> ModelCache:
    options = dict(max_entries=10, max_bytes=1 << 30, refit_interval=900.0)
    options.update(kwargs)
    return ModelCache(**options)


def test_a_fit_is_reused_until_the_refit_interval_passes():
    clock, calls = Clock(), []
    metrics = ServiceMetrics.create()
    cache = make_cache(clock=clock, metrics=metrics)

    def fit():
        calls.append(1)
        return fitted()

    first, hit = cache.get_or_fit("k", fit)
    assert not hit
    clock.now = 899.0
    again, hit = cache.get_or_fit("k", fit)
    assert hit and again is first and len(calls) == 1
    clock.now = 900.0
    _, hit = cache.get_or_fit("k", fit)
    assert not hit and len(calls) == 2
    assert metrics.cache_hits_total._value.get() == 1 and metrics.cache_misses_total._value.get() == 2
    assert metrics.fits_total.labels("mad", "ok")._value.get() == 2


def test_concurrent_requests_for_one_key_fit_once():
    cache, calls = make_cache(), []
    started = threading.Event()

    def slow_fit():
        calls.append(1)
        started.set()
        time.sleep(0.2)  # the other threads arrive while this fit runs
        return fitted()

    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.get_or_fit("k", slow_fit))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    assert len({id(entry) for entry, _ in results}) == 1
    assert sorted(hit for _, hit in results) == [False] + [True] * 7


def test_different_keys_fit_in_parallel_and_failures_are_not_cached():
    cache = make_cache()
    with pytest.raises(InputError):
        cache.get_or_fit("bad", lambda: get_model("mad").fit(pd.Series([], dtype=float)))
    entry, hit = cache.get_or_fit("bad", fitted)
    assert not hit and entry.model.n_points_ == 600
    assert len(cache) == 1


def test_least_recently_used_entries_are_evicted_by_count():
    metrics = ServiceMetrics.create()
    cache = make_cache(max_entries=2, metrics=metrics)
    cache.get_or_fit("a", fitted)
    cache.get_or_fit("b", fitted)
    cache.get_or_fit("a", fitted)  # a is now the most recent
    cache.get_or_fit("c", fitted)
    assert "a" in cache and "c" in cache and "b" not in cache
    assert metrics.cache_evictions_total._value.get() == 1
    assert metrics.cache_entries._value.get() == 2


def test_entries_are_evicted_by_memory():
    one = estimate_bytes(fitted())
    cache = make_cache(max_bytes=int(one * 2.5))
    for key in "abcd":
        cache.get_or_fit(key, fitted)
    assert len(cache) == 2 and cache.nbytes <= one * 2.5
    assert "d" in cache and "c" in cache


def test_memoised_predictions_count_towards_memory():
    one = estimate_bytes(fitted())
    cache = make_cache(max_bytes=one * 2 + 50_000)
    a, _ = cache.get_or_fit("a", fitted)
    b, _ = cache.get_or_fit("b", fitted)
    assert len(cache) == 2
    calls = []
    value = a.memo("k", lambda: calls.append(1) or "x" * 100_000)
    assert a.memo("k", lambda: calls.append(1) or "y") is value and len(calls) == 1
    assert "a" not in cache and "b" in cache  # a is the least recently used, so its own growth evicts it
    assert cache.nbytes == b.total_bytes


def test_size_estimate_grows_with_the_model():
    small = estimate_bytes(get_model("seasonal_naive").fit(SERIES.iloc[:100]))
    large = estimate_bytes(get_model("seasonal_naive").fit(SERIES))
    assert large > small > 0
