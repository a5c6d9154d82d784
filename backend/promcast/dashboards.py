r"""promcast's Grafana dashboards: the checks they must pass, and provisioning them through grafana-client.

Checks (pure functions, used by the tests and by :func:`provision` before it writes anything):
:func:`lint_dashboard` finds what would make Grafana draw something other than what we meant, and
:func:`fill_payload` replaces dashboard variables in a payload the two ways ``simpod-json-datasource``
does (:data:`PAYLOAD_MODES`): ``regex`` (v0.6.x: the payload is parsed, then every value is interpolated
with Grafana's ``regex`` format, which escapes ``.`` as ``\.``) and ``code`` (later releases' code editor:
the text is interpolated as JSON, then parsed). Shipped payloads must mean the same under both, for
values such as ``10.0.0.1:9100``: label matchers are PromQL raw strings with ``=~``
(``$label=~`$series```), numbers and free text use ``${var:raw}``.

Provisioning (:func:`provision`): creates or updates the ``promcast`` datasource by uid, ensures the
folder and uploads every dashboard with ``overwrite``. It reads before it writes and writes only what
differs, so a second run changes nothing and reports every item ``unchanged``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence
from urllib.parse import urlparse

from .errors import ConfigError, InputError, UpstreamError, UpstreamTimeout

PLUGIN_ID = "simpod-json-datasource"
DATASOURCE_UID = "promcast"
DATASOURCE_NAME = "promcast"
DEFAULT_BACKEND_URL = "http://localhost:8080/grafana"
MIN_SCHEMA_VERSION = 39
GRID_COLUMNS = 24

#: Grafana's template variable syntax: $var, [[var:fmt]], ${var}, ${var.path}, ${var:fmt}
VARIABLE = re.compile(r"\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}")
#: variables Grafana defines itself; payloads may use them without a dashboard variable
BUILTIN_VARIABLES = frozenset({
    "__interval", "__interval_ms", "__rate_interval", "__rate_interval_ms", "__range", "__range_s", "__range_ms",
    "__from", "__to", "__dashboard", "__org", "__user", "__name", "__timeFilter", "__timezone", "timeFilter",
})
_UID = re.compile(r"^[a-zA-Z0-9_-]{1,40}$")


# ------------------------------------------------------------------------------------------- files


def dashboards_dir() -> Path:
    """The shipped ``dashboards/`` folder (a wheel's package data or the checkout's)."""
    from .resources import data_dir

    return data_dir("dashboards")


def dashboard_files(folder: str | Path | None = None) -> list[Path]:
    """Dashboard JSON files in ``folder`` (default: the shipped ones), sorted by name."""
    folder = Path(folder) if folder is not None else dashboards_dir()
    if not folder.is_dir():
        raise InputError(f"dashboard folder {folder} does not exist")
    return sorted(folder.glob("*.json"))


def load_dashboard(path: str | Path) -> dict[str, Any]:
    """One dashboard file as a dict; a file that is not a JSON object is an InputError naming it."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read dashboard {path}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise InputError(f"dashboard {path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise InputError(f"dashboard {path} must be a JSON object (a dashboard model)")
    return data


def load_dashboards(folder: str | Path | None = None) -> dict[Path, dict[str, Any]]:
    return {path: load_dashboard(path) for path in dashboard_files(folder)}


# ------------------------------------------------------------------------------- dashboard structure


def iter_panels(dashboard: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, including those inside collapsed rows; rows themselves are not yielded."""
    for panel in dashboard.get("panels") or []:
        if panel.get("type") == "row":
            yield from panel.get("panels") or []
        else:
            yield panel


def variables(dashboard: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Template variables by name, in dashboard order."""
    return {v["name"]: v for v in (dashboard.get("templating") or {}).get("list") or [] if "name" in v}


def is_multi_valued(variable: Mapping[str, Any]) -> bool:
    return bool(variable.get("multi") or variable.get("includeAll"))


def is_promcast(datasource: Any) -> bool:
    return isinstance(datasource, dict) and datasource.get("uid") == DATASOURCE_UID and datasource.get("type") == PLUGIN_ID


def promcast_targets(panel: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The panel's queries that go to promcast (all of them, or none for a Prometheus panel)."""
    return [t for t in panel.get("targets") or [] if is_promcast(t.get("datasource", panel.get("datasource")))]


def annotation_targets(dashboard: Mapping[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """``(annotation, target)`` for every annotation query that goes to promcast."""
    out = []
    for annotation in (dashboard.get("annotations") or {}).get("list") or []:
        if is_promcast(annotation.get("datasource")) and isinstance(annotation.get("target"), dict):
            out.append((annotation, annotation["target"]))
    return out


@dataclass(frozen=True)
class Override:
    """One field override: how it matches fields and what it sets."""

    matcher: str
    options: Any
    properties: dict[str, Any]

    @property
    def fill_below_to(self) -> str | None:
        return self.properties.get("custom.fillBelowTo")


def overrides(panel: Mapping[str, Any]) -> list[Override]:
    out = []
    for item in (panel.get("fieldConfig") or {}).get("overrides") or []:
        matcher = item.get("matcher") or {}
        props = {p.get("id"): p.get("value") for p in item.get("properties") or []}
        out.append(Override(str(matcher.get("id")), matcher.get("options"), props))
    return out


def js_regex(pattern: str) -> re.Pattern:
    """A Grafana regex option as Python: ``/body/flags`` as written, a bare string anchored (``^...$``)."""
    match = re.fullmatch(r"/(.*)/([a-z]*)", pattern, re.DOTALL)
    if match:
        flags = re.IGNORECASE if "i" in match.group(2) else 0
        return re.compile(match.group(1), flags)
    return re.compile(f"^{pattern}$")


# -------------------------------------------------------------------------------- interpolation


@dataclass(frozen=True)
class Verbatim:
    """A value Grafana inserts without formatting: a variable's custom "All" value (e.g. ``.+``)."""

    text: str


Value = str | Sequence[str] | Verbatim


def _escape_regex(value: str) -> str:
    return re.sub(r"[\\^$*+?.()|\[\]{}/]", lambda m: "\\" + m.group(0), value)


def format_value(value: Value, fmt: str) -> str:
    """A value as Grafana's variable formats write it (the subset promcast's dashboards may use)."""
    if isinstance(value, Verbatim):
        return value.text
    many = not isinstance(value, str)
    values = list(value) if many else [value]
    if fmt == "json":
        return json.dumps(values if many else value, separators=(",", ":"))
    if fmt == "regex":
        escaped = [_escape_regex(v) for v in values]
        return f"({'|'.join(escaped)})" if many and len(escaped) > 1 else (escaped[0] if escaped else "")
    if fmt == "pipe":
        return "|".join(values)
    if fmt in ("csv", "raw", "text"):
        return ",".join(values)
    if fmt == "doublequote":
        return ",".join('"' + v.replace('"', '\\"') + '"' for v in values)
    if fmt == "singlequote":
        return ",".join("'" + v.replace("'", "\\'") + "'" for v in values)
    if fmt == "glob":
        return "{" + ",".join(values) + "}" if many and len(values) > 1 else ",".join(values)
    raise InputError(f"unsupported variable format {fmt!r}: use one of json, regex, pipe, csv, raw, "
                     "doublequote, singlequote, glob")


def variable_references(text: str) -> list[tuple[str, str | None]]:
    """``(name, format)`` of every variable reference in ``text``."""
    out = []
    for m in VARIABLE.finditer(text):
        name = m.group(1) or m.group(2) or m.group(4)
        out.append((name, m.group(3) or m.group(6)))
    return out


def interpolate(text: str, values: Mapping[str, Value], default_format: str = "raw") -> str:
    """Grafana's ``templateSrv.replace``: known variables replaced, unknown ones left as they are."""
    def replace(m: re.Match) -> str:
        name = m.group(1) or m.group(2) or m.group(4)
        if name not in values:
            return m.group(0)
        return format_value(values[name], m.group(3) or m.group(6) or default_format)

    return VARIABLE.sub(replace, text)


def interpolate_payload(payload: str, values: Mapping[str, Value]) -> str:
    """What simpod-json-datasource sends for a code-mode payload string.

    Every reference is formatted as JSON and, when the result is a JSON string, unquoted again
    (the plugin's ``cleanMatch``): a single value lands verbatim (quotes in it break the JSON), a
    multi-value one as a JSON array, ``${var:pipe}`` as ``a|b``.
    """
    def replace(m: re.Match) -> str:
        name = m.group(1) or m.group(2) or m.group(4)
        if name not in values:
            return m.group(0)
        text = format_value(values[name], m.group(3) or m.group(6) or "json")
        if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
            return json.loads(text)
        return text

    return VARIABLE.sub(replace, payload)


#: how the plugin fills in a payload: ``regex`` (per value, Grafana's regex format) or ``code`` (JSON text)
PAYLOAD_MODES = ("regex", "code")
#: payload keys that hold PromQL, numbers (``2GiB`` style quantities included) and durations
PROMQL_KEYS = ("expr", "size_expr", "limit_expr")
NUMBER_KEYS = ("sensitivity", "interval", "headroom", "capacity", "limit")
DURATION_KEYS = ("history", "horizon")


def fill_payload(payload: str | Mapping[str, Any], values: Mapping[str, Value], mode: str = "regex") -> dict:
    """The payload object the plugin sends for ``payload`` with the dashboard's ``values``.

    ``regex``: parsed first, then each value (each item of a list) interpolated with the ``regex`` format,
    as simpod-json-datasource 0.6's ``processPayload`` does. ``code``: the text interpolated with
    :func:`interpolate_payload`, then parsed (the plugin sends ``{}`` when that fails; this raises
    ValueError instead, so a check can say why).
    """
    if mode == "code":
        text = payload if isinstance(payload, str) else json.dumps(payload)
        filled = json.loads(interpolate_payload(text, values))
    elif mode == "regex":
        parsed = json.loads(payload) if isinstance(payload, str) else dict(payload)
        if not isinstance(parsed, dict):
            raise ValueError("the payload is not a JSON object")
        filled = {key: [interpolate(_js_string(item), values, "regex") for item in value]
                  if isinstance(value, list) else interpolate(_js_string(value), values, "regex")
                  for key, value in parsed.items()}
    else:
        raise InputError(f"unknown payload mode {mode!r}: use one of {', '.join(PAYLOAD_MODES)}")
    if not isinstance(filled, dict):
        raise ValueError("the payload is not a JSON object")
    return filled


def _js_string(value: Any) -> str:
    """JavaScript's ``value.toString()`` for what JSON can hold (the plugin stringifies every value)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict):
        return "[object Object]"
    return str(value)


# -------------------------------------------------------------------------------------------- lint


#: label values as production has them: Grafana's regex format escapes their dots
HOSTILE_LABEL_VALUES = ("10.0.0.1:9100", "db-2.example.com:9100")


def _sample_values(dashboard: Mapping[str, Any], single: Sequence[str] = ()) -> dict[str, Value]:
    """Realistic values for every variable: a custom variable's own options, a query variable's kind of
    answer (a metric, a label name, a model, or label values with dots), two values for a multi-value
    variable (unless in ``single``)."""
    out: dict[str, Value] = {}
    for name, var in variables(dashboard).items():
        kind = var.get("type")
        if kind == "adhoc":
            continue
        options = [str(o.get("value")) for o in var.get("options") or [] if isinstance(o, dict)]
        query = var.get("query")
        query = query.get("query", "") if isinstance(query, dict) else str(query or "")
        if kind == "custom" and options:  # the options Grafana would escape first
            candidates = sorted(options, key=lambda o: _escape_regex(o) == o)
        elif kind in ("textbox", "constant"):
            candidates = [query]
        elif query.startswith("metrics"):
            candidates = ["node_cpu_utilisation", "node_memory_MemAvailable_bytes"]
        elif query.startswith("label_names"):
            candidates = ["instance", "job"]
        elif query.startswith("models"):
            candidates = ["mad", "prophet"]
        else:
            candidates = list(HOSTILE_LABEL_VALUES)
        many = is_multi_valued(var) and name not in single and len(candidates) > 1
        out[name] = candidates[:2] if many else candidates[0]
    return out


def lint_dashboard(dashboard: Mapping[str, Any]) -> list[str]:
    """Problems that would make Grafana show something other than what the dashboard means; [] if none."""
    problems: list[str] = []
    add = problems.append
    uid = dashboard.get("uid")
    if not isinstance(uid, str) or not _UID.match(uid):
        add(f"uid {uid!r}: set a fixed uid of 1-40 letters, digits, '-' or '_' so links and provisioning stay stable")
    if "id" not in dashboard or dashboard["id"] is not None:
        add("id must be null: Grafana assigns ids per instance")
    schema = dashboard.get("schemaVersion")
    if not isinstance(schema, int) or schema < MIN_SCHEMA_VERSION:
        add(f"schemaVersion {schema!r}: expected {MIN_SCHEMA_VERSION} or later (Grafana 10+)")
    if not dashboard.get("title"):
        add("title is missing")
    variables_ = variables(dashboard)
    problems.extend(_lint_variables(variables_))

    seen_ids: set = set()
    for panel in iter_panels(dashboard):
        where = f"panel {panel.get('id')} {panel.get('title')!r}"
        if panel.get("id") in seen_ids or not isinstance(panel.get("id"), int):
            add(f"{where}: panel ids must be unique integers")
        seen_ids.add(panel.get("id"))
        problems.extend(f"{where}: {p}" for p in _lint_panel(panel, dashboard, variables_))
    for annotation, target in annotation_targets(dashboard):
        where = f"annotation {annotation.get('name')!r}"
        problems.extend(f"{where}: {p}" for p in _lint_target(target, dashboard, variables_, repeat=None))
    return problems


def _lint_variables(variables_: Mapping[str, dict]) -> list[str]:
    problems = []
    for name, var in variables_.items():
        if var.get("type") == "query" and is_promcast(var.get("datasource")):
            query = var.get("query")
            if not (isinstance(query, dict) and isinstance(query.get("query"), str)
                    and query.get("format", "string") in ("string", "json")):
                problems.append(f"variable {name}: a promcast query variable needs "
                                '"query": {"query": "...", "format": "string"}')
        if var.get("type") in ("custom", "textbox", "query", "constant") and "current" not in var:
            problems.append(f"variable {name}: set a current value so every panel has data on first load")
    return problems


def _lint_panel(panel: Mapping[str, Any], dashboard: Mapping[str, Any], variables_: Mapping[str, dict]) -> list[str]:
    problems = []
    grid = panel.get("gridPos") or {}
    if not all(isinstance(grid.get(k), int) for k in ("h", "w", "x", "y")):
        problems.append("gridPos needs integer h, w, x and y")
    elif grid["x"] + grid["w"] > GRID_COLUMNS:
        problems.append(f"gridPos x + w is {grid['x'] + grid['w']}, wider than Grafana's {GRID_COLUMNS} columns")
    datasource = panel.get("datasource")
    if not (is_promcast(datasource) or _is_variable_datasource(datasource, variables_)):
        problems.append(f"datasource {datasource!r}: use the promcast datasource "
                        f'{{"type": "{PLUGIN_ID}", "uid": "{DATASOURCE_UID}"}} or a datasource variable')
    repeat = panel.get("repeat")
    if repeat is not None:
        var = variables_.get(repeat)
        if var is None or not is_multi_valued(var):
            problems.append(f"repeat {repeat!r} must name a multi-value variable")
    targets = panel.get("targets") or []
    if not targets:
        problems.append("no queries")
    for target in targets:
        if target.get("datasource", datasource) != datasource:
            problems.append(f"query {target.get('refId')}: its datasource differs from the panel's")
    for target in promcast_targets(panel):
        problems.extend(f"query {target.get('refId')}: {p}"
                        for p in _lint_target(target, dashboard, variables_, repeat=repeat))
    problems.extend(_lint_overrides(panel))
    if any(o.fill_below_to for o in overrides(panel)) and any('"legend"' in str(t.get("payload"))
                                                               for t in promcast_targets(panel)):
        problems.append("a payload legend renames the fields '<legend> yhat_lower', so fillBelowTo's exact names "
                        "never match: drop the legend and show one series per panel (repeat)")
    return problems


def _is_variable_datasource(datasource: Any, variables_: Mapping[str, dict]) -> bool:
    if not isinstance(datasource, dict):
        return False
    refs = variable_references(str(datasource.get("uid", "")))
    return len(refs) == 1 and variables_.get(refs[0][0], {}).get("type") == "datasource"


def _lint_target(target: Mapping[str, Any], dashboard: Mapping[str, Any], variables_: Mapping[str, dict],
                 repeat: str | None) -> list[str]:
    problems = []
    if not isinstance(target.get("target"), str) or not target["target"]:
        problems.append("no target name (forecast, anomalies, anomaly_events, ...)")
    if target.get("editorMode") != "code":
        problems.append('set "editorMode": "code": the payload is a JSON string, as the code editor sends it')
    payload = target.get("payload")
    if not isinstance(payload, str):
        return [*problems, "payload must be a JSON string (how the plugin stores and sends it)"]
    for name, fmt in variable_references(payload):
        if name not in variables_ and name not in BUILTIN_VARIABLES:
            problems.append(f"payload uses ${name}, which is not a variable of this dashboard")
        if fmt is not None:
            try:
                format_value("a", fmt)
            except InputError as exc:
                problems.append(f"payload: {exc}")
    values = _sample_values(dashboard, single=[repeat] if repeat else [])
    for mode in PAYLOAD_MODES:
        try:
            filled = fill_payload(payload, values, mode)
        except (ValueError, InputError) as exc:
            problems.append(f"payload is not a JSON object once the plugin fills in the variables ({mode} mode: "
                            f"{exc}); a multi-value variable inside a string needs a format such as ${{var:pipe}}")
            continue
        for key in PROMQL_KEYS:
            if isinstance(filled.get(key), str):
                problem = _promql_problem(filled[key])
                if problem:
                    problems.append(f"payload {key} {filled[key]!r} ({mode} mode, with values such as "
                                    f"{HOSTILE_LABEL_VALUES[0]}) is not PromQL: {problem}; write label matchers "
                                    "as raw strings with =~ ($label=~`$series`)")
        for key in (*NUMBER_KEYS, *DURATION_KEYS):
            if isinstance(filled.get(key), str) and not _is_value(filled[key], key in NUMBER_KEYS):
                problems.append(f"payload {key} becomes {filled[key]!r} in {mode} mode: not a "
                                f"{'number' if key in NUMBER_KEYS else 'duration'}; write ${{var:raw}} so Grafana "
                                "does not regex-escape it")
    return problems


def _is_value(text: str, number: bool) -> bool:
    from .durations import parse_duration
    from .quantities import parse_quantity

    try:
        parse_quantity(text) if number else parse_duration(text)
    except InputError:
        return False
    return True


def _promql_problem(expr: str) -> str | None:
    from .promql import parse

    try:
        parse(expr)
    except (ValueError, TypeError) as exc:
        return str(exc)
    return None


def _lint_overrides(panel: Mapping[str, Any]) -> list[str]:
    problems = []
    for item in overrides(panel):
        if item.matcher == "byRegexp":
            try:
                js_regex(str(item.options))
            except re.error as exc:
                problems.append(f"override regex {item.options!r} does not compile: {exc}")
        elif item.matcher not in ("byName", "byType", "byFrameRefID", "byNames", "byValue"):
            problems.append(f"override matcher {item.matcher!r} is not one promcast's checks understand")
        if item.fill_below_to is not None and item.matcher != "byName":
            problems.append(f"fillBelowTo {item.fill_below_to!r} is set by a {item.matcher} override: it names one "
                            "field, so only an exact byName override pairs the right edges")
    return problems


# ------------------------------------------------------------------------------------ provisioning


@dataclass
class ProvisionSummary:
    """What :func:`provision` did to each item: ``created``, ``updated`` or ``unchanged``."""

    grafana_url: str
    datasource: str = "unchanged"
    datasource_url: str = ""
    folder: str = "unchanged"
    folder_uid: str | None = None
    dashboards: dict[str, str] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        states = [self.datasource, self.folder, *self.dashboards.values()]
        return any(state != "unchanged" for state in states)

    def lines(self) -> list[str]:
        out = [f"datasource {DATASOURCE_UID} ({PLUGIN_ID}, url {self.datasource_url}): {self.datasource}"]
        if self.folder_uid is not None:
            out.append(f"folder {self.folder_uid}: {self.folder}")
        out += [f"dashboard {uid}: {state}" for uid, state in self.dashboards.items()]
        return out


def backend_datasource_url(backend_url: str) -> str:
    """The datasource URL for promcast at ``backend_url``: ``/grafana`` appended unless it is there."""
    parsed = urlparse(backend_url.strip())
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise InputError(f"bad --backend-url {backend_url!r}: expected http(s)://HOST:PORT, the address Grafana's "
                         "server uses to reach promcast")
    url = backend_url.strip().rstrip("/")
    return url if url.endswith("/grafana") else url + "/grafana"


def datasource_model(url: str) -> dict[str, Any]:
    """The datasource promcast provisions (the same as provisioning/datasources/promcast.yaml)."""
    return {"name": DATASOURCE_NAME, "type": PLUGIN_ID, "uid": DATASOURCE_UID, "access": "proxy", "url": url,
            "isDefault": False, "basicAuth": False, "jsonData": {"defaultEditorMode": "code"}}


def folder_uid(title: str) -> str:
    """A stable uid for a folder title: lower case, runs of other characters as '-'."""
    uid = re.sub(r"[^a-z0-9_-]+", "-", title.lower()).strip("-")[:40]
    if not uid:
        raise InputError(f"bad folder name {title!r}: use letters or digits")
    return uid


def _comparable(dashboard: Mapping[str, Any]) -> dict[str, Any]:
    """A dashboard without what Grafana sets on save (id, version)."""
    return {k: v for k, v in dashboard.items() if k not in ("id", "version")}


class _Grafana:
    """grafana-client calls with each failure turned into one clear promcast error."""

    def __init__(self, url: str, credential, timeout: float) -> None:
        from grafana_client import GrafanaApi

        self.url = url
        # grafana-client appends "api" to the URL's path as it is: a sub-path needs its trailing slash
        base = url + "/" if urlparse(url).path.strip("/") else url
        self.api = GrafanaApi.from_url(base, credential=credential, timeout=timeout)

    def call(self, what: str, method: str, path: str, *, json_body=None, missing_ok: bool = False):
        """``method path`` on Grafana's HTTP API; None when ``missing_ok`` and Grafana answers 404."""
        import niquests
        from grafana_client.client import (GrafanaClientError, GrafanaException, GrafanaServerError,
                                           GrafanaTimeoutError, GrafanaUnauthorizedError)

        request = getattr(self.api.client, method)
        try:
            return request(path, json=json_body) if json_body is not None else request(path)
        except GrafanaUnauthorizedError as exc:
            raise ConfigError(f"Grafana at {self.url} rejected the credentials (401) while trying to {what}: "
                              "check --token, or --user and --password") from exc
        except GrafanaTimeoutError as exc:
            raise UpstreamTimeout(f"Grafana at {self.url} did not answer in time while trying to {what}") from exc
        except GrafanaServerError as exc:
            raise UpstreamError(f"Grafana at {self.url} failed to {what}: {exc}") from exc
        except GrafanaClientError as exc:
            if exc.status_code == 404 and missing_ok:
                return None
            if exc.status_code == 403:
                raise ConfigError(f"Grafana at {self.url} refused to {what} (403): the credentials need the Admin "
                                  "role (a service account token with Admin, or an admin user)") from exc
            raise ConfigError(f"Grafana at {self.url} refused to {what}: {_message(exc)}") from exc
        except GrafanaException as exc:
            raise UpstreamError(f"cannot reach Grafana at {self.url} to {what}: {exc}") from exc
        except niquests.exceptions.RequestException as exc:
            raise UpstreamError(f"cannot reach Grafana at {self.url}: {_reason(exc)}; check --grafana-url and that "
                                "Grafana is running") from exc


def _message(exc) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and response.get("message"):
        return f"{exc.status_code} {response['message']}"
    return str(exc)


def _reason(exc: Exception) -> str:
    text = str(exc)
    for marker in ("Connection refused", "Name or service not known", "No route to host", "timed out"):
        if marker in text:
            return marker.lower()
    return text.splitlines()[0][:200] if text else exc.__class__.__name__


def _credential(token: str | None, user: str | None, password: str | None):
    if token and (user or password):
        raise InputError("give either --token or --user and --password, not both")
    if token:
        return token
    if user or password:
        if not (user and password):
            raise InputError("--user and --password go together: give both, or use --token")
        return (user, password)
    return None


def provision(grafana_url: str, token: str | None = None, user: str | None = None, password: str | None = None,
              backend_url: str | None = None, folder: str | None = "promcast", *,
              folder_path: str | Path | None = None, timeout: float = 10.0) -> ProvisionSummary:
    """Create or update promcast's datasource, folder and dashboards in the Grafana at ``grafana_url``.

    ``backend_url`` is where Grafana's server reaches promcast (``/grafana`` is appended when missing);
    without it an existing datasource keeps its URL and a new one gets ``http://localhost:8080/grafana``.
    ``folder`` None or empty puts the dashboards in the General folder. Idempotent: items already as
    wanted are left alone and reported ``unchanged``. Raises ConfigError for bad credentials, missing
    permissions or a missing plugin, UpstreamError when Grafana cannot be reached, InputError for bad
    arguments or a dashboard that fails :func:`lint_dashboard` (checked before anything is written).
    """
    parsed = urlparse(grafana_url or "")
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise InputError(f"bad --grafana-url {grafana_url!r}: expected http(s)://HOST:PORT, e.g. http://localhost:3000")
    credential = _credential(token, user, password)
    wanted_url = backend_datasource_url(backend_url) if backend_url else None
    wanted_folder = folder_uid(folder) if folder else None
    dashboards = load_dashboards(folder_path)
    for path, dashboard in dashboards.items():
        problems = lint_dashboard(dashboard)
        if problems:
            raise InputError(f"dashboard {path.name} fails its checks: {problems[0]}")

    grafana = _Grafana(grafana_url.rstrip("/"), credential, timeout)
    summary = ProvisionSummary(grafana_url=grafana.url)
    plugin = grafana.call(f"look up the {PLUGIN_ID} plugin", "GET", f"/plugins/{PLUGIN_ID}/settings", missing_ok=True)
    if plugin is None:
        raise ConfigError(f"Grafana at {grafana.url} does not have the {PLUGIN_ID} plugin: install it "
                          f"(grafana cli plugins install {PLUGIN_ID}, or GF_PLUGINS_PREINSTALL={PLUGIN_ID} / "
                          f"GF_INSTALL_PLUGINS={PLUGIN_ID} for the Docker image) and restart Grafana")

    summary.datasource, summary.datasource_url = _ensure_datasource(grafana, wanted_url)
    target_folder = None
    if folder and wanted_folder:
        target_folder, summary.folder = _ensure_folder(grafana, folder, wanted_folder)
        summary.folder_uid = target_folder
    for dashboard in dashboards.values():
        uid = dashboard["uid"]
        summary.dashboards[uid] = _ensure_dashboard(grafana, dashboard, target_folder)
    return summary


def _ensure_datasource(grafana: _Grafana, wanted_url: str | None) -> tuple[str, str]:
    existing = grafana.call("read the promcast datasource", "GET", f"/datasources/uid/{DATASOURCE_UID}",
                            missing_ok=True)
    if existing is None:
        url = wanted_url or DEFAULT_BACKEND_URL
        grafana.call("create the promcast datasource", "POST", "/datasources", json_body=datasource_model(url))
        return "created", url
    url = wanted_url or existing.get("url") or DEFAULT_BACKEND_URL
    wanted = datasource_model(url)
    current = {k: existing.get(k) for k in wanted}
    if current["jsonData"] is not None:
        current["jsonData"] = {k: existing["jsonData"].get(k) for k in wanted["jsonData"]}
    if current == wanted:
        return "unchanged", url
    if existing.get("readOnly"):
        raise ConfigError(f"the promcast datasource in Grafana was provisioned from a file and is read-only; change "
                          f"its url ({existing.get('url')} -> {url}) in that provisioning file instead")
    body = {k: v for k, v in existing.items() if k not in ("id", "readOnly", "typeLogoUrl", "secureJsonFields")}
    body.update(wanted)
    body["jsonData"] = {**(existing.get("jsonData") or {}), **wanted["jsonData"]}
    grafana.call("update the promcast datasource", "PUT", f"/datasources/uid/{DATASOURCE_UID}", json_body=body)
    return "updated", url


def _ensure_folder(grafana: _Grafana, title: str, uid: str) -> tuple[str, str]:
    """The folder titled ``title`` (or with ``uid``), created when there is none."""
    folders = grafana.call("list folders", "GET", "/folders") or []
    for item in folders:
        if item.get("uid") == uid or item.get("title") == title:
            return item["uid"], "unchanged"
    grafana.call(f"create the folder {title!r}", "POST", "/folders", json_body={"title": title, "uid": uid})
    return uid, "created"


def _ensure_dashboard(grafana: _Grafana, dashboard: Mapping[str, Any], folder: str | None) -> str:
    uid = dashboard["uid"]
    existing = grafana.call(f"read dashboard {uid}", "GET", f"/dashboards/uid/{uid}", missing_ok=True)
    if existing is not None:
        same_content = _comparable(existing.get("dashboard") or {}) == _comparable(dashboard)
        same_folder = ((existing.get("meta") or {}).get("folderUid") or None) == folder
        if same_content and same_folder:
            return "unchanged"
    body: dict[str, Any] = {"dashboard": {**dashboard, "id": None}, "overwrite": True,
                            "message": "provisioned by promcast"}
    if folder:
        body["folderUid"] = folder
    grafana.call(f"save dashboard {uid}", "POST", "/dashboards/db", json_body=body)
    return "created" if existing is None else "updated"
