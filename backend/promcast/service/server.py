"""Run the app under waitress, a production WSGI server (threads, no debug reloader)."""

from __future__ import annotations

import logging

from ..config import Settings

log = logging.getLogger(__name__)


def preload_default_model(settings: Settings) -> None:
    """Import the default model's module (Prophet, TensorFlow) now, so the first query does not pay for it."""
    from ..models import get_model_class

    try:
        get_model_class(settings.models.default)
    except Exception:  # noqa: BLE001 - a broken model must not stop the server; its queries report it
        log.exception("could not load model %s", settings.models.default)


def run_server(settings: Settings) -> None:
    from waitress import serve

    from ..logs import setup_logging
    from .app import create_app

    setup_logging(settings.log_level)
    app = create_app(settings)
    preload_default_model(settings)
    prefitter = app.extensions.get("promcast.prefitter")
    if prefitter is not None:
        prefitter.start()
    source = app.extensions["promcast.source"]
    log.info("promcast serving on http://%s:%d/grafana (history: %s)",
             settings.server.host, settings.server.port, source.description)
    serve(app, host=settings.server.host, port=settings.server.port, threads=settings.server.threads,
          ident="promcast", clear_untrusted_proxy_headers=True)
