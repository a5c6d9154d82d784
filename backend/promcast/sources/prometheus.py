"""History from a Prometheus-compatible HTTP API (Prometheus, Mimir, Cortex, Thanos).

``query_range`` is split into windows of at most ``max_points_per_request`` steps because Prometheus
refuses more than 11,000 points per series. Windows never overlap, so every point comes back exactly
once. When a store refuses a window as too large (VictoriaMetrics' ``-search.maxPointsPerTimeseries``,
a sample, series or chunk limit of Prometheus, Thanos, Mimir or Cortex), the window is halved and the
rest of the range fetched in smaller windows, down to ``MIN_POINTS_PER_REQUEST``. Parsing goes
straight from the JSON lists to numpy arrays: fetching is I/O-bound and promcast's overhead over a
plain HTTP client must stay small (see ``benchmarks/fetch.py``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import socket
import threading
import time
from datetime import timedelta
from typing import Any, Mapping
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

import numpy as np
import pandas as pd
import requests

from ..durations import parse_duration
from ..errors import BadQueryError, ConfigError, InputError, UpstreamBusy, UpstreamError, UpstreamTimeout
from .base import History, Source, format_labels

DEFAULT_MAX_POINTS = 10_000
#: windows never shrink below this many points: smaller ones would cost too many requests per history.
MIN_POINTS_PER_REQUEST = 100
#: above this many bytes of query string, use a POST form instead of GET (proxies cap URL length).
_MAX_GET_QUERY = 4096
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_MAX_RETRY_AFTER = 10.0
#: upstream requests in flight at once, by default
DEFAULT_MAX_IN_FLIGHT = 8
#: how long a call waits for a free upstream slot before it answers 503 (short: waiting holds a server thread)
_SLOT_WAIT = 0.25

Window = tuple[int, int]

log = logging.getLogger(__name__)

# What stores answer when a query_range is too large for one request, and whether the limit is a
# property of the store (points per series: the same for every query, so remembered) or of the query
# (samples, series, chunks, time range: depends on the expression, so only this fetch shrinks).
_TOO_LARGE: tuple[tuple[re.Pattern, bool], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), remember)
    for pattern, remember in (
        # Prometheus and Thanos (bad_data, HTTP 400)
        (r"exceeded maximum resolution of [\d,]+ points", True),
        # VictoriaMetrics (HTTP 422): "too many points for the given step=...; cannot exceed -search.maxPointsPerTimeseries=N"
        (r"too many points|maxPointsPerTimeseries", True),
        # VictoriaMetrics: -search.maxSamplesPerQuery, -search.maxSamplesPerSeries, -search.maxUniqueTimeseries
        (r"maxSamplesPer(Query|Series)|maxUniqueTimeseries", False),
        # the Prometheus engine (Prometheus --query.max-samples, Thanos, Cortex, Mimir; HTTP 422)
        (r"too many samples", False),
        # Cortex: "exceeded maximum number of samples in a query", "the query hit the max number of series/chunks limit"
        (r"exceeded maximum number of samples|max number of (series|chunks|chunk bytes)", False),
        # Mimir: "the query exceeded the maximum number of chunks (limit: N chunks) (err-mimir-max-chunks-per-query)"
        (r"exceeded the maximum number of (series|chunks)|err-mimir-max-(chunks|series|chunks-bytes|estimated)", False),
        (r"aggregated chunks size limit|query time range exceeds the limit|err-mimir-max(-total)?-query-length", False),
        # Thanos and Mimir store gateways: "exceeded chunks limit", "exceeded series limit", "exceeded samples limit"
        (r"exceeded (series|chunks|samples|bytes) limit", False),
    )
)


class _Expired(Exception):
    """The deadline of an upstream exchange passed (internal: becomes UpstreamTimeout)."""


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds

    def remaining(self) -> float:
        return self.at - time.monotonic()


class _Exchange:
    """What the exchange thread hands to the waiting thread, and the means to cut it off."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.response: requests.Response | None = None
        self.error: BaseException | None = None
        self._lock = threading.Lock()
        self._live: requests.Response | None = None
        self._abandoned = False

    def started(self, response: requests.Response) -> None:
        with self._lock:
            self._live = response
            abandoned = self._abandoned
        if abandoned:
            _cut(response)

    def finish(self, *, response: requests.Response | None = None, error: BaseException | None = None) -> None:
        self.response, self.error = response, error
        self.done.set()

    def abandon(self) -> None:
        with self._lock:
            self._abandoned = True
            live = self._live
        if live is not None:
            _cut(live)


def _cut(response: requests.Response) -> None:
    """End a response's exchange now: shut its socket down (that wakes a blocked read), then close it."""
    sock = getattr(getattr(getattr(response, "raw", None), "connection", None), "sock", None)
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    try:
        response.close()
    except Exception:  # noqa: BLE001 - already broken; nothing more to do
        pass


class _TooLarge(UpstreamError):
    """A store refused one query_range window as too large (internal: ``query_range`` shrinks on it)."""

    def __init__(self, message: str, remember: bool) -> None:
        super().__init__(message)
        self.remember = remember


def too_large(message: str) -> bool | None:
    """``None`` when ``message`` is no "too large" refusal; else whether the limit is per store."""
    for pattern, remember in _TOO_LARGE:
        if pattern.search(message):
            return remember
    return None


# --------------------------------------------------------------------------- window arithmetic


def align_range(start_ms: int, end_ms: int, step_ms: int) -> Window:
    """Floor ``start`` and ``end`` to multiples of ``step`` (all in epoch milliseconds).

    Aligned steps make repeated fetches (and the Grafana cache) hit the same evaluation timestamps.
    """
    if step_ms <= 0:
        raise InputError(f"bad step {step_ms}ms: must be at least 1ms")
    if end_ms < start_ms:
        raise InputError("bad time range: the end is before the start")
    return start_ms - start_ms % step_ms, end_ms - end_ms % step_ms


def plan_windows(start_ms: int, end_ms: int, step_ms: int, max_points: int = DEFAULT_MAX_POINTS) -> list[Window]:
    """Aligned, non-overlapping ``(first, last)`` windows of at most ``max_points`` steps each.

    A window holds ``[s, s + (n-1)*step]`` and the next one starts at ``s + n*step``, so boundary points
    are fetched once.
    """
    if max_points < 1:
        raise ConfigError(f"bad max_points_per_request {max_points}: must be at least 1")
    first, last = align_range(start_ms, end_ms, step_ms)
    span = max_points * step_ms
    return [(s, min(s + span - step_ms, last)) for s in range(first, last + 1, span)]


def _to_ms(value: Any, what: str) -> int:
    """Epoch milliseconds of a Timestamp/datetime/epoch-seconds value (naive means UTC)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(round(float(value) * 1000))
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise InputError(f"bad {what} {value!r}: expected a timestamp") from exc
    if ts is pd.NaT:
        raise InputError(f"bad {what}: expected a timestamp, got NaT")
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts
    return int(ts.value // 1_000_000)


def _step_ms(step: Any) -> int:
    if isinstance(step, str):
        step = parse_duration(step, what="step")
    elif isinstance(step, (int, float)) and not isinstance(step, bool):
        step = timedelta(seconds=float(step))
    ms = int(round(pd.Timedelta(step).total_seconds() * 1000))
    if ms < 1:
        raise InputError(f"bad step {step!r}: must be at least 1ms")
    return ms


def format_seconds(ms: int) -> str:
    """Epoch milliseconds as the seconds string Prometheus expects (``1700000000`` or ``1700000000.5``)."""
    whole, frac = divmod(ms, 1000)
    return str(whole) if not frac else f"{whole}.{frac:03d}".rstrip("0")


# --------------------------------------------------------------------------- the source


def without_credentials(url: str) -> str:
    """``url`` without the ``user:password@`` it may carry: for messages and for files others read."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[-1]))


def _identity(parts, prefix: str, query_params: Mapping[str, str], headers: Mapping[str, str] | None,
              user: str | None) -> str:
    """Which tenant's data this client sees: the URL with its path prefix, plus a digest of what tells tenants
    apart behind one URL (query parameters, the configured headers such as ``X-Scope-OrgID``, the basic-auth
    user). Secrets that rotate (bearer token, password, an ``Authorization`` header) and the HTTP library's own
    headers stay out, so a token rotation or a ``requests`` upgrade keeps every cache and store key; values
    only appear as a digest, so an ``api_key`` parameter never lands in a key or the store index."""
    userinfo, _, host = parts.netloc.rpartition("@")
    base = urlunsplit(parts._replace(netloc=host, query="", fragment="")).rstrip("/") + (f"/{prefix}" if prefix else "")
    tenant = {
        "params": sorted([*parse_qsl(parts.query, keep_blank_values=True), *query_params.items()]),
        "headers": sorted((k.lower(), v) for k, v in (headers or {}).items() if k.lower() != "authorization"),
        "user": user if user is not None else (userinfo.split(":", 1)[0] or None),
    }
    if not tenant["params"] and not tenant["headers"] and tenant["user"] is None:
        return base
    digest = hashlib.sha256(json.dumps(tenant, sort_keys=True).encode()).hexdigest()[:16]
    return f"{base}#{digest}"


class PrometheusSource(Source):
    """Prometheus HTTP API client returning :class:`History` per label set.

    ``url`` may already carry a path (``http://mimir/prometheus``); ``path_prefix`` is appended to it.
    Connection errors, 5xx and 429 are retried with exponential backoff; 4xx never are.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 0.5,
        bearer_token: str | None = None,
        basic_auth: tuple[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        path_prefix: str = "",
        max_points_per_request: int = DEFAULT_MAX_POINTS,
        query_params: Mapping[str, str] | None = None,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
    ) -> None:
        parts = urlsplit(str(url).strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"bad Prometheus URL {url!r}: expected http(s)://host[:port][/path-prefix]")
        if timeout is None or float(timeout) <= 0:
            raise ConfigError(f"bad Prometheus timeout {timeout!r}: must be a positive number of seconds")
        if int(retries) < 0:
            raise ConfigError(f"bad Prometheus retries {retries!r}: must be 0 or more")
        if bearer_token and basic_auth:
            raise ConfigError("Prometheus auth: set either a bearer token or basic auth, not both")
        if int(max_in_flight) < 1:
            raise ConfigError(f"bad Prometheus max_in_flight {max_in_flight!r}: must be at least 1")
        if max_points_per_request < 1 or max_points_per_request > 11_000:
            raise ConfigError(
                f"bad max_points_per_request {max_points_per_request}: must be 1..11000 (Prometheus's limit)"
            )
        self.url = str(url).strip().rstrip("/")
        self.description = f"Prometheus at {without_credentials(self.url)}"
        prefix = "/".join(p for p in str(path_prefix or "").split("/") if p)
        self.base_url = self.url + (f"/{prefix}" if prefix else "")
        self.timeout = float(timeout)
        self.retries = int(retries)
        self.backoff = float(backoff)
        self.max_points_per_request = int(max_points_per_request)
        #: the window size to start with: lowered for good when the store refuses a number of points.
        self.window_points = self.max_points_per_request
        #: sent with every API call, e.g. Thanos' max_source_resolution=auto or partial_response=false
        self.query_params = {str(k): str(v) for k, v in (query_params or {}).items()}
        #: upstream exchanges running now (each in its own thread; a slot is freed when that thread ends)
        self.max_in_flight = int(max_in_flight)
        self._slots = threading.BoundedSemaphore(self.max_in_flight)

        self._session = requests.Session()
        self._session.headers["Accept"] = "application/json"
        if headers:
            self._session.headers.update({str(k): str(v) for k, v in headers.items()})
        if bearer_token:
            self._session.headers["Authorization"] = f"Bearer {bearer_token}"
        if basic_auth:
            user, password = basic_auth
            self._session.auth = (str(user), "" if password is None else str(password))
        _settle_environment(self._session, self.base_url)
        self._identity = _identity(parts, prefix, self.query_params, headers,
                                   str(basic_auth[0]) if basic_auth else None)

    @property
    def identity(self) -> str:
        return self._identity

    # ------------------------------------------------------------------ public API

    def query_range(
        self, expr: str, start: pd.Timestamp, end: pd.Timestamp, step: pd.Timedelta
    ) -> list[History]:
        step_ms = _step_ms(step)
        start_ms, end_ms = _to_ms(start, "start"), _to_ms(end, "end")
        last = align_range(start_ms, end_ms, step_ms)[1]
        windows = plan_windows(start_ms, end_ms, step_ms, self.window_points)
        step_text = format_seconds(step_ms)
        chunks: dict[tuple[tuple[str, str], ...], list[tuple[np.ndarray, np.ndarray]]] = {}
        refusal, i = None, 0
        while i < len(windows):
            first, window_last = windows[i]
            params = {"query": expr, "start": format_seconds(first), "end": format_seconds(window_last),
                      "step": step_text}
            try:
                data = self._call("/api/v1/query_range", params, decode=decode_query_response, shrinkable=True)
            except _TooLarge as exc:
                refusal = exc
                size = self._smaller_window((window_last - first) // step_ms + 1, exc)
                windows[i:] = plan_windows(first, last, step_ms, size)
                continue
            _collect(data, chunks)
            i += 1
        if refusal is not None:
            self._log_shrink(size, refusal)
        return _assemble(chunks)

    def _smaller_window(self, points: int, refusal: "_TooLarge") -> int:
        """Half of a refused window of ``points`` points, or a clear error when it cannot shrink further."""
        floor = min(MIN_POINTS_PER_REQUEST, self.max_points_per_request)
        if points <= floor:
            raise UpstreamError(
                f"{self.description} refuses the query as too large even in windows of {points} points "
                f"({refusal}): use a larger step, select fewer series, or raise that limit on the store"
            ) from refusal
        size = max(points // 2, floor)
        if refusal.remember:
            self.window_points = min(self.window_points, size)
        return size

    def _log_shrink(self, size: int, refusal: "_TooLarge") -> None:
        # A per-store limit is remembered, so its warning appears once; a per-query one at info level.
        level = logging.WARNING if refusal.remember else logging.INFO
        log.log(level, "%s refused larger windows (%s); fetched in windows of %d points instead",
                self.description, refusal, size)

    def label_names(self, match: str | None = None) -> list[str]:
        params = {"match[]": match} if match else {}
        return sorted(self._call("/api/v1/labels", params) or [])

    def label_values(self, label: str, match: str | None = None) -> list[str]:
        if not label:
            raise InputError("label values need a label name, e.g. job")
        params = {"match[]": match} if match else {}
        path = f"/api/v1/label/{quote(str(label), safe='')}/values"
        return sorted(self._call(path, params, allow_post=False) or [])

    def series(self, match: str, *, start: pd.Timestamp | None = None, end: pd.Timestamp | None = None,
               limit: int | None = None) -> list[dict[str, str]]:
        if not match:
            raise InputError("series listing needs a selector, e.g. up{job=\"node\"}")
        params = {"match[]": match}
        if start is not None:
            params["start"] = format_seconds(_to_ms(start, "start"))
        if end is not None:
            params["end"] = format_seconds(_to_ms(end, "end"))
        if limit is not None:  # Prometheus 2.49+ stops there; older ones ignore it and we cut below
            params["limit"] = str(int(limit))
        found = self._call("/api/v1/series", params) or []
        if not isinstance(found, list) or not all(isinstance(s, Mapping) for s in found):
            raise UpstreamError(f"{self.description} answered /api/v1/series with something other than label sets")
        return sorted((dict(s) for s in found), key=format_labels)[:limit]

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> "PrometheusSource":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"PrometheusSource({self.description!r})"

    # ------------------------------------------------------------------ HTTP

    def _call(
        self, path: str, params: Mapping[str, str], *, allow_post: bool = True, decode=json.loads,
        shrinkable: bool = False,
    ) -> Any:
        """One API call with retries; returns the ``data`` member or raises a PromcastError.

        With ``shrinkable``, a "too large" refusal raises :class:`_TooLarge` at once (no retry: the
        same window would be refused again) so that ``query_range`` can ask for less.
        """
        url = self.base_url + path
        if self.query_params:
            params = {**self.query_params, **params}
        post = allow_post and sum(len(str(v)) for v in params.values()) > _MAX_GET_QUERY
        attempts = self.retries + 1
        deadline = _Deadline(self.timeout)  # the whole exchange: connect, every read, retries, backoff
        for attempt in range(attempts):
            last_try = attempt == attempts - 1
            try:
                response = self._exchange(post, url, params, deadline)
            except (requests.exceptions.ReadTimeout, _Expired) as exc:
                raise self._timeout() from exc
            except (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
                if deadline.remaining() <= 0:
                    raise self._timeout() from exc
                delay = self._delay(attempt, None)
                if last_try or delay >= deadline.remaining():
                    raise UpstreamError(f"{self.description} is unreachable: {_short_reason(exc)}") from exc
                time.sleep(delay)
                continue
            except requests.exceptions.RequestException as exc:
                raise UpstreamError(f"{self.description} request failed: {_short_reason(exc)}") from exc
            status = response.status_code
            if status < 400:
                return self._data(response, path, decode)
            body = _error_body(response)
            if shrinkable:
                text = _one_line(body.get("error") or ("" if body else response.text))
                remember = too_large(text)
                if remember is not None:
                    raise _TooLarge(f"HTTP {status}: {text}", remember)
            if status in _RETRY_STATUSES and body.get("errorType") != "timeout" and not last_try:
                delay = self._delay(attempt, response.headers.get("Retry-After"))
                if delay < deadline.remaining():  # else: no time left to ask again, report this answer
                    time.sleep(delay)
                    continue
            raise self._error(response, body, path, attempt + 1)
        raise AssertionError("unreachable")  # pragma: no cover

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        delay = self.backoff * (2**attempt)
        if retry_after:
            try:
                delay = max(delay, min(float(retry_after), _MAX_RETRY_AFTER))
            except ValueError:
                pass  # an HTTP date; the exponential delay is good enough
        return delay

    # ------------------------------------------------------------------ deadline and slots

    def _timeout(self) -> UpstreamTimeout:
        return UpstreamTimeout(f"{self.description} did not answer within {self.timeout:g}s")

    def _exchange(self, post: bool, url: str, params: Mapping[str, str], deadline: "_Deadline") -> requests.Response:
        """One HTTP request and its whole body, in a thread of its own, waited for until the deadline.

        The calling (server) thread returns when the deadline passes however the upstream behaves
        (hanging, or dripping a byte at a time, which no per-read timeout catches); the exchange is
        then cut off by shutting its socket down. Each exchange holds one of ``max_in_flight`` slots
        until its thread ends, so a slow upstream can never hold more threads than that.
        """
        remaining = deadline.remaining()
        if remaining <= 0:
            raise _Expired()
        if not self._slots.acquire(timeout=min(_SLOT_WAIT, remaining)):
            raise UpstreamBusy(
                f"{self.description} is slow: {self.max_in_flight} requests to it are already in flight "
                "(prometheus.max_in_flight); try again shortly")
        exchange = _Exchange()

        def run() -> None:
            try:
                kwargs = {"data": params} if post else {"params": params}
                response = self._session.request("POST" if post else "GET", url, stream=True,
                                                 timeout=(min(self.timeout, remaining), remaining), **kwargs)
                exchange.started(response)
                response.content  # noqa: B018 - the whole body, read here (cut off at the deadline)
                exchange.finish(response=response)
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
                exchange.finish(error=exc)
            finally:
                self._slots.release()

        threading.Thread(target=run, name="promcast-upstream", daemon=True).start()
        if not exchange.done.wait(max(deadline.remaining(), 0)):
            exchange.abandon()
            raise _Expired()
        if exchange.error is not None:
            raise exchange.error
        return exchange.response

    def _data(self, response: requests.Response, path: str, decode) -> Any:
        try:
            payload = decode(response.content)
        except ValueError:
            payload = None
        if not isinstance(payload, dict) or "status" not in payload:
            kind = response.headers.get("Content-Type", "unknown content").split(";")[0]
            raise UpstreamError(
                f"{self.description} answered {path} with {kind}, not Prometheus API JSON: "
                "check the URL and the path prefix"
            )
        if payload["status"] != "success":
            raise self._error(response, payload, path, 1)
        return payload.get("data")

    def _error(self, response: requests.Response, body: Mapping[str, Any], path: str, attempts: int) -> Exception:
        status = response.status_code
        kind = body.get("errorType")
        message = _one_line(body.get("error") or response.reason or "")
        if kind == "bad_data":
            return BadQueryError(f"bad PromQL: {message}")
        if kind == "timeout":
            return UpstreamTimeout(f"{self.description} timed out evaluating the query: {message}")
        if kind == "execution" or status == 422:
            return BadQueryError(f"Prometheus could not run the query: {message}")
        if status in (401, 403):
            return UpstreamError(
                f"{self.description} refused the request (HTTP {status} {response.reason}): "
                "check the credentials (bearer token, basic auth or tenant header)"
            )
        if status == 404:
            return UpstreamError(
                f"{self.description} has no {path} (HTTP 404): check the URL and the path prefix"
            )
        if status >= 500 or status == 429:
            tries = f" after {attempts} attempts" if attempts > 1 else ""
            detail = f": {message}" if message and message != response.reason else ""
            return UpstreamError(f"{self.description} failed with HTTP {status} {response.reason}{tries}{detail}")
        return BadQueryError(f"{self.description} rejected the request (HTTP {status}): {message}")


# --------------------------------------------------------------------------- parsing


_VALUES = b'"values":['


def decode_query_response(body: bytes) -> Any:
    """``json.loads`` for query answers, with every matrix ``values`` list already numpy arrays.

    Decoding ``[[t,"v"],...]`` into Python lists costs more than the HTTP transfer itself (two objects
    per point, and garbage-collector passes over them). So the numeric ``values`` arrays are cut out
    of the text, parsed by numpy in one pass, and only the small rest goes through ``json``. A
    ``"values":[`` can only be that key: inside JSON strings every quote is escaped. Anything that
    does not look exactly as expected falls back to plain ``json.loads``.
    """
    skeleton, cuts, pos = [], [], 0
    while (start := body.find(_VALUES, pos)) >= 0:
        start += len(_VALUES)
        end = body.find(b"]]", start)
        if body[start : start + 1] != b"[" or end < 0:
            break
        skeleton += [body[pos:start], str(len(cuts)).encode()]
        cuts.append(body[start : end + 1])
        pos = end + 1
    skeleton.append(body[pos:])
    payload = json.loads(b"".join(skeleton) if cuts else body)
    if not cuts:
        return payload
    try:
        for item in payload["data"]["result"]:
            marker = item["values"]
            flat = np.array(cuts[marker[0]].translate(None, b'"[]').split(b","), dtype=float)
            if len(marker) != 1 or flat.size != 2 * cuts[marker[0]].count(b"["):
                raise ValueError("unexpected values layout")
            item["values"] = (flat[0::2], flat[1::2])
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        return json.loads(body)
    return payload


def _points(values: Any) -> tuple[np.ndarray, np.ndarray]:
    """(timestamps, values) arrays from decoded ``values``: pre-parsed arrays or ``[[t,"v"],...]``."""
    if isinstance(values, tuple):
        return values
    n = len(values)
    try:
        return (
            np.fromiter((p[0] for p in values), dtype=float, count=n),
            np.fromiter((float(p[1]) for p in values), dtype=float, count=n),
        )
    except (ValueError, TypeError, IndexError) as exc:
        raise UpstreamError(f"Prometheus answered a sample that is not [time, \"number\"]: {exc}") from exc


def _collect(data: Any, chunks: dict) -> None:
    """Append one window's result to ``chunks`` (label set -> list of (timestamps, values) arrays)."""
    if not isinstance(data, Mapping):
        raise UpstreamError("Prometheus answered without a result: not a Prometheus query API")
    kind, result = data.get("resultType"), data.get("result")
    if kind == "matrix":
        for item in result or ():
            values = item.get("values")
            if values is None or len(values) == 0:
                if item.get("histograms"):
                    raise BadQueryError(
                        "the query returns native histograms; select float series (e.g. with histogram_quantile)"
                    )
                continue
            key = tuple(sorted(item.get("metric", {}).items()))
            chunks.setdefault(key, []).append(_points(values))
    elif kind == "vector":
        for item in result or ():
            key = tuple(sorted(item.get("metric", {}).items()))
            chunks.setdefault(key, []).append(_points([item["value"]]))
    elif kind == "scalar":
        chunks.setdefault((), []).append(_points([result]))
    else:
        raise BadQueryError(f"the query returns a {kind}, not numbers; promcast needs a numeric expression")


def _assemble(chunks: Mapping[tuple[tuple[str, str], ...], list[tuple[np.ndarray, np.ndarray]]]) -> list[History]:
    out = []
    for key, parts in chunks.items():
        if len(parts) == 1:
            seconds, values = parts[0]
        else:
            seconds = np.concatenate([p[0] for p in parts])
            values = np.concatenate([p[1] for p in parts])
        ms = np.rint(seconds * 1000).astype("int64")
        if len(ms) > 1 and not (np.diff(ms) > 0).all():
            # Only reachable with a misbehaving backend: keep the contract (sorted, unique).
            ms, first = np.unique(ms, return_index=True)
            values = values[first]
        index = pd.DatetimeIndex(ms.astype("datetime64[ms]").astype("datetime64[ns]")).tz_localize("UTC")
        labels = dict(key)
        out.append(History(labels=labels, values=pd.Series(values, index=index, name="value", copy=False)))
    out.sort(key=lambda h: h.legend)
    return out


def _settle_environment(session: requests.Session, url: str) -> None:
    """Read what requests takes from the environment once, not on every call.

    With ``trust_env`` requests looks up proxies (``HTTP(S)_PROXY``, ``NO_PROXY``), the CA bundle
    (``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``) and ``~/.netrc`` again for each request: a few
    milliseconds, more than a small query takes Prometheus to answer, on every panel refresh. Every
    call goes to ``url``'s host, so the answers are the same each time: they are resolved here and
    set on the session. Only a redirect to another host differs: it uses these proxies too.
    """
    utils = requests.utils
    session.proxies.update(utils.get_environ_proxies(url))
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle and session.verify is True:
        session.verify = bundle
    if session.auth is None:
        netrc = utils.get_netrc_auth(url)
        if netrc:
            session.auth = netrc
    session.trust_env = False


def _error_body(response: requests.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _one_line(text: str, limit: int = 300) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\")\]]+)")
_DNS = ("name or service not known", "nodename nor servname", "temporary failure in name resolution",
        "getaddrinfo failed", "no address associated")


def _short_reason(exc: BaseException) -> str:
    """``connection refused`` / ``cannot resolve host`` rather than urllib3's nested repr."""
    text = str(exc)
    low = text.lower()
    if any(marker in low for marker in _DNS):
        return "cannot resolve the host name"
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "connection timed out"
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS handshake failed (check https and the certificate)"
    match = _ERRNO.search(text)
    if match:
        return match.group(1).strip().lower()
    if "remotedisconnected" in low or "connection aborted" in low or "connection reset" in low:
        return "the connection was closed before an answer"
    return _one_line(text, 120) or type(exc).__name__
