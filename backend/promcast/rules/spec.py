"""The RuleSpec file: load, validate, and turn into typed values.

Every error names the file, the target and the field, and says what is allowed, e.g.
``spec.yaml: target 'root_disk': unknown field 'warnign_within' (did you mean 'warning_within'?);
allowed: critical_within, expr, ...``. Nothing is fetched or fitted here.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import pandas as pd
import promql_parser
import yaml

from ..durations import parse_duration, parse_time
from ..errors import BadQueryError, ConfigError, InputError, yaml_problem
from ..promql_bounds import check_promql
from ..quantities import QUANTITY as _QUANTITY, UNITS as _UNITS
from ..promql import parse as parse_promql_ast
from ..promql import unwrap_parens
from ..kinds.registry import ANOMALY, CAPACITY, DISK, MEMORY, RULE_KINDS
from ..validation import Limit

API_VERSION = "promcast/v1"
KIND = "RuleSpec"
KINDS = RULE_KINDS
ANOMALY_MODES = ("exported", "promql")
SEVERITIES = ("critical", "info", "warning")

#: target names become part of metric names (``promcast:<name>:...``)
_TARGET_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
#: metadata.name is a Kubernetes object name (RFC 1123 subdomain) and a file name
_OBJECT_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
#: Kubernetes label and annotation keys (metadata of the PrometheusRule object): optional DNS prefix
_K8S_KEY = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
#: labels promcast sets itself on every rule
RESERVED_LABELS = ("promcast_target", "severity", "alertname")



class SpecError(ConfigError):
    """An invalid RuleSpec: the message names the file, the target and the field."""


# ------------------------------------------------------------------------------------------ the model
@dataclass(frozen=True)
class SpecSource:
    """A RuleSpec's ``source`` section (resolved by :func:`promcast.sources.spec.resolve_source`)."""

    prometheus_url: str | None = None
    csv: tuple[Path, ...] = ()
    demo: bool = False
    history: pd.Timedelta = pd.Timedelta(days=14)
    step: pd.Timedelta = pd.Timedelta(minutes=5)
    #: end of the history; None means "now" (a fixed end makes demo/CSV fits reproducible)
    end: pd.Timestamp | None = None


@dataclass(frozen=True)
class Target:
    """One target of the spec; ``params`` holds the kind's own fields, parsed and defaulted."""

    name: str
    kind: str
    expr: str
    for_: pd.Timedelta
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    evaluation_interval: pd.Timedelta | None
    history: pd.Timedelta
    step: pd.Timedelta
    params: Mapping[str, Any]

    def param(self, key: str) -> Any:
        return self.params[key]


@dataclass(frozen=True)
class RuleSpec:
    name: str
    namespace: str | None
    object_labels: Mapping[str, str]
    object_annotations: Mapping[str, str]
    source: SpecSource
    targets: tuple[Target, ...]
    #: the spec file's name (no directory), for generated-file headers
    file_name: str = "spec.yaml"
    path: Path | None = field(default=None, compare=False)


# ------------------------------------------------------------------------------------------ values
class _Ctx:
    """Where we are in the spec, for messages: ``spec.yaml: target 'x': field 'y': ...``."""

    def __init__(self, origin: str, where: str = ""):
        self.origin = origin
        self.where = where

    def at(self, where: str) -> "_Ctx":
        return _Ctx(self.origin, f"{self.where}: {where}" if self.where else where)

    def error(self, message: str) -> SpecError:
        prefix = f"{self.origin}: {self.where}: " if self.where else f"{self.origin}: "
        return SpecError(prefix + message)


def _mapping(value: Any, ctx: _Ctx, what: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ctx.error(f"{what} must be a mapping, not {_type(value)}")
    return dict(value)


def _type(value: Any) -> str:
    return {list: "a list", str: "a string", int: "a number", float: "a number", bool: "true/false"}.get(
        type(value), type(value).__name__)


def _check_fields(data: Mapping, allowed: tuple[str, ...], ctx: _Ctx, required: tuple[str, ...] = ()) -> None:
    for key in data:
        if key not in allowed:
            hint = difflib.get_close_matches(str(key), allowed, n=1)
            did = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise ctx.error(f"unknown field {key!r}{did}; allowed: {', '.join(sorted(allowed))}")
    for key in required:
        if data.get(key) in (None, ""):
            raise ctx.error(f"missing required field {key!r}")


def _string(value: Any, ctx: _Ctx, field_name: str) -> str:
    if isinstance(value, (Mapping, list)) or value is None:
        raise ctx.error(f"field {field_name!r} must be a string, not {_type(value)}")
    return str(value)


def _duration(value: Any, ctx: _Ctx, field_name: str) -> pd.Timedelta:
    try:
        return pd.Timedelta(parse_duration(value, what=field_name))
    except InputError as exc:
        raise ctx.error(f"field {field_name!r}: {exc}") from None


def _for(value: Any, ctx: _Ctx) -> pd.Timedelta:
    """An alert's ``for``: a duration, or 0 to fire on the first evaluation."""
    if str(value).strip() in ("0", "0s", "0m", "0h"):
        return pd.Timedelta(0)
    return _duration(value, ctx, "for")


def _limited(value: Any, ctx: _Ctx, limit: Limit) -> float:
    """A number within one of the shared limits (:mod:`promcast.validation`)."""
    return _number(value, ctx, limit.name, low=limit.low, high=limit.high, low_open=limit.low_open,
                   high_open=limit.high_open)


def _number(value: Any, ctx: _Ctx, field_name: str, *, low: float | None = None, high: float | None = None,
            low_open: bool = False, high_open: bool = False, quantity: bool = False) -> float:
    """A number (``quantity``: with an SI or binary unit such as 2GiB, 512Mi, 5k)."""
    if isinstance(value, bool) or value is None or isinstance(value, (Mapping, list)):
        raise ctx.error(f"field {field_name!r}: expected a number, got {_type(value) if value is not None else 'nothing'}")
    if isinstance(value, (int, float)):
        number = float(value)
    else:
        match = _QUANTITY.match(str(value))
        unit = match.group(2).lower() if match else None
        if not match or unit not in _UNITS or (unit and not quantity):
            allowed = "a number" + (" with an optional unit (2GiB, 512MiB, 1.5G, 5k)" if quantity else "")
            raise ctx.error(f"field {field_name!r}: bad value {value!r}; expected {allowed}")
        number = float(match.group(1)) * _UNITS[unit]
    bad = (number != number or number in (float("inf"), float("-inf"))
           or (low is not None and (number <= low if low_open else number < low))
           or (high is not None and (number >= high if high_open else number > high)))
    if bad:
        lo = "" if low is None else f"{'>' if low_open else '>='} {low:g}"
        hi = "" if high is None else f"{'<' if high_open else '<='} {high:g}"
        raise ctx.error(f"field {field_name!r}: {value!r} is out of range; expected a number {' and '.join(x for x in (lo, hi) if x)}")
    return number


def _labels(value: Any, ctx: _Ctx, field_name: str, *, reserved: bool = True, kubernetes: bool = False
            ) -> dict[str, str]:
    data = _mapping(value, ctx, f"field {field_name!r}")
    out = {}
    for key, val in data.items():
        key = str(key)
        if kubernetes and not _K8S_KEY.match(key):
            raise ctx.error(f"field {field_name!r}: {key!r} is not a valid Kubernetes label key")
        if not kubernetes and not _LABEL_NAME.match(key):
            raise ctx.error(f"field {field_name!r}: {key!r} is not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*)")
        if reserved and key in RESERVED_LABELS:
            raise ctx.error(f"field {field_name!r}: label {key!r} is set by promcast; remove it")
        if isinstance(val, (Mapping, list)) or val is None:
            raise ctx.error(f"field {field_name!r}: the value of {key!r} must be a string")
        out[key] = str(val)
    return dict(sorted(out.items()))


def _annotations(value: Any, ctx: _Ctx, field_name: str, *, kubernetes: bool = False) -> dict[str, str]:
    data = _mapping(value, ctx, f"field {field_name!r}")
    out = {}
    for key, val in data.items():
        if not (_K8S_KEY if kubernetes else _LABEL_NAME).match(str(key)):
            raise ctx.error(f"field {field_name!r}: {key!r} is not a valid annotation name")
        if isinstance(val, (Mapping, list)) or val is None:
            raise ctx.error(f"field {field_name!r}: the value of {key!r} must be a string")
        out[str(key)] = str(val)
    return dict(sorted(out.items()))


def parse_promql(expr: Any, ctx: _Ctx, field_name: str) -> str:
    """``expr`` must parse as PromQL and yield an instant vector (a rule's input)."""
    text = _string(expr, ctx, field_name).strip()
    if not text:
        raise ctx.error(f"field {field_name!r} is empty; give a PromQL expression")
    try:
        check_promql(text, "PromQL")
    except BadQueryError as exc:
        raise ctx.error(f"field {field_name!r}: {exc}") from None
    try:
        node = parse_promql_ast(text)
    except (ValueError, TypeError) as exc:
        raise ctx.error(f"field {field_name!r}: bad PromQL {_one_line(text)!r}: {_one_line(str(exc))}") from None
    inner = unwrap_parens(node)
    if isinstance(inner, (promql_parser.MatrixSelector, promql_parser.SubqueryExpr)):
        raise ctx.error(f"field {field_name!r}: {text!r} is a range vector; give an instant vector "
                        "(promcast chooses the ranges itself), e.g. drop the [5m]")
    if isinstance(inner, (promql_parser.StringLiteral, promql_parser.NumberLiteral)):
        raise ctx.error(f"field {field_name!r}: {text!r} is a literal; give an expression that selects series")
    if isinstance(inner, promql_parser.VectorSelector) and (inner.offset is not None or inner.at is not None):
        raise ctx.error(f"field {field_name!r}: {text!r} has an offset or @ modifier; remove it "
                        "(promcast adds the offsets it learned)")
    return text


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


# ------------------------------------------------------------------------------------------ kinds
_COMMON = ("name", "kind", "expr", "for", "labels", "annotations", "evaluation_interval", "history", "step")
_KIND_FIELDS: dict[str, tuple[str, ...]] = {
    DISK.rule_kind: ("size_expr", "size", "warning_within", "critical_within", "readonly_expr", "max_window"),
    MEMORY.rule_kind: ("limit", "limit_expr", "warning_within", "critical_within"),
    ANOMALY.rule_kind: ("mode", "model", "sensitivity", "severity"),
    CAPACITY.rule_kind: ("capacity", "headroom", "horizon", "model", "unit_cost", "cost_period"),
}


def _disk(data: Mapping, ctx: _Ctx) -> dict:
    if ("size_expr" in data) == ("size" in data):
        raise ctx.error("give exactly one of 'size_expr' (PromQL for the filesystem size, e.g. "
                        "node_filesystem_size_bytes{...}) or 'size' (a number in the unit of 'expr')")
    params: dict[str, Any] = {
        "size_expr": parse_promql(data["size_expr"], ctx, "size_expr") if "size_expr" in data else None,
        "size": _number(data["size"], ctx, "size", low=0, low_open=True, quantity=True) if "size" in data else None,
        "warning_within": _duration(data.get("warning_within", "7d"), ctx, "warning_within"),
        "critical_within": _duration(data.get("critical_within", "1d"), ctx, "critical_within"),
        "max_window": _duration(data.get("max_window", "15d"), ctx, "max_window"),
    }
    if params["critical_within"] > params["warning_within"]:
        raise ctx.error("field 'critical_within' must not be longer than 'warning_within'")
    if params["max_window"] < pd.Timedelta("1h"):
        raise ctx.error("field 'max_window' must be at least 1h")
    readonly = data.get("readonly_expr", None)
    if readonly is False or readonly == "":
        params["readonly_expr"] = None
        params["readonly_explicit"] = True
    elif readonly is None:
        params["readonly_expr"] = None
        params["readonly_explicit"] = False
    else:
        params["readonly_expr"] = parse_promql(readonly, ctx, "readonly_expr")
        params["readonly_explicit"] = True
    return params


def _memory(data: Mapping, ctx: _Ctx) -> dict:
    if ("limit" in data) == ("limit_expr" in data):
        raise ctx.error("give exactly one of 'limit' (bytes, e.g. 2GiB) or 'limit_expr' (PromQL with the same "
                        "labels as 'expr', e.g. container_spec_memory_limit_bytes{...})")
    params = {
        "limit": _number(data["limit"], ctx, "limit", low=0, low_open=True, quantity=True) if "limit" in data else None,
        "limit_expr": parse_promql(data["limit_expr"], ctx, "limit_expr") if "limit_expr" in data else None,
        "warning_within": _duration(data.get("warning_within", "3d"), ctx, "warning_within"),
        "critical_within": _duration(data.get("critical_within", "12h"), ctx, "critical_within"),
    }
    if params["critical_within"] > params["warning_within"]:
        raise ctx.error("field 'critical_within' must not be longer than 'warning_within'")
    return params


def _anomaly(data: Mapping, ctx: _Ctx) -> dict:
    mode = _string(data.get("mode", "promql"), ctx, "mode")
    if mode not in ANOMALY_MODES:
        raise ctx.error(f"field 'mode': unknown mode {mode!r}; allowed: {', '.join(ANOMALY_MODES)}")
    severity = _string(data.get("severity", "warning"), ctx, "severity")
    if severity not in SEVERITIES:
        raise ctx.error(f"field 'severity': {severity!r} is not one of {', '.join(SEVERITIES)}")
    return {
        "mode": mode,
        "model": _model(data.get("model", _default_forecaster()), ctx),
        "sensitivity": _limited(data.get("sensitivity", 3), ctx, ANOMALY.limits["sensitivity"]),
        "severity": severity,
    }


def _capacity(data: Mapping, ctx: _Ctx) -> dict:
    if "capacity" not in data:
        raise ctx.error("missing required field 'capacity' (the load the service can take, in the unit of 'expr')")
    return {
        "capacity": _number(data["capacity"], ctx, "capacity", low=0, low_open=True, quantity=True),
        "headroom": _limited(data.get("headroom", 0.2), ctx, CAPACITY.limits["headroom"]),
        "horizon": _duration(data.get("horizon", "30d"), ctx, "horizon"),
        "model": _model(data.get("model", "prophet"), ctx),
        "unit_cost": _number(data["unit_cost"], ctx, "unit_cost", low=0) if "unit_cost" in data else None,
        "cost_period": _duration(data.get("cost_period", "30d"), ctx, "cost_period"),
    }


def _default_forecaster() -> str:
    from ..models.registry import DEFAULT_FORECASTER

    return DEFAULT_FORECASTER


def _model(value: Any, ctx: _Ctx) -> str:
    from ..models.registry import model_names

    name = _string(value, ctx, "model")
    if name not in model_names():
        raise ctx.error(f"field 'model': unknown model {name!r}; known: {', '.join(model_names())}")
    return name


_KIND_PARSERS = {DISK.rule_kind: _disk, MEMORY.rule_kind: _memory, ANOMALY.rule_kind: _anomaly,
                 CAPACITY.rule_kind: _capacity}


# ------------------------------------------------------------------------------------------ top level
def load_spec(path: str | os.PathLike) -> RuleSpec:
    """Read and validate a RuleSpec YAML file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"spec file {path} does not exist") from None
    except IsADirectoryError:
        raise SpecError(f"spec file {path} is a directory; give the RuleSpec YAML file") from None
    except (PermissionError, UnicodeDecodeError) as exc:
        raise SpecError(f"spec file {path} cannot be read: {exc.__class__.__name__}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: not valid YAML{yaml_problem(exc)}") from None
    return parse_spec(data, origin=str(path), base_dir=path.parent, file_name=path.name)


def parse_spec(data: Any, *, origin: str = "spec", base_dir: str | os.PathLike = ".",
               file_name: str = "spec.yaml") -> RuleSpec:
    """Validate a loaded spec (a mapping); paths in ``source.csv`` are relative to ``base_dir``."""
    ctx = _Ctx(origin)
    if not isinstance(data, Mapping):
        raise ctx.error(f"a RuleSpec must be a mapping with apiVersion, kind, metadata and targets, not {_type(data)}")
    _check_fields(data, ("apiVersion", "kind", "metadata", "source", "defaults", "targets"), ctx,
                  required=("apiVersion", "kind", "metadata", "targets"))
    if data["apiVersion"] != API_VERSION:
        raise ctx.error(f"apiVersion {data['apiVersion']!r} is not supported; use {API_VERSION}")
    if data["kind"] != KIND:
        raise ctx.error(f"kind {data['kind']!r} is not supported; use {KIND}")
    meta_ctx = ctx.at("metadata")
    meta = _mapping(data["metadata"], meta_ctx, "metadata")
    _check_fields(meta, ("name", "namespace", "labels", "annotations"), meta_ctx, required=("name",))
    name = _string(meta["name"], meta_ctx, "name")
    if not _OBJECT_NAME.match(name) or len(name) > 200:
        raise meta_ctx.error(f"field 'name': {name!r} must be a Kubernetes object name: lowercase letters, digits, "
                             "'-' and '.', starting and ending with a letter or digit")
    namespace = _string(meta["namespace"], meta_ctx, "namespace") if meta.get("namespace") is not None else None
    if namespace is not None and not re.match(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", namespace):
        raise meta_ctx.error(f"field 'namespace': {namespace!r} is not a valid Kubernetes namespace")
    source = _source(data.get("source"), ctx.at("source"), Path(base_dir))
    defaults_ctx = ctx.at("defaults")
    defaults = _mapping(data.get("defaults"), defaults_ctx, "defaults")
    _check_fields(defaults, ("for", "labels", "annotations", "evaluation_interval"), defaults_ctx)
    default_for = _for(defaults.get("for", "10m"), defaults_ctx)
    default_labels = _labels(defaults.get("labels"), defaults_ctx, "labels")
    default_annotations = _annotations(defaults.get("annotations"), defaults_ctx, "annotations")
    default_interval = (_duration(defaults["evaluation_interval"], defaults_ctx, "evaluation_interval")
                        if defaults.get("evaluation_interval") is not None else None)
    raw_targets = data["targets"]
    if not isinstance(raw_targets, list) or not raw_targets:
        raise ctx.error("targets must be a non-empty list of targets (name, kind, expr, ...)")
    targets = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_targets):
        target = _target(raw, i, ctx, source, default_for, default_labels, default_annotations, default_interval)
        if target.name in seen:
            raise ctx.error(f"target name {target.name!r} is used twice; names must be unique")
        seen.add(target.name)
        targets.append(target)
    return RuleSpec(
        name=name, namespace=namespace,
        object_labels=_labels(meta.get("labels"), meta_ctx, "labels", reserved=False, kubernetes=True),
        object_annotations=_annotations(meta.get("annotations"), meta_ctx, "annotations", kubernetes=True),
        source=source, targets=tuple(targets), file_name=file_name,
        path=Path(base_dir) / file_name,
    )


def _source(value: Any, ctx: _Ctx, base_dir: Path) -> SpecSource:
    data = _mapping(value, ctx, "source")
    _check_fields(data, ("prometheus_url", "history", "step", "end", "csv", "demo"), ctx)
    url = data.get("prometheus_url")
    if url is not None:
        url = _string(url, ctx, "prometheus_url").rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise ctx.error(f"field 'prometheus_url': {url!r} is not an http:// or https:// URL")
    csv = data.get("csv") or ()
    if isinstance(csv, (str, os.PathLike)):
        csv = (csv,)
    if not isinstance(csv, (list, tuple)):
        raise ctx.error("field 'csv' must be a file name or a list of file names")
    csv_paths = tuple((base_dir / str(p)) for p in csv)
    demo = data.get("demo", False)
    if not isinstance(demo, bool):
        raise ctx.error("field 'demo' must be true or false")
    if sum(bool(x) for x in (url, csv_paths, demo)) > 1:
        raise ctx.error("give at most one of 'prometheus_url', 'csv' and 'demo'")
    end = None
    if data.get("end") not in (None, "now"):
        try:
            end = parse_time(data["end"], what="end")
        except InputError as exc:
            raise ctx.error(f"field 'end': {exc}") from None
    history = _duration(data.get("history", "14d"), ctx, "history")
    step = _duration(data.get("step", "5m"), ctx, "step")
    if step * 20 > history:
        raise ctx.error(f"field 'step': {data.get('step', '5m')} is too coarse for a history of "
                        f"{data.get('history', '14d')}; give at least 20 steps of history")
    return SpecSource(prometheus_url=url, csv=csv_paths, demo=demo, history=history, step=step, end=end)


def _target(raw: Any, index: int, ctx: _Ctx, source: SpecSource, default_for, default_labels,
            default_annotations, default_interval) -> Target:
    name_hint = raw.get("name") if isinstance(raw, Mapping) and isinstance(raw.get("name"), str) else None
    tctx = ctx.at(f"target {name_hint!r}" if name_hint else f"target #{index + 1}")
    data = _mapping(raw, tctx, "a target")
    kind = data.get("kind")
    if kind is None:
        raise tctx.error(f"missing required field 'kind'; allowed kinds: {', '.join(KINDS)}")
    if kind not in KINDS:
        hint = difflib.get_close_matches(str(kind), KINDS, n=1)
        did = f" (did you mean {hint[0]!r}?)" if hint else ""
        raise tctx.error(f"unknown kind {kind!r}{did}; allowed kinds: {', '.join(KINDS)}")
    _check_fields(data, _COMMON + _KIND_FIELDS[kind], tctx, required=("name", "expr"))
    name = _string(data["name"], tctx, "name")
    if not _TARGET_NAME.match(name):
        raise tctx.error(f"field 'name': {name!r} must match [a-zA-Z_][a-zA-Z0-9_]* (it becomes part of "
                         "recording rule names promcast:<name>:...)")
    expr = parse_promql(data["expr"], tctx, "expr")
    history = _duration(data["history"], tctx, "history") if "history" in data else source.history
    step = _duration(data["step"], tctx, "step") if "step" in data else source.step
    if step * 20 > history:
        raise tctx.error("fields 'history'/'step': give at least 20 steps of history")
    interval = (_duration(data["evaluation_interval"], tctx, "evaluation_interval")
                if data.get("evaluation_interval") is not None else default_interval)
    params = _KIND_PARSERS[kind](data, tctx)
    for_ = _for(data["for"], tctx) if "for" in data else default_for
    if kind in (DISK.rule_kind, MEMORY.rule_kind) and for_ * 2 >= params["critical_within"]:
        raise tctx.error(f"field 'for' ({data.get('for', 'the default')}) must be less than half of "
                         "'critical_within', or the critical alert would fire too late to act on")
    return Target(
        name=name, kind=kind, expr=expr,
        for_=for_,
        labels={**default_labels, **_labels(data.get("labels"), tctx, "labels")},
        annotations={**default_annotations, **_annotations(data.get("annotations"), tctx, "annotations")},
        evaluation_interval=interval, history=history, step=step, params=params,
    )


__all__ = ["API_VERSION", "KINDS", "RuleSpec", "SpecSource", "SpecError", "Target", "load_spec", "parse_spec",
           "parse_promql"]
