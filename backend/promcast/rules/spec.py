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
from ..errors import BadQueryError, ConfigError, InputError, UnknownNameError, yaml_problem
from ..promql_bounds import check_promql
from ..promql import parse as parse_promql_ast
from ..promql import unwrap_parens
from ..kinds.params import DURATION, EXPRESSION, RULES
from ..kinds.registry import ANOMALY, CAPACITY, DISK, MEMORY, RULE_KINDS, PredictionKind, rule_kind

API_VERSION = "promcast/v1"
KIND = "RuleSpec"
KINDS = RULE_KINDS

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


def _kind_fields(kind: str) -> tuple[str, ...]:
    """The RuleSpec fields of ``kind``: its parameters the rules read (:mod:`promcast.kinds.registry`)."""
    return tuple(p.name for p in rule_kind(kind).params_read_by(RULES))


def _params(kind: PredictionKind, data: Mapping, ctx: _Ctx, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """The kind's fields read through its declared parameters, defaults filled in; expressions are
    checked as a rule's input (:func:`parse_promql`) and stay None when not given."""
    out: dict[str, Any] = {}
    for param in kind.params_read_by(RULES):
        if param.name in skip:
            continue
        if param.type is EXPRESSION:
            out[param.name] = parse_promql(data[param.name], ctx, param.name) if param.name in data else None
            continue
        try:  # a field given as null is refused, not defaulted
            value = (param.read(data[param.name], "value") if param.name in data
                     else param.read_or_default(None, "value"))
        except (InputError, UnknownNameError) as exc:
            raise ctx.error(f"field {param.name!r}: {exc}") from None
        out[param.name] = pd.Timedelta(value) if param.type is DURATION and value is not None else value
    return out


def _exactly_one(data: Mapping, ctx: _Ctx, first: str, second: str, meanings: str) -> None:
    if (first in data) == (second in data):
        raise ctx.error(f"give exactly one of {meanings}")


def _lead_times(params: Mapping, ctx: _Ctx) -> None:
    if params["critical_within"] > params["warning_within"]:
        raise ctx.error("field 'critical_within' must not be longer than 'warning_within'")


def _disk(data: Mapping, ctx: _Ctx) -> dict:
    _exactly_one(data, ctx, "size_expr", "size", "'size_expr' (PromQL for the filesystem size, e.g. "
                 "node_filesystem_size_bytes{...}) or 'size' (a number in the unit of 'expr')")
    params = _params(DISK, data, ctx, skip=("readonly_expr",))
    _lead_times(params, ctx)
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
    _exactly_one(data, ctx, "limit", "limit_expr", "'limit' (bytes, e.g. 2GiB) or 'limit_expr' (PromQL with the "
                 "same labels as 'expr', e.g. container_spec_memory_limit_bytes{...})")
    params = _params(MEMORY, data, ctx)
    _lead_times(params, ctx)
    return params


def _anomaly(data: Mapping, ctx: _Ctx) -> dict:
    return _params(ANOMALY, data, ctx)


def _capacity(data: Mapping, ctx: _Ctx) -> dict:
    if "capacity" not in data:
        raise ctx.error("missing required field 'capacity' (the load the service can take, in the unit of 'expr')")
    return _params(CAPACITY, data, ctx)


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
    _check_fields(data, _COMMON + _kind_fields(kind), tctx, required=("name", "expr"))
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
