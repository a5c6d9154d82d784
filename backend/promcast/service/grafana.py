"""The simPod JSON datasource API (``/grafana``): what Grafana's ``simpod-json-datasource`` calls."""

from __future__ import annotations

from flask import Blueprint, jsonify


def grafana_blueprint() -> Blueprint:
    blueprint = Blueprint("grafana", __name__)

    @blueprint.get("/")
    def health():
        """The plugin's "Save & test" calls this and expects 200."""
        return jsonify({"status": "ok", "service": "promcast"})

    return blueprint
