"""The simPod JSON datasource API (``/grafana``): what Grafana's ``simpod-json-datasource`` calls.

Views stay thin: parse the body (:mod:`.request`), call the source, the targets or the model
registry, shape the answer. Errors are PromcastErrors, turned into JSON by the app's handlers.
"""

from __future__ import annotations

import re

from flask import Blueprint, Response, current_app, jsonify, request

from ..errors import InputError, UnknownNameError
from ..models import model_names
from ..sources.base import format_labels
from .frames import encode_frames
from .query import run_query
from .request import parse_json_body, parse_query_request, require_object
from .targets import all_targets
from .targets.base import INTERVAL

_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_CALL = re.compile(r"^\s*([a-z_]+)\s*(?:\((.*)\))?\s*$", re.DOTALL)
VARIABLE_QUERIES = ("models", "metrics", "label_names", "label_values", "series")


def _ext(name: str):
    return current_app.extensions[f"promcast.{name}"]


def _options(values) -> list[dict[str, str]]:
    return [{"label": str(v), "value": str(v)} for v in values]


def grafana_blueprint() -> Blueprint:
    blueprint = Blueprint("grafana", __name__)

    @blueprint.get("")
    def health():
        """The plugin's "Save & test" GETs the configured URL (``/grafana``, no slash) and expects 200."""
        return jsonify({"status": "ok", "service": "promcast", "source": _ext("source").description})

    @blueprint.post("/metrics")
    def metrics():
        """The targets and their builder payloads (the query editor's "Metric" picker)."""
        require_object(parse_json_body(request.get_data(), required=False))
        return jsonify([target.describe() for target in all_targets()])

    @blueprint.post("/metric-payload-options")
    def metric_payload_options():
        """Options of a select payload: models from the registry, metric names for ``expr``."""
        body = require_object(parse_json_body(request.get_data()))
        name = body.get("name")
        if name == "model":
            return jsonify(_options(model_names()))
        if name == "expr":
            return jsonify(_options(_ext("source").metric_names()))
        if name == "interval":
            return jsonify([{"label": label, "value": value} for value, label in INTERVAL.options or ()])
        raise UnknownNameError(f"no options for payload {name!r}; payloads with options: model, expr, interval")

    @blueprint.post("/query")
    def query():
        parsed = parse_query_request(parse_json_body(request.get_data()))
        frames = run_query(parsed, source=_ext("source"), cache=_ext("cache"), settings=_ext("settings"),
                           metrics=_ext("metrics"), range_cache=_ext("range_cache"))
        return Response(encode_frames(frames), mimetype="application/json")

    @blueprint.post("/variable")
    def variable():
        """Values for a dashboard variable: ``models``, ``metrics``, ``label_names``, ``label_values``, ``series``."""
        body = require_object(parse_json_body(request.get_data()))
        values = _variable_values(body.get("payload"))
        return jsonify([{"text": v, "value": v, "__text": v, "__value": v} for v in values])

    @blueprint.post("/tag-keys")
    def tag_keys():
        """Label names for ad hoc filters."""
        require_object(parse_json_body(request.get_data(), required=False))
        names = [n for n in _ext("source").label_names() if n != "__name__"]
        return jsonify([{"type": "string", "text": n} for n in names])

    @blueprint.post("/tag-values")
    def tag_values():
        """Values of one label for ad hoc filters."""
        body = require_object(parse_json_body(request.get_data()))
        key = body.get("key")
        if not isinstance(key, str) or not _LABEL.fullmatch(key):
            raise InputError(f"bad key {key!r}: expected a label name such as job or instance")
        return jsonify([{"text": v} for v in _ext("source").label_values(key)])

    return blueprint


def _variable_values(payload) -> list[str]:
    """Resolve a variable query: an object ``{target, expr, label}`` or a string like ``label_values(up, job)``."""
    if isinstance(payload, str):
        payload = {"target": payload}
    if not isinstance(payload, dict):
        raise InputError('bad payload: expected {"target": "models" | "metrics" | "label_names" | '
                         '"label_values" | "series", ...}')
    target = str(payload.get("target") or "").strip()
    expr = payload.get("expr")
    label = payload.get("label")
    match = _CALL.match(target)
    if match and match.group(2) is not None:  # the Prometheus datasource's function syntax
        target, args = match.group(1), match.group(2).strip()
        if target == "label_values":
            head, _, tail = args.rpartition(",")
            expr, label = (head.strip() or None), tail.strip()
        elif args:
            expr = args
    if expr is not None and not isinstance(expr, str):
        raise InputError(f"bad payload.expr: expected a PromQL string, got {type(expr).__name__}")
    source = _ext("source")
    if target == "models":
        return model_names()
    if target == "metrics":
        return source.metric_names()
    if target == "label_names":
        return [n for n in source.label_names(expr or None) if n != "__name__"]
    if target == "label_values":
        if not isinstance(label, str) or not _LABEL.fullmatch(label):
            raise InputError(f"label_values needs a label name, e.g. label_values(up, job); got {label!r}")
        return source.label_values(label, expr or None)
    if target == "series":
        if not expr:
            raise InputError('series needs an expression, e.g. series(up{job="node"})')
        return [format_labels(labels) for labels in source.series(str(expr))]
    raise UnknownNameError(f"unknown variable query {target!r}; known: {', '.join(VARIABLE_QUERIES)} "
                           '(e.g. {"target": "label_values", "label": "instance", "expr": "up"})')
