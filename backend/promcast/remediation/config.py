"""``remediation.yaml``: what promcast may change in a cluster, validated with errors that name the key.

```yaml
dry_run: true                      # default; false performs writes
kubeconfig: ~/.kube/config         # omitted: in-cluster service account
allow: {namespaces: [prod], selector: "promcast.io/remediate=true", kinds: [PersistentVolumeClaim, Deployment]}
actions:
  disk_exhaustion: {expand_by: 25%, max_size: 1Ti}
  memory_leak: {restart: true, window: "02:00-05:00"}
  capacity: {max_replicas_cap: 50, step: 2}
cooldown: 1h
rate_limit: 10/h
audit_log: /var/log/promcast/remediation.jsonl
```
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from ..durations import parse_duration
from ..errors import ConfigError, InputError
from ..quantities import parse_quantity
from .selector import LabelSelector, parse_selector

#: kinds of objects promcast can change, as the allow-list names them
OBJECT_KINDS = ("PersistentVolumeClaim", "Deployment", "StatefulSet", "DaemonSet", "HorizontalPodAutoscaler")
_WINDOW = re.compile(r"^\s*([01]\d|2[0-3]):([0-5]\d)\s*-\s*([01]\d|2[0-3]):([0-5]\d)\s*$")
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*\s*[a-z]+)\s*$")
_TOP_KEYS = {"dry_run", "kubeconfig", "allow", "actions", "cooldown", "rate_limit", "audit_log", "token"}


@dataclass(frozen=True)
class DiskAction:
    """Expand a PVC by ``expand_by`` (a fraction of its size, or bytes), never past ``max_size`` bytes."""

    expand_fraction: float | None = 0.25
    expand_bytes: float | None = None
    max_size: float = 2.0**40


@dataclass(frozen=True)
class MemoryAction:
    """A rolling restart of the owning workload, only inside ``window`` (UTC minutes of the day) if set."""

    restart: bool = True
    window: tuple[int, int] | None = None

    def open_at(self, minute_of_day: int) -> bool:
        if self.window is None:
            return True
        start, end = self.window
        return start <= minute_of_day < end if start <= end else (minute_of_day >= start or minute_of_day < end)


@dataclass(frozen=True)
class CapacityAction:
    """Raise an HPA's maxReplicas (or a Deployment's replicas) by ``step``, up to ``max_replicas_cap``."""

    max_replicas_cap: int = 50
    step: int = 2


@dataclass(frozen=True)
class Allow:
    namespaces: tuple[str, ...] = ()
    selector: LabelSelector | None = None
    kinds: tuple[str, ...] = OBJECT_KINDS


@dataclass(frozen=True)
class RemediationConfig:
    dry_run: bool = True
    kubeconfig: str | None = None
    allow: Allow = field(default_factory=Allow)
    disk: DiskAction | None = None
    memory: MemoryAction | None = None
    capacity: CapacityAction | None = None
    cooldown: float = 3600.0
    rate_limit: tuple[int, float] = (10, 3600.0)
    audit_log: str | None = None
    token: str | None = None

    def action(self, kind: str):
        return {"disk_exhaustion": self.disk, "memory_leak": self.memory, "capacity": self.capacity}.get(kind)


def load_config(path: str | Path) -> RemediationConfig:
    """Read and validate ``path``; a ConfigError names the file, the key and what is allowed."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"remediation config {path} does not exist") from None
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"remediation config {path} is not readable YAML: {exc}") from None
    return parse_config(data if data is not None else {}, origin=str(path))


def parse_config(data: Any, origin: str = "remediation config") -> RemediationConfig:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{origin}: expected a mapping of settings")
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise ConfigError(f"{origin}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_TOP_KEYS))}")

    def fail(key: str, message: str):
        return ConfigError(f"{origin}: {key}: {message}")

    dry_run = data.get("dry_run", True)
    if not isinstance(dry_run, bool):
        raise fail("dry_run", f"expected true or false, got {dry_run!r}")
    actions = data.get("actions") or {}
    if not isinstance(actions, Mapping):
        raise fail("actions", "expected a mapping of disk_exhaustion, memory_leak and capacity")
    unknown = sorted(set(actions) - {"disk_exhaustion", "memory_leak", "capacity"})
    if unknown:
        raise fail("actions", f"unknown kind(s) {', '.join(unknown)}; allowed: disk_exhaustion, memory_leak, capacity")
    return RemediationConfig(
        dry_run=dry_run,
        kubeconfig=_optional_text(data.get("kubeconfig"), "kubeconfig", fail),
        allow=_allow(data.get("allow"), fail),
        disk=_disk(actions["disk_exhaustion"], fail) if "disk_exhaustion" in actions else None,
        memory=_memory(actions["memory_leak"], fail) if "memory_leak" in actions else None,
        capacity=_capacity(actions["capacity"], fail) if "capacity" in actions else None,
        cooldown=_seconds(data.get("cooldown", "1h"), "cooldown", fail),
        rate_limit=_rate(data.get("rate_limit", "10/h"), fail),
        audit_log=_optional_text(data.get("audit_log"), "audit_log", fail),
        token=_optional_text(data.get("token"), "token", fail),
    )


def _optional_text(value, key, fail):
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise fail(key, f"expected a non-empty string, got {value!r}")
    return value.strip()


def _seconds(value, key, fail) -> float:
    try:
        seconds = parse_duration(str(value), what=key).total_seconds()
    except InputError as exc:
        raise fail(key, f"{exc} (e.g. 1h, 30m)") from None
    if seconds <= 0:
        raise fail(key, "must be positive")
    return seconds


def _rate(value, fail) -> tuple[int, float]:
    match = _RATE.match(str(value))
    if not match:
        raise fail("rate_limit", f"expected COUNT/PERIOD such as 10/h or 3/30m, got {value!r}")
    count = int(match.group(1))
    period = match.group(2).replace(" ", "")
    period = f"1{period}" if period.isalpha() else period
    if count < 1:
        raise fail("rate_limit", "the count must be at least 1")
    return count, _seconds(period, "rate_limit", fail)


def _allow(value, fail) -> Allow:
    if value is None:
        raise fail("allow", "required: list the namespaces promcast may change (allow: {namespaces: [prod]})")
    if not isinstance(value, Mapping):
        raise fail("allow", "expected a mapping with namespaces, selector and kinds")
    unknown = sorted(set(value) - {"namespaces", "selector", "kinds"})
    if unknown:
        raise fail("allow", f"unknown key(s) {', '.join(unknown)}; allowed: namespaces, selector, kinds")
    namespaces = value.get("namespaces")
    if not isinstance(namespaces, list) or not namespaces or not all(isinstance(n, str) and n for n in namespaces):
        raise fail("allow.namespaces", "expected a non-empty list of namespace names")
    selector = None
    if value.get("selector") is not None:
        try:
            selector = parse_selector(str(value["selector"]))
        except InputError as exc:
            raise fail("allow.selector", str(exc)) from None
    kinds = value.get("kinds", list(OBJECT_KINDS))
    if not isinstance(kinds, list) or not all(k in OBJECT_KINDS for k in kinds):
        raise fail("allow.kinds", f"expected a list of {', '.join(OBJECT_KINDS)}, got {kinds!r}")
    return Allow(tuple(namespaces), selector, tuple(kinds))


def _mapping(value, key, allowed, fail) -> Mapping:
    value = {} if value is None else value
    if not isinstance(value, Mapping):
        raise fail(key, "expected a mapping")
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise fail(key, f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}")
    return value


def _disk(value, fail) -> DiskAction:
    value = _mapping(value, "actions.disk_exhaustion", ("expand_by", "max_size"), fail)
    expand = str(value.get("expand_by", "25%")).strip()
    fraction = size = None
    try:
        if expand.endswith("%"):
            fraction = float(expand[:-1]) / 100.0
            if not 0 < fraction <= 10:
                raise ValueError
        else:
            size = parse_quantity(expand, what="expand_by")
            if size <= 0:
                raise ValueError
        max_size = parse_quantity(value.get("max_size", "1Ti"), what="max_size")
    except (ValueError, InputError):
        raise fail("actions.disk_exhaustion", "expand_by is a percentage (25%) or a size (10Gi), max_size a "
                   f"size (1Ti); got {dict(value)!r}") from None
    return DiskAction(fraction, size, max_size)


def _memory(value, fail) -> MemoryAction:
    value = _mapping(value, "actions.memory_leak", ("restart", "window"), fail)
    restart = value.get("restart", True)
    if not isinstance(restart, bool):
        raise fail("actions.memory_leak.restart", f"expected true or false, got {restart!r}")
    window = None
    if value.get("window") is not None:
        match = _WINDOW.match(str(value["window"]))
        if not match:
            raise fail("actions.memory_leak.window", f"expected HH:MM-HH:MM (UTC), got {value['window']!r}")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        window = (h1 * 60 + m1, h2 * 60 + m2)
        if window[0] == window[1]:
            raise fail("actions.memory_leak.window", "start and end are the same minute")
    return MemoryAction(restart, window)


def _capacity(value, fail) -> CapacityAction:
    value = _mapping(value, "actions.capacity", ("max_replicas_cap", "step"), fail)
    try:
        cap, step = int(value.get("max_replicas_cap", 50)), int(value.get("step", 2))
    except (TypeError, ValueError):
        raise fail("actions.capacity", f"max_replicas_cap and step are whole numbers; got {dict(value)!r}") from None
    if cap < 1 or step < 1:
        raise fail("actions.capacity", "max_replicas_cap and step must be at least 1")
    return CapacityAction(cap, step)
