"""The shipped dashboards against the real service on the demo source, as Grafana would run them.

Grafana itself cannot run here, so the test plays its part: it resolves each dashboard's variables
through ``/grafana/variable`` (as the plugin's variable support does), expands repeated panels, fills in
every payload the two ways simpod-json-datasource does (:func:`fill_payload`: 0.6's per-value ``regex``
format, which escapes the dots of ``10.0.0.1:9100``, and later releases' code editor), sends
Grafana-shaped ``/query`` requests through the Flask test client, and hands the answers to
``@grafana/data`` (Node) for ``toDataFrame``, the panel's own transformations and Grafana's field
matchers. What must hold: every target is listed by ``/grafana/metrics``, every filled-in payload
parses, every panel gets data from the demo source, and every field name an override or a
``fillBelowTo`` refers to is a field Grafana will have (so the band is drawn and the actual is on top).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from contract.grafana_js import JS_DIR, node, run_script
from contract.grafana_requests import NOW, iso, query_request, target as grafana_target
from promcast.dashboards import (PAYLOAD_MODES, Verbatim, annotation_targets, fill_payload, interpolate,
                                 iter_panels, is_multi_valued, is_promcast, load_dashboards, overrides,
                                 promcast_targets, variables)
from promcast.sources.demo import NODES

DASHBOARDS = {d["uid"]: d for d in load_dashboards().values()}
PROMCAST_DASHBOARDS = [uid for uid, d in DASHBOARDS.items() if any(promcast_targets(p) for p in iter_panels(d))]
MAX_POINTS = 1000

#: @grafana/data applied as a panel does: toDataFrame, the panel's transformations, its override matchers
GRAFANA_PANEL_JS = r"""
globalThis.window = { addEventListener() {}, removeEventListener() {} };
const path = require('path');
require(path.join(path.dirname(require.resolve('@grafana/data')), 'utils', 'store.cjs'));
delete globalThis.window;
const d = require('@grafana/data');
const { lastValueFrom } = require('rxjs');
const unique = new Map(Object.values(d.standardTransformers).map((t) => [t.id, t]));
d.standardTransformersRegistry.setInit(() => [...unique.values()].map((t) => ({
  id: t.id, name: t.name, description: t.description, transformation: t, editor: () => null })));
globalThis.window = {};  // transformDataFrame looks for a scenes context on window

function describe(frames) {
  return frames.map((frame) => frame.fields.map((field) => ({
    name: d.getFieldDisplayName(field, frame, frames), type: field.type, length: field.values.length })));
}

(async () => {
  const items = JSON.parse(require('fs').readFileSync(process.argv[2], 'utf8'));
  const out = [];
  for (const item of items) {
    const raw = item.answer.map((element) => d.toDataFrame(element));
    const frames = await lastValueFrom(d.transformDataFrame(item.transformations, raw));
    const matches = item.overrides.map((override) => {
      const matcher = d.getFieldMatcher(override.matcher);
      const found = [];
      for (const frame of frames) for (const field of frame.fields) {
        if (matcher(field, frame, frames)) found.push(d.getFieldDisplayName(field, frame, frames));
      }
      return found;
    });
    out.push({ raw: describe(raw), frames: describe(frames), matches });
  }
  process.stdout.write(JSON.stringify(out));
})().catch((err) => { console.error(err && err.stack || err); process.exit(1); });
"""


# ------------------------------------------------------------------------------------------ helpers


def grafana_panels(items: list[dict], tmp_path: Path) -> list[dict]:
    """What Grafana makes of each ``{answer, transformations, overrides}``: frames and override matches."""
    data = tmp_path / "panels.json"
    data.write_text(json.dumps(items))
    proc = subprocess.run([node(), "-", str(data)], input=GRAFANA_PANEL_JS, capture_output=True, text=True,
                          cwd=JS_DIR, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def grafana_variable_options(answer) -> list[dict]:
    """A /variable answer turned into options by helper script tests/js/to_data_frame.js (the plugin's parser)."""
    return run_script("to_data_frame.js", {"variable": answer})["variable"]


def relative_time(text: str) -> pd.Timestamp:
    """Grafana's ``now``, ``now-3d``, ``now+1d`` against the demo's fixed now."""
    match = re.fullmatch(r"now(?:([+-])(\d+)([smhdw]))?", text)
    assert match, f"unsupported relative time {text!r}"
    if not match.group(1):
        return NOW
    delta = pd.Timedelta(int(match.group(2)), unit={"w": "W", "d": "D", "h": "h", "m": "min", "s": "s"}[match.group(3)])
    return NOW + delta if match.group(1) == "+" else NOW - delta


def dashboard_range(dashboard) -> tuple[pd.Timestamp, pd.Timestamp]:
    return relative_time(dashboard["time"]["from"]), relative_time(dashboard["time"]["to"])


def listed_targets(client) -> dict[str, set[str]]:
    """``target -> payload names`` from /grafana/metrics."""
    response = client.post("/grafana/metrics", json={})
    assert response.status_code == 200
    return {m["value"]: {p["name"] for p in m.get("payloads") or []} for m in response.get_json()}


class Resolved:
    """A dashboard's variables resolved against the service: the values a panel's queries get."""

    def __init__(self, client, dashboard):
        self.values: dict = {}
        self.options: dict[str, list[str]] = {}
        start, end = dashboard_range(dashboard)
        for name, var in variables(dashboard).items():
            kind = var["type"]
            if kind == "adhoc":
                continue
            if kind == "query":
                assert is_promcast(var["datasource"]), name
                query = interpolate(var["query"]["query"], self.values, "regex")
                body = {"payload": {"target": query}, "range": {"from": iso(start), "to": iso(end)}}
                response = client.post("/grafana/variable", json=body)
                assert response.status_code == 200, (name, query, response.get_json())
                options = [o["value"] for o in grafana_variable_options(response.get_json())]
            elif kind == "custom":
                options = [o["value"] for o in var["options"]]
            elif kind == "textbox":
                options = [var["query"]]
            else:
                raise AssertionError(f"variable type {kind} of {name} is not emulated here")
            assert options, f"variable {name} has no options on the demo source"
            self.options[name] = options
            current = var["current"]["value"]
            current = current if isinstance(current, list) else [current]
            if "$__all" in current:
                self.values[name] = Verbatim(var["allValue"]) if var.get("allValue") else options
            else:
                missing = [v for v in current if v not in options]
                assert not missing, f"variable {name}: current {missing} is not among the demo's options {options}"
                self.values[name] = current if is_multi_valued(var) else current[0]

    def repeat_values(self, name: str) -> list[str]:
        value = self.values[name]
        if isinstance(value, Verbatim):
            return self.options[name]
        return [value] if isinstance(value, str) else list(value)


def run_panel(client, dashboard, panel, values, mode) -> list[dict]:
    """The panel's promcast queries as Grafana sends them (payloads filled in ``mode``); the answer's elements."""
    start, end = dashboard_range(dashboard)
    targets = []
    for query in promcast_targets(panel):
        payload = fill_payload(query["payload"], values, mode)  # a failure here means Grafana sends {}
        assert payload, query["payload"]
        targets.append(grafana_target(query["refId"], query["target"], payload, as_string=False))
    body = query_request(targets, start=start, end=end, max_points=MAX_POINTS, interval_ms=300_000)
    response = client.post("/grafana/query", json=body)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def expand(client, dashboard, resolved: Resolved, listed) -> list[tuple[dict, dict]]:
    """``(panel, values)`` for every promcast panel, one per repeat value; every target must be listed."""
    out = []
    for panel in iter_panels(dashboard):
        queries = promcast_targets(panel)
        if not queries:
            continue
        absent = sorted({q["target"] for q in queries} - set(listed))
        assert not absent, f"panel {panel['title']!r}: targets {absent} are not listed by /grafana/metrics"
        repeat = panel.get("repeat")
        for value in resolved.repeat_values(repeat) if repeat else [None]:
            values = dict(resolved.values)
            if repeat:
                values[repeat] = value
            out.append((panel, values))
    return out


# -------------------------------------------------------------------------------------------- tests


@pytest.fixture(scope="module")
def listed(client):
    return listed_targets(client)


@pytest.fixture(scope="module", params=PAYLOAD_MODES)
def drawn(request, client, listed, tmp_path_factory):
    """Every promcast panel run and converted: ``uid -> [(panel, values, answer, grafana)]``, once per way
    the plugin fills in payloads."""
    out = {}
    for uid in PROMCAST_DASHBOARDS:
        dashboard = DASHBOARDS[uid]
        resolved = Resolved(client, dashboard)
        runs = [(panel, values, run_panel(client, dashboard, panel, values, request.param))
                for panel, values in expand(client, dashboard, resolved, listed)]
        items = [{"answer": answer, "transformations": panel.get("transformations") or [],
                  "overrides": [{"matcher": {"id": o.matcher, "options": o.options}} for o in overrides(panel)]}
                 for panel, _values, answer in runs]
        converted = grafana_panels(items, tmp_path_factory.mktemp(uid)) if items else []
        out[uid] = [(*run, grafana) for run, grafana in zip(runs, converted)]
    return out


def every_target(dashboard):
    for panel in iter_panels(dashboard):
        for query in promcast_targets(panel):
            yield f"panel {panel['id']}", query
    for annotation, query in annotation_targets(dashboard):
        yield f"annotation {annotation['name']}", query


def assert_panels_ran(uid, drawn, listed):
    """Every promcast dashboard must have run panels (all its targets are served)."""
    assert drawn[uid], f"{uid}: no panel could run"


@pytest.mark.parametrize("uid", PROMCAST_DASHBOARDS)
def test_every_target_is_listed_and_sends_only_payload_keys_it_advertises(uid, client, listed):
    for where, query in every_target(DASHBOARDS[uid]):
        name = query["target"]
        assert name in listed, f"{uid} {where}: target {name!r} is not listed by /grafana/metrics"
        keys = set(fill_payload(query["payload"], _placeholders(DASHBOARDS[uid])))
        assert keys <= listed[name], f"{uid} {where}: payload keys {sorted(keys - listed[name])} are not {name}'s"


def _placeholders(dashboard):
    return {name: "1" for name in variables(dashboard)}


@pytest.mark.parametrize("uid", PROMCAST_DASHBOARDS)
def test_every_panel_shows_demo_data_without_errors(uid, drawn, listed):
    assert_panels_ran(uid, drawn, listed)
    for panel, values, answer, _grafana in drawn[uid]:
        where = f"{uid} panel {panel['id']} {panel['title']!r} ({values.get(panel.get('repeat'))})"
        errors = [n["text"] for e in answer for n in (e.get("meta") or {}).get("notices", [])
                  if n["severity"] == "error"]
        assert not errors, f"{where}: {errors}"
        for query in promcast_targets(panel):
            elements = [e for e in answer if e.get("refId") == query["refId"]]
            points = sum(len(e.get("datapoints") or e.get("rows") or []) for e in elements)
            assert points > 0, f"{where}: query {query['refId']} returned no data on the demo source"


@pytest.mark.parametrize("uid", PROMCAST_DASHBOARDS)
def test_overrides_and_fill_below_to_name_fields_grafana_has(uid, drawn, listed):
    assert_panels_ran(uid, drawn, listed)
    for panel, values, _answer, grafana in drawn[uid]:
        where = f"{uid} panel {panel['id']} {panel['title']!r} ({values.get(panel.get('repeat'))})"
        names = {f["name"] for frame in grafana["frames"] for f in frame}
        for override, matched in zip(overrides(panel), grafana["matches"]):
            assert matched, f"{where}: override {override.matcher} {override.options!r} matches no field of {sorted(names)}"
            if override.fill_below_to is not None:
                assert override.fill_below_to in names, (
                    f"{where}: fillBelowTo {override.fill_below_to!r} is not a field Grafana has: {sorted(names)}")


def test_forecast_panels_draw_one_band_with_the_actual_on_top(drawn):
    runs = [(p, v, g) for p, v, _a, g in drawn["promcast-forecasts"] if any(o.fill_below_to for o in overrides(p))]
    assert runs, "the forecasts dashboard has no band panel"
    resolved_series = {v[p["repeat"]] for p, v, _g in runs}
    assert len(resolved_series) == len(runs) > 1, "the band panel must repeat once per series"
    for panel, values, grafana in runs:
        assert len(grafana["frames"]) == 1, "join the frames (joinByField) so that organize can order the fields"
        (frame,) = grafana["frames"]
        numbers = [f["name"] for f in frame if f["type"] == "number"]
        assert numbers == ["yhat_lower", "yhat_upper", "yhat", "actual"], numbers  # drawn in this order
        (upper,) = [o for o in overrides(panel) if o.fill_below_to]
        assert (upper.options, upper.fill_below_to) == ("yhat_upper", "yhat_lower")
        hidden = {o.options for o in overrides(panel) if (o.properties.get("custom.hideFrom") or {}).get("legend")}
        assert hidden and all(any(re.search(pattern.strip("/"), edge) for pattern in hidden)
                              for edge in ("yhat_lower", "yhat_upper", "node-1:9100 yhat_upper"))


def test_anomaly_score_panel_keeps_only_scores_of_every_selected_series(drawn):
    (run,) = [r for r in drawn["promcast-forecasts"] if r[0]["title"] == "Anomaly score"]
    names = [f["name"] for frame in run[3]["frames"] for f in frame if f["type"] == "number"]
    assert names == [f"{node} anomaly_score" for node in sorted(NODES)]
    drawable = [frame for frame in run[3]["frames"] if any(f["type"] == "number" for f in frame)]
    assert all(any(f["type"] == "time" for f in frame) for frame in drawable), "the filter must keep time fields"


DOTTED = ["10.0.0.1:9100", "db-2.example.com:9100"]


@pytest.mark.parametrize("mode", PAYLOAD_MODES)
@pytest.mark.parametrize("selection", [DOTTED, DOTTED[:1], "All"], ids=["two-dotted", "one-dotted", "all"])
def test_series_selections_with_dotted_instances_select_exactly_those_series(client, mode, selection):
    """Every way a user can set $series (several values, one, All) reaches exactly those series."""
    dashboard = DASHBOARDS["promcast-forecasts"]
    resolved = Resolved(client, dashboard)
    series_var = variables(dashboard)["series"]
    values = dict(resolved.values)
    if selection == "All":
        values["series"] = Verbatim(series_var["allValue"]) if series_var.get("allValue") else list(NODES)
        expected = set(NODES)
    else:
        values["series"] = selection
        expected = set(selection)
    (panel,) = [p for p in iter_panels(dashboard) if p["title"] == "Anomaly score"]
    answer = run_panel(client, dashboard, panel, values, mode)
    shown = {e["target"].removesuffix(" anomaly_score") for e in answer
             if e.get("target", "").endswith("anomaly_score")}
    assert shown == expected
    for node in sorted(expected):  # the repeated band panel: one value at a time
        (band,) = [p for p in iter_panels(dashboard) if p.get("repeat") == "series"]
        single = run_panel(client, dashboard, band, {**resolved.values, "series": node}, mode)
        assert {e["target"] for e in single if "target" in e} == {"actual", "yhat", "yhat_lower", "yhat_upper"}


def test_anomaly_annotations_become_events_on_the_demo(client, tmp_path):
    dashboard = DASHBOARDS["promcast-forecasts"]
    resolved = Resolved(client, dashboard)
    (annotation, query), = annotation_targets(dashboard)
    start, end = dashboard_range(dashboard)
    filled = fill_payload(query["payload"], resolved.values)
    body = query_request([grafana_target(query["refId"], query["target"], filled, as_string=False)],
                         start=start, end=end)
    answer = client.post("/grafana/query", json=body).get_json()
    (grafana,) = grafana_panels([{"answer": answer, "transformations": [], "overrides": []}], tmp_path)
    (frame,) = grafana["frames"]
    assert {f["name"]: f["type"] for f in frame} == {"time": "time", "timeEnd": "time", "title": "string",
                                                     "text": "string", "tags": "string"}
    assert frame[0]["length"] >= 2  # the demo's dropout on node-3 and its spike this morning at least


# ----------------------------------------------------------------------------------- promcast-self


def exposed_metrics() -> dict[str, set[str]]:
    """Sample name -> label names in /metrics of an app that has fitted, hit its cache and failed."""
    from prometheus_client.parser import text_string_to_metric_families

    from promcast.config import load_settings
    from promcast.service.app import create_app
    from promcast.sources.demo import DemoSource

    client = create_app(load_settings(environ={"PROMCAST_MODELS_DEFAULT": "mad"}),
                        source=DemoSource(now=NOW)).test_client()
    good = grafana_target("A", "forecast", {"expr": 'node_cpu_utilisation{instance="node-1:9100"}', "history": "1d"})
    bad = grafana_target("B", "forecast", {"expr": "node_cpu_utilisation", "model": "no-such-model"})
    for targets in ([good], [good, bad]):  # a fit and a cache miss, then a hit and a failed target
        assert client.post("/grafana/query", json=query_request(targets)).status_code == 200
    assert client.post("/grafana/query", data="{not json").status_code == 400
    text = client.get("/metrics").get_data(as_text=True)
    found: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, set()).update(sample.labels)
    return found


def test_self_dashboard_queries_promcasts_own_metrics():
    import promql_parser

    dashboard = DASHBOARDS["promcast-self"]
    exposed = exposed_metrics()
    values = {"job": Verbatim(".+"), "__rate_interval": "5m", "datasource": "prometheus"}
    checked = 0
    for panel in iter_panels(dashboard):
        for query in panel["targets"]:
            expr = interpolate(query["expr"], values, "regex")
            selectors = []
            promql_parser.walk(promql_parser.parse(expr), pre_visit=lambda node: selectors.append(node)
                               if isinstance(node, promql_parser.VectorSelector) else None)
            assert selectors, expr
            for selector in selectors:
                assert selector.name in exposed, f"panel {panel['title']!r}: {selector.name} is not in /metrics"
            legend_labels = set(re.findall(r"\{\{\s*(\w+)\s*\}\}", query.get("legendFormat", "")))
            available = set().union(*(exposed[s.name] for s in selectors)) | {"le"}
            assert legend_labels <= available, f"panel {panel['title']!r}: legend labels {legend_labels - available}"
            checked += 1
    assert checked >= 10
