"""``provision`` against a stand-in Grafana, and the provisioning files against Grafana's documented keys.

Grafana itself cannot run on these machines, so a small HTTP server on 127.0.0.1 plays the part of
the Grafana HTTP API endpoints that :func:`promcast.dashboards.provision` calls (plugin settings,
datasources by uid, folders, dashboards by uid and ``/api/dashboards/db``), with Grafana's status
codes and answer shapes. The tests check the exact requests grafana-client sends: what is created,
that a second run only reads, that only what differs is written, and the errors a user sees.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jsonschema
import pytest
import yaml

from promcast.dashboards import (DATASOURCE_UID, PLUGIN_ID, datasource_model, iter_panels, load_dashboards,
                                 provision, variables)
from promcast.errors import ConfigError, InputError, UpstreamError
from promcast.resources import data_dir

TOKEN = "glsa_test-token"
DASHBOARDS = {d["uid"]: d for d in load_dashboards().values()}
UIDS = sorted(DASHBOARDS, key=lambda uid: f"{uid}.json")  # provision goes by file name; files are named by uid


class FakeGrafana:
    """The Grafana API endpoints provision uses, with an in-memory store and a log of every request."""

    def __init__(self, *, plugin: bool = True, role: str = "Admin"):
        self.plugin, self.role = plugin, role
        self.requests: list[tuple[str, str, object]] = []
        self.datasources: dict[str, dict] = {}
        self.folders: list[dict] = []
        self.dashboards: dict[str, dict] = {}
        self.next_id = 1

    def writes(self):
        return [(m, p, b) for m, p, b in self.requests if m != "GET"]

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id

    def handle(self, method: str, path: str, headers, body):
        if path.startswith("/grafana/api/"):  # served under a sub-path (root_url .../grafana/)
            path = path[len("/grafana"):]
        self.requests.append((method, path, body))
        auth = headers.get("Authorization", "")
        basic = "Basic " + base64.b64encode(b"admin:secret").decode()
        if auth not in (f"Bearer {TOKEN}", basic):
            return 401, {"message": "Invalid API key"}
        if method != "GET" and self.role == "Viewer":
            return 403, {"message": "You'll need additional permissions to perform this action."}
        if path == f"/api/plugins/{PLUGIN_ID}/settings":
            if not self.plugin:
                return 404, {"message": "Plugin not found, no installed plugin with that id"}
            return 200, {"id": PLUGIN_ID, "type": "datasource", "enabled": True}
        if m := re.fullmatch(r"/api/datasources/uid/([^/]+)", path):
            uid = m.group(1)
            if uid not in self.datasources:
                return 404, {"message": "Data source not found"}
            if method == "GET":
                return 200, self.datasources[uid]
            if method == "PUT":
                stored = self.datasources[uid]
                if stored.get("readOnly"):
                    return 403, {"message": "Cannot update read-only data source"}
                stored.update(body)
                stored["version"] += 1
                return 200, {"datasource": stored, "id": stored["id"], "message": "Datasource updated"}
        if path == "/api/datasources" and method == "POST":
            if any(d["name"] == body["name"] for d in self.datasources.values()):
                return 409, {"message": "data source with the same name already exists"}
            stored = {**body, "id": self._id(), "orgId": 1, "version": 1, "readOnly": False,
                      "typeLogoUrl": "public/plugins/x/logo.svg", "secureJsonFields": {}}
            self.datasources[body["uid"]] = stored
            return 200, {"datasource": stored, "id": stored["id"], "message": "Datasource added", "name": body["name"]}
        if path == "/api/folders":
            if method == "GET":
                return 200, [{"id": f["id"], "uid": f["uid"], "title": f["title"]} for f in self.folders]
            folder = {"id": self._id(), "uid": body["uid"], "title": body["title"], "version": 1}
            self.folders.append(folder)
            return 200, folder
        if m := re.fullmatch(r"/api/dashboards/uid/([^/]+)", path):
            stored = self.dashboards.get(m.group(1))
            if stored is None:
                return 404, {"message": "Dashboard not found"}
            return 200, copy.deepcopy(stored)
        if path == "/api/dashboards/db" and method == "POST":
            dashboard = copy.deepcopy(body["dashboard"])
            old = self.dashboards.get(dashboard["uid"])
            dashboard["id"] = old["dashboard"]["id"] if old else self._id()
            dashboard["version"] = old["dashboard"]["version"] + 1 if old else 1
            self.dashboards[dashboard["uid"]] = {"dashboard": dashboard,
                                                 "meta": {"folderUid": body.get("folderUid", ""), "slug": "x"}}
            return 200, {"id": dashboard["id"], "uid": dashboard["uid"], "status": "success",
                         "version": dashboard["version"]}
        return 404, {"message": "Not found"}


@pytest.fixture
def grafana():
    fake = FakeGrafana()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            status, answer = fake.handle(self.command, self.path, self.headers, body)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = _serve

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield fake
    server.shutdown()
    server.server_close()


def expected_first_run(backend="http://promcast:8080/grafana"):
    out = [("GET", f"/api/plugins/{PLUGIN_ID}/settings", None),
           ("GET", f"/api/datasources/uid/{DATASOURCE_UID}", None),
           ("POST", "/api/datasources", {"name": "promcast", "type": PLUGIN_ID, "uid": "promcast", "access": "proxy",
                                         "url": backend, "isDefault": False, "basicAuth": False,
                                         "jsonData": {"defaultEditorMode": "code"}}),
           ("GET", "/api/folders", None),
           ("POST", "/api/folders", {"title": "promcast", "uid": "promcast"})]
    for uid in UIDS:
        out += [("GET", f"/api/dashboards/uid/{uid}", None),
                ("POST", "/api/dashboards/db", {"dashboard": DASHBOARDS[uid], "overwrite": True,
                                                "message": "provisioned by promcast", "folderUid": "promcast"})]
    return out


# ----------------------------------------------------------------------------------------- provision


def test_first_run_creates_everything_with_these_exact_requests(grafana):
    summary = provision(grafana.url, token=TOKEN, backend_url="http://promcast:8080")
    assert grafana.requests == expected_first_run()
    assert summary.datasource == "created" and summary.folder == "created"
    assert summary.dashboards == {uid: "created" for uid in UIDS}
    assert summary.changed
    assert summary.lines()[0] == f"datasource promcast ({PLUGIN_ID}, url http://promcast:8080/grafana): created"


def test_second_run_only_reads_and_reports_unchanged(grafana):
    provision(grafana.url, token=TOKEN, backend_url="http://promcast:8080/grafana/")
    grafana.requests.clear()
    summary = provision(grafana.url, token=TOKEN, backend_url="http://promcast:8080/grafana")
    assert grafana.writes() == []
    assert [(m, p) for m, p, _ in grafana.requests] == [
        ("GET", f"/api/plugins/{PLUGIN_ID}/settings"), ("GET", "/api/datasources/uid/promcast"),
        ("GET", "/api/folders"), *[("GET", f"/api/dashboards/uid/{uid}") for uid in UIDS]]
    assert not summary.changed
    assert all(line.endswith(": unchanged") for line in summary.lines())


def test_a_grafana_under_a_sub_path_is_reached_there(grafana):
    summary = provision(grafana.url + "/grafana/", token=TOKEN)
    assert grafana.requests[0][:2] == ("GET", f"/api/plugins/{PLUGIN_ID}/settings")
    assert summary.datasource == "created" and summary.grafana_url == grafana.url + "/grafana"


def test_without_backend_url_an_existing_datasource_keeps_its_url(grafana):
    provision(grafana.url, token=TOKEN, backend_url="http://10.0.0.5:8080")
    grafana.requests.clear()
    summary = provision(grafana.url, token=TOKEN)
    assert grafana.writes() == [] and summary.datasource_url == "http://10.0.0.5:8080/grafana"


def test_only_what_differs_is_written(grafana):
    provision(grafana.url, user="admin", password="secret", backend_url="http://promcast:8080")
    edited = grafana.dashboards["promcast-forecasts"]["dashboard"]
    edited["title"] = "edited in the UI"
    grafana.datasources["promcast"]["jsonData"]["timeout"] = 30  # set by hand: kept
    grafana.requests.clear()

    summary = provision(grafana.url, user="admin", password="secret", backend_url="http://promcast2:8080")
    writes = grafana.writes()
    assert [(m, p) for m, p, _ in writes] == [("PUT", "/api/datasources/uid/promcast"), ("POST", "/api/dashboards/db")]
    put = writes[0][2]
    assert put["url"] == "http://promcast2:8080/grafana" and put["version"] == 1
    assert put["jsonData"] == {"defaultEditorMode": "code", "timeout": 30}
    assert not {"id", "readOnly", "typeLogoUrl", "secureJsonFields"} & set(put)
    assert writes[1][2]["dashboard"] == DASHBOARDS["promcast-forecasts"]
    assert summary.datasource == "updated" and summary.folder == "unchanged"
    assert summary.dashboards == {uid: "updated" if uid == "promcast-forecasts" else "unchanged" for uid in UIDS}
    assert grafana.dashboards["promcast-forecasts"]["dashboard"]["version"] == 2


def test_a_dashboard_in_another_folder_is_moved_back(grafana):
    provision(grafana.url, token=TOKEN)
    grafana.dashboards["promcast-self"]["meta"]["folderUid"] = ""
    grafana.requests.clear()
    summary = provision(grafana.url, token=TOKEN)
    assert [b["dashboard"]["uid"] for _m, _p, b in grafana.writes()] == ["promcast-self"]
    assert summary.dashboards["promcast-self"] == "updated"


def test_an_existing_folder_with_that_title_is_reused(grafana):
    grafana.folders.append({"id": 99, "uid": "abc123", "title": "promcast"})
    summary = provision(grafana.url, token=TOKEN)
    assert ("POST", "/api/folders") not in [(m, p) for m, p, _ in grafana.requests]
    assert summary.folder == "unchanged" and summary.folder_uid == "abc123"
    assert {b["folderUid"] for m, p, b in grafana.writes() if p == "/api/dashboards/db"} == {"abc123"}


def test_no_folder_means_the_general_folder(grafana):
    summary = provision(grafana.url, token=TOKEN, folder=None)
    assert "/api/folders" not in [p for _m, p, _b in grafana.requests]
    assert all("folderUid" not in b for m, p, b in grafana.writes() if p == "/api/dashboards/db")
    grafana.requests.clear()
    assert not provision(grafana.url, token=TOKEN, folder=None).changed and summary.folder_uid is None


def test_bad_credentials_are_one_clear_error(grafana):
    with pytest.raises(ConfigError, match=r"rejected the credentials \(401\).*--token"):
        provision(grafana.url, token="wrong")
    assert grafana.writes() == []


def test_a_viewer_token_is_told_it_needs_admin(grafana):
    grafana.role = "Viewer"
    with pytest.raises(ConfigError, match=r"\(403\).*Admin"):
        provision(grafana.url, token=TOKEN)


def test_a_missing_plugin_stops_before_anything_is_written(grafana):
    grafana.plugin = False
    with pytest.raises(ConfigError, match=f"does not have the {PLUGIN_ID} plugin.*install"):
        provision(grafana.url, token=TOKEN)
    assert grafana.requests == [("GET", f"/api/plugins/{PLUGIN_ID}/settings", None)]


def test_a_read_only_datasource_points_at_its_provisioning_file(grafana):
    provision(grafana.url, token=TOKEN, backend_url="http://a:8080")
    grafana.datasources["promcast"]["readOnly"] = True
    assert not provision(grafana.url, token=TOKEN, backend_url="http://a:8080").changed
    with pytest.raises(ConfigError, match="provisioned from a file"):
        provision(grafana.url, token=TOKEN, backend_url="http://b:8080")


def test_a_name_clash_is_reported(grafana):
    grafana.datasources["other"] = {"name": "promcast", "uid": "other", "id": 5, "version": 1}
    with pytest.raises(ConfigError, match="409 data source with the same name already exists"):
        provision(grafana.url, token=TOKEN)


def test_an_unreachable_grafana_is_one_clear_error():
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(UpstreamError, match=f"cannot reach Grafana at http://127.0.0.1:{port}.*--grafana-url"):
        provision(f"http://127.0.0.1:{port}", token=TOKEN, timeout=5)


@pytest.mark.parametrize("kwargs, message", [
    ({"grafana_url": "localhost:3000"}, "bad --grafana-url"),
    ({"grafana_url": "http://x", "token": "t", "user": "u"}, "either --token or --user"),
    ({"grafana_url": "http://x", "user": "u"}, "go together"),
    ({"grafana_url": "http://x", "backend_url": "promcast:8080"}, "bad --backend-url"),
    ({"grafana_url": "http://x", "folder": "///"}, "bad folder name"),
])
def test_bad_arguments_fail_before_any_request(kwargs, message):
    with pytest.raises(InputError, match=message):
        provision(**kwargs)


def test_a_dashboard_failing_its_checks_is_not_uploaded(grafana, tmp_path):
    bad = {**DASHBOARDS["promcast-self"], "id": 7}
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    with pytest.raises(InputError, match="bad.json fails its checks: id must be null"):
        provision(grafana.url, token=TOKEN, folder_path=tmp_path)
    assert grafana.requests == []


# ------------------------------------------------------------------------------- provisioning files

#: the keys of Grafana's provisioning documentation ("Data sources" and "Dashboards" sections)
DATASOURCES_SCHEMA = {
    "type": "object",
    "required": ["apiVersion", "datasources"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": 1},
        "prune": {"type": "boolean"},
        "deleteDatasources": {"type": "array", "items": {
            "type": "object", "required": ["name"], "additionalProperties": False,
            "properties": {"name": {"type": "string"}, "orgId": {"type": "integer"}}}},
        "datasources": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["name", "type", "access"], "additionalProperties": False,
            "properties": {
                "name": {"type": "string"}, "type": {"type": "string"}, "uid": {"type": "string"},
                "orgId": {"type": "integer"}, "access": {"enum": ["proxy", "direct"]}, "url": {"type": "string"},
                "user": {"type": "string"}, "database": {"type": "string"}, "basicAuth": {"type": "boolean"},
                "basicAuthUser": {"type": "string"}, "withCredentials": {"type": "boolean"},
                "isDefault": {"type": "boolean"}, "jsonData": {"type": "object"},
                "secureJsonData": {"type": "object", "additionalProperties": {"type": "string"}},
                "version": {"type": "integer"}, "editable": {"type": "boolean"},
            }}},
    },
}
DASHBOARDS_SCHEMA = {
    "type": "object",
    "required": ["apiVersion", "providers"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": 1},
        "providers": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["name", "type", "options"], "additionalProperties": False,
            "properties": {
                "name": {"type": "string"}, "orgId": {"type": "integer"}, "folder": {"type": "string"},
                "folderUid": {"type": "string"}, "type": {"const": "file"}, "disableDeletion": {"type": "boolean"},
                "updateIntervalSeconds": {"type": "integer"}, "allowUiUpdates": {"type": "boolean"},
                "options": {"type": "object", "required": ["path"], "additionalProperties": False,
                            "properties": {"path": {"type": "string"},
                                           "foldersFromFilesStructure": {"type": "boolean"}}},
            }}},
    },
}


def provisioning_file(kind: str) -> dict:
    return yaml.safe_load((data_dir("provisioning") / kind / "promcast.yaml").read_text())


def expand_env(value: str, env: dict) -> str:
    """Grafana's interpolation of provisioning values: Go's os.ExpandEnv, with '$$' for a literal '$'."""
    def one(part: str) -> str:
        return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: env.get(m.group(1) or m.group(2), ""), part)

    return "$".join(one(part) for part in value.split("$$"))


@pytest.mark.parametrize("kind, schema", [("datasources", DATASOURCES_SCHEMA), ("dashboards", DASHBOARDS_SCHEMA)])
def test_provisioning_files_use_only_keys_grafana_documents(kind, schema):
    jsonschema.validate(provisioning_file(kind), schema)


def test_schemas_reject_what_grafana_would_not_read():
    wrong = {"apiVersion": 1, "datasources": [{"name": "x", "type": "y", "access": "proxy", "url_": "typo"}]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(wrong, DATASOURCES_SCHEMA)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"apiVersion": 1, "providers": [{"name": "p", "type": "file", "options": {}}]},
                            DASHBOARDS_SCHEMA)


def test_provisioned_datasource_is_the_one_the_dashboards_and_provision_use():
    (source,) = provisioning_file("datasources")["datasources"]
    model = datasource_model("http://x/grafana")
    assert {k: source[k] for k in ("name", "type", "uid", "access", "isDefault")} == \
           {k: model[k] for k in ("name", "type", "uid", "access", "isDefault")}
    assert source["jsonData"]["defaultEditorMode"] == model["jsonData"]["defaultEditorMode"]
    for dashboard in DASHBOARDS.values():
        for panel in iter_panels(dashboard):
            uid = (panel.get("datasource") or {}).get("uid")
            assert uid in (source["uid"], "${datasource}"), (dashboard["uid"], panel["title"])
        for name, var in variables(dashboard).items():
            if isinstance(var.get("datasource"), dict) and var["datasource"].get("type") == PLUGIN_ID:
                assert var["datasource"]["uid"] == source["uid"], (dashboard["uid"], name)


def test_datasource_url_and_token_come_from_the_environment():
    (source,) = provisioning_file("datasources")["datasources"]
    env = {"PROMCAST_URL": "http://promcast:8080/grafana", "PROMCAST_AUTH_BEARER_TOKEN": "s3cret"}
    assert expand_env(source["url"], env) == "http://promcast:8080/grafana"
    header = source["jsonData"]["httpHeaderName1"]
    assert (header, expand_env(source["secureJsonData"]["httpHeaderValue1"], env)) == ("Authorization", "Bearer s3cret")
    # the token variable is the one promcast's own configuration reads, so both can share one environment
    from promcast.config import load_settings

    assert load_settings(environ={"PROMCAST_AUTH_BEARER_TOKEN": "s3cret"}).auth.bearer_token == "s3cret"


def test_dashboard_provider_loads_the_shipped_folder_into_promcast():
    (provider,) = provisioning_file("dashboards")["providers"]
    assert provider["folderUid"] == "promcast" and provider["folder"] == "promcast"
    docs = (Path(__file__).resolve().parents[2] / "docs" / "grafana.md").read_text()
    assert f":{provider['options']['path']}" in docs  # the docs mount dashboards/ where the provider looks
