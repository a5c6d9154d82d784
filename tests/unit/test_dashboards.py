"""Dashboard checks and the plugin's variable interpolation, as pure functions.

The shipped dashboards must pass :func:`lint_dashboard`; each check is shown to catch the mistake it
exists for. :func:`interpolate_payload` must fill in a payload string the way simpod-json-datasource's
code editor does, since the contract tests rely on it to know what Grafana really sends.
"""

from __future__ import annotations

import copy
import json

import pytest

from promcast.dashboards import (DATASOURCE_UID, MIN_SCHEMA_VERSION, PAYLOAD_MODES, PLUGIN_ID, Verbatim, dashboard_files, fill_payload,
                                 format_value, interpolate, interpolate_payload, iter_panels, js_regex,
                                 lint_dashboard, load_dashboard, load_dashboards, overrides, promcast_targets,
                                 variable_references, variables)
from promcast.errors import InputError

SHIPPED = load_dashboards()
FORECASTS = next(d for d in SHIPPED.values() if d["uid"] == "promcast-forecasts")


@pytest.mark.parametrize("path", sorted(SHIPPED), ids=lambda p: p.name)
def test_shipped_dashboards_pass_every_check(path):
    assert lint_dashboard(SHIPPED[path]) == []


def test_the_three_dashboards_are_shipped_with_fixed_uids():
    uids = sorted(d["uid"] for d in SHIPPED.values())
    assert uids == ["promcast-forecasts", "promcast-maintenance", "promcast-self"]
    assert [p.stem for p in dashboard_files()] == uids  # files named after their uid
    assert all(d["schemaVersion"] >= MIN_SCHEMA_VERSION and d["id"] is None for d in SHIPPED.values())


def test_promcast_panels_store_payloads_as_json_strings():
    payloads = [t["payload"] for d in SHIPPED.values() for p in iter_panels(d) for t in promcast_targets(p)]
    assert payloads and all(isinstance(p, str) for p in payloads)


# ------------------------------------------------------------------------------------- lint catches


def broken(change) -> list[str]:
    dashboard = copy.deepcopy(FORECASTS)
    change(dashboard)
    return lint_dashboard(dashboard)


def panel(dashboard, title="Anomaly score"):
    return next(p for p in iter_panels(dashboard) if p["title"] == title)


def forecast_panel(dashboard):
    return next(p for p in iter_panels(dashboard) if p.get("repeat"))


@pytest.mark.parametrize("change, needle", [
    (lambda d: d.update(id=12), "id must be null"),
    (lambda d: d.pop("uid"), "set a fixed uid"),
    (lambda d: d.update(schemaVersion=MIN_SCHEMA_VERSION - 1), "schemaVersion"),
    (lambda d: panel(d).update(datasource={"type": "prometheus", "uid": "prom"}), "use the promcast datasource"),
    (lambda d: panel(d)["targets"][0].update(datasource={"type": PLUGIN_ID, "uid": "other"}), "differs"),
    (lambda d: panel(d)["gridPos"].update(x=12), "wider than"),
    (lambda d: panel(d)["targets"][0].update(editorMode="builder"), "editorMode"),
    (lambda d: panel(d)["targets"][0].update(payload={"expr": "up"}), "payload must be a JSON string"),
    (lambda d: panel(d)["targets"][0].update(payload='{"expr": "up",}'), "not a JSON object"),
    (lambda d: panel(d)["targets"][0].update(payload='{"expr": "$nope"}'), "$nope, which is not a variable"),
    (lambda d: panel(d)["targets"][0].update(payload='{"expr": "${metric:lucene}"}'), "unsupported variable format"),
    (lambda d: panel(d).update(repeat="model"), "multi-value variable"),
    (lambda d: variables(d)["metric"].update(query="metrics"), "promcast query variable needs"),
    (lambda d: d["annotations"]["list"][1]["target"].update(payload="{"), "annotation 'Anomalies'"),
])
def test_lint_catches(change, needle):
    problems = broken(change)
    assert any(needle in p for p in problems), problems


def test_a_multi_value_variable_inside_a_string_needs_a_format():
    # the score panel is not repeated: raw $series would become a JSON array inside the expr string
    problems = broken(lambda d: panel(d)["targets"][0].update(payload='{"expr": "up{instance=\\"$series\\"}"}'))
    assert any("${var:pipe}" in p for p in problems), problems
    # in the panel repeated by $series the same reference is one value, so it is fine
    assert lint_dashboard(FORECASTS) == [] and "=~`$series`" in forecast_panel(FORECASTS)["targets"][0]["payload"]


def test_a_quoted_matcher_breaks_on_dotted_instances_in_the_plugins_regex_mode():
    """What real users hit: Grafana regex-escapes 10.0.0.1:9100 to 10\\.0\\.0\\.1:9100 inside "..."."""
    def quoted(d):
        query = forecast_panel(d)["targets"][0]
        query["payload"] = query["payload"].replace("=~`$series`", '=\\"$series\\"')

    assert any("regex mode" in p and "raw strings with =~" in p for p in broken(quoted))


def test_a_number_from_a_variable_must_not_be_regex_escaped():
    def escaped(d):
        for query in panel(d)["targets"]:
            query["payload"] = query["payload"].replace("${sensitivity:raw}", "$sensitivity")

    assert any("sensitivity becomes '2\\\\.5'" in p for p in broken(escaped)), broken(escaped)


def test_fill_below_to_must_come_from_an_exact_name_override():
    def regex_band(d):
        for item in forecast_panel(d)["fieldConfig"]["overrides"]:
            if item["matcher"]["options"] == "yhat_upper":
                item["matcher"] = {"id": "byRegexp", "options": "/yhat_upper$/"}

    assert any("only an exact byName override" in p for p in broken(regex_band))


def test_a_legend_in_a_band_panel_is_caught():
    def with_legend(d):
        query = forecast_panel(d)["targets"][0]
        query["payload"] = json.dumps({**json.loads(query["payload"]), "legend": "{{instance}}"})

    assert any("drop the legend" in p for p in broken(with_legend))


def test_band_uses_exact_names_and_styling_uses_regexes_for_several_series():
    rules = overrides(forecast_panel(FORECASTS))
    (band,) = [o for o in rules if o.fill_below_to]
    assert (band.matcher, band.options, band.fill_below_to) == ("byName", "yhat_upper", "yhat_lower")
    edges = [o for o in rules if o.matcher == "byRegexp" and (o.properties.get("custom.hideFrom") or {}).get("legend")]
    assert edges, "the band edges must leave the legend whatever the series are called"
    pattern = js_regex(edges[0].options)
    assert all(pattern.search(n) for n in ("yhat_lower", "yhat_upper", "node-1:9100 yhat_upper"))
    assert not any(pattern.search(n) for n in ("yhat", "actual", "node-1:9100 yhat"))


def test_bad_dashboard_files_are_clear_errors(tmp_path):
    (tmp_path / "x.json").write_text("[1, 2]")
    with pytest.raises(InputError, match="must be a JSON object"):
        load_dashboard(tmp_path / "x.json")
    (tmp_path / "x.json").write_text("{")
    with pytest.raises(InputError, match="x.json is not valid JSON"):
        load_dashboard(tmp_path / "x.json")
    with pytest.raises(InputError, match="does not exist"):
        dashboard_files(tmp_path / "missing")


# -------------------------------------------------------------------------------------- interpolation


def test_payload_values_land_verbatim_as_the_plugin_puts_them():
    payload = '{"expr": "$metric{$label=\\"$series\\"}", "model": "${model}"}'
    filled = interpolate_payload(payload, {"metric": "up", "label": "job", "series": "api", "model": "mad"})
    assert json.loads(filled) == {"expr": 'up{job="api"}', "model": "mad"}


def test_a_value_with_quotes_breaks_the_payload_which_is_why_series_are_label_values():
    filled = interpolate_payload('{"expr": "$series"}', {"series": 'up{job="api"}'})
    with pytest.raises(ValueError):
        json.loads(filled)


def test_multi_values_become_json_arrays_unless_formatted():
    values = {"v": ["a", "b.c"]}
    assert interpolate_payload('{"x": $v}', values) == '{"x": ["a","b.c"]}'
    assert interpolate_payload('{"x": "${v:pipe}"}', values) == '{"x": "a|b.c"}'
    assert interpolate_payload('{"x": "${v:pipe}"}', {"v": Verbatim(".+")}) == '{"x": ".+"}'  # custom All value


@pytest.mark.parametrize("mode", PAYLOAD_MODES)
def test_shipped_matchers_select_dotted_values_in_both_plugin_modes(mode):
    import re as stdlib_re

    from promcast.promql import parse

    payload = forecast_panel(FORECASTS)["targets"][0]["payload"]
    for value in ("10.0.0.1:9100", "db-2.example.com:9100", "node-1:9100"):
        filled = fill_payload(payload, {"metric": "up", "label": "instance", "series": value, "model": "mad",
                                        "history": "7d"}, mode)
        (matcher,) = parse(filled["expr"]).matchers.matchers
        assert stdlib_re.fullmatch(matcher.value, value) and not stdlib_re.fullmatch(matcher.value, "node-9:9100")
        assert filled["model"] == "mad" and filled["history"] == "7d"


def test_regex_mode_escapes_each_value_after_parsing_and_code_mode_inserts_text():
    payload = '{"expr": "up{i=~`$v`}", "n": 7, "many": ["$v", "x"], "s": "${s:raw}"}'
    values = {"v": "a.b", "s": "2.5"}
    assert fill_payload(payload, values, "regex") == {"expr": "up{i=~`a\\.b`}", "n": "7", "many": ["a\\.b", "x"],
                                                      "s": "2.5"}
    assert fill_payload(payload, values, "code") == {"expr": "up{i=~`a.b`}", "n": 7, "many": ["a.b", "x"], "s": "2.5"}
    assert fill_payload(payload, {"v": ["a.b", "c"]}, "regex")["expr"] == "up{i=~`(a\\.b|c)`}"
    with pytest.raises(ValueError):
        fill_payload(payload, {"v": ["a.b", "c"]}, "code")  # a JSON array inside a string


def test_unknown_and_builtin_variables_are_left_alone():
    assert interpolate_payload('{"step": "$__interval", "x": "$x"}', {}) == '{"step": "$__interval", "x": "$x"}'


def test_variable_queries_use_the_regex_format():
    assert interpolate("label_values($metric, $label)", {"metric": "a.b", "label": "job"}, "regex") == \
        r"label_values(a\.b, job)"
    assert format_value(["x", "y(1)"], "regex") == r"(x|y\(1\))"


def test_references_are_found_in_all_three_syntaxes():
    assert variable_references("$a [[b]] [[c:csv]] ${d} ${e:pipe} ${f.g}") == [
        ("a", None), ("b", None), ("c", "csv"), ("d", None), ("e", "pipe"), ("f", None)]


def test_regex_options_are_read_like_grafana_reads_them():
    assert js_regex("/anomaly_score$/").search("node-1 anomaly_score")
    assert not js_regex("anomaly_score$").search("node-1 anomaly_score")  # a bare pattern is anchored
    assert js_regex("/ACTUAL/i").search("actual")


def test_the_forecasts_dashboard_asks_the_service_for_its_variables():
    queries = {name: v["query"]["query"] for name, v in variables(FORECASTS).items() if v["type"] == "query"}
    assert queries == {"metric": "metrics", "label": "label_names($metric)",
                       "series": "label_values($metric, $label)", "model": "models"}
    assert all(v["datasource"] == {"type": PLUGIN_ID, "uid": DATASOURCE_UID}
               for v in variables(FORECASTS).values() if v["type"] in ("query", "adhoc"))
