"""Settings from a YAML file and ``PROMCAST_*`` environment variables (environment wins).

Every setting has a dotted key (``prometheus.url``), a YAML location (``prometheus: {url: ...}``) and an
environment variable (``PROMCAST_PROMETHEUS_URL``). Values are validated on load; an error names the
key, the bad value and what is allowed.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import yaml

from .durations import parse_duration
from .errors import ConfigError, InputError, yaml_problem
from .sources.spec import PrometheusSettings, SourceSpec, resolve_source

log = logging.getLogger(__name__)

ENV_PREFIX = "PROMCAST_"
CONFIG_ENV = "PROMCAST_CONFIG"
#: PROMCAST_* variables that are not settings (the config file's path; switches of the test suite)
NOT_SETTINGS_ENV = frozenset({CONFIG_ENV, "PROMCAST_REQUIRE_INTEGRATION", "PROMCAST_UPDATE_GOLDEN"})
LOG_LEVELS = ("debug", "info", "warning", "error")


@dataclass(frozen=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    threads: int = 16


@dataclass(frozen=True)
class AuthSettings:
    """Optional auth for promcast's own HTTP API (bearer token and/or basic auth)."""

    bearer_token: str | None = None
    username: str | None = None
    password: str | None = None


@dataclass(frozen=True)
class CacheSettings:
    refit_interval: float = 900.0
    max_entries: int = 256
    max_megabytes: int = 512


@dataclass(frozen=True)
class ModelSettings:
    default: str = "auto"
    ensemble_weights: dict = field(default_factory=lambda: {"prophet": 0.3, "lstm": 0.4, "iforest": 0.3})
    #: the ensemble's anomaly-score members; None: the one chosen under cross-validation (cad_ose)
    ensemble_score_weights: dict | None = None


@dataclass(frozen=True)
class ExportedSettings:
    """The RuleSpec whose ``anomaly_band`` targets with ``mode: exported`` the service serves as gauges."""

    spec: str | None = None


@dataclass(frozen=True)
class ExecutorSettings:
    """Where batch fits run (``fit``, ``generate-rules``): local process pool or a Dask scheduler."""

    kind: str = "local"
    scheduler: str | None = None


@dataclass(frozen=True)
class StoreSettings:
    """The model store directory ``promcast fit`` writes and ``promcast serve`` preloads (None: none)."""

    dir: str | None = None


@dataclass(frozen=True)
class DemoSettings:
    """The embedded demo source. ``now`` (ISO time) fixes the end of its data, so a demo, a screenshot or a
    test shows the same series at any hour; None follows the wall clock."""

    now: str | None = None


@dataclass(frozen=True)
class PrefitTarget:
    """One expression ``promcast serve`` keeps fitted for every series it returns.

    ``model`` None means ``models.default``; ``history`` must equal the panel's ``payload.history``
    (default 14d) and ``expr`` the panel's expression, because they are part of the cache key.
    """

    expr: str
    model: str | None = None
    history: float = 14 * 86400.0


@dataclass(frozen=True)
class PrefitSettings:
    """Pre-fitting in ``promcast serve``: these targets are refitted every ``interval`` seconds (None:
    half of ``cache.refit_interval``) through the configured executor, so a fleet's dashboards open warm."""

    targets: tuple[PrefitTarget, ...] = ()
    interval: float | None = None


@dataclass(frozen=True)
class Settings:
    server: ServerSettings = field(default_factory=ServerSettings)
    prometheus: PrometheusSettings = field(default_factory=PrometheusSettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    cache: CacheSettings = field(default_factory=CacheSettings)
    models: ModelSettings = field(default_factory=ModelSettings)
    exported: ExportedSettings = field(default_factory=ExportedSettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    executor: ExecutorSettings = field(default_factory=ExecutorSettings)
    prefit: PrefitSettings = field(default_factory=PrefitSettings)
    demo: DemoSettings = field(default_factory=DemoSettings)
    log_level: str = "info"

    def source_spec(self, choice: str | None = None, **kwargs: Any) -> SourceSpec:
        """The source these settings name (see :func:`~promcast.sources.spec.resolve_source`)."""
        kwargs.setdefault("demo_now", self.demo.now)
        return resolve_source(self.prometheus, choice=choice, **kwargs)


def _positive_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError
    number = int(str(value).strip())
    if number <= 0 or float(str(value).strip()) != number:
        raise ValueError
    return number


def _checked(parse: Callable[[Any], Any], ok: Callable[[Any], bool]) -> Callable[[Any], Any]:
    """A converter: ``parse`` the value (never a bool), then ValueError unless ``ok`` accepts it."""
    def convert(value: Any):
        if isinstance(value, bool):
            raise ValueError
        number = parse(value)
        if not ok(number):
            raise ValueError
        return number

    return convert


_port = _checked(_positive_int, lambda n: n <= 65535)
_max_points = _checked(_positive_int, lambda n: n <= 11_000)  # Prometheus' limit per query_range
_non_negative_int = _checked(lambda v: int(str(v).strip()), lambda n: n >= 0)
_positive_float = _checked(lambda v: float(str(v).strip()), lambda n: 0 < n < float("inf"))


def _seconds(value: Any) -> float:
    try:
        return parse_duration(value).total_seconds()
    except InputError as exc:
        raise ValueError from exc


def _text(value: Any) -> str:
    if isinstance(value, (dict, list)):
        raise ValueError
    return str(value)


def _optional_text(value: Any) -> str | None:
    return None if value is None or value == "" else _text(value)


def _url(value: Any) -> str | None:
    if value is None or value == "":
        return None
    text = _text(value).rstrip("/")
    if not text.startswith(("http://", "https://")):
        raise ValueError
    return text


def _string_map(value: Any) -> dict:
    """A mapping of strings; from the environment as JSON or ``k=v,k2=v2``."""
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return {}
        if text.startswith("{"):
            value = json.loads(text)
        else:
            value = dict(part.split("=", 1) for part in text.split(","))
    if not isinstance(value, Mapping):
        raise ValueError
    return {str(k).strip(): str(v).strip() for k, v in value.items()}


def _weights(value: Any) -> dict:
    from .models.registry import model_names  # lazy: config must stay importable without models

    weights = {k: float(v) for k, v in _string_map(value).items()}
    known = set(model_names())
    if not weights or any(k not in known or w < 0 for k, w in weights.items()) or sum(weights.values()) <= 0:
        raise ValueError
    return weights


def _optional_weights(value: Any) -> dict | None:
    return None if value is None or value == "" or value == {} else _weights(value)


def _model_name(value: Any) -> str:
    from .models.registry import model_names

    text = _text(value)
    if text not in model_names():
        raise ValueError
    return text


def _executor_kind(value: Any) -> str:
    text = _text(value).lower()
    if text not in ("local", "dask"):
        raise ValueError
    return text


class _Invalid(ValueError):
    """A bad value whose message says exactly what is wrong (appended to the error)."""


_PREFIT_KEYS = ("expr", "model", "history")


def _prefit_targets(value: Any) -> tuple[PrefitTarget, ...]:
    """A list of ``{expr, model, history}`` (or bare expressions); from the environment as JSON."""
    if isinstance(value, str):
        text = value.strip()
        value = json.loads(text) if text.startswith(("[", "{")) else [p.strip() for p in text.split(";") if p.strip()]
    if not isinstance(value, list):
        raise ValueError
    targets = []
    for i, item in enumerate(value):
        if isinstance(item, str):
            item = {"expr": item}
        if not isinstance(item, Mapping):
            raise _Invalid(f"item {i} is a {type(item).__name__}, not a mapping")
        unknown = sorted(set(item) - set(_PREFIT_KEYS))
        if unknown:
            raise _Invalid(f"item {i} has unknown key(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(_PREFIT_KEYS)}")
        expr = str(item.get("expr") or "").strip()
        if not expr:
            raise _Invalid(f"item {i} has no expr")
        model = item.get("model")
        if model is not None:
            try:
                model = _model_name(model)
            except ValueError:
                raise _Invalid(f"item {i} names unknown model {model!r}") from None
        try:
            history = parse_duration(item.get("history", "14d")).total_seconds()
        except InputError:
            raise _Invalid(f"item {i} has a bad history {item.get('history')!r} (use e.g. 7d)") from None
        targets.append(PrefitTarget(expr, model, history))
    return tuple(targets)


def _demo_now(value: Any) -> str | None:
    if value is None:
        return None
    from .durations import parse_time
    from .errors import InputError

    try:
        return parse_time(str(value), what="demo.now").isoformat()
    except InputError:
        raise ValueError from None


def _log_level(value: Any) -> str:
    text = _text(value).lower()
    if text not in LOG_LEVELS:
        raise ValueError
    return text


# dotted key -> (parser, what is allowed)
_FIELDS: dict[str, tuple[Callable[[Any], Any], str]] = {
    "server.host": (_text, "a host name or IP address to listen on"),
    "server.port": (_port, "a TCP port between 1 and 65535"),
    "server.threads": (_positive_int, "a positive number of worker threads"),
    "prometheus.url": (_url, "an http:// or https:// URL, e.g. http://127.0.0.1:9090"),
    "prometheus.timeout": (_seconds, "a duration such as 30s or 2m, or seconds"),
    "prometheus.retries": (_non_negative_int, "a whole number of retries, 0 or more"),
    "prometheus.bearer_token": (_optional_text, "a token string"),
    "prometheus.username": (_optional_text, "a user name"),
    "prometheus.password": (_optional_text, "a password"),
    "prometheus.headers": (_string_map, "a mapping of header names to values (env: JSON or Name=value,Name2=value)"),
    "prometheus.path_prefix": (_text, "a URL path prefix such as /prometheus"),
    "prometheus.max_points_per_request": (_max_points, "a number of points per request between 1 and 11000 "
                                          "(Prometheus' limit per series)"),
    "prometheus.max_in_flight": (_positive_int, "a positive number of upstream requests in flight at once "
                                 "(below server.threads)"),
    "prometheus.query_params": (_string_map, "a mapping of URL parameters sent with every call, e.g. "
                                "{max_source_resolution: auto} for Thanos (env: JSON or name=value,name2=value)"),
    "auth.bearer_token": (_optional_text, "a token string"),
    "auth.username": (_optional_text, "a user name"),
    "auth.password": (_optional_text, "a password"),
    "cache.refit_interval": (_seconds, "a duration such as 15m"),
    "cache.max_entries": (_positive_int, "a positive number of cached models"),
    "cache.max_megabytes": (_positive_int, "a positive number of megabytes"),
    "models.default": (_model_name, "a registered model name (see `promcast forecast --help`)"),
    "models.ensemble_weights": (_weights, "a mapping of model names to non-negative weights, e.g. {prophet: 0.3, lstm: 0.4, iforest: 0.3}"),
    "models.ensemble_score_weights": (_optional_weights, "a mapping of model names to non-negative weights, e.g. "
                                      "{artime: 0.5, cad_ose: 0.5}, or null for the cross-validated default (cad_ose)"),
    "exported.spec": (_optional_text, "a RuleSpec YAML file whose anomaly_band targets with mode: exported "
                      "promcast serves on /exported/metrics"),
    "executor.kind": (_executor_kind, "local (a process pool sized to the cores) or dask"),
    "executor.scheduler": (_optional_text, "a Dask scheduler address such as tcp://HOST:8786 "
                           "(default: $DASK_SCHEDULER_ADDRESS, else a local cluster)"),
    "store.dir": (_optional_text, "a model store directory written by `promcast fit` (and by `serve`'s pre-fits)"),
    "prefit.targets": (_prefit_targets, "a list of {expr, model, history} for `serve` to keep fitted "
                       "(env: a JSON list, or expressions separated by ';')"),
    "prefit.interval": (_seconds, "a duration such as 10m (default: half of cache.refit_interval)"),
    "demo.now": (_demo_now, "an ISO time such as 2024-06-10T12:00:00Z (the end of the demo's data)"),
    "log_level": (_log_level, "one of " + ", ".join(LOG_LEVELS)),
}


def env_name(key: str) -> str:
    """``prometheus.url`` -> ``PROMCAST_PROMETHEUS_URL``."""
    return ENV_PREFIX + key.replace(".", "_").upper()


def _flatten(data: Mapping, prefix: str, origin: str) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if dotted in _FIELDS:
            flat[dotted] = value
        elif isinstance(value, Mapping) and any(k.startswith(dotted + ".") for k in _FIELDS):
            flat.update(_flatten(value, dotted + ".", origin))
        else:
            known = sorted({k.split(".")[0] for k in _FIELDS} if not prefix else
                           {k[len(prefix):] for k in _FIELDS if k.startswith(prefix)})
            raise ConfigError(f"{origin}: unknown setting {dotted!r}; allowed here: {', '.join(known)}")
    return flat


def read_config_file(path: str | os.PathLike) -> dict[str, Any]:
    """Read a YAML config file into dotted keys; errors name the file and what is wrong."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"config file {path} does not exist") from exc
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc.__class__.__name__}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML{yaml_problem(exc)}") from exc
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"config file {path} must hold a mapping of settings, not {type(data).__name__}")
    return _flatten(data, "", f"config file {path}")


def _read_env(environ: Mapping[str, str]) -> dict[str, Any]:
    by_env = {env_name(key): key for key in _FIELDS}
    flat = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name in NOT_SETTINGS_ENV:
            continue
        if name in by_env:
            flat[by_env[name]] = value
        else:
            log.warning("ignoring unknown environment variable %s (known: %s)", name, ", ".join(sorted(by_env)))
    return flat


def _validate(key: str, value: Any, origin: str) -> Any:
    parser, allowed = _FIELDS[key]
    try:
        return parser(value)
    except (ValueError, TypeError, json.JSONDecodeError) as exc:
        shown = "<hidden>" if "password" in key or "token" in key else repr(value)
        detail = f" ({exc})" if isinstance(exc, _Invalid) else ""
        raise ConfigError(f"{origin}: bad value {shown} for {key}{detail}; expected {allowed}") from exc


def load_settings(
    path: str | os.PathLike | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Load settings: defaults < YAML file (``path`` or ``$PROMCAST_CONFIG``) < environment < ``overrides``.

    ``overrides`` are dotted keys from command-line options (None values are ignored).
    """
    environ = os.environ if environ is None else environ
    path = path or environ.get(CONFIG_ENV) or None
    values: dict[str, Any] = {}
    if path:
        for key, value in read_config_file(path).items():
            values[key] = _validate(key, value, f"config file {path}")
    for key, value in _read_env(environ).items():
        values[key] = _validate(key, value, f"environment variable {env_name(key)}")
    for key, value in (overrides or {}).items():
        if value is not None:
            values[key] = _validate(key, value, f"option for {key}")
    return _build(values)


def _build(values: Mapping[str, Any]) -> Settings:
    sections: dict[str, dict[str, Any]] = {}
    top: dict[str, Any] = {}
    for key, value in values.items():
        if "." in key:
            section, name = key.split(".", 1)
            sections.setdefault(section, {})[name] = value
        else:
            top[key] = value
    kwargs = dict(top)
    for f in dataclasses.fields(Settings):
        if f.name in sections:
            kwargs[f.name] = f.default_factory()  # type: ignore[misc]
            kwargs[f.name] = dataclasses.replace(kwargs[f.name], **sections[f.name])
    settings = Settings(**kwargs)
    _check_pairs(settings)
    return settings


def _check_pairs(settings: Settings) -> None:
    interval = settings.prefit.interval
    if interval is not None and interval >= settings.cache.refit_interval:
        raise ConfigError(
            f"prefit.interval ({interval:g}s) must be shorter than cache.refit_interval "
            f"({settings.cache.refit_interval:g}s): pre-fitted models would expire before they are refitted")
    for section in ("prometheus", "auth"):
        block = getattr(settings, section)
        if bool(block.username) != bool(block.password):
            raise ConfigError(
                f"{section}.username and {section}.password must be set together "
                f"({env_name(section + '.username')} / {env_name(section + '.password')})"
            )


def describe_settings() -> list[tuple[str, str, str]]:
    """(key, env var, allowed) for every setting, for docs and ``--help``."""
    return [(key, env_name(key), allowed) for key, (_, allowed) in _FIELDS.items()]
