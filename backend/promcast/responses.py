"""The one JSON error response of promcast's HTTP apps (the service and the remediation receiver)."""

from __future__ import annotations

from flask import Response, jsonify

from .errors import error_body


def error_response(code: str, message: str, status: int) -> Response:
    """The one error body (:func:`~promcast.errors.error_body`) with its status."""
    response = jsonify(error_body(code, message))
    response.status_code = status
    return response


__all__ = ["error_response"]
