"""promcast's own Prometheus metrics, one registry per app so tests and several apps never collide."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
FIT_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120)


@dataclass
class ServiceMetrics:
    registry: CollectorRegistry
    request_seconds: Histogram
    requests_total: Counter
    errors_total: Counter
    fits_total: Counter
    fit_seconds: Histogram
    cache_hits_total: Counter
    cache_misses_total: Counter
    cache_entries: Gauge
    cache_bytes: Gauge
    cache_evictions_total: Counter
    target_errors_total: Counter
    range_cache_total: Counter
    range_cache_points: Gauge
    prefit_cycles_total: Counter
    prefit_series_total: Counter
    prefit_cycle_seconds: Gauge
    prefit_last_cycle: Gauge

    @classmethod
    def create(cls) -> "ServiceMetrics":
        registry = CollectorRegistry(auto_describe=True)
        return cls(
            registry=registry,
            request_seconds=Histogram(
                "promcast_http_request_duration_seconds", "HTTP request latency by endpoint.",
                ["endpoint", "method"], buckets=LATENCY_BUCKETS, registry=registry),
            requests_total=Counter(
                "promcast_http_requests", "HTTP requests by endpoint and status code.",
                ["endpoint", "method", "status"], registry=registry),
            errors_total=Counter(
                "promcast_errors", "Errors returned to clients, by error code.", ["code"], registry=registry),
            fits_total=Counter(
                "promcast_model_fits", "Model fits by model and outcome.", ["model", "outcome"], registry=registry),
            fit_seconds=Histogram(
                "promcast_model_fit_duration_seconds", "Model fit duration by model.", ["model"],
                buckets=FIT_BUCKETS, registry=registry),
            cache_hits_total=Counter(
                "promcast_model_cache_hits", "Model cache hits.", registry=registry),
            cache_misses_total=Counter(
                "promcast_model_cache_misses", "Model cache misses (a fit was needed).", registry=registry),
            cache_entries=Gauge(
                "promcast_model_cache_entries", "Fitted models held in the cache.", registry=registry),
            cache_bytes=Gauge(
                "promcast_model_cache_bytes", "Estimated memory held by cached models.", registry=registry),
            cache_evictions_total=Counter(
                "promcast_model_cache_evictions", "Models evicted from the cache (LRU, over the entry or memory bound).",
                registry=registry),
            range_cache_total=Counter(
                "promcast_range_cache_queries", "Panel queries by whether settled points came from the cache "
                "(hit: only new steps were fetched) or the whole range was fetched (miss).", ["result"],
                registry=registry),
            range_cache_points=Gauge(
                "promcast_range_cache_points", "Settled points held by the range cache.", registry=registry),
            prefit_cycles_total=Counter(
                "promcast_prefit_cycles", "Pre-fit cycles by outcome (failed: some target or series failed).",
                ["outcome"], registry=registry),
            prefit_series_total=Counter(
                "promcast_prefit_series", "Series handled by pre-fit cycles: fitted, still fresh (skipped) or failed.",
                ["result"], registry=registry),
            prefit_cycle_seconds=Gauge(
                "promcast_prefit_cycle_duration_seconds", "Duration of the last pre-fit cycle.", registry=registry),
            prefit_last_cycle=Gauge(
                "promcast_prefit_last_cycle_timestamp_seconds", "When the last pre-fit cycle ended (Unix time).",
                registry=registry),
            target_errors_total=Counter(
                "promcast_query_target_errors", "Query targets that failed, by target and error code.",
                ["target", "code"], registry=registry),
        )
