"""Flask app factory: the Grafana JSON datasource API under /grafana and promcast's own /metrics.

Views stay thin: they parse the request, call the library and shape the answer. Every user error becomes
JSON ``{"message": text, "error": {"code", "message"}}`` with its status: Grafana's ``toDataQueryError`` shows
the top-level string on the panel, the plugin's "Save & test" reads ``error.code``/``error.message``.
Nothing a user sends produces a 500, and nothing answers with a redirect: Grafana's data source proxy hands
redirects to the browser, which refuses them, so ``/grafana``, ``/grafana/`` and ``/grafana//query/`` all
answer in place.
"""

from __future__ import annotations

import logging
import time

from flask import Flask, Response, g, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from werkzeug.exceptions import HTTPException

from ..config import Settings, load_settings
from ..errors import PromcastError
from ..responses import error_response
from ..sources.base import Source
from .auth import is_authorized
from .cache import ModelCache
from .metrics import ServiceMetrics
from .range_cache import RangeCache

log = logging.getLogger(__name__)

#: largest request body accepted (a Grafana query is a few KiB)
MAX_BODY_BYTES = 4 * 2**20


class _CanonicalPath:
    """WSGI middleware: ``/grafana/``, ``//grafana//query/`` -> ``/grafana``, ``/grafana/query`` before routing.

    Werkzeug would answer those spellings with a 308 (trailing slash, merged slashes); Grafana's proxy
    passes redirects to the browser, which will not follow them, so the plugin must be served in place.
    """

    def __init__(self, app) -> None:
        self.app = app

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO") or "/"
        canonical = "/" + "/".join(part for part in path.split("/") if part)
        if canonical != path:
            environ["PATH_INFO"] = canonical
        return self.app(environ, start_response)


def create_app(settings: Settings | None = None, source: Source | None = None) -> Flask:
    """Build the WSGI app; ``source`` defaults to the one the settings describe (demo without a URL)."""
    from .exported import register_exported
    from .grafana import grafana_blueprint

    settings = settings or load_settings()
    app = Flask("promcast")
    app.wsgi_app = _CanonicalPath(app.wsgi_app)  # routing only ever sees canonical paths
    app.config["JSON_SORT_KEYS"] = False
    app.extensions["promcast.settings"] = settings
    app.extensions["promcast.source"] = source or settings.source_spec(default="demo").open()
    metrics = ServiceMetrics.create()
    app.extensions["promcast.metrics"] = metrics
    app.extensions["promcast.cache"] = ModelCache(
        max_entries=settings.cache.max_entries,
        max_bytes=settings.cache.max_megabytes * 2**20,
        refit_interval=settings.cache.refit_interval,
        metrics=metrics,
    )
    app.extensions["promcast.range_cache"] = RangeCache(metrics=metrics)
    if settings.store.dir:  # fits from `promcast fit`: stored series answer their first query warm
        from .warm import preload_store

        preload_store(app.extensions["promcast.cache"], settings.store.dir, app.extensions["promcast.source"].identity)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES

    @app.before_request
    def _start_timer():
        g.promcast_started = time.perf_counter()
        if request.path.startswith(("/grafana", "/exported")) and not is_authorized(
            request.headers.get("Authorization"), settings.auth
        ):
            response = error_response("unauthorized", "missing or wrong credentials for promcast", 401)
            response.headers["WWW-Authenticate"] = 'Basic realm="promcast"'
            return response
        return None

    @app.after_request
    def _observe(response: Response) -> Response:
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        elapsed = time.perf_counter() - g.get("promcast_started", time.perf_counter())
        metrics.request_seconds.labels(endpoint, request.method).observe(elapsed)
        metrics.requests_total.labels(endpoint, request.method, str(response.status_code)).inc()
        if response.status_code >= 400 and response.is_json:
            body = response.get_json(silent=True) or {}
            error = body.get("error") if isinstance(body, dict) else None
            code = error.get("code", "error") if isinstance(error, dict) else "error"
            metrics.errors_total.labels(code).inc()
        return response

    @app.errorhandler(PromcastError)
    def _user_error(exc: PromcastError):
        return error_response(exc.code, str(exc), exc.http_status)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        code = {404: "not_found", 405: "method_not_allowed", 400: "bad_request", 413: "too_large"}.get(
            exc.code or 500, "http_error")
        return error_response(code, exc.description or exc.name, exc.code or 500)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):  # pragma: no cover - a bug, logged with its traceback
        log.exception("unexpected error on %s %s", request.method, request.path)
        return error_response("internal", f"internal error: {exc.__class__.__name__}; see promcast's log", 500)

    @app.get("/metrics")
    def own_metrics():
        return Response(generate_latest(metrics.registry), content_type=CONTENT_TYPE_LATEST)  # has its charset

    @app.get("/healthz")
    def healthz():
        return jsonify({"status": "ok"})

    app.register_blueprint(grafana_blueprint(), url_prefix="/grafana")
    register_exported(app, settings, app.extensions["promcast.source"], app.extensions["promcast.cache"], metrics)
    exported = app.extensions.get("promcast.exported")
    if settings.prefit.targets or exported is not None:  # started by run_server, not by building the app
        from .prefit import Prefitter

        app.extensions["promcast.prefitter"] = Prefitter(
            settings, app.extensions["promcast.source"], app.extensions["promcast.cache"], metrics,
            exported=[(t.expr, t.model) for t in exported.targets] if exported is not None else ())
    return app
