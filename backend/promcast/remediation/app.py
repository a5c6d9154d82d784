"""The Alertmanager webhook receiver: ``POST /alertmanager`` (payload version 4), ``GET /healthz``, ``/metrics``."""

from __future__ import annotations

import hmac

from flask import Flask, Response, jsonify, request
from prometheus_client import CollectorRegistry, Counter, generate_latest
from werkzeug.exceptions import HTTPException

from ..errors import PromcastError
from ..responses import error_response as _error
from .audit import Decision
from .policy import parse_webhook
from .remediator import Remediator

METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def create_remediation_app(remediator: Remediator, token: str | None = None) -> Flask:
    """The receiver around ``remediator``; ``token`` (optional) is the bearer token Alertmanager must send."""
    app = Flask("promcast-remediate")
    app.url_map.strict_slashes = False
    registry = CollectorRegistry()
    actions = Counter("promcast_remediation_actions_total", "Remediation decisions by kind and outcome.",
                      ["kind", "outcome"], registry=registry)
    previous = remediator.on_decision

    def count(decision: Decision) -> None:
        actions.labels(decision.kind or "none", decision.outcome).inc()
        if previous is not None:
            previous(decision)

    remediator.on_decision = count
    app.extensions["promcast.remediator"] = remediator

    @app.post("/alertmanager")
    def alertmanager():
        if token is not None:
            given = request.headers.get("Authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                return _error("unauthorized", "missing or wrong bearer token for promcast remediate", 401)
        decisions = remediator.handle(parse_webhook(request.get_json(silent=True)))
        return jsonify({"decisions": [d.__dict__ for d in decisions]})

    @app.get("/healthz")
    def healthz():
        return jsonify({"status": "ok", "dry_run": remediator.config.dry_run})

    @app.get("/metrics")
    def metrics():
        return Response(generate_latest(registry), headers={"Content-Type": METRICS_CONTENT_TYPE})

    @app.errorhandler(PromcastError)
    def _user_error(exc: PromcastError):
        return _error(exc.code, str(exc), exc.http_status)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        return _error("http_error", exc.description or exc.name, exc.code or 500)

    return app
