"""``promcast remediate``: build the receiver from a remediation config and serve it under waitress."""

from __future__ import annotations

import logging

from .app import create_remediation_app
from .audit import AuditLog
from .config import load_config
from .kube import KubeClient
from .remediator import Remediator

log = logging.getLogger(__name__)


def build_app(config_path: str, kube: KubeClient | None = None):
    """The receiver for ``config_path`` (``kube`` defaults to the config's kubeconfig or in-cluster)."""
    config = load_config(config_path)
    remediator = Remediator(config, kube or KubeClient(config.kubeconfig), AuditLog(config.audit_log))
    return create_remediation_app(remediator, token=config.token)


def run_remediation(config_path: str, host: str, port: int, threads: int = 4) -> None:
    from waitress import serve

    app = build_app(config_path)
    config = app.extensions["promcast.remediator"].config
    log.info("promcast remediate on http://%s:%d/alertmanager (%s; namespaces %s; audit %s)", host, port,
             "dry run: nothing is written" if config.dry_run else "LIVE: changes are written",
             ", ".join(config.allow.namespaces), config.audit_log or "log only")
    serve(app, host=host, port=port, threads=threads, ident="promcast-remediate")
