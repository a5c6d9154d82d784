"""The remediation audit log: one JSON object per decision, appended and flushed before the answer."""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError


@dataclass(frozen=True)
class Decision:
    """What promcast decided for one alert: ``outcome`` is acted, dry_run, refused, ignored, deferred,
    duplicate or failed."""

    time: str
    fingerprint: str
    alertname: str
    kind: str | None
    object: str | None
    action: str | None
    outcome: str
    reason: str
    change: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))


class AuditLog:
    """Appends decisions to a JSON-lines file (and keeps the last ones in memory for /healthz and tests)."""

    def __init__(self, path: str | None, keep: int = 1000) -> None:
        self.path = Path(os.path.expanduser(path)) if path else None
        self.recent: list[Decision] = []
        self._keep = keep
        self._lock = threading.Lock()
        if self.path is not None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a", encoding="utf-8"):
                    pass
            except OSError as exc:
                raise ConfigError(f"audit_log {self.path} is not writable: {exc}") from None

    def write(self, decision: Decision) -> None:
        with self._lock:
            self.recent = [*self.recent[-(self._keep - 1):], decision]
            if self.path is not None:
                with self.path.open("a", encoding="utf-8") as handle:
                    handle.write(decision.to_json() + "\n")
                    handle.flush()
                    os.fsync(handle.fileno())
