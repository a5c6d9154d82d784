"""Pick the history source from settings: Prometheus when a URL is configured, else the demo."""

from __future__ import annotations

from ..config import Settings
from .base import Source


def make_source(settings: Settings, kind: str | None = None) -> Source:
    """``kind`` "demo" forces the embedded demo; otherwise Prometheus if ``prometheus.url`` is set."""
    prom = settings.prometheus
    if kind != "demo" and prom.url:
        from .prometheus import PrometheusSource

        return PrometheusSource(
            prom.url,
            timeout=prom.timeout,
            retries=prom.retries,
            bearer_token=prom.bearer_token,
            basic_auth=(prom.username, prom.password) if prom.username else None,
            headers=dict(prom.headers),
            path_prefix=prom.path_prefix,
            max_points_per_request=prom.max_points_per_request,
            query_params=dict(prom.query_params),
            max_in_flight=prom.max_in_flight,
        )
    from .demo import DemoSource

    return DemoSource(now=settings.demo.now)
