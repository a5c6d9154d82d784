"""User-facing errors.

Every error a user can cause derives from :class:`PromcastError`; its message is one line that names what
to fix. The CLI prints it without a traceback, the service maps ``http_status`` to the response code.
"""


def error_body(code: str, message: str) -> dict:
    """The JSON body of every HTTP error promcast answers: ``message`` for Grafana's ``toDataQueryError`` and
    the structured ``error`` the plugin's "Save & test" reads."""
    return {"message": message, "error": {"code": code, "message": message}}


def yaml_problem(exc: Exception) -> str:
    """``" at line L, column C: problem"`` for a PyYAML parse error (its marks count from 0)."""
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    return f"{where}: {getattr(exc, 'problem', None) or 'invalid YAML'}"


class PromcastError(Exception):
    """A problem the user can fix; ``str(err)`` is one clear line."""

    http_status = 400
    code = "bad_request"


class ConfigError(PromcastError):
    """Invalid configuration file, value or environment variable."""

    code = "bad_config"


class InputError(PromcastError):
    """Bad user input: a CSV, a duration, an option value."""

    code = "bad_input"


class BadQueryError(PromcastError):
    """PromQL that the source refused (or cannot answer)."""

    code = "bad_query"


class UnknownNameError(PromcastError):
    """An unknown model, target or kind."""

    code = "unknown_name"


class UpstreamError(PromcastError):
    """The history source (Prometheus) failed or is unreachable."""

    http_status = 502
    code = "upstream_error"


class UpstreamTimeout(UpstreamError):
    """The history source did not answer within the configured timeout."""

    http_status = 504
    code = "upstream_timeout"


class UpstreamBusy(UpstreamError):
    """Too many requests to the history source are already in flight (a slow upstream holds them)."""

    http_status = 503
    code = "upstream_busy"
