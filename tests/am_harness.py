"""Debian's Alertmanager (``prometheus-alertmanager``) and ``promcast remediate`` on loopback for the tests.

Alertmanager routes every alert on its own (``group_by: ['...']``) to the promcast receiver at once
(``group_wait`` 0s) and tells it when the alert resolves (``send_resolved``), with the receiver's bearer
token. Alerts are posted to Alertmanager's own API (``/api/v2/alerts``), as Prometheus does.
"""

from __future__ import annotations

import json
import shutil
import sys
import urllib.request
from pathlib import Path

import prom_harness

BINARY = "prometheus-alertmanager"
INSTALL_HINT = "run 'sudo apt-get install prometheus-alertmanager' (Debian/Ubuntu); make test installs it as root"


def alertmanager_binary() -> str | None:
    return shutil.which(BINARY) or shutil.which("alertmanager")


class Alertmanager(prom_harness.LoopbackServer):
    ready_path = "/-/ready"
    log_name = "alertmanager.log"
    workdir_prefix = "promcast-alertmanager-"

    def __init__(self, receiver_url: str, token: str) -> None:
        super().__init__()
        self.binary = alertmanager_binary() or BINARY
        self.receiver_url, self.token = receiver_url, token

    def _prepare(self) -> None:
        config = {
            "route": {"receiver": "promcast", "group_by": ["..."], "group_wait": "0s", "group_interval": "1s",
                      "repeat_interval": "1h"},
            "receivers": [{"name": "promcast", "webhook_configs": [{
                "url": self.receiver_url, "send_resolved": True,
                "http_config": {"authorization": {"credentials": self.token}}}]}],
        }
        (self._workdir / "alertmanager.yml").write_text(json.dumps(config))

    def _command(self) -> list[str]:
        return [self.binary, f"--config.file={self._workdir / 'alertmanager.yml'}",
                f"--storage.path={self._workdir / 'data'}", f"--web.listen-address=127.0.0.1:{self.port}",
                "--cluster.listen-address=", "--log.level=info"]

    def post(self, alerts: list[dict]) -> None:
        """POST ``alerts`` (``labels``, ``annotations``, ``startsAt``, ``endsAt``) to /api/v2/alerts."""
        request = urllib.request.Request(f"{self.url}/api/v2/alerts", data=json.dumps(alerts).encode(),
                                         headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200, response.read()


class Remediate(prom_harness.LoopbackServer):
    """``promcast remediate --config FILE`` as a user runs it (a subprocess of this Python)."""

    ready_path = "/healthz"
    log_name = "remediate.log"
    workdir_prefix = "promcast-remediate-"

    def __init__(self, config_path: Path) -> None:
        super().__init__()
        self.binary = sys.executable
        self.config_path = config_path

    def _command(self) -> list[str]:
        return [sys.executable, "-m", "promcast", "remediate", "--config", str(self.config_path),
                "--host", "127.0.0.1", "--port", str(self.port)]


class AlertingPrometheus(prom_harness.PrometheusServer):
    """A :class:`~prom_harness.PrometheusServer` that also sends its alerts to an Alertmanager at ``alertmanager``
    (``host:port``), as ``alerting.alertmanagers`` in a real prometheus.yml does."""

    def __init__(self, tsdb_dir, alertmanager: str, **server_args) -> None:
        super().__init__(tsdb_dir, **server_args)
        self.alertmanager = alertmanager

    def _prepare(self) -> None:
        super()._prepare()
        config = self._workdir / "prometheus.yml"
        config.write_text(config.read_text() + "alerting:\n  alertmanagers:\n    - static_configs:\n"
                                               f"        - targets: ['{self.alertmanager}']\n")


def start_remediation(fake, root: Path, token: str) -> tuple[Remediate, Alertmanager, Path]:
    """``promcast remediate`` writing for real (``dry_run: false``) to the fake Kubernetes API ``fake`` in
    namespace ``prod`` only (PVCs grow 25 % up to 1Ti, leaking workloads restart, 1h cooldown, 10 actions an
    hour), and an Alertmanager routing to it. Returns both, started, and the audit log's path."""
    import yaml

    audit = root / "audit.jsonl"
    config = {"dry_run": False, "kubeconfig": fake.kubeconfig(root / "kubeconfig"), "token": token,
              "allow": {"namespaces": ["prod"]},
              "actions": {"disk_exhaustion": {"expand_by": "25%", "max_size": "1Ti"}, "memory_leak": {"restart": True}},
              "cooldown": "1h", "rate_limit": "10/h", "audit_log": str(audit)}
    (root / "remediation.yaml").write_text(yaml.safe_dump(config))
    remediate = Remediate(root / "remediation.yaml").start()
    try:
        alertmanager = Alertmanager(f"{remediate.url}/alertmanager", token).start()
    except BaseException:
        remediate.stop()
        raise
    return remediate, alertmanager, audit
