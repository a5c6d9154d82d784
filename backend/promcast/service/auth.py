"""Optional bearer-token and basic auth for the HTTP API, compared in constant time."""

from __future__ import annotations

import base64
import hmac

from ..config import AuthSettings


def auth_enabled(settings: AuthSettings) -> bool:
    return bool(settings.bearer_token or settings.username)


def is_authorized(header: str | None, settings: AuthSettings) -> bool:
    """True when ``header`` (the Authorization header) satisfies one configured method."""
    if not auth_enabled(settings):
        return True
    if not header:
        return False
    scheme, _, credentials = header.partition(" ")
    scheme = scheme.lower()
    credentials = credentials.strip()
    if scheme == "bearer" and settings.bearer_token:
        return hmac.compare_digest(credentials.encode(), settings.bearer_token.encode())
    if scheme == "basic" and settings.username:
        try:
            decoded = base64.b64decode(credentials, validate=True)
        except ValueError:
            return False
        expected = f"{settings.username}:{settings.password}".encode()
        return hmac.compare_digest(decoded, expected)
    return False
